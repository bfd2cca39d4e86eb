import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { constants } from 'node:http2';
import { bodyTooLarge } from '../http/body.ts';
import type { ResolvedCompression } from '../http/compression.ts';
import { type DispatchHost, dispatch, handlerFailed } from '../http/dispatch.ts';
import { HttpError } from '../http/errors.ts';
import type { Request, RequestHandler } from '../http/exchange.ts';
import {
  type ExchangeObserver,
  TIMEOUT_HANDLER,
  TIMEOUT_KEEPALIVE,
  TIMEOUT_REQUEST,
  TIMEOUT_SEND,
} from '../http/observer.ts';
import { errorBody } from '../http/status.ts';
import type { ProxyTrust } from '../http/trusted-proxy.ts';
import type { Clock } from '../transport/clock.ts';
import type { Link } from '../transport/link.ts';
import type { Session } from '../transport/session.ts';
import { Http2Request, type StreamSource } from './request.ts';
import { Http2Response, type StreamSink } from './response.ts';

/** The server options an HTTP/2 connection reads. */
export interface Http2Options {
  maxBodyBytes: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  handlerTimeout: number;
  sendTimeout: number;
  /** Largest header list, counted as HTTP/1 would send it (`name: value` and CRLF per field) → 431. */
  maxHeaderBytes: number;
  /** Most header fields (pseudo-headers not counted) → 431. */
  maxHeaderCount: number;
  onError(error: unknown, request: Request | undefined): void;
}

/** What an HTTP/2 connection needs from the worker that owns it. */
export interface Http2Owner {
  readonly options: Http2Options;
  readonly handler: RequestHandler;
  readonly clock: Clock;
  readonly stopping: boolean;
  readonly compression: ResolvedCompression | null;
  /** The `trustProxy` rules, or null. */
  readonly proxyTrust: ProxyTrust | null;
  /** Metrics and access log, or null when both are off. */
  readonly observer: ExchangeObserver | null;
}

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR } = constants;

/**
 * One HTTP/2 connection: the session of a link whose socket node:http2 reads and writes itself
 * (framing, HPACK, flow control, SETTINGS and the limits it enforces). Each stream is one request,
 * answered through the same Request and Response interfaces as HTTP/1, with the same timeouts:
 * keepAliveTimeout for a connection with no stream open, requestTimeout for a body, handlerTimeout
 * for a handler. Shutdown sends GOAWAY and lets the streams in flight finish (RFC 9113 §6.8).
 */
export class Http2Connection implements Session {
  deadline = 0;
  readonly readsSocketItself = true;
  private readonly link: Link;
  private readonly session: ServerHttp2Session;
  private readonly owner: Http2Owner;
  private readonly exchanges = new Set<Exchange>();
  /** When the connection last had no stream open. */
  private idleAt: number;
  private closing = false;
  /** The socket's bytesWritten at the last sendTimeout check, or -1 when no stream waits on the client. */
  private sentAtCheck = -1;
  private checkedAt = 0;

  constructor(link: Link, session: ServerHttp2Session, owner: Http2Owner) {
    this.link = link;
    this.session = session;
    this.owner = owner;
    this.idleAt = owner.clock.now;
    session.on('stream', (stream, headers, flags, rawHeaders) =>
      this.onStream(stream, headers, flags, rawHeaders),
    );
    // A protocol error ends the session (node:http2 sends GOAWAY); the socket's close follows.
    session.on('error', () => {});
    session.on('goaway', () => this.shutdown());
    // The session ends when the peer goes (EOF, a reset) or after GOAWAY; its socket may not report
    // that itself while streams wait on flow control, so the link is closed here.
    session.on('close', () => this.link.destroy());
    this.updateDeadline();
  }

  /** Requests whose response has not ended yet. */
  get requestsInFlight(): number {
    let count = 0;
    for (const exchange of this.exchanges) if (!exchange.res.finished) count++;
    return count;
  }

  idleSince(): number {
    return this.exchanges.size === 0 && !this.closing && this.link.unsent === 0 ? this.idleAt : -1;
  }

  // node:http2 reads the socket itself: nothing arrives here.
  receive(): void {}
  drain(): void {}

  /**
   * The client's FIN: HTTP/2 has no half-closed connection (its streams half-close instead), so the
   * connection is over. The TLS socket is half-open for HTTP/1's sake and would wait forever.
   */
  peerEnded(): void {
    this.destroy();
  }

  socketClosed(): void {
    this.closing = true;
    this.deadline = 0;
    for (const exchange of this.exchanges) exchange.gone(new Error('the client closed the connection'));
    this.exchanges.clear();
    if (!this.session.destroyed) this.session.destroy();
  }

