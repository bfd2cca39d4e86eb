import * as nodeStream from 'node:stream';
import { type InspectOptions, inspect } from 'node:util';
import type { Request as NativeRequest, Response as NativeResponse } from '../http/exchange.ts';

/** Whether a stream has been read from or cancelled (node:stream has it; its types do not). */
const isDisturbed = (nodeStream as unknown as { isDisturbed(stream: ReadableStream): boolean }).isDisturbed;

/**
 * The Web `Request` that fetch mode hands to `fetch` and routes: it answers `instanceof Request` and
 * every member of `Request.prototype`, but is made from the parsed head only as far as it is read.
 * A request that asks only for `method` and `url` costs two strings; `headers` is a real `Headers`
 * made on first use, `body` a `ReadableStream` pulled from the socket with backpressure, and
 * `text()`/`json()`/`bytes()`/`arrayBuffer()` read the body straight from the connection.
 *
 * What it cannot be is the platform's own object: `fetch(request)` and `new Request(request)` look
 * for the platform's private state and throw. `request.clone()` gives a platform `Request` for those
 * (as does `new Request(request.url, request)`). The global classes are never replaced.
 */
export class WebRequest {
  readonly #native: NativeRequest;
  readonly #response: NativeResponse;
  /** `http://host[:port]`, as the WHATWG URL parser would write it. */
  readonly #origin: string;
  #url: string | null = null;
  #headers: Headers | null = null;
  /** undefined until asked for; null when the request has no body. */
  #body: ReadableStream<Uint8Array> | null | undefined = undefined;
  /** Read through text(), json() and the like (a stream marks itself, see bodyUsed). */
  #used = false;

  /** The route's `:params` (set for route handlers; empty for `fetch`). */
  params: Record<string, string> = EMPTY_PARAMS;

  constructor(native: NativeRequest, response: NativeResponse, origin: string, url: string | null = null) {
    this.#native = native;
    this.#response = response;
    this.#origin = origin;
    this.#url = url;
  }

  /**
   * The Web request for `native`, or null when no URL can be made from its target and `Host`
   * (the caller answers 400): authority-form and asterisk-form targets have none to give.
   */
  static for(native: NativeRequest, response: NativeResponse, scheme: 'http' | 'https'): WebRequest | null {
    const target = native.target;
    if (target.charCodeAt(0) === 0x2f) {
      const origin = originOf(scheme, native.header('host'));
      return origin === null ? null : new WebRequest(native, response, origin);
    }
    if (!ABSOLUTE_FORM.test(target)) return null;
    try {
      const url = new URL(target); // absolute-form (RFC 9112 §3.2.2): its own URL, Host aside
      return new WebRequest(native, response, url.origin, url.href);
    } catch {
      return null;
    }
  }

  /** The native request behind `request`, or undefined for a request this server did not make. */
  static nativeOf(request: unknown): NativeRequest | undefined {
    return typeof request === 'object' && request !== null && #native in request
      ? (request as WebRequest).#native
      : undefined;
  }

  /** The native response that answers `request`, or undefined for a request this server did not make. */
  static responseOf(request: unknown): NativeResponse | undefined {
    return typeof request === 'object' && request !== null && #response in request
      ? (request as WebRequest).#response
      : undefined;
  }

  get method(): string {
    const method = this.#native.method;
    // Fetch §2.2.1 normalizes these six case-insensitively; any other method keeps its case.
    return NORMALIZED.get(method) ?? method;
  }

