import type { Socket } from 'node:net';
import type { Clock } from '../transport/clock.ts';
import type { Link } from '../transport/link.ts';
import { Output } from '../transport/output.ts';
import type { Session } from '../transport/session.ts';
import type { BodySource } from './body.ts';
import { BODY_END, BodyReader } from './body-reader.ts';
import type { ResolvedCompression } from './compression.ts';
import { type DispatchHost, dispatch, handlerFailed } from './dispatch.ts';
import { errorResponse } from './error-responses.ts';
import { HttpError } from './errors.ts';
import type { Request, RequestHandler, Takeover } from './exchange.ts';
import { InputBuffer } from './input.ts';
import {
  type ExchangeObserver,
  TIMEOUT_HANDLER,
  TIMEOUT_HEADERS,
  TIMEOUT_KEEPALIVE,
  TIMEOUT_REQUEST,
  TIMEOUT_SEND,
} from './observer.ts';
import {
  CR,
  findHeadEnd,
  type HeadLimits,
  headScanState,
  methodString,
  parseHead,
  skipLeadingEmptyLines,
} from './parser.ts';
import { Http1Request, type RequestSource } from './request.ts';
import { Http1Response, type ResponseSink } from './response.ts';
import { errorBody } from './status.ts';
import type { ProxyTrust } from './trusted-proxy.ts';

/** The server options an HTTP/1 connection reads. */
export interface Http1Options extends HeadLimits {
  maxBodyBytes: number;
  maxRequestsPerConnection: number;
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  handlerTimeout: number;
  sendTimeout: number;
  onError(error: unknown, request: Request | undefined): void;
}

/** What a connection needs from the worker that owns it. */
export interface ConnectionOwner {
  readonly options: Http1Options;
  readonly handler: RequestHandler;
  readonly clock: Clock;
  readonly stopping: boolean;
  /**
   * Takes a request's connection over to another protocol (`res.upgrade()`): answers the request
   * itself, or calls `res.switchProtocols()`. The HTTP layer knows no other protocol.
   */
  upgrade(req: Http1Request, res: Http1Response, options: unknown): unknown;
  /**
   * Set when HTTP/2 with prior knowledge is accepted (h2c): a connection that starts with the HTTP/2
   * preface is handed over, with the bytes read so far, to make its HTTP/2 session.
   */
  readonly startHttp2: ((link: Link, received: Buffer) => void) | null;
  /** The `compression` option, or null. */
  readonly compression: ResolvedCompression | null;
  /** The `trustProxy` rules, or null. */
  readonly proxyTrust: ProxyTrust | null;
  /** Metrics and access log, or null when both are off. */
  readonly observer: ExchangeObserver | null;
}

/** The client connection preface of HTTP/2 (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether buf[start..end) is the preface (1), could still become it (0), or is not it (-1). */
function matchPreface(buf: Buffer, start: number, end: number): number {
  const length = Math.min(end - start, HTTP2_PREFACE.length);
  for (let i = 0; i < length; i++) if (buf[start + i] !== HTTP2_PREFACE[i]) return -1;
  return length === HTTP2_PREFACE.length ? 1 : 0;
}

// The connection's state: where it is in the life of a request. Ordered, so that ranges read simply.
/** Between requests: nothing of the next one received. */
const IDLE = 0;
/** Part of a request head received. */
const HEAD = 1;
/** The response ended before its request's body did: the rest is read and dropped. */
const DISCARDING_BODY = 2;
/** A request is in flight (its handler runs, or its response streams); its body, if any, is all in. */
const RESPONDING = 3;
/** A request is in flight while its body is still arriving. */
const RESPONDING_BODY = 4;
/** A request is in flight and nothing more will be read: the connection closes after its response. */
const RESPONDING_LAST = 5;
/** Half-closed: the last bytes go out while input is dropped, until the client closes or LINGER_MS pass. */
const CLOSING = 6;
/** The socket closed, or another protocol took it over. */
const CLOSED = 7;