  timedOut(): void {
    const now = this.owner.clock.now;
    if (this.closing && this.exchanges.size === 0) {
      this.destroy(); // GOAWAY sent, nothing in flight, the client has not closed: close
      return;
    }
    if (this.exchanges.size === 0 && !this.closing) {
      if (!this.owner.stopping) this.owner.observer?.timedOut(TIMEOUT_KEEPALIVE);
      this.shutdown(); // idle past keepAliveTimeout
      return;
    }
    if (this.sendStalled(now)) {
      this.owner.observer?.timedOut(TIMEOUT_SEND);
      this.destroy(); // the client took nothing for a whole sendTimeout: as HTTP/1, cut it
      return;
    }
    for (const exchange of this.exchanges) exchange.checkTimeouts(now);
    this.updateDeadline();
  }

  /**
   * Whether streams wait on a client that took none of the connection's bytes since the last check,
   * sendTimeout ago (nginx's send_timeout). Flow control holds the data back, not a socket buffer,
   * so the socket's bytes written tell whether the client reads at all.
   */
  private sendStalled(now: number): boolean {
    const timeout = this.owner.options.sendTimeout;
    if (timeout === 0 || !this.waitingOnClient()) {
      this.sentAtCheck = -1;
      return false;
    }
    const written = this.link.socket.bytesWritten;
    if (this.sentAtCheck === written && now >= this.checkedAt + timeout) return true;
    if (this.sentAtCheck !== written) {
      this.sentAtCheck = written;
      this.checkedAt = now;
    }
    return false;
  }

  /** Whether a stream's response is held back by the client (flow control or a full socket). */
  private waitingOnClient(): boolean {
    for (const exchange of this.exchanges) if (exchange.waitingOnClient) return true;
    return false;
  }

  /**
   * Closes now: the session first, which owns the socket's handle (destroying only the TLS socket
   * under it left the TCP connection open on Node 22), then the link.
   */
  private destroy(): void {
    if (!this.session.destroyed) this.session.destroy();
    this.link.destroy();
  }

  /** Graceful: GOAWAY, the streams in flight finish, then the connection closes. */
  shutdown(): void {
    if (this.closing) return;
    this.closing = true;
    if (!this.session.closed && !this.session.destroyed) {
      this.session.close(() => this.destroy());
    }
    this.updateDeadline();
  }

  /** @internal An exchange ended (its stream closed). */
  forget(exchange: Exchange): void {
    this.exchanges.delete(exchange);
    if (this.exchanges.size > 0) return; // the deadline may come early: timedOut() works out the next
    this.idleAt = this.owner.clock.now;
    this.updateDeadline();
  }

  /** A response went out and may wait on the client: make sure a sendTimeout check is due (O(1)). */
  armSendTimeout(): void {
    const timeout = this.owner.options.sendTimeout;
    if (timeout === 0 || this.closing) return;
    if (this.sentAtCheck === -1) {
      this.sentAtCheck = this.link.socket.bytesWritten;
      this.checkedAt = this.owner.clock.now;
    }
    this.sooner(this.checkedAt + timeout);
  }

  /** A stream started: its deadline, if sooner, becomes the connection's (one compare, not a scan). */
  sooner(due: number): void {
    if (due !== 0 && (this.deadline === 0 || due < this.deadline)) this.deadline = due;
  }

  updateDeadline(): void {
    const options = this.owner.options;
    if (this.closing) {
      // A client that never closes after GOAWAY: cut once in-flight streams had their time.
      this.deadline = this.exchanges.size === 0 ? this.owner.clock.now + 2_000 : this.nextExchangeDeadline();
      return;
    }
    if (this.exchanges.size === 0) {
      const idle = this.owner.stopping ? 0 : options.keepAliveTimeout;
      this.deadline = this.idleAt + idle;
      return;
    }
    let next = this.nextExchangeDeadline();
    const sendTimeout = options.sendTimeout;
    if (sendTimeout !== 0 && this.waitingOnClient()) {
      if (this.sentAtCheck === -1) {
        this.sentAtCheck = this.link.socket.bytesWritten;
        this.checkedAt = this.owner.clock.now;
      }
      const due = this.checkedAt + sendTimeout;
      if (next === 0 || due < next) next = due;
    }
    this.deadline = next;
  }

  private nextExchangeDeadline(): number {
    let next = 0;
    for (const exchange of this.exchanges) {
      const due = exchange.deadline();
      if (due !== 0 && (next === 0 || due < next)) next = due;
    }
    return next;
  }

  private onStream(
    stream: ServerHttp2Stream,
    _headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
  ): void {
    if (this.closing) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    // node:http2 only announces SETTINGS_MAX_HEADER_LIST_SIZE: the limits are enforced here, as
    // HTTP/1's are, before anything is built for the request.
    if (headersTooLarge(rawHeaders, this.owner.options)) {
      this.owner.observer?.refused(431, this.remoteAddress, '2.0', 0);
      refuse(stream, 431);
      return;
    }
    const hasBody = (flags & constants.NGHTTP2_FLAG_END_STREAM) === 0;
    const exchange = new Exchange(this, stream, rawHeaders, hasBody, this.owner);
    if (this.exchanges.size === 0) this.deadline = 0; // no longer idle
    this.exchanges.add(exchange);
    this.sooner(exchange.deadline());
    exchange.start();
  }

