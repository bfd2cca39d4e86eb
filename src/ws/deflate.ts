import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';
import { isToken } from '../http/tokens.ts';
import { CLOSE, WsError } from './errors.ts';
import type { InflateLimiter, InflateSlot } from './inflate-limiter.ts';

// RFC 7692 permessage-deflate, server side: negotiation of the `Sec-WebSocket-Extensions` offer and
// whole-message compression with node:zlib.

/** The extension's name in `Sec-WebSocket-Extensions`. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Messages shorter than this many bytes are sent uncompressed unless `threshold` says otherwise. */
export const DEFAULT_THRESHOLD = 1024;

/** zlib compression level used unless `level` says otherwise: 1 favours speed. */
export const DEFAULT_LEVEL = 1;

/** Server configuration of permessage-deflate. */
export interface DeflateOptions {
  /** Ask for (and use) a fresh compression context for every message the server sends. */
  serverNoContextTakeover?: boolean;
  /** Ask the client to use a fresh compression context for every message it sends. */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window (8–15) the server compresses with; a client may ask for less. */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window (8–15) the client may compress with. Only sent when the client's offer
   * carries `client_max_window_bits` (RFC 7692 §7.1.2.2); otherwise the client may use 15.
   */
  clientMaxWindowBits?: number;
  /** Messages shorter than this are not compressed (default 1024). */
  threshold?: number;
  /** zlib compression level, 0–9 or -1 for zlib's default (default 1). */
  level?: number;
  /** Hard limit on the size of one decompressed message; more fails it with close code 1009. */
  maxInflatedBytes: number;
}

/** What was agreed for one connection. Window sizes are base-2 logarithms, 8–15. */
export interface DeflateParams {
  /** The server compresses every message with a fresh context. */
  serverNoContextTakeover: boolean;
  /** The client compresses every message with a fresh context, so the server's inflater is reset too. */
  clientNoContextTakeover: boolean;
  /** The LZ77 window the server may use when compressing. */
  serverMaxWindowBits: number;
  /** The LZ77 window the client may use when compressing: the server's inflater window. */
  clientMaxWindowBits: number;
}

/** One element of a `Sec-WebSocket-Extensions` list: lower-cased names, `true` for a valueless param. */
export interface ExtensionOffer {
  name: string;
  params: [name: string, value: string | true][];
}

/**
 * Throws a TypeError or RangeError if `options` are unusable. negotiateDeflate and the
 * PerMessageDeflate constructor call it; a server can call it once up front to fail early.
 */
