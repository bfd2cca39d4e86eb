/**
 * The server side's streaming RFC 6455 frame parser (§5). Bytes go in through `write` in pieces of any
 * size, split anywhere; frames, messages and control frames come out as events.
 *
 * The parser is a loop over integer states. A state returns when the bytes it needs have not all
 * arrived yet and carries on from where it was at the next `write`:
 *
 * - Header fields (at most 14 bytes) are read straight from the chunk, or gathered into an 8-byte
 *   scratch buffer when they span chunks (made the first time that happens, then kept), so headers
 *   don't allocate. The masking key is kept as one 32-bit integer, not in a buffer of its own.
 * - A payload wholly inside one chunk is unmasked in place and handed out as a view of that chunk
 *   (zero-copy). `write` therefore takes ownership of its chunk: the caller must not reuse it.
 * - A payload that spans chunks, and a message in several fragments, is copied into one message buffer
 *   as its bytes arrive. That buffer at least doubles whenever it is full, so assembling a message takes
 *   O(log n) reallocations and linear time however finely it is fragmented (`bufferGrowths` counts
 *   them). It is at most twice the bytes actually received (or 4 KiB), so a peer cannot make the
 *   receiver allocate memory it has not sent; it never exceeds `maxMessageBytes`, nor, while the final
 *   frame arrives, the message's announced length. A message's announced length is checked against
 *   `maxMessageBytes` as soon as each frame header is read, before any payload is buffered.
 * - Uncompressed text is checked as UTF-8 piece by piece as it arrives, so an invalid sequence fails the
 *   connection at once, even in the middle of a frame.
 *
 * A protocol violation calls `onError` once with a WsError and stops the receiver; a Close frame calls
 * `onClose` and stops it too (RFC 6455 §5.5.1: nothing may follow a Close frame). A stopped receiver
 * ignores all further input. If an event handler throws, the receiver stops and the exception
 * propagates out of `write`.
 *
 * Error codes (all close with 1002 unless noted):
 * ERR_PEREGRINE_WS_UNMASKED_FRAME, ERR_PEREGRINE_WS_UNEXPECTED_RSV_2_3, ERR_PEREGRINE_WS_UNEXPECTED_RSV_1, ERR_PEREGRINE_WS_INVALID_OPCODE,
 * ERR_PEREGRINE_WS_FRAGMENTED_CONTROL_FRAME, ERR_PEREGRINE_WS_CONTROL_FRAME_TOO_LONG, ERR_PEREGRINE_WS_UNEXPECTED_CONTINUATION,
 * ERR_PEREGRINE_WS_EXPECTED_CONTINUATION, ERR_PEREGRINE_WS_INVALID_LENGTH, ERR_PEREGRINE_WS_UNSUPPORTED_LENGTH (1009),
 * ERR_PEREGRINE_WS_MESSAGE_TOO_BIG (1009), ERR_PEREGRINE_WS_INVALID_UTF8 (1007), ERR_PEREGRINE_WS_INVALID_CLOSE_PAYLOAD,
 * ERR_PEREGRINE_WS_INVALID_CLOSE_CODE, ERR_PEREGRINE_WS_INVALID_CLOSE_REASON (1007).
 */

import { isUtf8 } from 'node:buffer';
import { CLOSE, isValidCloseCode, WsError } from './errors.ts';
import { UTF8_ACCEPT, UTF8_REJECT, validateUtf8 } from './utf8.ts';

export interface ReceiverEvents {
  /**
   * A complete message: fragments joined; `compressed` is true when RSV1 was set on its first frame
   * (permessage-deflate negotiated) — then the payload is still deflated and NOT UTF-8-checked (the
   * caller inflates and checks). Uncompressed text is already validated as UTF-8.
   */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** A Close frame: code 1005 when the frame had no payload; reason decoded. */
  onClose(code: number, reason: string): void;
  /** Optional frame-level access (every frame, data and control, after validation). */
  onFrame?(fin: boolean, opcode: number, payload: Buffer): void;
  /** A protocol violation: after it the receiver ignores all further input. */
  onError(error: WsError): void;
}

export interface ReceiverOptions {
  /**
   * The largest total payload of one message (all its fragments), as sent on the wire (still deflated
   * when compressed). Exceeding it fails with 1009 as soon as the frame header that exceeds it is read.
   */
  maxMessageBytes: number;
  /** Whether permessage-deflate was negotiated, i.e. whether RSV1 is allowed on a message's first frame. */
  perMessageDeflate: boolean;
}

