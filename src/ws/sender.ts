/**
 * Building server frames (RFC 6455 §5.2). A server never masks its frames, so a frame is a 2-, 4- or
 * 10-byte header followed by the payload as it is: `frameHeader` makes the header alone, so a large
 * payload is written without being copied, and `wholeFrame` makes one buffer of both.
 *
 * These functions validate their arguments and throw RangeError/TypeError on misuse: an invalid frame
 * is a bug in the caller, never something to put on the wire.
 */

import { isValidCloseCode } from './errors.ts';

/** RFC 6455 §5.2 opcodes. */
export const OPCODE = {
  continuation: 0,
  text: 1,
  binary: 2,
  close: 8,
  ping: 9,
  pong: 10,
} as const;

/** RFC 6455 §5.5: the largest control frame payload. */
export const MAX_CONTROL_PAYLOAD = 125;
/** RFC 6455 §5.5.1: the largest close reason, in UTF-8 bytes (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkOpcode(opcode: number): void {
  if (opcode !== 0 && opcode !== 1 && opcode !== 2 && opcode !== 8 && opcode !== 9 && opcode !== 10) {
    throw new RangeError(`Invalid WebSocket opcode ${opcode} (expected 0, 1, 2, 8, 9 or 10)`);
  }
}

/**
 * The header of an unmasked frame: 2 bytes for a payload of up to 125 bytes, 4 up to 65535, else 10.
 * Throws RangeError for an unknown opcode, a length that is not a non-negative safe integer, a control
 * frame that is fragmented, compressed or longer than 125 bytes, or RSV1 on a continuation frame.
 */
/** A whole final frame, header and payload in one buffer: for small payloads, one write instead of two. */
export function wholeFrame(opcode: number, rsv1: boolean, payload: Uint8Array): Buffer {
  const header = frameHeader(opcode, true, rsv1, payload.byteLength);
  const frame = Buffer.allocUnsafe(header.length + payload.byteLength);
  header.copy(frame, 0);
  frame.set(payload, header.length);
  return frame;
}

export function frameHeader(opcode: number, fin: boolean, rsv1: boolean, length: number): Buffer {
  checkOpcode(opcode);
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`Invalid payload length ${length} (expected a non-negative safe integer)`);
  }
  if (opcode >= OPCODE.close) {
    if (!fin) throw new RangeError('A control frame cannot be fragmented (FIN must be set)');
    if (rsv1) throw new RangeError('A control frame cannot be compressed (RSV1 must be clear)');
    if (length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`A control frame payload is at most ${MAX_CONTROL_PAYLOAD} bytes, got ${length}`);
    }
  } else if (opcode === OPCODE.continuation && rsv1) {
    throw new RangeError("RSV1 is set only on a message's first frame, not on a continuation frame");
  }
  const b0 = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.allocUnsafe(2);
    header[1] = length;
  } else if (length < 0x10000) {
    header = Buffer.allocUnsafe(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.allocUnsafe(10);
    header[1] = 127;
    header.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  header[0] = b0;
  return header;
}

/**
 * The payload of a Close frame: the 2-byte code and the UTF-8 reason. Throws RangeError when the code
 * may not be sent (RFC 6455 §7.4: 1000–1003, 1007–1014 and 3000–4999 only) or the reason is longer than
 * 123 bytes of UTF-8, and TypeError when the reason is not a string or not well-formed Unicode (a lone
 * surrogate cannot be encoded as UTF-8).
 */
export function closePayload(code: number, reason = ''): Buffer {
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new RangeError(
      `Invalid close code ${code}: only 1000–1003, 1007–1014 and 3000–4999 may be sent in a Close frame`,
    );
  }
  if (typeof reason !== 'string') {
    throw new TypeError(`The close reason must be a string, got ${typeof reason}`);
  }
  if (LONE_SURROGATE.test(reason)) {
    throw new TypeError('The close reason is not well-formed Unicode (it has a lone surrogate)');
  }
  const length = Buffer.byteLength(reason, 'utf8');
  if (length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `The close reason is ${length} bytes of UTF-8; at most ${MAX_CLOSE_REASON_BYTES} are allowed`,
    );
  }
  const payload = Buffer.allocUnsafe(2 + length);
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}
