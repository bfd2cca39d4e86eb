/**
 * UTF-8 encoding of string bodies into shared slabs. Encoding a large string once, into bytes we then
 * write, is cheaper than measuring it (`Buffer.byteLength`) and letting the socket encode it again;
 * carving the bytes out of a slab avoids an ArrayBuffer per response. A slab region is never written
 * twice, so the views stay valid for as long as the socket needs them.
 */
const SLAB_BYTES = 256 * 1024;
/** Strings shorter than this are cheaper to measure and send as strings. */
export const ENCODE_MIN_CHARS = 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

export function encodeUtf8(text: string): Buffer {
  const worstCase = text.length * 3;
  if (worstCase > SLAB_BYTES / 4) return Buffer.from(text, 'utf8');
  if (used + worstCase > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const start = used;
  used += slab.write(text, start, 'utf8');
  const view = slab.subarray(start, used);
  used = (used + 7) & ~7; // keep views 8-byte aligned
  return view;
}