// Parser states.
const GET_INFO = 0;
const GET_LENGTH_16 = 1;
const GET_LENGTH_64 = 2;
const GET_MASK = 3;
const GET_DATA = 4;
/** After an error, a Close frame, `stop()` or a throwing event handler: all input is ignored. */
const STOPPED = 5;

const OP_CONTINUATION = 0;
const OP_TEXT = 1;
const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;

const EMPTY = Buffer.alloc(0);
/** The smallest message buffer allocated when a message is not wholly inside one chunk. */
const MIN_BUFFER = 4096;

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Below this many bytes a range is unmasked byte by byte; above, mostly a 32-bit word at a time. */
const WORD_THRESHOLD = 64;

/** Byte `k` (0 to 3, taken modulo 4) of a masking key kept as `key[0] | key[1] << 8 | …`. */
function maskByte(mask: number, k: number): number {
  return (mask >>> ((k & 3) << 3)) & 0xff;
}

/**
 * XORs `buf[start, end)` with the masking key (as maskByte reads it); `offset` is the position of
 * `start` within the frame payload.
 */
function unmask(buf: Buffer, start: number, end: number, mask: number, offset: number): void {
  let i = start;
  let j = offset;
  if (end - start >= WORD_THRESHOLD) {
    // Bytes up to a 4-byte-aligned address, then whole words through an Int32Array view.
    while (((buf.byteOffset + i) & 3) !== 0) buf[i++] ^= maskByte(mask, j++);
    const m0 = maskByte(mask, j);
    const m1 = maskByte(mask, j + 1);
    const m2 = maskByte(mask, j + 2);
    const m3 = maskByte(mask, j + 3);
    const word = LITTLE_ENDIAN
      ? m0 | (m1 << 8) | (m2 << 16) | (m3 << 24)
      : (m0 << 24) | (m1 << 16) | (m2 << 8) | m3;
    const count = (end - i) >>> 2;
    const words = new Int32Array(buf.buffer, buf.byteOffset + i, count);
    for (let k = 0; k < count; k++) words[k] ^= word;
    i += count << 2;
    j += count << 2;
  }
  for (; i < end; i++, j++) buf[i] ^= maskByte(mask, j);
}

export class Receiver {
  private readonly events: ReceiverEvents;
  private readonly maxMessageBytes: number;
  private readonly perMessageDeflate: boolean;

  private state = GET_INFO;
  private writing = false;
  /** The chunk being parsed and the read position in it. */
  private chunk: Buffer = EMPTY;
  private pos = 0;

  /**
   * Header bytes that span chunks are gathered here (EMPTY until that first happens); `read` then
   * points `src` at them.
   */
  private scratch: Buffer = EMPTY;
  private scratchFilled = 0;
  private src: Buffer = EMPTY;
  private srcOffset = 0;

  // The current frame.
  private fin = false;
  private opcode = 0;
  private payloadLength = 0;
  /** Payload bytes of the current frame received so far (only when it spans chunks). */
  private received = 0;
  /** The frame's masking key, byte k at bits 8k (see maskByte). */
  private mask = 0;
  /** A control frame's payload while it spans chunks. */
  private controlBuffer: Buffer = EMPTY;

  // The current data message.
  /** OP_TEXT or OP_BINARY while a message is in progress (from its first frame header to its end), else 0. */
  private messageOpcode = 0;
  private compressed = false;
  /** The announced payload length of the message so far, including the current frame. */
  private messageBytes = 0;
  /** The message's bytes when it is not one frame wholly inside one chunk; `bufferLength` are used. */
  private buffer: Buffer = EMPTY;
  private bufferLength = 0;
  /** Where the current frame's payload starts in `buffer`. */
  private frameStart = 0;
  private utf8State = UTF8_ACCEPT;

  /**
   * How many times a message buffer was allocated or grown (with a copy of what it held), over the
   * receiver's life: O(log n) per n-byte message however it is fragmented. For tests and diagnostics.
   */
  bufferGrowths = 0;

