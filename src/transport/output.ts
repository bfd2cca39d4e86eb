import type { Socket } from 'node:net';

/**
 * One connection's pending output, written to the socket in one go per batch of responses.
 *
 * Small pieces (response heads, short string bodies) are joined as a string: V8 joins strings almost
 * for free and the socket encodes the result once. Larger bodies are encoded or copied straight into
 * a slab shared by every connection of the thread, so that a batch of large responses is still one
 * contiguous region and one `socket.write`, with no Buffer per response. A region the socket still
 * holds is never written again (the cursor moves past it; a full slab is replaced), so the views
 * handed to the socket stay valid for as long as it needs them; a region the kernel took at once is
 * reused.
 *
 * Order is kept by one rule: the region's bytes always come before the pending text.
 */

const SLAB_BYTES = 256 * 1024;
/** Bodies larger than this are written by reference (Buffers) or as strings, not copied into the slab. */
export const COPY_LIMIT = 32 * 1024;

/** Node's unadvertised direct encoders skip `buf.write()`'s argument juggling; fall back if absent. */
interface DirectWrites {
  utf8Write(text: string, offset: number): number;
}
const direct = typeof (Buffer.prototype as unknown as Partial<DirectWrites>).utf8Write === 'function';
function writeUtf8(buf: Buffer, text: string, offset: number): number {
  return direct ? (buf as unknown as DirectWrites).utf8Write(text, offset) : buf.write(text, offset, 'utf8');
}

/** Strings at least this long are worth remembering in their encoded form. */
const ENCODED_MIN = 1024;
const ENCODED_SLOTS = 4;
/**
 * The last few long strings sent, with their UTF-8 bytes once one has been sent twice: a server that
 * sends the same page over and over copies its bytes instead of encoding it each time.
 */
const encodedTexts: string[] = new Array<string>(ENCODED_SLOTS).fill('');
const encodedBytes: (Buffer | null)[] = new Array<Buffer | null>(ENCODED_SLOTS).fill(null);
let nextEncodedSlot = 0;

/** The UTF-8 bytes of `text` if it was sent before (encoding it now, the second time), else null. */
function knownEncoding(text: string): Buffer | null {
  for (let i = 0; i < ENCODED_SLOTS; i++) {
    if (encodedTexts[i] !== text) continue;
    let bytes = encodedBytes[i]!;
    if (bytes === null) bytes = encodedBytes[i] = Buffer.from(text, 'utf8');
    return bytes;
  }
  encodedTexts[nextEncodedSlot] = text;
  encodedBytes[nextEncodedSlot] = null;
  nextEncodedSlot = (nextEncodedSlot + 1) % ENCODED_SLOTS;
  return null;
}

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let cursor = 0;

export class Output {
  private readonly socket: Socket;
  /** Pending text, sent as UTF-8 (response heads are ASCII). */
  private text = '';
  /** The slab holding this connection's pending region, or null. */
  private region: Buffer | null = null;
  private start = 0;
  /** Where this connection's region ends; the shared cursor moves on when another connection writes. */
  private end = 0;
  private corked = false;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Whether anything is queued. */
  get empty(): boolean {
    return this.text.length === 0 && this.region === null;
  }

  /** Bytes queued here and not yet handed to the socket (text counted in UTF-16 units). */
  get queuedBytes(): number {
    return this.text.length + (this.region === null ? 0 : this.end - this.start);
  }

  /** Appends text: a response head, or a short body. */
  append(text: string): void {
    this.text += text;
  }

  /** Appends a string as UTF-8 bytes in the region and returns its size in bytes. */
  utf8(text: string): number {
    if (text.length * 3 > COPY_LIMIT) {
      this.passThrough(text);
      return Buffer.byteLength(text);
    }
    const known = text.length >= ENCODED_MIN ? knownEncoding(text) : null;
    if (known !== null) {
      this.bytes(known);
      return known.length;
    }
    this.settleText();
    this.reserve(text.length * 3);
    const written = writeUtf8(slab, text, cursor);
    cursor = this.end = cursor + written;
    return written;
  }

  /** Appends bytes: small ones are copied into the region, large ones are written by reference. */
  bytes(data: Uint8Array): void {
    if (data.byteLength > COPY_LIMIT) {
      this.passThrough(data);
      return;
    }
    this.settleText();
    this.reserve(data.byteLength);
    slab.set(data, cursor);
    cursor = this.end = cursor + data.byteLength;
  }

  /**
   * Moves the pending text into the region, makes sure `bytes` more fit in it without a new slab, and
   * returns where the region ends: what is appended next can be taken back with `rewind()` (a head
   * written for a guessed body size).
   */
  mark(bytes: number): number {
    this.settleText();
    this.reserve(bytes);
    return cursor;
  }

  /** Forgets everything appended since `mark()` returned `offset`. */
  rewind(offset: number): void {
    if (this.text.length === 0 && this.region === slab && this.end === cursor && offset >= this.start) {
      cursor = this.end = offset;
    }
  }

  /** Hands everything queued to the socket. */
  flush(): void {
    if (this.region === null) {
      if (this.text.length !== 0) {
        this.socket.write(this.text);
        this.text = '';
      }
    } else {
      this.settleText();
      this.pushRegion();
    }
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  /** Drops everything queued (the socket is gone). */
  discard(): void {
    this.text = '';
    if (this.region === slab && this.end === cursor) cursor = this.start;
    this.region = null;
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  private settleText(): void {
    const text = this.text;
    if (text.length === 0) return;
    this.text = '';
    this.reserve(text.length * 3);
    cursor = this.end = cursor + writeUtf8(slab, text, cursor);
  }

  /** Makes room for `bytes` more contiguous bytes at the end of this connection's region. */
  private reserve(bytes: number): void {
    // Another connection wrote after us (a handler may end another connection's response), or the
    // slab is full: hand over what we have and start a fresh region.
    if (this.region === slab && this.end === cursor && cursor + bytes <= slab.length) return;
    if (this.region !== null) this.pushRegion();
    if (cursor + bytes > slab.length) {
      slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bytes));
      cursor = 0;
    }
    this.region = slab;
    this.start = this.end = cursor;
  }

  private pushRegion(): void {
    const region = this.region!;
    if (this.end > this.start) this.socket.write(region.subarray(this.start, this.end));
    if (region === slab && this.end === cursor) {
      // Nothing left queued means the kernel took every byte during write(): nobody holds the
      // region any more, so the next response reuses it while it is still in the CPU cache.
      // Otherwise move on, 8-byte aligned; the region is never written again.
      cursor = this.socket.writableLength === 0 ? this.start : Math.min((cursor + 7) & ~7, slab.length);
    }
    this.region = null;
  }

  private passThrough(data: string | Uint8Array): void {
    if (!this.corked) {
      this.socket.cork();
      this.corked = true;
    }
    if (this.text.length !== 0 || this.region !== null) {
      this.settleText();
      this.pushRegion();
    }
    this.socket.write(data);
  }
}
