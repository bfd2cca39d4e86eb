import type { Link } from '../transport/link.ts';
import type { PrebuiltResponse } from './prebuilt.ts';

/**
 * The request and response a handler sees, whatever protocol carried them: each protocol (HTTP/1
 * today) backs these interfaces with its own classes, so the handler API, fetch mode and DirServer
 * run unchanged on any of them.
 */

/** One HTTP request. It stays valid until its response has ended, across every `await`. */
export interface Request {
  /** The method, e.g. `GET` (case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The protocol version: `'1.1'` or `'1.0'` (HTTP/1), or `'2.0'` (HTTP/2). */
  readonly version: '1.0' | '1.1' | '2.0';
  /** The request-target exactly as sent (`/a/b?x=1`, `http://host/a`, `host:443` or `*`). */
  readonly target: string;
  /** The path, as sent (still percent-encoded), without the query. `/` for an absolute-form target without one. */
  readonly path: string;
  /** The raw query string after `?`, or `''`. */
  readonly queryString: string;
  /** The query, parsed and percent-decoded on first use. */
  readonly query: URLSearchParams;
  /** The number of header fields, in the order they were sent. */
  readonly headerCount: number;
  /** The name of the i-th header field, as sent (no case change). */
  headerName(i: number): string;
  /** The value of the i-th header field, without surrounding whitespace. */
  headerValue(i: number): string;
  /**
   * A header's value by case-insensitive name, or `undefined`. A field sent more than once is
   * combined with `, ` (RFC 9110 §5.3), or `; ` for `Cookie` (RFC 6265 §5.4).
   */
  header(name: string): string | undefined;
  /** Every header field as `[name, value]`, in order, names as sent. */
  headers(): IterableIterator<[string, string]>;
  /** `'https'` when the connection is TLS, else `'http'`. */
  readonly scheme: 'http' | 'https';
  /**
   * The connection's peer address: the client's, or the proxy's in front of it. With `proxyProtocol`,
   * the address the PROXY header gave.
   */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /**
   * The client's IP address: `remoteAddress`, or with `trustProxy`, the address its trusted proxies
   * report (X-Forwarded-For or Forwarded, walked from the right past trusted hops; an untrusted
   * peer's headers and malformed ones never count). Worked out on first use. `''` if unknown.
   */
  readonly clientAddress: string;
  /**
   * The protocol the client used: `scheme` (or `'https'` when a PROXY v2 header says the client
   * reached the proxy over TLS), unless a trusted proxy says otherwise (X-Forwarded-Proto, or
   * Forwarded's `proto=`).
   */
  readonly protocol: 'http' | 'https';
  /**
   * The host the client asked for, lower-cased, with its port if one was sent: from an absolute-form
   * target, `:authority` or `Host`, or with `trustProxy`, X-Forwarded-Host or Forwarded's `host=`.
   * Only a valid host (RFC 9110 §7.2: a name or IP literal and an optional port) is given;
   * `undefined` otherwise.
   */
  readonly host: string | undefined;
  /** Aborts when the client goes away before the response has ended. */
  readonly signal: AbortSignal;
  /**
   * Gives this request its own handlerTimeout, counted from now: `ms` without a sign of life from the
   * handler (0: none) before it gets 503. Ends with the response.
   */
  setTimeout(ms: number): void;
  /** Whether the request carries a body (a Content-Length above 0, or chunked). */
  readonly hasBody: boolean;
  /** The declared Content-Length, or `undefined` (no body, or chunked). */
  readonly contentLength: number | undefined;
  /** The whole body as bytes (limited by `maxBodyBytes`). Read once. */
  bytes(): Promise<Buffer>;
  /** The whole body decoded as UTF-8. */
  text(): Promise<string>;
  /** The whole body parsed as JSON; invalid JSON rejects with an HttpError 400. */
  json(): Promise<unknown>;
  /** The body as it arrives, chunk by chunk, with backpressure: `for await (const chunk of req.stream())`. */
  stream(): AsyncIterableIterator<Buffer>;

  /** @internal Whether the path is exactly `path` (cheaper than reading `path`). */
  pathIs(path: string): boolean;
  /** @internal Whether `error` is the abort that the client going away caused. */
  abortedWith(error: unknown): boolean;
  /** @internal Why the client went away, or null while it is there. */
  readonly gone: Error | null;
  /** @internal Called once if the client goes away; cheaper than `signal` for the server's own use. */
  onGone: ((reason: Error) => void) | null;
}

