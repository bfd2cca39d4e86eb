/**
 * The frames one WebSocket has to send that its socket can't take yet: behind a frame still being
 * compressed, or while the socket is past its high-water mark. Made only when a socket falls behind,
 * and dropped when it catches up, so an idle or keeping-up socket has none.
 *
 * It holds references, not copies: a publication's frame is shared by every subscriber's outbox,
 * so a burst to many sockets costs one slot per socket and message, not the message each time.
 */

import type { PendingFrame, Publication } from './publication.ts';

/**
 * Once a socket has more than `wsMaxBufferedBytes` waiting, it must show progress — fewer bytes
 * waiting at one of its drains than at any drain before, since it passed the limit — at least this
 * often; otherwise it is too slow. Measured at drains, after the socket had its chance to write, so
 * a burst queued in one tick never counts against a reader that is working through it.
 */
export const SLOW_READER_GRACE_MS = 1000;

/** A frame of the socket's own, a publication's shared frame, or a frame still being compressed. */
export type Entry = Buffer | Publication | PendingFrame;

export class Outbox {
  private entries: Entry[] = [];
  private head = 0;
  /** Bytes waiting here. */
  bytes = 0;
  /** Of those, the bytes of this socket's own messages (not shared publications). */
  ownBytes = 0;
  /** Close the socket's sending side once everything here has been written. */
  endWhenEmpty = false;
  /** The fewest bytes waiting, measured at a drain, since the socket passed the limit; and when. */
  private low = Number.POSITIVE_INFINITY;
  private lowAt = 0;

  push(entry: Entry, size: number, own: boolean): void {
    this.entries.push(entry);
    this.bytes += size;
    if (own) this.ownBytes += size;
  }

  /** The next entry, or undefined. */
  peek(): Entry | undefined {
    return this.entries[this.head];
  }

  /** Removes the head, which the caller has written: `size` and `own` as it was pushed. */
  shift(size: number, own: boolean): void {
    this.entries[this.head++] = undefined as unknown as Entry;
    this.bytes -= size;
    if (own) this.ownBytes -= size;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** At a drain: `waiting` bytes are still unsent after the socket had its chance to write. */
  measure(waiting: number, limit: number, now: number): void {
    if (waiting <= limit) {
      this.low = Number.POSITIVE_INFINITY;
      this.lowAt = 0;
    } else if (waiting < this.low) {
      this.low = waiting;
      this.lowAt = now;
    }
  }

  /**
   * A publication would take the socket past `limit` (with `waiting` bytes): whether the socket has
   * gone without progress for longer than the grace period. The first time, the clock starts.
   */
  tooSlow(now: number): boolean {
    if (this.lowAt === 0) {
      this.lowAt = now;
      return false;
    }
    return now - this.lowAt > SLOW_READER_GRACE_MS;
  }
}
