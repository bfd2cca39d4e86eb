/**
 * The pure parts of the pubsub section's load generator (pubsub-load.ts): the 32-byte messages it
 * publishes, reading server WebSocket frames from raw reads, Engine.IO v4 / Socket.IO v5 packets,
 * per-subscriber sequence checks and a latency histogram. No I/O here, so test/bench/ covers it.
 */

/** Size of every published message, in bytes (printable ASCII, so a valid text message). */
export const MESSAGE_BYTES = 32;
const SEQ_DIGITS = 10;
const TIME_DIGITS = 15;
const TIME_AT = SEQ_DIGITS + 1;
const ZERO = 0x30;

/**
 * The message of publication `seq`, sent at `sentMicros` (microseconds on the load generator's own
 * clock, `performance.now() * 1000`): `SSSSSSSSSS TTTTTTTTTTTTTTT......`, 32 ASCII bytes.
 */
export function encodeMessage(seq: number, sentMicros: number): string {
  const time = Math.max(0, Math.floor(sentMicros));
  const text = `${String(seq).padStart(SEQ_DIGITS, '0')} ${String(time).padStart(TIME_DIGITS, '0')}`;
  if (text.length !== TIME_AT + TIME_DIGITS) throw new Error(`seq ${seq} or time ${time} out of range`);
  return text.padEnd(MESSAGE_BYTES, '.');
}

