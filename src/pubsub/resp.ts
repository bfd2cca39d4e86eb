import { PeregrineError } from '../errors.ts';

/**
 * RESP2, the protocol Redis and Valkey speak (https://redis.io/docs/latest/develop/reference/protocol-spec/):
 * commands go out as arrays of bulk strings; replies come back as simple strings, errors, integers,
 * bulk strings and arrays. The parser is incremental (chunks of any split, byte by byte included),
 * strict (a byte that does not fit is an error, never a guess) and bounded (lengths, line sizes and
 * nesting have limits, so a broken or hostile peer cannot make it hold unbounded memory). It also
 * takes the RESP3 push type `>` as an array, which a server only sends after HELLO 3.
 */

/** An error reply (`-ERR …`): a value like any other, for the caller to judge; not thrown. */
export class RespError {
  readonly message: string;

  constructor(message: string) {
    this.message = message;
  }
}

/**
 * A reply: a simple string as a string, an error as a RespError, an integer as a number (a bigint
 * beyond 2^53), a bulk string as a Buffer, an array as an array; null for the null bulk string
 * (`$-1`) and the null array (`*-1`).
 */
export type RespValue = string | number | bigint | Buffer | RespError | null | RespValue[];

/** One argument of a command: text (sent as UTF-8) or bytes. */
export type RespArg = string | Uint8Array;

/** The byte stream is not valid RESP: the connection it came from can't be trusted any further. */
export class RespProtocolError extends PeregrineError {
  constructor(message: string) {
    super('ERR_PEREGRINE_RESP_PROTOCOL', `RESP protocol error: ${message}`);
    this.name = 'RespProtocolError';
  }
}

// ─────────────────────────── encoding ───────────────────────────

const CRLF_LENGTH = 2;

function digits(n: number): number {
  return n < 10 ? 1 : String(n).length;
}

function argLength(arg: RespArg): number {
  return typeof arg === 'string' ? Buffer.byteLength(arg) : arg.byteLength;
}

/** The encoded size of a command in bytes, without encoding it. */
export function commandLength(args: readonly RespArg[]): number {
  let total = 1 + digits(args.length) + CRLF_LENGTH;
  for (const arg of args) {
    const n = argLength(arg);
    total += 1 + digits(n) + CRLF_LENGTH + n + CRLF_LENGTH;
  }
  return total;
}

/** Commands as RESP arrays of bulk strings, all in one buffer (one write for a whole pipeline). */
export function encodePipeline(commands: readonly (readonly RespArg[])[]): Buffer {
  let total = 0;
  for (const args of commands) total += commandLength(args);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const args of commands) at = writeCommand(out, at, args);
  return out;
}

/** One command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  return encodePipeline([args]);
}

function writeCommand(out: Buffer, start: number, args: readonly RespArg[]): number {
  let at = start;
  at += out.write(`*${args.length}\r\n`, at, 'latin1');
  for (const arg of args) {
    if (typeof arg === 'string') {
      at += out.write(`$${Buffer.byteLength(arg)}\r\n`, at, 'latin1');
      at += out.write(arg, at, 'utf8');
    } else {
      at += out.write(`$${arg.byteLength}\r\n`, at, 'latin1');
      out.set(arg, at);
      at += arg.byteLength;
    }
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return at;
}

// ─────────────────────────── parsing ───────────────────────────

export interface RespParserOptions {
  /** The longest bulk string accepted, in bytes (default 512 MiB, Redis's own `proto-max-bulk-len`). */
  maxBulkLength?: number;
  /** The most elements an array may declare (default 2^24). */
  maxArrayLength?: number;
  /** How deep arrays may nest (default 64). */
  maxDepth?: number;
  /** The longest simple string or error line, in bytes (default 1 MiB). */
  maxLineLength?: number;
}

export const DEFAULT_MAX_BULK_LENGTH = 512 * 1024 * 1024;
const DEFAULT_MAX_ARRAY_LENGTH = 1 << 24;
const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_LINE_LENGTH = 1024 * 1024;
/** "-9223372036854775808": the longest line a 64-bit integer or length needs. */
const MAX_NUMBER_LINE = 20;

const SIMPLE = 0x2b; // +
const ERROR = 0x2d; // -
const INTEGER = 0x3a; // :
const BULK = 0x24; // $
const ARRAY = 0x2a; // *
const PUSH = 0x3e; // > (RESP3)
const CR = 0x0d;
const LF = 0x0a;