/**
 * The response to one request. `Date`, `Content-Length`, `Connection` and `Transfer-Encoding` are
 * managed for you. `Upgraded` and `UpgradeOptions` are what `upgrade()` gives and takes: the server
 * fills them in (a WebSocket; see the public `Response` type).
 */
export interface Response<Upgraded = unknown, UpgradeOptions = object> {
  /** The status code, 200 unless set. Must be 200–999 (1xx are sent by Peregrine itself). */
  status: number;
  /** Whether the status line and headers have gone out (after the first `write()` or `end()`). */
  readonly headersSent: boolean;
  /** Whether `end()` has been called. */
  readonly finished: boolean;
  /**
   * Sets a header, replacing any of the same name (case-insensitive). `Content-Length` declares the size
   * of a streamed body; `Connection: close` closes the connection after this response;
   * `Transfer-Encoding` is managed by Peregrine and can't be set.
   */
  setHeader(name: string, value: string | number): this;
  /** Adds a header line even if one of that name exists (e.g. several `Set-Cookie`). */
  appendHeader(name: string, value: string | number): this;
  /** The value set for a header (the first one, for repeated names), or `undefined`. */
  getHeader(name: string): string | undefined;
  /** Removes every header of that name. */
  removeHeader(name: string): this;
  /**
   * Ends the response, with an optional body (a string is sent as UTF-8). After streaming with
   * `write()`, the body given here is the last piece. `HEAD`, 204 and 304 responses never carry a body.
   */
  end(body?: string | Uint8Array): void;
  /** Sends `value` as JSON with `Content-Type: application/json`. */
  json(value: unknown): void;
  /**
   * Streams a piece of the body. The head goes out with the first write: with `Transfer-Encoding: chunked`,
   * or with the `Content-Length` you set. Returns `false` when the socket's buffer is full: wait for
   * `waitForDrain()` before writing more.
   */
  write(chunk: string | Uint8Array): boolean;
  /** Resolves when the socket can take more data (at once if it can now, or if the client has gone). */
  waitForDrain(): Promise<void>;
  /**
   * Accepts a WebSocket handshake: sends `101 Switching Protocols` and returns the WebSocket (whose
   * hooks on your handler then run), or answers 400 / 426 itself and returns null when the request is
   * not a valid handshake (RFC 6455 §4.2.1). Headers set on the response before (a `Set-Cookie`, say)
   * go out with the 101.
   */
  upgrade(options?: UpgradeOptions): Upgraded | null;

  /** @internal Body bytes sent so far (none for HEAD, 204 and 304), for the access log. */
  readonly bodyBytes: number;
  /**
   * @internal Whether a header of any of these names (lower case) is set: prepared lines must not
   * repeat a header the handler set itself.
   */
  hasAnyHeader(lowerNames: readonly string[]): boolean;
  /**
   * @internal Adds header lines (`Name: value\r\n` each) that Peregrine built and checked itself, so
   * that a response sent many times over (a cached file) skips checking each header again.
   */
  addPreparedHeaders(lines: string): void;
  /**
   * @internal Ends the response with a prebuilt `200 OK` and returns true, when nothing set on it
   * would be lost; otherwise returns false, having changed nothing.
   */
  endPrebuilt(prebuilt: PrebuiltResponse): boolean;
  /**
   * @internal The headers set so far as header lines (`Name: value\r\n` each), except those named in
   * `skip` (lower case): for a protocol handshake's response, which sets some itself.
   */
  headerLines(skip: ReadonlySet<string>): string;
  /**
   * @internal Answers with `head` (a whole HTTP/1 response head, e.g. a 101) and gives the connection
   * up to another protocol: the response is done, and what the handler still calls on it is ignored.
   */
  switchProtocols(head: string): Takeover;
}

/**
 * @internal A connection given up by HTTP after a protocol handshake: its link (whose session the new
 * protocol replaces) and the bytes that arrived after the handshake request, or null.
 */
export interface Takeover {
  link: Link;
  leftover: Buffer | null;
}

/** @internal What a protocol calls for each request: the user's handler, seen from the HTTP layer. */
export interface RequestHandler {
  handleRequest(req: Request, res: Response<unknown, never>): unknown;
}