/** The decimal number in `digits` ASCII bytes at `data[at]`, or -1 if one is not a digit. */
function readDigits(data: Uint8Array, at: number, digits: number): number {
  let value = 0;
  for (let i = at; i < at + digits; i++) {
    const digit = data[i]! - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** The sequence number of the message at `data[at]` (32 bytes), or -1 if it is not one of ours. */
export function messageSeq(data: Uint8Array, at: number): number {
  return data[at + SEQ_DIGITS] === 0x20 ? readDigits(data, at, SEQ_DIGITS) : -1;
}

/** The send time (µs) of the message at `data[at]`, or -1 if it is not one of ours. */
export function messageSentMicros(data: Uint8Array, at: number): number {
  return readDigits(data, at + TIME_AT, TIME_DIGITS);
}

// ---------------------------------------------------------------------------------------------------------
// Server frames

/** Largest frame payload a server may send here: our messages and Engine.IO's open packet are far smaller. */
const MAX_FRAME_PAYLOAD = 64 * 1024;

/** Called for each complete frame with its opcode and where its payload lies in `data`. */
export type FrameHandler = (opcode: number, data: Buffer, start: number, end: number) => void;

/**
 * Splits a server's byte stream into frames. Reads come in a buffer that is reused for the next read
 * (`net.connect`'s `onread`), so a frame cut by the end of a read is copied until the rest arrives.
 * Server frames are unmasked and, here, never fragmented: anything else throws.
 */
export class FrameReader {
  private pending: Buffer | null = null;
  private readonly onFrame: FrameHandler;

  constructor(onFrame: FrameHandler) {
    this.onFrame = onFrame;
  }

  /** Bytes of an incomplete frame kept from earlier reads. */
  get pendingBytes(): number {
    return this.pending?.length ?? 0;
  }

  /** Reads `chunk[0, length)`. */
  read(chunk: Buffer, length: number): void {
    let data = chunk;
    let end = length;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, chunk.subarray(0, length)]);
      end = data.length;
      this.pending = null;
    }
    let i = 0;
    while (end - i >= 2) {
      const first = data[i]!;
      const second = data[i + 1]!;
      if ((second & 0x80) !== 0) throw new Error('the server sent a masked frame');
      let payload = second & 0x7f;
      let header = 2;
      if (payload === 126) {
        if (end - i < 4) break;
        payload = data.readUInt16BE(i + 2);
        header = 4;
      } else if (payload === 127) {
        if (end - i < 10) break;
        payload = data.readUInt32BE(i + 2) * 2 ** 32 + data.readUInt32BE(i + 6);
        header = 10;
      }
      if (payload > MAX_FRAME_PAYLOAD) throw new Error(`the server sent a ${payload}-byte frame`);
      if (end - i < header + payload) break;
      if ((first & 0x80) === 0) throw new Error('the server sent a fragmented message');
      if ((first & 0x70) !== 0) throw new Error('the server set a reserved bit (compression?)');
      this.onFrame(first & 0x0f, data, i + header, i + header + payload);
      i += header + payload;
    }
    if (i < end) this.pending = Buffer.from(data.subarray(i, end));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Engine.IO v4 / Socket.IO v5 over a WebSocket: one packet per text frame

/** `42["m","` — the prefix of the event the Socket.IO server sends each subscriber. */
const SOCKET_IO_EVENT_PREFIX = Buffer.from('42["m","', 'latin1');
const SOCKET_IO_EVENT_SUFFIX = Buffer.from('"]', 'latin1');
/** The length of one delivered event: prefix, message, suffix. */
export const SOCKET_IO_EVENT_BYTES =
  SOCKET_IO_EVENT_PREFIX.length + MESSAGE_BYTES + SOCKET_IO_EVENT_SUFFIX.length;

/** A Socket.IO event `name` with one string argument, as the text of its Engine.IO packet. */
export function socketIoEvent(name: string, argument: string): string {
  return `42${JSON.stringify([name, argument])}`;
}

/** What an Engine.IO packet from the server is. */
export type EnginePacket =
  | { readonly kind: 'open'; readonly sid: string; readonly pingInterval: number }
  | { readonly kind: 'connected' }
  | { readonly kind: 'ping' }
  | { readonly kind: 'message' }
  | { readonly kind: 'close' }
  | { readonly kind: 'other'; readonly text: string };

/**
 * Classifies the Engine.IO packet `data[start, end)` (a text frame's payload): `0{…}` open, `2` ping,
 * `1` close, `40…` Socket.IO's namespace connect answer, `42["m","<message>"]` our event ('message';
 * read it with socketIoMessageAt), anything else 'other' (e.g. `44{…}`, a connect error).
 */
export function parseEnginePacket(data: Buffer, start: number, end: number): EnginePacket {
  if (isSocketIoMessage(data, start, end)) return { kind: 'message' };
  const text = data.toString('latin1', start, end);
  if (text === '2') return { kind: 'ping' };
  if (text === '1') return { kind: 'close' };
  if (text.startsWith('40')) return { kind: 'connected' };
  if (text.startsWith('0{')) {
    try {
      const open = JSON.parse(text.slice(1)) as { sid?: unknown; pingInterval?: unknown };
      if (typeof open.sid === 'string' && typeof open.pingInterval === 'number')
        return { kind: 'open', sid: open.sid, pingInterval: open.pingInterval };
    } catch {
      // Not JSON: reported as 'other'.
    }
  }
  return { kind: 'other', text };
}

/** Whether `data[start, end)` is `42["m","<32 bytes>"]`. */
export function isSocketIoMessage(data: Buffer, start: number, end: number): boolean {
  if (end - start !== SOCKET_IO_EVENT_BYTES) return false;
  const prefix = SOCKET_IO_EVENT_PREFIX.length;
  return (
    data.compare(SOCKET_IO_EVENT_PREFIX, 0, prefix, start, start + prefix) === 0 &&
    data[end - 2] === 0x22 &&
    data[end - 1] === 0x5d
  );
}

/** Where the message starts in the payload of a Socket.IO event checked by isSocketIoMessage. */
export function socketIoMessageAt(start: number): number {
  return start + SOCKET_IO_EVENT_PREFIX.length;
}

// ---------------------------------------------------------------------------------------------------------
// Delivery checks

/**
 * Checks that every subscriber receives publications 1, 2, 3 … each once and in order. A gap counts
 * the publications skipped as lost; a number at or below one already seen counts as a duplicate.
 */
export class SequenceCheck {
  /** Next publication each subscriber should receive. */
  private readonly next: Float64Array;
  lost = 0;
  duplicates = 0;

  constructor(subscribers: number) {
    this.next = new Float64Array(subscribers).fill(1);
  }

  /** Records that `subscriber` received `seq`; false if it was a duplicate (not to be counted). */
  receive(subscriber: number, seq: number): boolean {
    const expected = this.next[subscriber]!;
    if (seq === expected) {
      this.next[subscriber] = seq + 1;
      return true;
    }
    if (seq < expected) {
      this.duplicates++;
      return false;
    }
    this.lost += seq - expected;
    this.next[subscriber] = seq + 1;
    return true;
  }

  /** The last publication `subscriber` received (0 if none). */
  lastReceived(subscriber: number): number {
    return this.next[subscriber]! - 1;
  }

  /**
   * Publications 1 … `published` that subscribers never received (subscribers whose last received
   * publication is below `published` miss the rest), added to the gaps already counted.
   */
  missingAfter(published: number): number {
    let missing = this.lost;
    for (const next of this.next) missing += Math.max(0, published + 1 - next);
    return missing;
  }
}

/**
 * Latencies in microseconds, in buckets of 1 µs below 1024 µs and of 1/64 of a power of two above
 * (1.6 % resolution), so that millions of deliveries cost one array increment each.
 */
export class LatencyHistogram {
  private static readonly LINEAR = 1024;
  private static readonly SUB_BITS = 6;
  private readonly counts = new Float64Array(
    LatencyHistogram.LINEAR + (31 - 10) * (1 << LatencyHistogram.SUB_BITS),
  );
  count = 0;

  private static index(micros: number): number {
    const value = micros <= 0 ? 0 : Math.min(Math.floor(micros), 0x7fffffff);
    if (value < LatencyHistogram.LINEAR) return value;
    const exponent = 31 - Math.clz32(value); // ≥ 10
    const sub = (value >>> (exponent - LatencyHistogram.SUB_BITS)) & ((1 << LatencyHistogram.SUB_BITS) - 1);
    return LatencyHistogram.LINEAR + ((exponent - 10) << LatencyHistogram.SUB_BITS) + sub;
  }

  /** The middle of bucket `index`, in microseconds. */
  private static value(index: number): number {
    if (index < LatencyHistogram.LINEAR) return index;
    const above = index - LatencyHistogram.LINEAR;
    const exponent = (above >>> LatencyHistogram.SUB_BITS) + 10;
    const sub = above & ((1 << LatencyHistogram.SUB_BITS) - 1);
    const width = 2 ** (exponent - LatencyHistogram.SUB_BITS);
    return 2 ** exponent + sub * width + width / 2;
  }

  record(micros: number, times = 1): void {
    this.counts[LatencyHistogram.index(micros)]! += times;
    this.count += times;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
  }

  /** The `p`-th percentile (0 < p ≤ 100) in microseconds, or null if nothing was recorded. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return LatencyHistogram.value(i);
    }
    return LatencyHistogram.value(this.counts.length - 1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Client frames

/** Client frames must be masked (RFC 6455 §5.3); one fixed key is enough for a benchmark. */
const MASK_KEY = [0x5c, 0x13, 0xa7, 0x42] as const;

/** A complete masked client frame (FIN set) with `opcode` carrying `payload` (under 64 KiB). */
export function maskedFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  if (length > 0xffff) throw new Error('maskedFrame: payload too large');
  const maskAt = length < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(maskAt + 4 + length);
  frame[0] = 0x80 | opcode;
  if (maskAt === 2) frame[1] = 0x80 | length;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  }
  for (let i = 0; i < 4; i++) frame[maskAt + i] = MASK_KEY[i]!;
  for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i]! ^ MASK_KEY[i & 3]!;
  return frame;
}
