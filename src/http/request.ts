import { UsageError } from '../errors.ts';
import { IncomingBody, isClientAbort, parseJsonBody } from './body.ts';
import type { Request } from './exchange.ts';
import { LOWER, ParsedHead, TargetForm } from './parser.ts';
import { type ClientView, type ForwardedSource, type ProxyTrust, resolveClient } from './trusted-proxy.ts';

/** @internal What a request needs from the connection it arrived on. */
export interface RequestSource {
  readonly scheme: 'http' | 'https';
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** The connection's protocol as the client used it: `scheme`, or https when a PROXY v2 header said TLS. */
  readonly ownProtocol: 'http' | 'https';
  /** The `trustProxy` rules, or null. */
  readonly proxyTrust: ProxyTrust | null;
  /** Called the first time a handler asks for `signal`. */
  signalWanted(): void;
  /** This request's handlerTimeout in ms (0 none), counted from now. */
  setHandlerTimeout(ms: number): void;
}

/**
 * Head and body state given back by requests whose connection went idle, taken by the thread's next new
 * requests: an idle keep-alive connection holds none. Bounded, so that a burst of busy connections
 * leaves no large pool behind.
 */
const spareHeads: ParsedHead[] = [];
const spareBodies: IncomingBody[] = [];
const MAX_SPARES = 1024;
/**
 * What a parked request points to: an empty head and no body, never written. A reference a handler
 * kept past its response reads nothing here, never another client's request.
 */
const PARKED_HEAD = new ParsedHead();
const PARKED_BODY = new IncomingBody();
PARKED_BODY.discard(); // should bytes ever reach it, they are dropped, not kept

/** The last path made into a string on this thread: most requests ask for one of a few paths. */
let lastPath = '';
/** Paths up to this long are compared with the last one before a new string is made. */
const REUSED_PATH_MAX = 64;

/** `buf[start..end)` as a latin1 string: the last path's string when the bytes are the same. */
function pathString(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length <= REUSED_PATH_MAX && length === lastPath.length) {
    let k = 0;
    while (k < length && buf[start + k] === lastPath.charCodeAt(k)) k++;
    if (k === length) return lastPath;
  }
  const path = buf.toString('latin1', start, end);
  if (length <= REUSED_PATH_MAX) lastPath = path;
  return path;
}

/**
 * One HTTP/1 request (see the Request interface). It reads straight from the buffer the head arrived in and makes strings only when
 * asked. It stays valid until its response has ended, across every `await`: the buffers it points
 * into are never written again.
 */
export class Http1Request implements Request, ForwardedSource {
  /** The method, e.g. `GET` (case-sensitive, RFC 9110 §9.1). */
  method = 'GET';
  /** `'1.1'` or `'1.0'`. */
  version: '1.0' | '1.1' = '1.1';
  /** @internal The parsed head: offsets into the read buffer. */
  head: ParsedHead = spareHeads.pop() ?? new ParsedHead();
  /** @internal */
  incoming: IncomingBody = spareBodies.pop() ?? new IncomingBody();
  /** @internal */
  source: RequestSource | null = null;
  /** @internal Set when a handler took something that outlives a synchronous call (signal, body). */
  escaped = false;
  private targetCache: string | null = null;
  private pathCache: string | null = null;
  private queryCache: URLSearchParams | null = null;
  /** clientAddress, protocol and host, worked out when first asked for. */
  private clientCache: ClientView | null = null;
  private abort: AbortController | null = null;
  /** Why the client went away while this request was in flight, or null. */
  private goneReason: Error | null = null;
  /** @internal Called once if the client goes away; cheaper than `signal` for the server's own use. */
  onGone: ((reason: Error) => void) | null = null;

  /** @internal Called by the connection for each new request. */
  init(source: RequestSource, method: string): void {
    this.source = source;
    this.method = method;
    this.version = this.head.minorVersion === 1 ? '1.1' : '1.0';
    this.targetCache = null;
    this.pathCache = null;
    this.queryCache = null;
    this.clientCache = null;
    this.abort = null;
    this.goneReason = null;
    this.onGone = null;
    this.escaped = false;
  }