export function validateDeflateOptions(options: DeflateOptions): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError('deflate options must be an object');
  const bits = (name: 'serverMaxWindowBits' | 'clientMaxWindowBits') => {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 8 && value <= 15)) {
      throw new RangeError(`${name} must be an integer from 8 to 15, got ${String(value)}`);
    }
  };
  bits('serverMaxWindowBits');
  bits('clientMaxWindowBits');
  const { threshold, level, maxInflatedBytes } = options;
  if (threshold !== undefined && !(Number.isSafeInteger(threshold) && threshold >= 0)) {
    throw new RangeError(`threshold must be a non-negative integer, got ${String(threshold)}`);
  }
  if (level !== undefined && !(Number.isInteger(level) && level >= -1 && level <= 9)) {
    throw new RangeError(`level must be an integer from -1 to 9, got ${String(level)}`);
  }
  if (!(Number.isSafeInteger(maxInflatedBytes) && maxInflatedBytes >= 0)) {
    throw new RangeError(`maxInflatedBytes must be a non-negative integer, got ${String(maxInflatedBytes)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Negotiation

// RFC 7692 §7.1.2: a decimal integer from 8 to 15 without leading zeroes.
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/** Splits at commas outside quoted strings (a backslash inside quotes escapes the next character). */
function splitList(header: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) {
      quoted = true;
    } else if (c === 0x2c) {
      parts.push(header.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(header.slice(start));
  return parts;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Parses one list element, `token *( OWS ";" OWS token [ OWS "=" OWS ( token / quoted-string ) ] )`
 * (RFC 6455 §9.1; a quoted value must unescape to a token). Returns null if it is malformed and
 * undefined if it is empty.
 */
function parseElement(element: string): ExtensionOffer | null | undefined {
  let pos = 0;
  const end = element.length;
  const skipOws = () => {
    while (pos < end && isOws(element.charCodeAt(pos))) pos++;
  };
  const token = (): string | null => {
    const start = pos;
    while (pos < end) {
      const c = element.charCodeAt(pos);
      if (c === 0x3b || c === 0x3d || c === 0x22 || isOws(c)) break;
      pos++;
    }
    const text = element.slice(start, pos);
    return isToken(text) ? text : null;
  };
  const quoted = (): string | null => {
    pos++; // opening quote
    let value = '';
    while (pos < end) {
      const c = element.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        return isToken(value) ? value : null;
      }
      if (c === 0x5c) {
        pos++;
        if (pos >= end) return null;
      }
      value += element[pos];
      pos++;
    }
    return null; // unterminated
  };

  skipOws();
  if (pos === end) return undefined;
  const name = token();
  if (name === null) return null;
  const params: ExtensionOffer['params'] = [];
  for (;;) {
    skipOws();
    if (pos === end) return { name: name.toLowerCase(), params };
    if (element.charCodeAt(pos) !== 0x3b) return null;
    pos++;
    skipOws();
    const param = token();
    if (param === null) return null;
    skipOws();
    let value: string | true = true;
    if (pos < end && element.charCodeAt(pos) === 0x3d) {
      pos++;
      skipOws();
      const v = pos < end && element.charCodeAt(pos) === 0x22 ? quoted() : token();
      if (v === null) return null;
      value = v;
    }
    params.push([param.toLowerCase(), value]);
  }
}

/**
 * Parses a `Sec-WebSocket-Extensions` value into its elements, in order. Empty elements are
 * skipped; a malformed element becomes null so that the others can still be considered. Never throws.
 */
export function parseExtensions(header: string | undefined): (ExtensionOffer | null)[] {
  if (typeof header !== 'string' || header.length === 0) return [];
  const offers: (ExtensionOffer | null)[] = [];
  for (const element of splitList(header)) {
    const parsed = parseElement(element);
    if (parsed !== undefined) offers.push(parsed);
  }
  return offers;
}

/** The agreement for one permessage-deflate offer, or null if the offer must be declined. */
function accept(
  offer: ExtensionOffer,
  options: DeflateOptions,
): { response: string; params: DeflateParams } | null {
  let serverNoContext = false;
  let clientNoContext = false;
  let serverBits: number | undefined;
  let clientBits: number | true | undefined;
  const seen = new Set<string>();
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return null; // RFC 7692 §7: more than one of the same parameter
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return null;
        serverNoContext = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return null;
        clientNoContext = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return null;
        serverBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return null;
        clientBits = value === true ? true : Number(value);
        break;
      default:
        return null; // a parameter not defined for an offer
    }
  }

  const params: DeflateParams = {
    // The client's request for no context takeover must be accepted; the server may also impose it.
    serverNoContextTakeover: serverNoContext || options.serverNoContextTakeover === true,
    // Echoing the client's hint lets the server reset its inflater between messages.
    clientNoContextTakeover: clientNoContext || options.clientNoContextTakeover === true,
    // The same or a smaller window than the client asked for (§7.1.2.1).
    serverMaxWindowBits: Math.min(serverBits ?? 15, options.serverMaxWindowBits ?? 15),
    // Only limited if the client declared support for the parameter (§7.1.2.2).
    clientMaxWindowBits:
      clientBits === undefined
        ? 15
        : Math.min(clientBits === true ? 15 : clientBits, options.clientMaxWindowBits ?? 15),
  };
  let response = PERMESSAGE_DEFLATE;
  if (params.serverNoContextTakeover) response += '; server_no_context_takeover';
  if (params.clientNoContextTakeover) response += '; client_no_context_takeover';
  // Sent when the client asked for a limit (accepting it requires the echo) or the server imposes one.
  if (serverBits !== undefined || params.serverMaxWindowBits < 15) {
    response += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  }
  if (params.clientMaxWindowBits < 15) response += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  return { response, params };
}

/**
 * Negotiates permessage-deflate from the client's `Sec-WebSocket-Extensions` value: the first
 * acceptable permessage-deflate offer wins. Offers with unknown, duplicate or invalid parameters are
 * declined, other extensions are ignored. Returns the value for the response's
 * `Sec-WebSocket-Extensions` header and the agreed parameters, or null if nothing is acceptable.
 * Never throws on any header; throws only on invalid `options` (see validateDeflateOptions).
 */
export function negotiateDeflate(
  offerHeader: string | undefined,
  options: DeflateOptions,
): { response: string; params: DeflateParams } | null {
  validateDeflateOptions(options);
  for (const offer of parseExtensions(offerHeader)) {
    if (offer === null || offer.name !== PERMESSAGE_DEFLATE) continue;
    const agreed = accept(offer, options);
    if (agreed !== null) return agreed;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Compression

/** The empty stored block a sync flush ends with; stripped on send, appended on receive (§7.2). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * zlib refuses (or silently changes) windowBits 8 for raw deflate, so 8 runs as 9. That still
 * honours an agreed 8: zlib never emits a distance longer than the window minus 262 bytes (250
 * with a 512-byte window), within the peer's 256-byte window. An inflater may always be larger.
 */
function zlibWindowBits(bits: number): number {
  return Math.max(bits, 9);
}

function closedError(): WsError {
  return new WsError(
    'ERR_PEREGRINE_WS_DEFLATE_CLOSED',
    CLOSE.internalError,
    'permessage-deflate context is closed',
  );
}

type ZStream = DeflateRaw | InflateRaw;

interface Job {
  chunks: Buffer[];
  length: number;
  resolve: (data: Buffer) => void;
  reject: (error: Error) => void;
  /** Its claim on the worker's inflate limiter, if any. */
  slot: InflateSlot | null;
  /** The stream it runs on, once started. */
  stream: ZStream | null;
  /** zlib has consumed all the input; output may still wait in the stream if it was paused. */
  flushed: boolean;
}

/**
 * One direction: a zlib stream (created on first use) and a queue, so that messages are processed
 * one at a time and their results come back in call order. A failed message drops the stream; the
 * next one starts with a fresh context.
 */
class Lane {
  private readonly create: () => ZStream;
  private readonly inflate: boolean;
  private readonly noContextTakeover: boolean;
  private readonly limit: number;
  private readonly limiter: InflateLimiter | null;
  private stream: ZStream | null = null;
  /** Set when the current stream ended (a block with BFINAL set): it accepts no more input. */
  private ended = false;
  private job: Job | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    create: () => ZStream,
    inflate: boolean,
    noContextTakeover: boolean,
    limit: number,
    limiter: InflateLimiter | null,
  ) {
    this.create = create;
    this.inflate = inflate;
    this.noContextTakeover = noContextTakeover;
    this.limit = limit;
    this.limiter = limiter;
  }

  run(data: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(closedError());
    const result = this.tail.then(() => this.process(data));
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  close(): void {
    this.closed = true;
    const job = this.job;
    this.job = null;
    job?.slot?.release();
    this.drop();
    job?.reject(closedError());
  }

  private process(data: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.closed) {
        reject(closedError());
        return;
      }
      // An empty compressed payload is taken as an empty message: the trailer alone would leave the
      // inflater inside a stored block and corrupt the next message.
      if (this.inflate && data.length === 0) {
        resolve(Buffer.alloc(0));
        return;
      }
      const job: Job = { chunks: [], length: 0, resolve, reject, slot: null, stream: null, flushed: false };
      this.job = job;
      if (this.limiter === null) {
        this.start(job, data);
        return;
      }
      // Waits for a slot; zlib is paused and resumed as the worker's byte bound requires.
      job.slot = this.limiter.request({
        start: () => this.start(job, data),
        pause: () => job.stream?.pause(),
        resume: () => job.stream?.resume(),
      });
    });
  }

  private start(job: Job, data: Buffer): void {
    if (this.job !== job) return; // closed while it waited
    if (this.stream === null || this.ended) this.open();
    const stream = this.stream!;
    job.stream = stream;
    stream.write(data);
    if (this.inflate) stream.write(TRAILER);
    stream.flush(constants.Z_SYNC_FLUSH, (error?: Error | null) => {
      if (this.job !== job) return; // already failed or closed
      if (error) this.fail(job, error);
      else {
        job.flushed = true;
        // Output pushed while the stream was paused is still to come through 'data'.
        if (stream.readableLength === 0) this.complete(job, stream);
      }
    });
  }

  private open(): void {
    this.drop();
    const stream = this.create();
    this.stream = stream;
    this.ended = false;
    stream.on('data', (chunk: Buffer) => {
      const job = this.job;
      if (this.stream !== stream || job === null) return;
      job.chunks.push(chunk);
      job.length += chunk.length;
      if (job.length > this.limit) {
        this.fail(
          job,
          new WsError(
            'ERR_PEREGRINE_WS_MESSAGE_TOO_BIG',
            CLOSE.messageTooBig,
            `decompressed message exceeds ${this.limit} bytes`,
          ),
        );
      } else if (job.flushed && stream.readableLength === 0) {
        this.complete(job, stream);
      } else {
        job.slot?.add(chunk.length);
      }
    });
    stream.on('end', () => {
      if (this.stream === stream) this.ended = true;
    });
    // Stays attached after the stream is dropped, so that late errors are never unhandled.
    stream.on('error', (error: Error) => {
      if (this.stream !== stream) return;
      const job = this.job;
      if (job !== null) this.fail(job, error);
      else this.drop(); // not expected between messages, but a broken stream is never reused
    });
  }

  /** Destroys the current stream, which stops zlib at once (a zip bomb is not inflated further). */
  private drop(): void {
    const stream = this.stream;
    this.stream = null;
    stream?.destroy();
  }

  private fail(job: Job, error: Error): void {
    this.job = null;
    job.slot?.release();
    this.drop();
    if (error instanceof WsError) job.reject(error);
    else if (this.inflate) {
      job.reject(
        new WsError(
          'ERR_PEREGRINE_WS_INFLATE_FAILED',
          CLOSE.invalidPayload,
          `invalid compressed data: ${error.message}`,
        ),
      );
    } else {
      job.reject(
        new WsError(
          'ERR_PEREGRINE_WS_DEFLATE_FAILED',
          CLOSE.internalError,
          `compression failed: ${error.message}`,
        ),
      );
    }
  }

  private complete(job: Job, stream: ZStream): void {
    this.job = null;
    job.slot?.release();
    // A stream paused by the limiter as its last output came must flow for the next message.
    if (stream.isPaused()) stream.resume();
    let out = job.chunks.length === 1 ? job.chunks[0]! : Buffer.concat(job.chunks, job.length);
    if (!this.inflate && out.length >= 4 && out.subarray(out.length - 4).equals(TRAILER)) {
      out = out.subarray(0, out.length - 4);
    }
    if (this.ended || stream.readableEnded) this.drop();
    else if (this.noContextTakeover) stream.reset();
    job.resolve(out);
  }
}

/**
 * permessage-deflate for one connection, server side. compress() turns a whole message into the
 * payload to send with RSV1 set; decompress() turns the payload of a received message with RSV1
 * set back into the message. Calls in each direction may overlap: they are queued and settle in
 * call order. Errors are WsErrors: ERR_PEREGRINE_WS_MESSAGE_TOO_BIG (1009) when a message inflates past
 * maxInflatedBytes, ERR_PEREGRINE_WS_INFLATE_FAILED (1007) for invalid compressed data, ERR_PEREGRINE_WS_DEFLATE_CLOSED
 * (1011) after close(). After a failed message the direction's context starts afresh.
 */
export class PerMessageDeflate {
  readonly params: DeflateParams;
  /** Messages shorter than this are best sent uncompressed (options.threshold, default 1024). */
  readonly threshold: number;
  /** Each direction's lane, made on first use: an idle connection holds neither. */
  private deflaterLane: Lane | null = null;
  private inflaterLane: Lane | null = null;
  /** The zlib level messages are compressed with. */
  readonly level: number;
  private readonly maxInflatedBytes: number;
  private readonly limiter: InflateLimiter | null;

  /**
   * `limiter`, shared by every connection of the worker, bounds the decompressions running at once
   * and the inflated bytes they hold; without one each connection inflates on its own.
   */
  constructor(params: DeflateParams, options: DeflateOptions, limiter: InflateLimiter | null = null) {
    validateDeflateOptions(options);
    this.params = { ...params };
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.level = options.level ?? DEFAULT_LEVEL;
    this.maxInflatedBytes = options.maxInflatedBytes;
    this.limiter = limiter;
  }

  private get deflater(): Lane {
    if (this.deflaterLane === null) {
      const level = this.level;
      const windowBits = zlibWindowBits(this.params.serverMaxWindowBits);
      this.deflaterLane = new Lane(
        () => createDeflateRaw({ level, windowBits }),
        false,
        this.params.serverNoContextTakeover,
        Number.POSITIVE_INFINITY,
        null,
      );
    }
    return this.deflaterLane;
  }

  private get inflater(): Lane {
    if (this.inflaterLane === null) {
      const windowBits = zlibWindowBits(this.params.clientMaxWindowBits);
      this.inflaterLane = new Lane(
        () => createInflateRaw({ windowBits }),
        true,
        this.params.clientNoContextTakeover,
        this.maxInflatedBytes,
        this.limiter,
      );
    }
    return this.inflaterLane;
  }

  /**
   * Compresses one whole message (trailing 00 00 ff ff removed). `data` is read when its turn in
   * the queue comes, so it must not be modified until the promise settles.
   */
  compress(data: Buffer): Promise<Buffer> {
    return this.deflater.run(data);
  }

  /**
   * Decompresses the payload of one whole message (all fragments joined), failing as soon as it
   * would exceed maxInflatedBytes. `data` must not be modified until the promise settles.
   */
  decompress(data: Buffer): Promise<Buffer> {
    return this.inflater.run(data);
  }

  /**
   * Stops decompressing: the message being inflated and those queued reject with
   * ERR_PEREGRINE_WS_DEFLATE_CLOSED, and their slots go to other connections. Compression goes on (a failing
   * connection still sends its Close after what it queued). Idempotent.
   */
  stopInflating(): void {
    this.inflater.close();
  }

  /** Frees the zlib streams; pending and later calls reject with ERR_PEREGRINE_WS_DEFLATE_CLOSED. Idempotent. */
  close(): void {
    this.deflater.close();
    this.inflater.close();
  }
}
