/**
 * One pub/sub message on its way to many sockets, encoded once for all of them: the frame is made on
 * first use and shared by every subscriber's write queue, and so is its compressed form for the
 * sockets that can take it (see `deflatedFor`).
 */

import { PerMessageDeflate } from './deflate.ts';
import { OPCODE, wholeFrame } from './sender.ts';

/**
 * A frame whose bytes are not known yet: its payload is being compressed. It holds its place in each
 * write queue it is in, and tells every queue waiting on it when it is ready.
 */
export class PendingFrame {
  /** The whole frame once ready; empty if compression failed and the queue owner dealt with it. */
  frame: Buffer | null = null;
  /** Bytes it counts for in the queues meanwhile: the uncompressed payload (an upper bound, nearly). */
  readonly size: number;
  /** Shared by the outboxes of many sockets (a publication's), rather than one socket's own message. */
  readonly shared: boolean;
  /** Handed to the socket (of an unshared frame: a waiting pong is updated only until then). */
  written = false;
  private waiters: { flush(): void }[] | null = null;

  constructor(size: number, shared: boolean) {
    this.size = size;
    this.shared = shared;
  }

  /** `queue.flush()` runs once the frame is ready. */
  wait(queue: { flush(): void }): void {
    if (this.waiters === null) this.waiters = [queue];
    else this.waiters.push(queue);
  }

  resolve(frame: Buffer): void {
    this.frame = frame;
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters !== null) for (const queue of waiters) queue.flush();
  }
}

/**
 * Compressors for publications, one per window size and level: each compresses with a fresh context
 * per message, which is what makes its output valid for every socket that agreed
 * `server_no_context_takeover` with that window or a larger one (RFC 7692 §7.1.1.1). Made on first use.
 */
const sharedCompressors = new Map<number, PerMessageDeflate>();

/** One number for a window size (8–15) and a zlib level (-1–9). */
function compressorKey(windowBits: number, level: number): number {
  return windowBits * 16 + level + 1;
}

function sharedCompressor(windowBits: number, level: number): PerMessageDeflate {
  const key = compressorKey(windowBits, level);
  let compressor = sharedCompressors.get(key);
  if (compressor === undefined) {
    compressor = new PerMessageDeflate(
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: windowBits,
        clientMaxWindowBits: 15,
      },
      { level, threshold: 0, maxInflatedBytes: 0 },
    );
    sharedCompressors.set(key, compressor);
  }
  return compressor;
}

export class Publication {
  readonly payload: Uint8Array;
  readonly isBinary: boolean;
  /** Whether sockets with permessage-deflate may get it compressed (when at least their threshold). */
  readonly compress: boolean;
  private plain: Buffer | null = null;
  private deflated: Map<number, PendingFrame> | null = null;

  constructor(payload: Uint8Array, isBinary: boolean, compress: boolean) {
    this.payload = payload;
    this.isBinary = isBinary;
    this.compress = compress;
  }

  /** The uncompressed frame, header and payload in one buffer, made once. */
  get frame(): Buffer {
    this.plain ??= wholeFrame(this.isBinary ? OPCODE.binary : OPCODE.text, false, this.payload);
    return this.plain;
  }

  /**
   * The compressed frame for sockets whose deflate context is fresh for every message, with this
   * window and level: compressed once for all of them, asynchronously.
   */
  deflatedFor(windowBits: number, level: number): PendingFrame {
    const key = compressorKey(windowBits, level);
    this.deflated ??= new Map();
    const made = this.deflated.get(key);
    if (made !== undefined) return made;
    const frame = new PendingFrame(this.payload.byteLength + 10, true);
    this.deflated.set(key, frame);
    const opcode = this.isBinary ? OPCODE.binary : OPCODE.text;
    sharedCompressor(windowBits, level)
      // A copy: the publisher may reuse its buffer before the compressor's turn comes.
      .compress(Buffer.from(this.payload))
      .then(
        (compressed) => frame.resolve(wholeFrame(opcode, true, compressed)),
        // Nothing to compress with: the message goes uncompressed, which every socket can take.
        () => frame.resolve(this.frame),
      );
    return frame;
  }
}