  /**
   * @internal The connection went idle after this request, which nothing kept: its head and body state
   * go back to the thread's spares, and the connection lets go of this request for good.
   */
  park(): void {
    if (this.head === PARKED_HEAD) return;
    const head = this.head;
    const incoming = this.incoming;
    head.buf = PARKED_HEAD.buf; // not the last read's bytes
    incoming.reset(null, false);
    if (spareHeads.length < MAX_SPARES) {
      spareHeads.push(head);
      spareBodies.push(incoming);
    }
    this.head = PARKED_HEAD;
    this.incoming = PARKED_BODY;
    this.source = null;
    this.targetCache = this.pathCache = null;
    this.queryCache = null;
    this.clientCache = null;
  }

  /** The request-target exactly as sent (`/a/b?x=1`, `http://host/a`, `host:443` or `*`). */
  get target(): string {
    if (this.targetCache === null) {
      const h = this.head;
      this.targetCache = h.buf.toString('latin1', h.targetStart, h.targetEnd);
    }
    return this.targetCache;
  }

  /** The path, as sent (still percent-encoded), without the query. `/` for an absolute-form target without one. */
  get path(): string {
    if (this.pathCache === null) {
      const h = this.head;
      this.pathCache =
        h.pathStart === h.pathEnd && h.targetForm === TargetForm.absolute
          ? '/'
          : pathString(h.buf, h.pathStart, h.pathEnd);
    }
    return this.pathCache;
  }

  /** @internal Whether the path is exactly `path`: compares the bytes, making no string. */
  pathIs(path: string): boolean {
    if (this.pathCache !== null) return this.pathCache === path;
    const h = this.head;
    const length = h.pathEnd - h.pathStart;
    if (length !== path.length || length === 0) return this.path === path;
    const buf = h.buf;
    for (let i = 0; i < length; i++) if (buf[h.pathStart + i] !== path.charCodeAt(i)) return false;
    return true;
  }

  /** The raw query string after `?`, or `''`. */
  get queryString(): string {
    const h = this.head;
    return h.queryStart === -1 ? '' : h.buf.toString('latin1', h.queryStart + 1, h.targetEnd);
  }

  /** The query, parsed and percent-decoded on first use. */
  get query(): URLSearchParams {
    if (this.queryCache === null) this.queryCache = new URLSearchParams(this.queryString);
    return this.queryCache;
  }

  /** The number of header fields, in the order they were sent. */
  get headerCount(): number {
    return this.head.fieldCount;
  }

  /** The name of the i-th header field, as sent (no case change). */
  headerName(i: number): string {
    const h = this.head;
    if (i < 0 || i >= h.fieldCount) throw badIndex(i);
    return h.buf.toString('latin1', h.fields[i * 4]!, h.fields[i * 4 + 1]!);
  }

  /** The value of the i-th header field, without surrounding whitespace. */
  headerValue(i: number): string {
    const h = this.head;
    if (i < 0 || i >= h.fieldCount) throw badIndex(i);
    return h.buf.toString('latin1', h.fields[i * 4 + 2]!, h.fields[i * 4 + 3]!);
  }

  /**
   * A header's value by case-insensitive name, or `undefined`. A field sent more than once is
   * combined with `, ` (RFC 9110 §5.3), or `; ` for `Cookie` (RFC 6265 §5.4).
   */
  header(name: string): string | undefined {
    const h = this.head;
    const fields = h.fields;
    let found: string | undefined;
    for (let i = 0; i < h.fieldCount; i++) {
      const f = i * 4;
      if (!nameMatches(h.buf, fields[f]!, fields[f + 1]!, name)) continue;
      const value = h.buf.toString('latin1', fields[f + 2]!, fields[f + 3]!);
      found =
        found === undefined
          ? value
          : found + (name.length === 6 && name.toLowerCase() === 'cookie' ? '; ' : ', ') + value;
    }
    return found;
  }

