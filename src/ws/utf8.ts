/**
 * Incremental UTF-8 validation (RFC 3629, Unicode Table 3-7 "well-formed byte sequences"): no overlong
 * forms, no surrogates (U+D800–U+DFFF), nothing above U+10FFFF.
 *
 * The validator is a small state machine whose state is carried between calls, so a text message can be
 * checked piece by piece as it arrives and an invalid sequence is reported at the first byte that makes
 * it invalid. A sequence cut at the end of a piece leaves a non-zero state; the message is valid only if
 * the state is UTF8_ACCEPT after its last piece. Long runs are handed to Node's native `isUtf8`.
 */

import { isUtf8 } from 'node:buffer';

/** Between characters: the bytes so far are valid UTF-8 and complete. */
export const UTF8_ACCEPT = 0;
/** The bytes are not valid UTF-8; no later byte can fix that. */
export const UTF8_REJECT = -1;

// States 1–3: that many continuation bytes (80–BF) still expected.
// The lead bytes E0, ED, F0 and F4 narrow the range of the byte right after them:
const AFTER_E0 = 4; // A0–BF, then 1 more (no overlong 3-byte form)
const AFTER_ED = 5; // 80–9F, then 1 more (no surrogates)
const AFTER_F0 = 6; // 90–BF, then 2 more (no overlong 4-byte form)
const AFTER_F4 = 7; // 80–8F, then 2 more (nothing above U+10FFFF)

/** Pieces shorter than this are checked byte by byte; longer ones mostly by the native validator. */
const NATIVE_THRESHOLD = 64;

/** Runs the state machine over `buf[start, end)` from `state`; returns the new state or UTF8_REJECT. */
function step(buf: Uint8Array, start: number, end: number, state: number): number {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    switch (state) {
      case UTF8_ACCEPT:
        if (b < 0x80) break;
        if (b < 0xc2) return UTF8_REJECT; // a stray continuation byte, or C0/C1 (always overlong)
        if (b < 0xe0) state = 1;
        else if (b < 0xf0) state = b === 0xe0 ? AFTER_E0 : b === 0xed ? AFTER_ED : 2;
        else if (b < 0xf5) state = b === 0xf0 ? AFTER_F0 : b === 0xf4 ? AFTER_F4 : 3;
        else return UTF8_REJECT;
        break;
      case 1:
      case 2:
      case 3:
        if ((b & 0xc0) !== 0x80) return UTF8_REJECT;
        state--;
        break;
      case AFTER_E0:
        if (b < 0xa0 || b > 0xbf) return UTF8_REJECT;
        state = 1;
        break;
      case AFTER_ED:
        if (b < 0x80 || b > 0x9f) return UTF8_REJECT;
        state = 1;
        break;
      case AFTER_F0:
        if (b < 0x90 || b > 0xbf) return UTF8_REJECT;
        state = 2;
        break;
      case AFTER_F4:
        if (b < 0x80 || b > 0x8f) return UTF8_REJECT;
        state = 2;
        break;
      default:
        return UTF8_REJECT;
    }
  }
  return state;
}

/**
 * Validates the next piece `buf[start, end)` of a UTF-8 stream, continuing from `state` (UTF8_ACCEPT at
 * the start of a message). Returns the state to pass with the following piece, or UTF8_REJECT.
 */
export function validateUtf8(buf: Uint8Array, start: number, end: number, state: number): number {
  if (state === UTF8_REJECT) return UTF8_REJECT;
  if (end - start < NATIVE_THRESHOLD) return step(buf, start, end, state);
  // Finish a sequence left open by the previous piece (at most 3 bytes).
  let i = start;
  while (state !== UTF8_ACCEPT && i < end) {
    state = step(buf, i, i + 1, state);
    if (state === UTF8_REJECT) return UTF8_REJECT;
    i++;
  }
  if (state !== UTF8_ACCEPT) return state; // the piece ended inside that sequence
  // Keep an incomplete sequence at the end (a lead byte in the last 3 bytes whose sequence runs past
  // `end`) for the state machine; everything before it is whole characters or invalid.
  let cut = end;
  for (let j = end - 1; j >= i && j >= end - 3; j--) {
    const b = buf[j]!;
    if ((b & 0xc0) === 0x80) continue;
    if (b >= 0xc0 && j + (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > end) cut = j;
    break;
  }
  if (cut > i && !isUtf8(buf.subarray(i, cut))) return UTF8_REJECT;
  return step(buf, cut, end, UTF8_ACCEPT);
}
