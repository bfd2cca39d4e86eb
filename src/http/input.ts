import type { ParsedHead } from './parser.ts';

/**
 * The bytes an HTTP/1 connection has received and not consumed yet: `buf[pos..end)`. A read is used
 * in place when nothing is held; bytes left over (a partial head, pipelined requests) are kept in an
 * accumulation buffer of our own. Bytes already handed to a request are never written again (the
 * worker's shared read buffer excepted: see `keep`).
 */
export class InputBuffer {
  buf: Buffer | null = null;
  pos = 0;
  end = 0;
  /** Where the head scan resumes, so a head arriving in pieces is scanned once. */
  scanFrom = 0;
  /** Whether buf is our own accumulation buffer, which we may append into. */
  private ownsBuffer = false;

  /** Whether unconsumed bytes are held. */
  get holding(): boolean {
    return this.pos < this.end;
  }

  /** Takes in `chunk[0..length)`; the bytes are used in place when nothing is held. */
  append(chunk: Buffer, length: number): void {
    const held = this.end - this.pos;
    if (held === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.end = length;
      this.ownsBuffer = false;
      this.scanFrom = 0;
      return;
    }
    // Only space past `end` is ever written, so views already handed out stay intact.
    const buf = this.buf!;
    const needed = held + length;
    if (this.ownsBuffer && this.end + length <= buf.length) {
      chunk.copy(buf, this.end, 0, length);
      this.end += length;
      return;
    }
    const grown = Buffer.allocUnsafe(Math.max(needed * 2, 4096));
    buf.copy(grown, 0, this.pos, this.end);
    chunk.copy(grown, held, 0, length);
    this.scanFrom -= this.pos;
    this.buf = grown;
    this.pos = 0;
    this.end = needed;
    this.ownsBuffer = true;
  }

  /** Lets go of the buffer: nothing is held. */
  release(): void {
    this.buf = null;
    this.pos = this.end = this.scanFrom = 0;
    this.ownsBuffer = false;
  }

  /** A copy of the unconsumed bytes (for the protocol that takes the connection over), or null. */
  copyRest(): Buffer | null {
    return this.buf !== null && this.pos < this.end
      ? Buffer.copyBytesFrom(this.buf, this.pos, this.end - this.pos)
      : null;
  }

  /**
   * The shared read buffer is about to be overwritten by the next read. Copies out what must outlive
   * it: `head`, the head of a request whose handler is still running (a Request stays readable until
   * its response ends), if it lies in `shared`, and the bytes not consumed yet. Body chunks were
   * copied as they were handed over.
   */
  keep(shared: Buffer, head: ParsedHead | null): void {
    const inShared = head !== null && head.buf === shared ? head : null;
    if (this.buf === shared && this.pos < this.end) {
      const from = inShared === null ? this.pos : inShared.start;
      const length = this.end - from;
      const copy = Buffer.allocUnsafe(Math.max(length * 2, 4096)); // room for the rest of a head
      shared.copy(copy, 0, from, this.end);
      inShared?.rebase(copy, -from);
      this.buf = copy;
      this.pos -= from;
      this.end -= from;
      this.scanFrom -= from;
      this.ownsBuffer = true;
      return;
    }
    if (this.buf === shared) this.release();
    if (inShared !== null) {
      const copy = Buffer.allocUnsafe(inShared.end - inShared.start);
      shared.copy(copy, 0, inShared.start, inShared.end);
      inShared.rebase(copy, -inShared.start);
    }
  }
}