  /** Every header field as `[name, value]`, in order, names as sent. */
  *headers(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.head.fieldCount; i++) yield [this.headerName(i), this.headerValue(i)];
  }

  get scheme(): 'http' | 'https' {
    return this.source?.scheme ?? 'http';
  }

  /** The client's IP address. */
  get remoteAddress(): string | undefined {
    return this.source?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.source?.remotePort;
  }

  get clientAddress(): string {
    // No proxy trusted: the peer itself, without working out the rest of the view (the access log
    // asks for this on every response).
    if ((this.source?.proxyTrust ?? null) === null) return this.source?.remoteAddress ?? '';
    return this.client().address;
  }

  get protocol(): 'http' | 'https' {
    return this.client().protocol;
  }

  get host(): string | undefined {
    return this.client().host;
  }

  private client(): ClientView {
    if (this.clientCache === null) this.clientCache = resolveClient(this, this.source?.proxyTrust ?? null);
    return this.clientCache;
  }

  /** @internal */
  get ownProtocol(): 'http' | 'https' {
    return this.source?.ownProtocol ?? 'http';
  }

  /** @internal The host this request names: an absolute-form target's authority (RFC 9112 §3.2.2), else Host. */
  get ownHost(): string | undefined {
    if (this.head.targetForm !== TargetForm.absolute) return this.header('host');
    const target = this.target;
    const start = target.indexOf('://') + 3;
    let end = start;
    while (end < target.length && target[end] !== '/' && target[end] !== '?') end++;
    return target.slice(start, end);
  }

  /** Aborts when the client goes away before the response has ended. */
  get signal(): AbortSignal {
    if (this.abort === null) {
      this.abort = new AbortController();
      this.escaped = true;
      this.source?.signalWanted();
      // Asked for after the client went: abort at once rather than never.
      if (this.goneReason !== null) this.abort.abort(this.goneReason);
    }
    return this.abort.signal;
  }

  /** @internal Whether `error` is the abort that the client going away caused. */
  abortedWith(error: unknown): boolean {
    return isClientAbort(this.goneReason, error);
  }

  /**
   * Gives this request its own handlerTimeout, counted from now: `ms` without a sign of life from the
   * handler (0: none) before it gets 503. Ends with the response.
   */
  setTimeout(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0)
      throw new UsageError(
        'ERR_PEREGRINE_INVALID_ARGUMENT',
        `a timeout must be an integer number of ms >= 0, got ${ms}`,
      );
    this.source?.setHandlerTimeout(ms);
  }

  /** @internal Why the client went away, or null while it is there. */
  get gone(): Error | null {
    return this.goneReason;
  }

  /** @internal The client went away. */
  aborted(reason: Error): void {
    if (this.goneReason === null) this.goneReason = reason;
    if (this.abort !== null && !this.abort.signal.aborted) this.abort.abort(reason);
    const onGone = this.onGone;
    this.onGone = null;
    onGone?.(reason);
  }

  /** Whether the request carries a body (a Content-Length above 0, or chunked). */
  get hasBody(): boolean {
    return this.incoming.present;
  }

  /** The declared Content-Length, or `undefined` (no body, or chunked). */
  get contentLength(): number | undefined {
    const length = this.head.contentLength;
    return length === -1 ? undefined : length;
  }

  /** The whole body as bytes (limited by `maxBodyBytes`). Read once. */
  bytes(): Promise<Buffer> {
    if (this.incoming === PARKED_BODY) return Promise.reject(new Error('the request has ended'));
    this.escaped = true;
    return this.incoming.bytes();
  }

  /** The whole body decoded as UTF-8. */
  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  /** The whole body parsed as JSON; invalid JSON rejects with an HttpError 400. */
  async json(): Promise<unknown> {
    return parseJsonBody(await this.text());
  }

  /** The body as it arrives, chunk by chunk, with backpressure: `for await (const chunk of req.stream())`. */
  stream(): AsyncIterableIterator<Buffer> {
    if (this.incoming === PARKED_BODY)
      throw new UsageError('ERR_PEREGRINE_REQUEST_ENDED', 'the request has ended');
    this.escaped = true;
    return this.incoming.stream();
  }
}

function nameMatches(buf: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (LOWER[buf[start + k]!] !== (c < 256 ? LOWER[c] : -1)) return false;
  }
  return true;
}

function badIndex(i: number): UsageError {
  return new UsageError('ERR_PEREGRINE_INVALID_ARGUMENT', `header index ${i} out of range`);
}