/** Pipelined bytes held while a response is pending; beyond this the socket stops reading. */
const MAX_HELD_BYTES = 64 * 1024;
/** Response bytes waiting for a slow reader beyond which the connection stops reading new requests. */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** How long a closing connection keeps reading (and discarding) so the client sees the response, not a reset. */
const LINGER_MS = 2_000;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * One HTTP/1.1 connection: the session of a link, and its state machine. Read → parse → dispatch →
 * write, one request at a time. Requests that arrive pipelined wait in the input until the response
 * before them has ended; all responses produced while handling one read are written together.
 */
export class Http1Connection
  implements Session, BodySource, RequestSource, ResponseSink, DispatchHost<Http1Request, Http1Response>
{
  readonly link: Link;
  readonly socket: Socket;
  readonly clock: Clock;
  readonly handler: RequestHandler;
  /** Response bytes waiting to be written; one socket write per batch. */
  readonly output: Output;
  /** When the current timeout expires (clock ms), or 0. Checked by the listener's timer. */
  deadline = 0;
  dispatching = false;
  readonly compression: ResolvedCompression | null;
  private readonly owner: ConnectionOwner;
  private readonly options: Http1Options;
  private readonly observer: ExchangeObserver | null;
  /** `performance.now()` at the dispatch of the request in flight, when observed. */
  private dispatchedAt = 0;
  /**
   * The worker's read buffer when this socket reads into it (null: a new Buffer per read). Its
   * bytes last only until the next read, so what must outlive one is copied out (`InputBuffer.keep`).
   */
  private readonly shared: Buffer | null;
  private readonly input = new InputBuffer();
  private state = IDLE;

  /** findHeadEnd's grammar state at input.scanFrom, for an unfinished head. */
  private headState = 0;
  private headStartedAt = 0;
  /** Made when the first request with a body arrives. */
  private body: BodyReader | null = null;
  private continuePending = false;

  private req: Http1Request | null = null;
  private res: Http1Response | null = null;
  /** Whether req/res may be reused: the last handler finished synchronously and kept nothing. */
  private reusable = false;
  private requestStartedAt = 0;
  /** When the handler in flight last showed life (dispatch, the body's end, a write, a drain): handlerTimeout counts from it. */
  private handlerActiveAt = 0;
  /** handlerTimeout for the request in flight: the server's, unless the handler set its own. */
  private handlerTimeout = 0;
  private requests = 0;
  /** When the connection last became idle: accepted, or its last response taken by the client. */
  private idleAt = 0;
  private keepAlive = true;
  private closeAfter = false;
  /** The client half-closed (sent FIN). */
  private peerFinished = false;

  /** True while process() runs: it is not re-entered. */
  private processing = false;
  private paused = false;
  private writeCongestedFlag = false;
  /** Link.unsent at the last sendTimeout check, or -1 when none is running. */
  private sentAtCheck = -1;
  /** Made when a handler first waits for a drain: an idle connection holds no array. */
  private drainWaiters: (() => void)[] | null = null;

  /** The session of a newly accepted link. */
  constructor(link: Link, owner: ConnectionOwner) {
    this.link = link;
    const socket = link.socket;
    this.socket = socket;
    this.shared = link.sharedBuffer;
    this.owner = owner;
    this.options = owner.options;
    this.clock = owner.clock;
    this.handler = owner.handler;
    this.compression = owner.compression;
    this.observer = owner.observer;
    this.output = new Output(socket);
    this.setIdleDeadline();
  }

  /** Whether the link is TLS. */
  get scheme(): 'http' | 'https' {
    return (this.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
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

  get proxyTrust(): ProxyTrust | null {
    return this.owner.proxyTrust;
  }

  /** The request being answered (for the compression decision). */
  get request(): Http1Request | null {
    return this.req;
  }

  /** Whether a request's response is still to end. */
  get requestInFlight(): boolean {
    return this.state >= RESPONDING && this.state <= RESPONDING_LAST;
  }

  // ───────────────────────────── input ─────────────────────────────

  /** A read: `buf[0..length)`, ours only until this returns when it is the shared read buffer. */
  receive(buf: Buffer, length: number): void {
    if (this.state >= RESPONDING_LAST) return; // nothing more is read: discard
    this.input.append(buf, length);
    this.process();
    if (buf === this.shared) this.input.keep(buf, this.headInUse());
  }

  /**
   * The head of the request whose handler still holds it (a Request stays readable until its
   * response ends, even when the connection closed under it), or null.
   */
  private headInUse(): Http1Request['head'] | null {
    const req = this.req;
    const res = this.res;
    if (req === null || res === null || res.finished || this.state < RESPONDING) return null;
    return req.head;
  }

  /** Runs requests and body bytes out of the input until it needs more or must wait. */
  private process(): void {
    if (this.processing || this.state === CLOSED) return;
    this.processing = true;
    const input = this.input;
    while (this.state < CLOSING) {
      const state = this.state;
      if (state === RESPONDING_BODY || state === DISCARDING_BODY) {
        if (!input.holding || this.body!.request!.incoming.congested) break;
        this.readBody();
        continue;
      }
      if (state >= RESPONDING || !input.holding) break;
      // Checked before each pipelined request, not once per read: a 64 KiB read holds ~1,400 GETs,
      // and a client that never reads must not make us build every one of their responses.
      if (this.unsentBytes() > MAX_UNSENT_BYTES) {
        this.writeCongestedFlag = true;
        break;
      }
      if (!this.startRequest()) break;
    }
    this.processing = false;
    if (this.peerFinished) this.finishAfterPeerEnded();
    if (!input.holding && input.buf !== null) input.release();
    // Idle, and the last request kept nothing: its head and body state and its response's header
    // arrays wait with the thread's spares, and the two small objects themselves are let go, so an
    // idle connection holds neither. Requests that follow each other within one read still reuse them.
    if (this.state === IDLE && input.buf === null && this.reusable) {
      this.req?.park();
      this.res?.park();
      this.req = this.res = null;
    }
    this.flush();
    this.updateReading();
    this.updateDeadline();
  }

  /** Parses the next head and dispatches its request. Returns false when it must wait or stop. */
  private startRequest(): boolean {
    const input = this.input;
    const buf = input.buf!;
    const options = this.options;
    if (this.state === IDLE) {
      input.pos = skipLeadingEmptyLines(buf, input.pos, input.end);
      if (input.pos >= input.end) return false;
      // h2c with prior knowledge (RFC 9113 §3.3): a client that opens with the preface speaks HTTP/2.
      if (this.requests === 0 && buf[input.pos] === 0x50 /* P */ && this.owner.startHttp2 !== null) {
        const preface = matchPreface(buf, input.pos, input.end);
        if (preface === 0) return false;
        if (preface === 1) {
          this.switchToHttp2(this.owner.startHttp2);
          return false;
        }
      }
      // A lone CR at the end may be half of an empty line whose LF is still on its way.
      if (input.pos === input.end - 1 && buf[input.pos] === CR) return false;
      this.state = HEAD;
      this.headStartedAt = this.clock.now;
      input.scanFrom = input.pos;
    }
    const headEnd = findHeadEnd(buf, input.pos, input.scanFrom, input.end, options, this.headState);
    if (headEnd === -1) {
      input.scanFrom = input.end;
      this.headState = headScanState();
      return false;
    }
    if (headEnd < 0) {
      this.failAndClose(-headEnd);
      return false;
    }
    let req = this.req;
    let res = this.res;
    if (req === null || res === null || !this.reusable) {
      req = this.req = new Http1Request();
      res = this.res = new Http1Response();
    }
    const status = parseHead(buf, input.pos, headEnd, req.head, options);
    if (status < 0) {
      this.failAndClose(-status);
      return false;
    }
    const head = req.head;
    input.pos = headEnd;
    input.scanFrom = headEnd;
    this.requests++;
    this.requestStartedAt = this.headStartedAt;
    req.init(this, methodString(buf, head.start, head.methodEnd));

    // Keep-alive (RFC 9112 §9.3): HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive".
    this.keepAlive =
      head.minorVersion === 1 ? !head.connectionClose : head.connectionKeepAlive && !head.connectionClose;
    const maxRequests = options.maxRequestsPerConnection;
    if (maxRequests !== 0 && this.requests >= maxRequests) this.keepAlive = false;
    if (options.keepAliveTimeout === 0) this.keepAlive = false;

    const hasBody = head.chunked || head.contentLength > 0;
    if (hasBody) {
      if (!head.chunked && head.contentLength > options.maxBodyBytes) {
        this.failAndClose(413);
        return false;
      }
      this.body ??= new BodyReader();
      this.body.start(req, head.chunked, head.contentLength, options.maxHeaderBytes, options.maxBodyBytes);
    }
    req.incoming.reset(this, hasBody);
    this.continuePending = hasBody && head.expectContinue && head.minorVersion === 1;
    this.closeAfter = false;

    res.init(this, req.method === 'HEAD', head.minorVersion === 0);
    this.state = hasBody ? RESPONDING_BODY : RESPONDING;
    this.handlerActiveAt = this.clock.now;
    this.handlerTimeout = options.handlerTimeout;
    if (this.observer !== null) this.dispatchedAt = performance.now();
    this.reusable = dispatch(this, req, res) && res.finished && !req.escaped;
    return true;
  }

  // ───────────────────────────── the handler (see dispatch.ts) ─────────────────────────────

  isCurrent(res: Http1Response): boolean {
    return this.res === res && this.state !== CLOSED;
  }

  closeAfterResponse(): void {
    this.closeAfter = true;
  }

  reportError(error: unknown, req: Http1Request): void {
    this.options.onError(error, req);
  }

  abortExchange(): void {
    this.destroy();
  }

  answerFor(req: Http1Request, res: Http1Response, status: number): void {
    res.init(this, req.method === 'HEAD', req.version === '1.0');
    res.status = status;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(errorBody(status));
    res.detach();
  }

  signalWanted(): void {
    this.reusable = false;
  }

  setHandlerTimeout(ms: number): void {
    if (!this.requestInFlight) return;
    this.handlerTimeout = ms;
    this.handlerActiveAt = this.clock.now; // counted from now, as Bun's server.timeout() does
    this.updateDeadline();
  }

  // ───────────────────────────── body ─────────────────────────────

  private readBody(): void {
    const result = this.body!.read(this.input, this.shared);
    if (result === BODY_END) this.bodyFinished();
    else if (result instanceof HttpError) this.bodyFailed(result);
  }

  private bodyFinished(): void {
    const body = this.body!;
    this.handlerActiveAt = this.clock.now;
    this.continuePending = false;
    const req = body.request!;
    body.request = null;
    if (this.state === RESPONDING_BODY) {
      this.state = RESPONDING;
    } else {
      this.state = IDLE;
      this.setIdleDeadline();
    }
    req.incoming.finish();
  }

  /** The body can't be read to its end (bad chunk, too large, timeout, client gone). */
  private bodyFailed(error: HttpError): void {
    const body = this.body!;
    const req = body.request!;
    body.request = null;
    this.closeAfter = true;
    if (this.state === DISCARDING_BODY) {
      this.closeGracefully();
      req.incoming.fail(error);
      return;
    }
    this.state = RESPONDING_LAST;
    req.incoming.fail(error);
    const res = this.res!;
    // The handler hasn't asked for the body: answer for it now, as it can never be read.
    if (!res.headersSent && !req.incoming.wanted) handlerFailed(this, req, res, error);
  }

  bodyWanted(): void {
    if (this.continuePending) {
      this.continuePending = false;
      this.output.append(CONTINUE);
      this.flushSoon();
    }
  }

  resumeBody(): void {
    if (!this.processing) this.process();
  }

  // ───────────────────────────── output ─────────────────────────────

  flushSoon(): void {
    this.handlerActiveAt = this.clock.now; // a write: the handler is alive
    if (!this.processing) this.flush();
  }

  private flush(): void {
    if (this.state === CLOSED) {
      this.output.discard();
      return;
    }
    this.output.flush();
    // Stop taking new requests only when a real backlog builds up: a batch of pipelined responses
    // routinely exceeds the socket's 16 KiB high-water mark and drains within the same tick.
    if (this.socket.writableLength > MAX_UNSENT_BYTES) this.writeCongestedFlag = true;
  }

  /** Response bytes not yet taken by the kernel: the socket's queue and what is still batched here. */
  private unsentBytes(): number {
    return this.socket.writableLength + this.output.queuedBytes;
  }

  get writeCongested(): boolean {
    return this.writeCongestedFlag || this.socket.writableNeedDrain;
  }

  waitForDrain(): Promise<void> {
    if (this.state === CLOSED || !this.writeCongested) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters ??= [];
      this.drainWaiters.push(resolve);
    });
  }

  drain(): void {
    this.writeCongestedFlag = false;
    this.sentAtCheck = -1;
    const inFlight = this.requestInFlight;
    if (inFlight) this.handlerActiveAt = this.clock.now; // it was waiting for the client, not stuck
    // The keep-alive and linger deadlines count from when the client has taken everything, not from
    // when the last response was queued: a slow download must not be cut at keepAliveTimeout.
    if (!inFlight && this.socket.writableLength === 0) {
      if (this.state >= CLOSING) this.deadline = this.clock.now + LINGER_MS;
      else if (this.state === IDLE) this.setIdleDeadline();
    }
    this.wakeDrainWaiters();
    this.process();
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (waiters === null) return;
    this.drainWaiters = null;
    for (const wake of waiters) wake();
  }

  closesAfterResponse(requested: boolean): boolean {
    // A client that half-closed gets Connection: close on its last response; held pipelined requests
    // it sent before closing are still answered.
    if (requested || !this.keepAlive || this.owner.stopping || (this.peerFinished && !this.input.holding))
      this.closeAfter = true;
    // A body still arriving must be drained before the next request; if the client is waiting for
    // 100 Continue it may never send it.
    if (this.state === RESPONDING_BODY && this.continuePending) this.closeAfter = true;
    return this.closeAfter;
  }

  responseEnded(): void {
    const observer = this.observer;
    if (observer !== null) observer.responded(this.req!, this.res!, this.dispatchedAt);
    const state = this.state;
    if (this.closeAfter || state >= RESPONDING_LAST) {
      this.closeGracefully();
      return;
    }
    if (state === RESPONDING_BODY) {
      this.state = DISCARDING_BODY;
      this.body!.request!.incoming.discard();
    } else {
      this.state = IDLE;
      this.setIdleDeadline();
    }
    if (!this.dispatching) {
      this.reusable = false;
      this.process();
    }
  }

  abortConnection(): void {
    this.destroy();
  }

  upgrade(res: Http1Response, options: unknown): unknown {
    return this.owner.upgrade(this.req!, res, options);
  }

  /** Answers the handshake with `head`, and gives the link up to the protocol that takes it over. */
  switchProtocols(head: string): Takeover {
    this.output.append(head);
    this.flush();
    const leftover = this.input.copyRest();
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.state = CLOSED;
    this.deadline = 0;
    this.input.release();
    return { link: this.link, leftover };
  }

  /** Gives the link to HTTP/2, with every byte received so far (the preface first). */
  private switchToHttp2(startHttp2: (link: Link, received: Buffer) => void): void {
    const received = this.input.copyRest()!;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.state = CLOSED;
    this.deadline = 0;
    this.input.release();
    startHttp2(this.link, received);
  }

  // ───────────────────────────── errors, timeouts, closing ─────────────────────────────

  /** Answers a request that could not be parsed, then closes (RFC 9112 §2.2: framing is lost). */
  private failAndClose(status: number): void {
    this.observer?.refused(status, this.remoteAddress, '1.1', 0);
    this.output.append(errorResponse(status, this.clock.dateLine));
    this.closeGracefully();
  }

  /** Called by the listener's timer when `deadline` has passed. */
  timedOut(): void {
    this.deadline = 0;
    const state = this.state;
    // Earlier responses are still being sent: the deadline that fired waits for the drain, as long
    // as the client keeps reading.
    if ((state < RESPONDING || state === CLOSING) && this.waitingOnClient()) return;
    if (state >= CLOSING) {
      this.destroy();
    } else if (state === RESPONDING_BODY) {
      this.observer?.timedOut(TIMEOUT_REQUEST);
      this.bodyFailed(
        new HttpError(408, 'request body timed out', { code: 'ERR_PEREGRINE_BODY_TIMEOUT', close: true }),
      );
      this.flush();
    } else if (state >= RESPONDING) {
      this.checkHandler();
    } else if (state === DISCARDING_BODY) {
      this.observer?.timedOut(TIMEOUT_REQUEST);
      this.destroy(); // draining a body that stopped coming
    } else if (state === HEAD) {
      this.observer?.timedOut(TIMEOUT_HEADERS);
      this.failAndClose(408);
    } else {
      if (!this.owner.stopping) this.observer?.timedOut(TIMEOUT_KEEPALIVE);
      this.closeGracefully(); // idle keep-alive connection
    }
  }

  /** The handler deadline passed: unless the handler showed life since, or waits on a slow client, it is stuck. */
  private checkHandler(): void {
    const timeout = this.handlerTimeout;
    if (timeout === 0) return;
    if (this.waitingOnClient()) return; // streaming to a slow reader: sendTimeout's business
    const due = this.handlerActiveAt + timeout;
    if (this.clock.now < due) {
      this.deadline = due;
      return;
    }
    this.observer?.timedOut(TIMEOUT_HANDLER);
    const req = this.req!;
    const res = this.res!;
    const started = res.headersSent;
    const error = new HttpError(
      503,
      `${req.method} ${req.path}: the handler did not end its response within ${timeout} ms (handlerTimeout); ${started ? 'closed the connection' : 'answered 503'}`,
      { code: 'ERR_PEREGRINE_HANDLER_TIMEOUT', close: true },
    );
    this.options.onError(error, req);
    req.aborted(error); // the handler's req.signal says why
    if (started) {
      res.detach(); // its late calls on res are ignored
      this.destroy(); // the status line is gone: closing is the only way to say the response failed
    } else {
      this.closeAfter = true;
      this.answerFor(req, res, 503);
    }
  }

  /**
   * Whether output is still waiting for the client; if so, disconnects a client that took none of it
   * in a whole sendTimeout (see sendStalled), or arms the next check.
   */
  private waitingOnClient(): boolean {
    if (this.socket.writableLength === 0) return false;
    if (this.sendStalled()) {
      this.observer?.timedOut(TIMEOUT_SEND);
      this.destroy();
    }
    return true;
  }

  /**
   * Whether the client took none of the pending output since the last check, sendTimeout ago; if it
   * did (or this is the first check), arms the next check.
   */
  private sendStalled(): boolean {
    const pending = this.link.unsent;
    if (this.sentAtCheck !== -1 && pending === this.sentAtCheck) return true;
    this.sentAtCheck = pending;
    const timeout = this.options.sendTimeout;
    this.deadline = timeout === 0 ? 0 : this.clock.now + timeout; // 0: drain() re-arms
    return false;
  }

  idleSince(): number {
    if (this.state !== IDLE || this.input.holding || this.link.unsent !== 0) return -1;
    return this.idleAt;
  }

  /** Graceful shutdown: close now if idle, otherwise after the response in flight. */
  shutdown(): void {
    if (this.state >= CLOSING) return;
    if (this.requestInFlight) this.closeAfter = true;
    else this.closeGracefully();
  }

  private setIdleDeadline(): void {
    this.idleAt = this.clock.now;
    if (this.owner.stopping) {
      this.deadline = this.clock.now;
      return;
    }
    const timeout = this.options.keepAliveTimeout;
    this.deadline = timeout === 0 ? this.clock.now : this.clock.now + timeout;
  }

  private updateDeadline(): void {
    const options = this.options;
    switch (this.state) {
      case RESPONDING_BODY:
      case DISCARDING_BODY:
        this.deadline = options.requestTimeout === 0 ? 0 : this.requestStartedAt + options.requestTimeout;
        break;
      case RESPONDING:
      case RESPONDING_LAST:
        this.deadline = this.handlerTimeout === 0 ? 0 : this.handlerActiveAt + this.handlerTimeout;
        break;
      case HEAD:
        this.deadline = options.headersTimeout === 0 ? 0 : this.headStartedAt + options.headersTimeout;
        break;
    }
  }

  /** Stops reading while a response is pending with too much held, a body consumer lags, or writes back up. */
  private updateReading(): void {
    const state = this.state;
    if (state >= CLOSING) return;
    const shouldPause =
      this.writeCongestedFlag ||
      ((state === RESPONDING_BODY || state === DISCARDING_BODY) && this.body!.request!.incoming.congested) ||
      (state === RESPONDING && this.input.end - this.input.pos > MAX_HELD_BYTES);
    if (shouldPause !== this.paused) {
      this.paused = shouldPause;
      if (shouldPause) this.socket.pause();
      else this.socket.resume();
    }
  }

  /** Sends what is queued, half-closes, and discards input until the client closes or LINGER_MS pass. */
  private closeGracefully(): void {
    if (this.state >= CLOSING) return;
    this.flush();
    this.state = CLOSING;
    this.input.release();
    this.deadline = this.clock.now + LINGER_MS;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.socket.end();
  }

  destroy(): void {
    if (this.state === CLOSED) return;
    this.link.destroy(); // calls socketClosed()
  }

  peerEnded(): void {
    // The client half-closed (or closed: TCP can't tell the two apart until we write). Its handler's
    // signal aborts, but every request it sent completely is still answered.
    this.peerFinished = true;
    if (this.state >= CLOSING) {
      this.destroy();
      return;
    }
    if (this.requestInFlight) this.req!.aborted(new Error('the client closed the connection'));
    if (!this.processing) this.finishAfterPeerEnded();
  }

  /**
   * After the client's FIN nothing more arrives: once the complete requests held in the input are
   * answered, close. A body that is still incomplete can never complete, and a partial head is never
   * answered.
   */
  private finishAfterPeerEnded(): void {
    const state = this.state;
    if (state >= CLOSING) return;
    // Held bytes are still to be processed (a pipelined request, or body a slow consumer hasn't taken).
    if (this.input.holding && state >= DISCARDING_BODY) return;
    if (state === RESPONDING_BODY || state === DISCARDING_BODY) {
      this.bodyFailed(
        new HttpError(400, 'the client closed the connection before the body was complete', {
          code: 'ERR_PEREGRINE_CLIENT_GONE',
          close: true,
        }),
      );
      this.flush();
    } else if (state < DISCARDING_BODY) {
      this.closeGracefully();
    }
  }

  socketClosed(): void {
    if (this.state === CLOSED) return;
    const inFlight = this.requestInFlight;
    this.state = CLOSED;
    this.deadline = 0;
    this.output.discard();
    this.res?.abandon();
    // The Error only when a handler is there to see it: capturing its stack costs more than the rest of a close.
    if (inFlight) this.req!.aborted(new Error('the client closed the connection'));
    const bodyRequest = this.body?.request ?? null;
    if (bodyRequest !== null) {
      this.body!.request = null;
      bodyRequest.incoming.fail(
        new HttpError(400, 'the client closed the connection before the body was complete', {
          code: 'ERR_PEREGRINE_CLIENT_GONE',
          close: true,
        }),
      );
    }
    this.wakeDrainWaiters();
  }
}