  get scheme(): 'http' | 'https' {
    return (this.link.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  }

  get remoteAddress(): string | undefined {
    return this.link.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.link.remotePort;
  }

  get ownProtocol(): 'http' | 'https' {
    return this.link.proxiedTls ? 'https' : this.scheme;
  }
}

/** Whether a request's header list is past maxHeaderBytes or maxHeaderCount. */
function headersTooLarge(rawHeaders: string[], options: Http2Options): boolean {
  let bytes = 0;
  let fields = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    bytes += name.length + rawHeaders[i + 1]!.length + 4;
    if (name.charCodeAt(0) !== 0x3a /* : */) fields++;
  }
  return bytes > options.maxHeaderBytes || fields > options.maxHeaderCount;
}

/** Answers a stream with `status` and no handler; what the client still sends is dropped. */
function refuse(stream: ServerHttp2Stream, status: number): void {
  const body = errorBody(status);
  stream.on('error', () => {});
  stream.resume();
  stream.respond({
    ':status': status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  stream.end(body);
  stream.once('finish', () => {
    if (!stream.closed) stream.close(NGHTTP2_NO_ERROR);
  });
}

/** One stream: its request, its response, its body and its timeouts. */
class Exchange implements StreamSource, StreamSink, DispatchHost<Http2Request, Http2Response> {
  readonly handler: RequestHandler;
  readonly compression: ResolvedCompression | null;
  readonly req: Http2Request;
  readonly res: Http2Response;
  dispatching = false;
  private readonly connection: Http2Connection;
  private readonly stream: ServerHttp2Stream;
  private readonly owner: Http2Owner;
  private readonly startedAt: number;
  /** `performance.now()` at dispatch, when observed. */
  private readonly dispatchedAt: number;
  private bodyComplete: boolean;
  /** The client's side of the stream has ended (END_STREAM received). */
  private requestEnded: boolean;
  private received = 0;
  private handlerActiveAt: number;
  private handlerTimeout: number;
  private ended = false;

  constructor(
    connection: Http2Connection,
    stream: ServerHttp2Stream,
    rawHeaders: string[],
    hasBody: boolean,
    owner: Http2Owner,
  ) {
    this.connection = connection;
    this.stream = stream;
    this.owner = owner;
    this.handler = owner.handler;
    this.compression = owner.compression;
    this.startedAt = this.handlerActiveAt = owner.clock.now;
    this.dispatchedAt = owner.observer === null ? 0 : performance.now();
    this.handlerTimeout = owner.options.handlerTimeout;
    this.bodyComplete = !hasBody;
    this.requestEnded = !hasBody;
    this.req = new Http2Request(stream, rawHeaders, this, hasBody);
    this.res = new Http2Response(stream, this, this.req.method === 'HEAD');
  }

  start(): void {
    const { stream, req, res } = this;
    const limit = this.owner.options.maxBodyBytes;
    stream.on('error', () => {}); // a reset by the client: 'close' follows
    stream.on('close', () => this.closed());
    if (!this.bodyComplete) {
      stream.on('data', (chunk: Buffer) => this.onData(chunk, limit));
      stream.on('end', () => {
        this.requestEnded = true;
        if (this.bodyComplete) return;
        this.bodyComplete = true;
        this.handlerActiveAt = this.owner.clock.now;
        req.incoming.finish();
        this.connection.updateDeadline();
      });
      const declared = req.contentLength;
      if (declared !== undefined && declared > limit) {
        // Refused before the handler runs, as HTTP/1 does with a Content-Length over the limit.
        this.bodyFailed(bodyTooLarge(limit));
        return;
      }
    }
    dispatch(this, req, res);
  }

  private onData(chunk: Buffer, limit: number): void {
    this.received += chunk.length;
    if (this.bodyComplete) return; // dropped: the body failed, or the response ended first
    if (this.received > limit) {
      this.bodyFailed(bodyTooLarge(limit));
      return;
    }
    const incoming = this.req.incoming;
    incoming.push(chunk);
    if (incoming.congested) this.stream.pause(); // flow control holds the client back
  }

  /** The body can't be read to its end (too large, timed out): answer for the handler unless it is reading it. */
  private bodyFailed(error: HttpError): void {
    this.bodyComplete = true;
    const { req, res } = this;
    req.incoming.fail(error);
    this.stream.resume(); // what else comes is dropped
    if (!res.headersSent && !req.incoming.wanted) handlerFailed(this, req, res, error);
    this.connection.updateDeadline();
  }

  // ── DispatchHost ──

  isCurrent(res: Http2Response): boolean {
    return res === this.res && !this.stream.closed && !this.stream.destroyed;
  }

  closeAfterResponse(): void {}

  reportError(error: unknown, req: Http2Request): void {
    this.owner.options.onError(error, req);
  }

  abortExchange(): void {
    if (!this.stream.closed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  answerFor(_req: Http2Request, res: Http2Response, status: number): void {
    res.answer(status, errorBody(status));
  }

  // ── StreamSource / StreamSink ──

  get scheme(): 'http' | 'https' {
    return this.connection.scheme;
  }

  get remoteAddress(): string | undefined {
    return this.connection.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.connection.remotePort;
  }

  get ownProtocol(): 'http' | 'https' {
    return this.connection.ownProtocol;
  }

  get proxyTrust(): ProxyTrust | null {
    return this.owner.proxyTrust;
  }

  setHandlerTimeout(ms: number): void {
    if (this.res.finished) return;
    this.handlerTimeout = ms;
    this.handlerActiveAt = this.owner.clock.now;
    this.connection.updateDeadline();
  }

  active(): void {
    this.handlerActiveAt = this.owner.clock.now;
  }

  blocked(): void {
    this.connection.updateDeadline();
  }

  responseEnded(): void {
    const observer = this.owner.observer;
    if (observer !== null) observer.responded(this.req, this.res, this.dispatchedAt);
    if (!this.bodyComplete) {
      // The handler answered without reading the rest of the body: what else comes is dropped.
      this.bodyComplete = true;
      this.req.incoming.discard();
      this.stream.resume();
    }
    if (!this.requestEnded) {
      // Once the response is out, tell the client to stop sending (RFC 9113 §8.1: RST_STREAM NO_ERROR).
      const stream = this.stream;
      stream.once('finish', () => {
        if (!stream.closed) stream.close(NGHTTP2_NO_ERROR);
      });
    }
    this.connection.armSendTimeout();
  }

  // ── timeouts ──

  /** Whether this stream's response waits for the client to take it. */
  get waitingOnClient(): boolean {
    const stream = this.stream;
    return !this.ended && this.res.headersSent && (this.res.finished || stream.writableNeedDrain);
  }

  deadline(): number {
    if (this.ended) return 0;
    const options = this.owner.options;
    if (!this.bodyComplete && options.requestTimeout !== 0) return this.startedAt + options.requestTimeout;
    if (!this.res.finished && this.handlerTimeout !== 0) return this.handlerActiveAt + this.handlerTimeout;
    return 0;
  }

  checkTimeouts(now: number): void {
    const options = this.owner.options;
    if (
      !this.bodyComplete &&
      options.requestTimeout !== 0 &&
      now >= this.startedAt + options.requestTimeout
    ) {
      this.owner.observer?.timedOut(TIMEOUT_REQUEST);
      this.bodyFailed(
        new HttpError(408, 'request body timed out', { code: 'ERR_PEREGRINE_BODY_TIMEOUT', close: true }),
      );
      return;
    }
    const timeout = this.handlerTimeout;
    if (this.res.finished || timeout === 0 || now < this.handlerActiveAt + timeout) return;
    // A stream waiting on flow control (the client not reading) is not a stuck handler.
    if (this.stream.writableNeedDrain) return;
    this.owner.observer?.timedOut(TIMEOUT_HANDLER);
    const { req, res } = this;
    const started = res.headersSent;
    const error = new HttpError(
      503,
      `${req.method} ${req.path}: the handler did not end its response within ${timeout} ms (handlerTimeout); ${started ? 'reset the stream' : 'answered 503'}`,
      { code: 'ERR_PEREGRINE_HANDLER_TIMEOUT', close: true },
    );
    this.owner.options.onError(error, req);
    req.aborted(error);
    if (started) {
      res.detach();
      this.abortExchange();
    } else {
      res.answer(503, errorBody(503));
    }
  }

  /** The client reset the stream, or the connection went. */
  gone(reason: Error): void {
    if (this.ended) return;
    if (!this.res.finished) this.req.aborted(reason);
    if (!this.bodyComplete)
      this.req.incoming.fail(
        new HttpError(400, 'the client closed the stream before the body was complete', {
          code: 'ERR_PEREGRINE_CLIENT_GONE',
          close: true,
        }),
      );
  }

  private closed(): void {
    if (this.ended) return;
    if (this.stream.rstCode !== NGHTTP2_NO_ERROR || !this.res.finished) {
      this.gone(
        new Error(
          this.stream.rstCode === NGHTTP2_CANCEL
            ? 'the client cancelled the request'
            : 'the stream was reset',
        ),
      );
    }
    this.ended = true;
    this.res.abandon();
    this.connection.forget(this);
  }
}
