/**
 * How a publication travels through Redis between Peregrine instances: a 12-byte header, then the
 * message as it is.
 *
 *   0x00 'p' 'g'  flags  instance id (8 bytes)  message…
 *
 * flags: bit 0 binary, bit 1 compress, bits 4–7 the format's version (1). The instance id lets an
 * instance skip its own publications, which reached its subscribers already (through the channel
 * between its workers). A message without this header was published by something else — a backend
 * job's `PUBLISH` — and is delivered as text when it is valid UTF-8, as binary otherwise.
 */

import { isUtf8 } from 'node:buffer';

const MAGIC_0 = 0x00;
const MAGIC_1 = 0x70; // 'p'
const MAGIC_2 = 0x67; // 'g'
const VERSION = 0x10;
const BINARY = 0x01;
const COMPRESS = 0x02;
export const HEADER_BYTES = 12;
export const INSTANCE_ID_BYTES = 8;

export interface Unwrapped {
  /** The publishing instance's id, or null for a message from outside Peregrine. */
  origin: Buffer | null;
  message: Buffer;
  isBinary: boolean;
  compress: boolean;
}

/** The envelope for one publication: one copy of the message, behind the header. */
export function wrap(instanceId: Buffer, message: Uint8Array, isBinary: boolean, compress: boolean): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + message.byteLength);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = MAGIC_2;
  out[3] = VERSION | (isBinary ? BINARY : 0) | (compress ? COMPRESS : 0);
  instanceId.copy(out, 4, 0, INSTANCE_ID_BYTES);
  out.set(message, HEADER_BYTES);
  return out;
}

/** Reads what arrived on a channel. Never throws: anything without our header is a plain message. */
export function unwrap(data: Buffer): Unwrapped {
  if (
    data.length >= HEADER_BYTES &&
    data[0] === MAGIC_0 &&
    data[1] === MAGIC_1 &&
    data[2] === MAGIC_2 &&
    (data[3]! & 0xf0) === VERSION
  ) {
    const flags = data[3]!;
    return {
      origin: data.subarray(4, HEADER_BYTES),
      message: data.subarray(HEADER_BYTES),
      isBinary: (flags & BINARY) !== 0,
      compress: (flags & COMPRESS) !== 0,
    };
  }
  return { origin: null, message: data, isBinary: !isUtf8(data), compress: true };
}