  constructor(events: ReceiverEvents, options: ReceiverOptions) {
    const { maxMessageBytes, perMessageDeflate } = options;
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 0) {
      throw new RangeError(`maxMessageBytes must be a non-negative safe integer, got ${maxMessageBytes}`);
    }
    this.events = events;
    this.maxMessageBytes = maxMessageBytes;
    this.perMessageDeflate = perMessageDeflate === true;
  }

  /** Whether the receiver has stopped (after an error, a Close frame or `stop()`) and ignores input. */
  get stopped(): boolean {
    return this.state === STOPPED;
  }

  /** Stops the receiver: the rest of the current chunk and all later input are ignored. */
  stop(): void {
    this.state = STOPPED;
    this.release();
  }

  /**
   * Parses the next bytes. The receiver owns `chunk` from now on (payloads are unmasked in place).
   * Must not be called from inside one of its own event handlers.
   */
  write(chunk: Buffer): void {
    if (this.writing) throw new Error('Receiver.write must not be called from its own event handlers');
    if (this.state === STOPPED) return;
    this.writing = true;
    this.chunk = chunk;
    this.pos = 0;
    try {
      let loop = true;
      while (loop) {
        switch (this.state) {
          case GET_INFO:
            loop = this.getInfo();
            break;
          case GET_LENGTH_16:
            loop = this.getLength16();
            break;
          case GET_LENGTH_64:
            loop = this.getLength64();
            break;
          case GET_MASK:
            loop = this.getMask();
            break;
          case GET_DATA:
            loop = this.getData();
            break;
          default:
            loop = false;
        }
      }
    } catch (error) {
      this.stop();
      throw error;
    } finally {
      this.writing = false;
      this.chunk = EMPTY;
      this.src = EMPTY;
    }
  }

  /**
   * Makes `n` header bytes readable at `src[srcOffset]`: in place when the chunk has them all, else
   * gathered in `scratch` across chunks. Returns false (having kept what there was) when some are missing.
   */
  private read(n: number): boolean {
    const available = this.chunk.length - this.pos;
    if (this.scratchFilled === 0 && available >= n) {
      this.src = this.chunk;
      this.srcOffset = this.pos;
      this.pos += n;
      return true;
    }
    if (available === 0) return false; // the chunk is used up: nothing to gather yet
    const take = Math.min(n - this.scratchFilled, available);
    if (this.scratch === EMPTY) this.scratch = Buffer.alloc(8); // its own 8 bytes: no pool slab kept alive
    this.chunk.copy(this.scratch, this.scratchFilled, this.pos, this.pos + take);
    this.scratchFilled += take;
    this.pos += take;
    if (this.scratchFilled < n) return false;
    this.scratchFilled = 0;
    this.src = this.scratch;
    this.srcOffset = 0;
    return true;
  }

  private getInfo(): boolean {
    if (!this.read(2)) return false;
    const b0 = this.src[this.srcOffset]!;
    const b1 = this.src[this.srcOffset + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const length = b1 & 0x7f;

    if ((b0 & 0x30) !== 0) {
      return this.fail(
        'ERR_PEREGRINE_WS_UNEXPECTED_RSV_2_3',
        CLOSE.protocolError,
        'RSV2 and RSV3 must be clear',
      );
    }
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) {
        return this.fail('ERR_PEREGRINE_WS_INVALID_OPCODE', CLOSE.protocolError, `Invalid opcode ${opcode}`);
      }
      if (!fin) {
        return this.fail(
          'ERR_PEREGRINE_WS_FRAGMENTED_CONTROL_FRAME',
          CLOSE.protocolError,
          'FIN must be set on a control frame',
        );
      }
      if (length > 125) {
        return this.fail(
          'ERR_PEREGRINE_WS_CONTROL_FRAME_TOO_LONG',
          CLOSE.protocolError,
          'A control frame payload must be at most 125 bytes',
        );
      }
      if (rsv1) {
        return this.fail(
          'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1',
          CLOSE.protocolError,
          'RSV1 must be clear on a control frame',
        );
      }
    } else if (opcode === OP_CONTINUATION) {
      if (this.messageOpcode === 0) {
        return this.fail(
          'ERR_PEREGRINE_WS_UNEXPECTED_CONTINUATION',
          CLOSE.protocolError,
          'A continuation frame without a message in progress',
        );
      }
      if (rsv1) {
        return this.fail(
          'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1',
          CLOSE.protocolError,
          'RSV1 must be clear on a continuation frame',
        );
      }
    } else if (opcode <= OP_BINARY) {
      if (this.messageOpcode !== 0) {
        return this.fail(
          'ERR_PEREGRINE_WS_EXPECTED_CONTINUATION',
          CLOSE.protocolError,
          'A new data frame while a fragmented message is in progress',
        );
      }
      if (rsv1 && !this.perMessageDeflate) {
        return this.fail(
          'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1',
          CLOSE.protocolError,
          'RSV1 must be clear (permessage-deflate is not in use)',
        );
      }
      this.messageOpcode = opcode;
      this.compressed = rsv1;
    } else {
      return this.fail('ERR_PEREGRINE_WS_INVALID_OPCODE', CLOSE.protocolError, `Invalid opcode ${opcode}`);
    }
    if ((b1 & 0x80) === 0) {
      return this.fail(
        'ERR_PEREGRINE_WS_UNMASKED_FRAME',
        CLOSE.protocolError,
        'A client frame must be masked',
      );
    }

    this.fin = fin;
    this.opcode = opcode;
    if (length === 126) this.state = GET_LENGTH_16;
    else if (length === 127) this.state = GET_LENGTH_64;
    else return this.haveLength(length);
    return true;
  }

  private getLength16(): boolean {
    if (!this.read(2)) return false;
    return this.haveLength(this.src.readUInt16BE(this.srcOffset));
  }

  private getLength64(): boolean {
    if (!this.read(8)) return false;
    const high = this.src.readUInt32BE(this.srcOffset);
    const low = this.src.readUInt32BE(this.srcOffset + 4);
    if (high >= 0x80000000) {
      return this.fail(
        'ERR_PEREGRINE_WS_INVALID_LENGTH',
        CLOSE.protocolError,
        'The most significant bit of a 64-bit payload length must be 0',
      );
    }
    if (high > 0x1fffff) {
      return this.fail(
        'ERR_PEREGRINE_WS_UNSUPPORTED_LENGTH',
        CLOSE.messageTooBig,
        'Payload lengths above 2^53 - 1 are not supported',
      );
    }
    return this.haveLength(high * 0x100000000 + low);
  }

  private haveLength(length: number): boolean {
    if (this.opcode < OP_CLOSE) {
      const total = this.messageBytes + length;
      if (total > this.maxMessageBytes) {
        return this.fail(
          'ERR_PEREGRINE_WS_MESSAGE_TOO_BIG',
          CLOSE.messageTooBig,
          `The message is larger than ${this.maxMessageBytes} bytes`,
        );
      }
      this.messageBytes = total;
    }
    this.payloadLength = length;
    this.received = 0;
    this.state = GET_MASK;
    return true;
  }

  private getMask(): boolean {
    if (!this.read(4)) return false;
    const src = this.src;
    const at = this.srcOffset;
    this.mask = src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24);
    this.state = GET_DATA;
    return true;
  }

  private getData(): boolean {
    const length = this.payloadLength;
    const chunk = this.chunk;
    const pos = this.pos;
    const available = chunk.length - pos;

    if (this.received === 0 && available >= length) {
      // The whole payload is in this chunk: unmask it in place and hand out a view.
      const end = pos + length;
      this.pos = end;
      unmask(chunk, pos, end, this.mask, 0);
      const payload = chunk.subarray(pos, end);
      return this.opcode >= OP_CLOSE ? this.control(payload) : this.wholeData(payload);
    }
    if (available === 0) return false;

    // The payload spans chunks: copy what is here, unmask the copy (the chunk is left as it was).
    const received = this.received;
    const take = Math.min(available, length - received);
    this.pos = pos + take;
    this.received = received + take;
    if (this.opcode >= OP_CLOSE) {
      if (received === 0) this.controlBuffer = Buffer.allocUnsafe(length);
      const target = this.controlBuffer;
      chunk.copy(target, received, pos, pos + take);
      unmask(target, received, received + take, this.mask, received);
      if (this.received < length) return false;
      this.controlBuffer = EMPTY;
      return this.control(target);
    }

    if (received === 0) this.frameStart = this.bufferLength;
    const start = this.bufferLength;
    this.append(chunk, pos, pos + take);
    const buffer = this.buffer;
    unmask(buffer, start, start + take, this.mask, received);
    if (this.messageOpcode === OP_TEXT && !this.compressed) {
      this.utf8State = validateUtf8(buffer, start, start + take, this.utf8State);
      if (this.utf8State === UTF8_REJECT) return this.invalidUtf8();
    }
    if (this.received < length) return false;
    return this.endData(buffer.subarray(this.frameStart, this.bufferLength), null);
  }

  /** A data frame whose payload was wholly inside one chunk (already unmasked). */
  private wholeData(payload: Buffer): boolean {
    const text = this.messageOpcode === OP_TEXT && !this.compressed;
    if (this.fin && this.bufferLength === 0) {
      // The message is this payload (any earlier fragments were empty): no copy.
      if (text && validateUtf8(payload, 0, payload.length, UTF8_ACCEPT) !== UTF8_ACCEPT) {
        return this.invalidUtf8();
      }
      return this.endData(payload, payload);
    }
    if (text) {
      this.utf8State = validateUtf8(payload, 0, payload.length, this.utf8State);
      if (this.utf8State === UTF8_REJECT) return this.invalidUtf8();
    }
    const start = this.bufferLength;
    this.append(payload, 0, payload.length);
    return this.endData(this.buffer.subarray(start, this.bufferLength), null);
  }

  /** The current data frame is complete; on its last frame, so is the message (`message` or the buffer). */
  private endData(framePayload: Buffer, message: Buffer | null): boolean {
    const fin = this.fin;
    if (fin && this.utf8State !== UTF8_ACCEPT) return this.invalidUtf8();
    this.state = GET_INFO;
    if (!fin) {
      this.events.onFrame?.(false, this.opcode, framePayload);
      return true;
    }
    const isBinary = this.messageOpcode === OP_BINARY;
    const compressed = this.compressed;
    if (message === null) {
      const buffer = this.buffer;
      message = this.bufferLength === buffer.length ? buffer : buffer.subarray(0, this.bufferLength);
    }
    // The message now belongs to the caller: reset before calling out.
    this.messageOpcode = 0;
    this.compressed = false;
    this.messageBytes = 0;
    this.buffer = EMPTY;
    this.bufferLength = 0;
    this.utf8State = UTF8_ACCEPT;
    const onFrame = this.events.onFrame;
    if (onFrame) {
      onFrame.call(this.events, true, this.opcode, framePayload);
      if (this.state === STOPPED) return false; // stop() from the handler
    }
    this.events.onMessage(message, isBinary, compressed);
    return true;
  }

  /** Copies `src[start, end)` to the end of the message buffer, growing it if needed. */
  private append(src: Buffer, start: number, end: number): void {
    const need = this.bufferLength + (end - start);
    if (need > this.buffer.length) {
      // At least double, so that a message in many small fragments is copied O(log n) times, not once
      // per fragment. Capped at maxMessageBytes and, on the final frame, at the message's length (known
      // by then), so a message in one frame or with a large last fragment gets an exact buffer. Since
      // the buffer only grows when it is full, it stays within twice the bytes received.
      let capacity = Math.max(need, this.buffer.length * 2, MIN_BUFFER);
      const limit = this.fin ? this.messageBytes : this.maxMessageBytes;
      if (capacity > limit) capacity = limit;
      const next = Buffer.allocUnsafe(capacity);
      this.buffer.copy(next, 0, 0, this.bufferLength);
      this.buffer = next;
      this.bufferGrowths++;
    }
    src.copy(this.buffer, this.bufferLength, start, end);
    this.bufferLength = need;
  }

  /** A complete control frame (already unmasked). */
  private control(payload: Buffer): boolean {
    const opcode = this.opcode;
    this.state = GET_INFO;
    if (opcode === OP_CLOSE) {
      let code: number = CLOSE.noStatus;
      let reason = '';
      if (payload.length === 1) {
        return this.fail(
          'ERR_PEREGRINE_WS_INVALID_CLOSE_PAYLOAD',
          CLOSE.protocolError,
          'A Close frame payload must be empty or at least 2 bytes',
        );
      }
      if (payload.length >= 2) {
        code = payload.readUInt16BE(0);
        if (!isValidCloseCode(code)) {
          return this.fail(
            'ERR_PEREGRINE_WS_INVALID_CLOSE_CODE',
            CLOSE.protocolError,
            `Invalid close code ${code}`,
          );
        }
        if (payload.length > 2) {
          const bytes = payload.subarray(2);
          if (!isUtf8(bytes)) {
            return this.fail(
              'ERR_PEREGRINE_WS_INVALID_CLOSE_REASON',
              CLOSE.invalidPayload,
              'The close reason is not valid UTF-8',
            );
          }
          reason = bytes.toString('utf8');
        }
      }
      // Nothing may follow a Close frame.
      this.stop();
      this.events.onFrame?.(true, OP_CLOSE, payload);
      this.events.onClose(code, reason);
      return false;
    }
    const onFrame = this.events.onFrame;
    if (onFrame) {
      onFrame.call(this.events, true, opcode, payload);
      if (this.state === STOPPED) return false; // stop() from the handler
    }
    if (opcode === OP_PING) this.events.onPing(payload);
    else this.events.onPong(payload);
    return true;
  }

  private invalidUtf8(): boolean {
    return this.fail(
      'ERR_PEREGRINE_WS_INVALID_UTF8',
      CLOSE.invalidPayload,
      'A text message is not valid UTF-8',
    );
  }

  private fail(code: `ERR_PEREGRINE_WS_${string}`, closeCode: number, message: string): boolean {
    this.stop();
    this.events.onError(new WsError(code, closeCode, message));
    return false;
  }

  /** Drops the references to partial data so a stopped receiver holds no memory. */
  private release(): void {
    this.buffer = EMPTY;
    this.bufferLength = 0;
    this.controlBuffer = EMPTY;
    this.scratchFilled = 0;
  }
}
