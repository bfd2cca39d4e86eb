import { CR, LF } from './parser.ts';
import { FIELD_VALUE, TOKEN } from './tokens.ts';

/**
 * A streaming decoder for the chunked transfer coding (RFC 9112 §7.1). It is a state machine over
 * integer states that accepts any split point: feed it whatever bytes have arrived and it reports one
 * event per call, so the caller decides what to do with each piece of data without a callback.
 */

const SIZE_START = 0;
const SIZE = 1;
const SIZE_LF = 3;
const DATA = 4;
const DATA_CR = 5;
const DATA_LF = 6;
const TRAILER_LINE_START = 7;
const TRAILER_NAME = 8;
const TRAILER_VALUE = 9;
const TRAILER_LF = 10;
const FINAL_LF = 11;
const DONE = 12;
// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string
// (RFC 9112 §7.1.1). One state per place in that grammar, so "5 6" or an unclosed quote is rejected.
/** BWS before ";" (after the size or after an extension). */
const EXT_BEFORE_SEMI = 13;
/** BWS after ";", before ext-name. */
const EXT_BEFORE_NAME = 14;
const EXT_NAME = 15;
/** BWS after ext-name: "=" or ";" may follow. */
const EXT_AFTER_NAME = 16;
/** BWS after "=", before ext-val. */
const EXT_BEFORE_VALUE = 17;
const EXT_TOKEN_VALUE = 18;
const EXT_QUOTED = 19;
const EXT_QUOTED_PAIR = 20;
/** Just past a quoted-string's closing quote. */
const EXT_AFTER_QUOTED = 21;

/** `next()` results. A negative result is an HTTP status to answer with. */
export const NEED_MORE = 0;
export const DATA_READY = 1;
export const BODY_DONE = 2;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/** Longest chunk-size line (size and extensions) we accept: extensions are rarely used, never large. */
const MAX_SIZE_LINE = 4096;

export class ChunkedDecoder {
  /** Where the data of a DATA_READY event lies in the buffer given to `next()`. */
  dataStart = 0;
  dataEnd = 0;
  /** Offset in the buffer given to `next()` up to which bytes have been consumed. */
  offset = 0;
  /** Human-readable reason for an error result. */
  error = '';
  private state = SIZE_START;
  private remaining = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  private maxTrailerBytes = 0;
  /** How many more body bytes the chunks declared so far leave room for. */
  private allowance = 0;

  /**
   * Starts a new body. `maxBodyBytes` limits the sum of the chunk sizes: a chunk size line that
   * declares more than is left is answered 413 as soon as the size is complete.
   */
  reset(maxTrailerBytes: number, maxBodyBytes: number = Number.POSITIVE_INFINITY): void {
    this.allowance = maxBodyBytes;
    this.state = SIZE_START;
    this.remaining = 0;
    this.lineBytes = 0;
    this.trailerBytes = 0;
    this.maxTrailerBytes = maxTrailerBytes;
    this.error = '';
  }

  get done(): boolean {
    return this.state === DONE;
  }