// The parser's states: what the next byte must be.
const READ_TYPE = 0;
const READ_LINE = 1;
const READ_LINE_LF = 2;
const READ_BULK = 3;
const READ_BULK_CR = 4;
const READ_BULK_LF = 5;

interface Frame {
  readonly items: RespValue[];
  readonly length: number;
}

/**
 * An incremental RESP parser: `feed` it what the socket reads, get back the values completed by that
 * chunk. A bulk string arriving in many chunks is kept as the list of its pieces and joined once, so
 * its cost is linear. After a RespProtocolError every further `feed` throws the same error.
 *
 * Values may share memory with the chunks they came from: don't reuse a chunk after feeding it.
 */
export class RespParser {
  private readonly maxBulkLength: number;
  private readonly maxArrayLength: number;
  private readonly maxDepth: number;
  private readonly maxLineLength: number;

  private state = READ_TYPE;
  private type = 0;
  /** The part of a line that arrived in earlier chunks. */
  private lineBuf = Buffer.alloc(0);
  private lineLength = 0;
  private bulkLength = 0;
  private bulkLeft = 0;
  private bulkPieces: Buffer[] = [];
  private readonly stack: Frame[] = [];
  private out: RespValue[] = [];
  private failure: RespProtocolError | null = null;

  constructor(options: RespParserOptions = {}) {
    this.maxBulkLength = options.maxBulkLength ?? DEFAULT_MAX_BULK_LENGTH;
    this.maxArrayLength = options.maxArrayLength ?? DEFAULT_MAX_ARRAY_LENGTH;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  }

  /** Whether the parser stopped in the middle of a value (the stream ended early if it closes now). */
  get partial(): boolean {
    return this.state !== READ_TYPE || this.stack.length > 0;
  }

  /** The values `chunk` completes, in order. Throws a RespProtocolError for bytes that are not RESP. */
  feed(chunk: Buffer): RespValue[] {
    if (this.failure !== null) throw this.failure;
    const out: RespValue[] = [];
    this.out = out;
    try {
      this.parse(chunk);
    } catch (error) {
      if (error instanceof RespProtocolError) {
        this.failure = error;
        this.bulkPieces = [];
        this.stack.length = 0;
      }
      throw error;
    }
    return out;
  }