  get url(): string {
    if (this.#url === null) this.#url = absoluteUrl(this.#origin, this.#native.target);
    return this.#url;
  }

  get headers(): Headers {
    if (this.#headers === null) {
      const headers = new Headers();
      const native = this.#native;
      for (let i = 0; i < native.headerCount; i++)
        headers.append(native.headerName(i), native.headerValue(i));
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** Aborts when the client goes away before the response has ended. */
  get signal(): AbortSignal {
    return this.#native.signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#body === undefined) this.#body = this.#hasBody() ? bodyStream(this.#native) : null;
    return this.#body;
  }

  get bodyUsed(): boolean {
    return this.#used || (this.#body != null && isDisturbed(this.#body));
  }

  get duplex(): 'half' {
    return 'half';
  }
  get destination(): Request['destination'] {
    return '';
  }
  get referrer(): string {
    return 'about:client';
  }
  get referrerPolicy(): Request['referrerPolicy'] {
    return '';
  }
  get mode(): Request['mode'] {
    return 'cors';
  }
  get credentials(): Request['credentials'] {
    return 'same-origin';
  }
  get cache(): Request['cache'] {
    return 'default';
  }
  get redirect(): Request['redirect'] {
    return 'follow';
  }
  get integrity(): string {
    return '';
  }
  get keepalive(): boolean {
    return false;
  }
  get isReloadNavigation(): boolean {
    return false;
  }
  get isHistoryNavigation(): boolean {
    return false;
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const bytes = await this.#consume();
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#consume();
    // A Buffer may be a view into a larger pool: the caller gets exactly the body.
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes.buffer
      : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  }

  async text(): Promise<string> {
    return utf8(await this.#consume());
  }

  async json(): Promise<unknown> {
    return JSON.parse(utf8(await this.#consume())); // a SyntaxError, as Request.json() rejects
  }

  /** As the platform reads them: the MIME type from Content-Type. */
  async blob(): Promise<Blob> {
    return this.#platformBody(await this.#consume()).blob();
  }

  /** urlencoded and multipart/form-data, parsed by the platform (files become `File`s). */
  async formData(): Promise<FormData> {
    return this.#platformBody(await this.#consume()).formData();
  }

  /** A platform `Request` with the same method, URL, headers and signal; the body is teed. */
  clone(): Request {
    if (this.bodyUsed) throw new TypeError('Request.clone: the body has already been read');
    const init: RequestInit & { duplex: 'half' } = {
      method: this.method,
      headers: this.headers,
      signal: this.signal,
      duplex: 'half',
    };
    const body = this.body;
    if (body !== null) {
      const [mine, theirs] = body.tee();
      this.#body = mine;
      init.body = theirs;
    }
    return new Request(this.url, init);
  }

  get [Symbol.toStringTag](): string {
    return 'Request';
  }

  /** What `console.log(request)` shows: the members the platform's Request shows, no clone made. */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    const shown = {
      method: this.method,
      url: this.url,
      headers: this.headers,
      destination: this.destination,
      referrer: this.referrer,
      referrerPolicy: this.referrerPolicy,
      mode: this.mode,
      credentials: this.credentials,
      cache: this.cache,
      redirect: this.redirect,
      integrity: this.integrity,
      keepalive: this.keepalive,
      isReloadNavigation: this.isReloadNavigation,
      isHistoryNavigation: this.isHistoryNavigation,
      signal: this.signal,
    };
    return `Request ${inspect(shown, { ...options, depth: options.depth ?? 2 })}`;
  }

  /** Fetch gives GET and HEAD no body (whatever their spelling: `get` is GET, §2.2.1). */
  #hasBody(): boolean {
    if (!this.#native.hasBody) return false;
    const method = this.method;
    return method !== 'GET' && method !== 'HEAD';
  }

  /** The whole body, once: from the connection, or from the stream if `body` was asked for. */
  async #consume(): Promise<Uint8Array<ArrayBuffer>> {
    const body = this.#body;
    if (this.#used || (body != null && (body.locked || isDisturbed(body))))
      throw new TypeError('Body is unusable: the body has already been read');
    this.#used = true;
    if (body === undefined) {
      if (!this.#hasBody()) return new Uint8Array(0);
      const bytes = await this.#native.bytes();
      return new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
    }
    if (body === null) return new Uint8Array(0);
    return new Uint8Array(await new Response(body).arrayBuffer());
  }

  #platformBody(bytes: Uint8Array<ArrayBuffer>): Response {
    const type = this.#native.header('content-type');
    return new Response(bytes, type === undefined ? undefined : { headers: { 'content-type': type } });
  }
}

// The prototype chain is Request's, so `request instanceof Request` holds.
Object.setPrototypeOf(WebRequest.prototype, Request.prototype);

// Members a newer Node adds to Request.prototype: served by a platform clone rather than throwing.
for (const key of Reflect.ownKeys(Request.prototype)) {
  if (Object.hasOwn(WebRequest.prototype, key)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
  if (descriptor.get !== undefined) {
    const get = descriptor.get;
    Object.defineProperty(WebRequest.prototype, key, {
      get(this: WebRequest) {
        return get.call(this.clone());
      },
      configurable: true,
    });
  } else if (typeof descriptor.value === 'function') {
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(WebRequest.prototype, key, {
      value(this: WebRequest, ...args: unknown[]) {
        return method.apply(this.clone(), args);
      },
      writable: true,
      configurable: true,
    });
  }
}

const EMPTY_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

const NORMALIZED = new Map<string, string>();
for (const method of ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'])
  for (const spelling of spellings(method)) NORMALIZED.set(spelling, method);

/** Every upper/lower case spelling of `word` but the upper-case one. */
function spellings(word: string): string[] {
  const out: string[] = [];
  for (let mask = 1; mask < 1 << word.length; mask++) {
    let spelled = '';
    for (let k = 0; k < word.length; k++) spelled += mask & (1 << k) ? word[k]!.toLowerCase() : word[k];
    out.push(spelled);
  }
  return out;
}

/**
 * The origin `request.url` starts with, from the `Host` header: null when none can be made (the
 * caller answers 400). Hosts are few, so each is parsed once.
 */
export function originOf(scheme: 'http' | 'https', host: string | undefined): string | null {
  if (host === undefined) return null;
  const cache = scheme === 'http' ? httpOrigins : httpsOrigins;
  let origin = cache.get(host);
  if (origin === undefined) {
    origin = HOST.test(host) ? parseOrigin(`${scheme}://${host}`) : null;
    if (cache.size >= MAX_CACHED_ORIGINS) cache.clear(); // a client making up hosts gets no growth
    cache.set(host, origin);
  }
  return origin;
}

const httpOrigins = new Map<string, string | null>();
const httpsOrigins = new Map<string, string | null>();
const MAX_CACHED_ORIGINS = 256;

// RFC 9110 §7.2 Host: uri-host [ ":" port ], a reg-name or an IP literal; nothing that would change
// the URL's path or authority.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d{1,5})?$/;

function parseOrigin(base: string): string | null {
  try {
    const url = new URL(base);
    return `${url.protocol}//${url.host}`; // lower-cased, default port dropped, IP forms normalized
  } catch {
    return null;
  }
}

/**
 * `origin + target` as the WHATWG URL parser serializes it. Most targets are already in that form
 * (no dot segments, nothing it would percent-encode) and are used as they are; the rest are parsed.
 */
export function absoluteUrl(origin: string, target: string): string {
  if (target.charCodeAt(0) === 0x2f && CANONICAL_TARGET.test(target) && !DOT_SEGMENT.test(target))
    return origin + target;
  try {
    return new URL(origin + target).href;
  } catch {
    return origin + target; // not reached for targets the parser let through; never throws to a handler
  }
}

const ABSOLUTE_FORM = /^https?:\/\//i;
const CANONICAL_TARGET =
  /^\/(?:[A-Za-z0-9\-._~!$&()*+,;=:@/]|%[0-9A-Fa-f]{2})*(?:\?(?:[A-Za-z0-9\-._~!$&()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i;

/** WHATWG UTF-8 decode: a leading BOM dropped, bad sequences replaced. */
function utf8(bytes: Uint8Array): string {
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, bytes.byteLength - start).toString('utf8');
}

/** The request body as a byte stream, pulled from the socket only as fast as it is read. */
function bodyStream(req: NativeRequest): ReadableStream<Uint8Array> {
  const chunks = req.stream();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value); // a copy already: the read buffer is not handed out
    },
    async cancel() {
      await chunks.return?.();
    },
  });
}