  /**
   * Consumes bytes of `buf[offset..end)` until it has an event: DATA_READY (see dataStart/dataEnd),
   * BODY_DONE (the last chunk and trailers were read), NEED_MORE, or a negative HTTP status.
   * `this.offset` tells how far it read.
   */
  next(buf: Buffer, offset: number, end: number): number {
    let i = offset;
    while (i < end) {
      const c = buf[i]!;
      switch (this.state) {
        case SIZE_START:
        case SIZE: {
          const digit = HEX[c]!;
          if (digit >= 0) {
            // 13 hex digits already exceed any body we would accept; stop before precision is lost.
            if (this.remaining > 0x1_0000_0000_0000 / 16) return this.fail(i, 400, 'chunk size overflow');
            this.remaining = this.remaining * 16 + digit;
            this.state = SIZE;
          } else if (this.state === SIZE_START) {
            return this.fail(i, 400, 'invalid chunk size');
          } else {
            let next: number;
            if (c === CR) next = SIZE_LF;
            else if (c === 0x3b) next = EXT_BEFORE_NAME;
            else if (c === 0x20 || c === 0x09) next = EXT_BEFORE_SEMI;
            else return this.fail(i, 400, 'invalid chunk size');
            // The size is complete: a chunk that cannot fit in what is left of the body limit is 413
            // now, before any of its data (an overflowing size was 400 at the digit that overflowed).
            if (this.remaining > this.allowance)
              return this.fail(i, 413, 'chunk larger than what is left of maxBodyBytes');
            this.allowance -= this.remaining;
            this.state = next;
          }
          i++;
          if (++this.lineBytes > MAX_SIZE_LINE) return this.fail(i, 400, 'chunk size line too long');
          break;
        }
        case EXT_BEFORE_SEMI:
        case EXT_BEFORE_NAME:
        case EXT_NAME:
        case EXT_AFTER_NAME:
        case EXT_BEFORE_VALUE:
        case EXT_TOKEN_VALUE:
        case EXT_QUOTED:
        case EXT_QUOTED_PAIR:
        case EXT_AFTER_QUOTED: {
          const next = extensionState(this.state, c);
          if (next < 0) return this.fail(i, 400, 'invalid chunk extension');
          this.state = next;
          i++;
          if (++this.lineBytes > MAX_SIZE_LINE) return this.fail(i, 400, 'chunk extension too long');
          break;
        }
        case SIZE_LF:
          if (c !== LF) return this.fail(i, 400, 'expected LF after chunk size');
          i++;
          this.lineBytes = 0;
          this.state = this.remaining === 0 ? TRAILER_LINE_START : DATA;
          break;
        case DATA: {
          const available = end - i;
          const take = Math.min(available, this.remaining);
          this.dataStart = i;
          this.dataEnd = i + take;
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = DATA_CR;
          this.offset = i;
          return DATA_READY;
        }
        case DATA_CR:
          if (c !== CR) return this.fail(i, 400, 'chunk data longer than its size');
          i++;
          this.state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== LF) return this.fail(i, 400, 'expected LF after chunk data');
          i++;
          this.state = SIZE_START;
          break;
        case TRAILER_LINE_START:
          if (c === CR) {
            // The blank line that ends the body is not part of the trailer section's size.
            this.state = FINAL_LF;
            i++;
            break;
          }
          if (TOKEN[c] !== 1) return this.fail(i, 400, 'invalid trailer field');
          this.state = TRAILER_NAME;
          i++;
          if (++this.trailerBytes > this.maxTrailerBytes)
            return this.fail(i, 431, 'trailer section too large');
          break;
        case TRAILER_NAME:
          if (c === 0x3a) this.state = TRAILER_VALUE;
          else if (TOKEN[c] !== 1) return this.fail(i, 400, 'invalid trailer field name');
          i++;
          if (++this.trailerBytes > this.maxTrailerBytes)
            return this.fail(i, 431, 'trailer section too large');
          break;
        case TRAILER_VALUE:
          if (c === CR) this.state = TRAILER_LF;
          else if (FIELD_VALUE[c] !== 1) return this.fail(i, 400, 'invalid trailer field value');
          i++;
          if (++this.trailerBytes > this.maxTrailerBytes)
            return this.fail(i, 431, 'trailer section too large');
          break;
        case TRAILER_LF:
          if (c !== LF) return this.fail(i, 400, 'expected LF after trailer field');
          i++;
          this.state = TRAILER_LINE_START;
          break;
        case FINAL_LF:
          if (c !== LF) return this.fail(i, 400, 'expected LF after trailer section');
          i++;
          this.state = DONE;
          this.offset = i;
          return BODY_DONE;
        default:
          // DONE: the caller stops feeding once BODY_DONE was reported.
          this.offset = i;
          return BODY_DONE;
      }
    }
    this.offset = i;
    return NEED_MORE;
  }

  private fail(at: number, status: number, why: string): number {
    this.offset = at;
    this.error = why;
    return -status;
  }
}

/** The state after byte `c` of a chunk extension, or -1 when `c` breaks the grammar. */
function extensionState(state: number, c: number): number {
  const space = c === 0x20 || c === 0x09;
  switch (state) {
    case EXT_BEFORE_SEMI:
      if (space) return EXT_BEFORE_SEMI;
      return c === 0x3b ? EXT_BEFORE_NAME : -1;
    case EXT_BEFORE_NAME:
      if (space) return EXT_BEFORE_NAME;
      return TOKEN[c] === 1 ? EXT_NAME : -1;
    case EXT_NAME:
      if (TOKEN[c] === 1) return EXT_NAME;
      if (c === CR) return SIZE_LF;
      return afterName(space, c);
    case EXT_AFTER_NAME:
      return afterName(space, c);
    case EXT_BEFORE_VALUE:
      if (space) return EXT_BEFORE_VALUE;
      if (c === 0x22) return EXT_QUOTED;
      return TOKEN[c] === 1 ? EXT_TOKEN_VALUE : -1;
    case EXT_TOKEN_VALUE:
      if (TOKEN[c] === 1) return EXT_TOKEN_VALUE;
      return afterValue(space, c);
    case EXT_AFTER_QUOTED:
      return afterValue(space, c);
    case EXT_QUOTED:
      // qdtext: a field-value byte other than DQUOTE and backslash, which starts a quoted-pair.
      if (c === 0x22) return EXT_AFTER_QUOTED;
      if (c === 0x5c) return EXT_QUOTED_PAIR;
      return FIELD_VALUE[c] === 1 ? EXT_QUOTED : -1;
    default:
      // EXT_QUOTED_PAIR: backslash ( HTAB / SP / VCHAR / obs-text ), the field-value bytes.
      return FIELD_VALUE[c] === 1 ? EXT_QUOTED : -1;
  }
}

/** After an ext-name and optional BWS: "=" starts a value, ";" another extension. */
function afterName(space: boolean, c: number): number {
  if (space) return EXT_AFTER_NAME;
  if (c === 0x3d) return EXT_BEFORE_VALUE;
  return c === 0x3b ? EXT_BEFORE_NAME : -1;
}

/** After an ext-val: BWS then ";", or the CR that ends the line. */
function afterValue(space: boolean, c: number): number {
  if (space) return EXT_BEFORE_SEMI;
  if (c === 0x3b) return EXT_BEFORE_NAME;
  return c === CR ? SIZE_LF : -1;
}