  private parse(chunk: Buffer): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      switch (this.state) {
        case READ_TYPE: {
          const type = chunk[pos++]!;
          if (
            type !== SIMPLE &&
            type !== ERROR &&
            type !== INTEGER &&
            type !== BULK &&
            type !== ARRAY &&
            type !== PUSH
          )
            throw new RespProtocolError(`unexpected byte 0x${hex(type)} where a type byte was expected`);
          this.type = type;
          this.lineLength = 0;
          this.state = READ_LINE;
          break;
        }
        case READ_LINE: {
          const limit = this.type === SIMPLE || this.type === ERROR ? this.maxLineLength : MAX_NUMBER_LINE;
          const cr = chunk.indexOf(CR, pos);
          const stop = cr === -1 ? end : cr;
          if (this.lineLength + (stop - pos) > limit)
            throw new RespProtocolError(
              `no CRLF within ${limit} bytes after a '${String.fromCharCode(this.type)}'`,
            );
          if (chunk.subarray(pos, stop).indexOf(LF) !== -1)
            throw new RespProtocolError('LF without CR in a line');
          if (cr === -1 || cr + 1 === end) {
            // The line, or its LF, is in a later chunk: keep what we have.
            this.appendLine(chunk, pos, stop);
            pos = stop;
            if (cr !== -1) {
              this.state = READ_LINE_LF;
              pos++;
            }
            break;
          }
          if (chunk[cr + 1] !== LF) throw new RespProtocolError('CR not followed by LF');
          let line: Buffer;
          if (this.lineLength === 0) line = chunk.subarray(pos, cr);
          else {
            this.appendLine(chunk, pos, cr);
            line = this.lineBuf.subarray(0, this.lineLength);
          }
          pos = cr + 2;
          this.line(line);
          break;
        }
        case READ_LINE_LF: {
          if (chunk[pos++] !== LF) throw new RespProtocolError('CR not followed by LF');
          this.line(this.lineBuf.subarray(0, this.lineLength));
          break;
        }
        case READ_BULK: {
          const take = Math.min(this.bulkLeft, end - pos);
          this.bulkPieces.push(chunk.subarray(pos, pos + take));
          this.bulkLeft -= take;
          pos += take;
          if (this.bulkLeft === 0) this.state = READ_BULK_CR;
          break;
        }
        case READ_BULK_CR: {
          if (chunk[pos++] !== CR)
            throw new RespProtocolError(`a bulk string is longer than its declared ${this.bulkLength} bytes`);
          this.state = READ_BULK_LF;
          break;
        }
        case READ_BULK_LF: {
          if (chunk[pos++] !== LF) throw new RespProtocolError('CR not followed by LF after a bulk string');
          const pieces = this.bulkPieces;
          this.bulkPieces = [];
          this.state = READ_TYPE;
          this.complete(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.bulkLength));
          break;
        }
      }
    }
  }

  private appendLine(chunk: Buffer, from: number, to: number): void {
    const needed = this.lineLength + (to - from);
    if (needed > this.lineBuf.length) {
      const grown = Buffer.allocUnsafe(Math.max(64, needed, this.lineBuf.length * 2));
      this.lineBuf.copy(grown, 0, 0, this.lineLength);
      this.lineBuf = grown;
    }
    chunk.copy(this.lineBuf, this.lineLength, from, to);
    this.lineLength = needed;
  }

  /** A complete line (without its CRLF) of the current type. */
  private line(line: Buffer): void {
    this.state = READ_TYPE;
    switch (this.type) {
      case SIMPLE:
      case ERROR: {
        const text = line.toString('utf8');
        this.complete(this.type === SIMPLE ? text : new RespError(text));
        return;
      }
      case INTEGER:
        this.complete(parseInteger(line));
        return;
      case BULK: {
        const length = parseLength(line, 'bulk string');
        if (length === -1) {
          this.complete(null);
          return;
        }
        if (length > this.maxBulkLength)
          throw new RespProtocolError(
            `a bulk string of ${length} bytes, more than the ${this.maxBulkLength} allowed`,
          );
        this.bulkLength = length;
        this.bulkLeft = length;
        this.state = length === 0 ? READ_BULK_CR : READ_BULK;
        return;
      }
      default: {
        const length = parseLength(line, 'array');
        if (length === -1) {
          this.complete(null);
          return;
        }
        if (length > this.maxArrayLength)
          throw new RespProtocolError(
            `an array of ${length} elements, more than the ${this.maxArrayLength} allowed`,
          );
        if (length === 0) {
          this.complete([]);
          return;
        }
        if (this.stack.length >= this.maxDepth)
          throw new RespProtocolError(`arrays nested more than ${this.maxDepth} deep`);
        this.stack.push({ items: [], length });
        return;
      }
    }
  }

  /** A value is complete: it fills its enclosing arrays, or is one of the values this feed returns. */
  private complete(value: RespValue): void {
    let done = value;
    for (;;) {
      const top = this.stack.at(-1);
      if (top === undefined) {
        this.out.push(done);
        return;
      }
      top.items.push(done);
      if (top.items.length < top.length) return;
      this.stack.pop();
      done = top.items;
    }
  }
}

/** A signed decimal integer as RESP writes it: no sign but '-', no leading zeros, no "-0". */
function parseInteger(line: Buffer): number | bigint {
  const text = line.toString('latin1');
  if (!/^(?:0|-?[1-9][0-9]{0,18})$/.test(text))
    throw new RespProtocolError(`invalid integer ${JSON.stringify(text)}`);
  const value = Number(text);
  if (Number.isSafeInteger(value)) return value;
  const big = BigInt(text);
  if (big > 0x7fffffffffffffffn || big < -0x8000000000000000n)
    throw new RespProtocolError(`integer ${text} is outside the 64-bit range`);
  return big;
}

/** A length: -1 (null) or a non-negative integer. */
function parseLength(line: Buffer, what: string): number {
  const text = line.toString('latin1');
  if (text !== '-1' && !/^(?:0|[1-9][0-9]{0,15})$/.test(text))
    throw new RespProtocolError(`invalid ${what} length ${JSON.stringify(text)}`);
  return Number(text);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
