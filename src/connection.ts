import type { Socket } from 'node:net';
import { type Handler, isThenable } from './handler.ts';
import { type BodySource, bodyTooLarge } from './http/body.ts';
import { BODY_DONE, ChunkedDecoder, DATA_READY, NEED_MORE } from './http/chunked.ts';
import { errorResponse } from './http/error-responses.ts';
import { HttpError } from './http/errors.ts';
import {
  CR,
  findHeadEnd,
  headScanState,
  methodString,
  parseHead,
  skipLeadingEmptyLines,
} from './http/parser.ts';
import { Request, type RequestSource } from './http/request.ts';
import { Response, type ResponseSink, type UpgradeOptions } from './http/response.ts';
import { errorBody } from './http/status.ts';
import type { ResolvedOptions } from './options.ts';
import type { Clock } from './transport/clock.ts';
import { Output } from './transport/output.ts';
import { withSharedReads } from './transport/shared-reads.ts';
import { negotiateDeflate, PerMessageDeflate } from './ws/deflate.ts';
import type { InflateLimiter } from './ws/inflate-limiter.ts';
import { WebSocket, type WebSocketOwner } from './ws/socket.ts';
import { checkUpgrade, offeredProtocols, switchingProtocols } from './ws/upgrade.ts';

/** What a connection needs from the worker that owns it. */
export interface ConnectionOwner {
  readonly options: ResolvedOptions;
  readonly handler: Handler;
  readonly clock: Clock;
  readonly stopping: boolean;
  /** The worker's one read buffer, which every connection's socket reads into when it can. */
  readonly readBuffer: Buffer;
  /** Bounds the worker's permessage-deflate decompressions (see InflateLimiter). */
  readonly inflateLimiter: InflateLimiter;
  connectionClosed(connection: Connection): void;
  connectionUpgraded(connection: Connection, ws: WebSocket): void;
}

// What the connection is reading.
const READ_HEAD = 0;
const READ_BODY = 1;
/** Nothing more will be read: the connection is closing. */
const READ_NONE = 2;

const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;

/** Pipelined bytes held while a response is pending; beyond this the socket stops reading. */
const MAX_HELD_BYTES = 64 * 1024;
/** Response bytes waiting for a slow reader beyond which the connection stops reading new requests. */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** How long a closing connection keeps reading (and discarding) so the client sees the response, not a reset. */
const LINGER_MS = 2_000;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Bytes the socket has not yet handed to the kernel. Nothing is written while a connection waits for
 * a slow reader, so a change means the client took some. `writableLength` alone moves only when a
 * whole write completes (one 32 MiB body is one write); libuv's own queue size, which the handle
 * exposes, moves with every partial write.
 */
function unsentOnSocket(socket: Socket): number {
  const queued = (socket as Socket & { _handle?: { writeQueueSize?: number } })._handle?.writeQueueSize;
  return socket.writableLength + (typeof queued === 'number' ? queued : 0);
}

/** Where a socket keeps its connection, for the shared listeners. */
const CONNECTION = Symbol('peregrine.connection');
type OwnedSocket = Socket & { [CONNECTION]?: Connection };

/**
 * One socket's state machine: read → parse → dispatch → write, one request at a time.
 * Requests that arrive pipelined wait in the read buffer until the response before them has ended;
 * all responses produced while handling one read are written together.
 */
export class Connection implements BodySource, RequestSource, ResponseSink {
  readonly socket: Socket;
  readonly clock: Clock;
  /** Response bytes waiting to be written; one socket write per batch. */
  readonly output: Output;
  /** When the current timeout expires (clock ms), or 0. Checked by the worker's single timer. */
  deadline = 0;
  private readonly owner: ConnectionOwner;
  private readonly options: ResolvedOptions;

  /**
   * The worker's read buffer when this socket reads into it (null: a new Buffer per read). Its
   * bytes last only until the next read, so what must outlive one is copied out (`keepInput`).
   */
  private readonly shared: Buffer | null;
  /** The WebSocket this connection became, which its reads now go to (shared reads only). */
  private upgradedTo: WebSocket | null = null;

  // Input: unconsumed bytes are buf[pos..end). Bytes handed to a request are never written again
  // (the shared read buffer excepted: see keepInput).
  private buf: Buffer | null = null;
  private pos = 0;
  private end = 0;
  /** Bytes of buf that belong to our own accumulation buffer, which we may append into. */
  private ownsBuffer = false;
  /** Where findHeadEnd resumes, so a head arriving in pieces is scanned once. */
  private scanFrom = 0;
  /** findHeadEnd's grammar state at scanFrom, for an unfinished head. */
  private headState = 0;
  private headStartedAt = 0;
  private headStarted = false;

  private reading = READ_HEAD;
  private bodyKind = BODY_NONE;
  private bodyRemaining = 0;
  private bodyRequest: Request | null = null;
  /** Made when the first chunked body arrives: most connections never see one. */
  private chunked: ChunkedDecoder | null = null;
  private continuePending = false;

  private req: Request | null = null;
  private res: Response | null = null;
  /** Whether req/res may be reused: the last handler finished synchronously and kept nothing. */
  private reusable = false;
  private inFlight = false;
  private dispatching = false;
  private requestStartedAt = 0;
  /** When the handler in flight last showed life (dispatch, the body's end, a write, a drain): handlerTimeout counts from it. */
  private handlerActiveAt = 0;
  /** handlerTimeout for the request in flight: the server's, unless the handler set its own. */
  private handlerTimeout = 0;
  private requests = 0;
  private keepAlive = true;
  private closeAfter = false;
  private peerEnded = false;

  private processing = false;
  private paused = false;
  private writeCongestedFlag = false;
  /** unsentOnSocket() at the last sendTimeout check, or -1 when none is running. */
  private sentAtCheck = -1;
  /** Made when a handler first waits for a drain: an idle connection holds no array. */
  private drainWaiters: (() => void)[] | null = null;
  private closing = false;
  private closed = false;

  /** `accepted` comes from a listener made with `pauseOnConnect`: it is not reading yet. */
  constructor(accepted: Socket, owner: ConnectionOwner) {
    const shared = withSharedReads(accepted, owner.readBuffer, (nread, buf) => this.onRead(nread, buf));
    const socket = shared ?? accepted;
    this.socket = socket;
    this.shared = shared === null ? null : owner.readBuffer;
    this.owner = owner;
    this.options = owner.options;
    this.clock = owner.clock;
    this.output = new Output(socket);
    (socket as OwnedSocket)[CONNECTION] = this;
    socket.on('end', Connection.socketEnded);
    socket.on('close', Connection.socketClosed);
    socket.on('error', Connection.socketFailed);
    socket.on('drain', Connection.socketDrained);
    if (this.shared === null) {
      socket.on('data', Connection.socketData);
      socket.resume();
    }
    this.setIdleDeadline();
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** Whether the connection is between requests, with nothing received of the next one. */
  get idle(): boolean {
    return !this.inFlight && !this.headStarted && this.reading === READ_HEAD;
  }

  // The socket's listeners: one set of functions for every socket (each finds its connection on the
  // socket), rather than five bound functions per connection.
  private static readonly socketData = function (this: Socket, chunk: Buffer): void {
    (this as OwnedSocket)[CONNECTION]!.onData(chunk);
  };
  private static readonly socketEnded = function (this: Socket): void {
    (this as OwnedSocket)[CONNECTION]!.onEnd();
  };
  private static readonly socketClosed = function (this: Socket): void {
    (this as OwnedSocket)[CONNECTION]!.onClose();
  };
  private static readonly socketFailed = function (this: Socket): void {
    (this as OwnedSocket)[CONNECTION]!.onError();
  };
  private static readonly socketDrained = function (this: Socket): void {
    (this as OwnedSocket)[CONNECTION]!.onDrain();
  };

  // ───────────────────────────── input ─────────────────────────────

  private onData(chunk: Buffer): void {
    if (this.reading === READ_NONE) return; // closing: discard
    this.append(chunk, chunk.length);
    this.process();
  }

  /** A read into the shared buffer: `buf[0..nread)` is ours until this returns. */
  private onRead(nread: number, buf: Buffer): void {
    const ws = this.upgradedTo;
    if (ws !== null) {
      ws.receive(Buffer.from(buf.subarray(0, nread))); // the receiver may hold on to it
      return;
    }
    if (this.reading === READ_NONE || nread <= 0) return; // closing: discard
    this.append(buf, nread);
    this.process();
    this.keepInput(buf);
  }

  /**
   * The shared read buffer is about to be overwritten by the next read. Copies out what must
   * outlive it: the head of a request whose handler is still running (a Request stays readable
   * until its response ends) and the bytes not consumed yet (a partial head, pipelined requests).
   * Body chunks were copied as they were handed over.
   */
  private keepInput(shared: Buffer): void {
    const req = this.req;
    const head = this.inFlight && req !== null && req.head.buf === shared ? req.head : null;
    const held = this.buf === shared && this.pos < this.end;
    if (held) {
      const from = head === null ? this.pos : head.start;
      const length = this.end - from;
      const copy = Buffer.allocUnsafe(Math.max(length * 2, 4096)); // room for the rest of a head
      shared.copy(copy, 0, from, this.end);
      head?.rebase(copy, -from);
      this.buf = copy;
      this.pos -= from;
      this.end -= from;
      this.scanFrom -= from;
      this.ownsBuffer = true;
      return;
    }
    if (this.buf === shared) this.releaseInput();
    if (head !== null) {
      const copy = Buffer.allocUnsafe(head.end - head.start);
      shared.copy(copy, 0, head.start, head.end);
      head.rebase(copy, -head.start);
    }
  }

  /** Takes in `chunk[0..length)`; the bytes are used in place when nothing is held. */
  private append(chunk: Buffer, length: number): void {
    const held = this.end - this.pos;
    if (held === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.end = length;
      this.ownsBuffer = false;
      this.scanFrom = 0;
      return;
    }
    // Bytes are held (a partial head, or pipelined requests): append into an accumulation buffer.
    // Only space past `end` is ever written, so views already handed out stay intact.
    const buf = this.buf!;
    const needed = held + length;
    if (this.ownsBuffer && this.end + length <= buf.length) {
      chunk.copy(buf, this.end, 0, length);
      this.end += length;
      return;
    }
    const grown = Buffer.allocUnsafe(Math.max(needed * 2, 4096));
    buf.copy(grown, 0, this.pos, this.end);
    chunk.copy(grown, held, 0, length);
    this.scanFrom -= this.pos;
    this.buf = grown;
    this.pos = 0;
    this.end = needed;
    this.ownsBuffer = true;
  }

  /** Runs requests and body bytes out of the read buffer until it needs more input or must wait. */
  private process(): void {
    if (this.processing || this.closed) return;
    this.processing = true;
    while (!this.closing) {
      if (this.reading === READ_BODY) {
        if (this.pos >= this.end || this.bodyRequest!.incoming.congested) break;
        this.consumeBody();
        continue;
      }
      if (this.inFlight || this.reading !== READ_HEAD || this.pos >= this.end) break;
      // Checked before each pipelined request, not once per read: a 64 KiB read holds ~1,400 GETs,
      // and a client that never reads must not make us build every one of their responses.
      if (this.unsentBytes() > MAX_UNSENT_BYTES) {
        this.writeCongestedFlag = true;
        break;
      }
      if (!this.startRequest()) break;
    }
    this.processing = false;
    if (this.peerEnded) this.finishAfterPeerEnded();
    if (this.pos >= this.end && this.buf !== null) this.releaseInput();
    // Idle, and the last request kept nothing: its head and body state and its response's header
    // arrays wait with the thread's spares, and the two small objects themselves are let go, so an
    // idle connection holds neither. Requests that follow each other within one read still reuse them.
    // Not while a body the handler left unread is still being discarded: it arrives through the request.
    if (!this.inFlight && this.buf === null && this.reusable && this.reading === READ_HEAD) {
      this.req?.park();
      this.res?.park();
      this.req = this.res = null;
    }
    this.flush();
    this.updateReading();
    this.updateDeadline();
  }

  private releaseInput(): void {
    this.buf = null;
    this.pos = this.end = this.scanFrom = 0;
    this.ownsBuffer = false;
  }

  /** Parses the next head and dispatches its request. Returns false when it must wait or stop. */
  private startRequest(): boolean {
    const buf = this.buf!;
    const options = this.options;
    if (!this.headStarted) {
      this.pos = skipLeadingEmptyLines(buf, this.pos, this.end);
      if (this.pos >= this.end) return false;
      // A lone CR at the end may be half of an empty line whose LF is still on its way.
      if (this.pos === this.end - 1 && buf[this.pos] === CR) return false;
      this.headStarted = true;
      this.headStartedAt = this.clock.now;
      this.scanFrom = this.pos;
    }
    const headEnd = findHeadEnd(buf, this.pos, this.scanFrom, this.end, options, this.headState);
    if (headEnd === -1) {
      this.scanFrom = this.end;
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
      req = this.req = new Request();
      res = this.res = new Response();
    }
    const status = parseHead(buf, this.pos, headEnd, req.head, options);
    if (status < 0) {
      this.failAndClose(-status);
      return false;
    }
    const head = req.head;
    this.pos = headEnd;
    this.scanFrom = headEnd;
    this.headStarted = false;
    this.requests++;
    this.requestStartedAt = this.headStartedAt;
    req.init(this, methodString(buf, head.start, head.methodEnd));

    // Keep-alive (RFC 9112 §9.3): HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive".
    this.keepAlive =
      head.minorVersion === 1 ? !head.connectionClose : head.connectionKeepAlive && !head.connectionClose;
    const maxRequests = options.maxRequestsPerConnection;
    if (maxRequests !== 0 && this.requests >= maxRequests) this.keepAlive = false;
    if (options.keepAliveTimeout === 0) this.keepAlive = false;

    if (head.chunked) {
      this.bodyKind = BODY_CHUNKED;
      this.chunked ??= new ChunkedDecoder();
      this.chunked.reset(options.maxHeaderBytes, options.maxBodyBytes);
    } else if (head.contentLength > 0) {
      if (head.contentLength > options.maxBodyBytes) {
        this.failAndClose(413);
        return false;
      }
      this.bodyKind = BODY_LENGTH;
      this.bodyRemaining = head.contentLength;
    } else {
      this.bodyKind = BODY_NONE;
    }
    const hasBody = this.bodyKind !== BODY_NONE;
    req.incoming.reset(this, hasBody);
    this.bodyRequest = hasBody ? req : null;
    this.reading = hasBody ? READ_BODY : READ_HEAD;
    this.continuePending = hasBody && head.expectContinue && head.minorVersion === 1;
    this.closeAfter = false;

    res.init(this, req.method === 'HEAD', head.minorVersion === 0);
    this.inFlight = true;
    this.handlerActiveAt = this.clock.now;
    this.handlerTimeout = this.options.handlerTimeout;
    this.dispatch(req, res);
    return true;
  }

  private dispatch(req: Request, res: Response): void {
    this.dispatching = true;
    let result: unknown;
    try {
      result = this.owner.handler.handleRequest(req, res);
    } catch (error) {
      this.dispatching = false;
      this.reusable = false;
      this.handlerFailed(req, res, error);
      return;
    }
    this.dispatching = false;
    if (isThenable(result)) {
      this.reusable = false;
      result.then(
        () => this.handlerSettled(req, res),
        (error: unknown) => this.handlerFailed(req, res, error),
      );
    } else {
      this.reusable = res.finished && !req.escaped;
    }
  }

  /** An async handler resolved. If it never started the response, end it for the handler. */
  private handlerSettled(_req: Request, res: Response): void {
    if (!res.headersSent && this.res === res && !this.closed) {
      try {
        res.end();
      } catch (error) {
        this.handlerFailed(_req, res, error);
      }
    }
  }

  /** A handler threw or rejected: answer with 500 (or the HttpError's status) if the head hasn't gone out. */
  private handlerFailed(req: Request, res: Response, error: unknown): void {
    const isHttpError = error instanceof HttpError;
    const gone = this.res !== res || this.closed; // the connection closed, or this request is long finished
    // A handler's own failure is reported even when nobody is left to answer, except the abort that
    // the client's disconnect caused through req.signal.
    if ((!isHttpError || error.status >= 500) && !req.abortedWith(error)) this.options.onError(error, req);
    if (gone || res.finished) return;
    if (res.headersSent || req.abortedWith(error)) {
      // The status line is gone, or the handler gave up because the client left (its signal's
      // reason): the only way to signal failure is to cut the connection.
      this.abortConnection();
      return;
    }
    const status = isHttpError && error.status >= 400 && error.status <= 599 ? error.status : 500;
    if (isHttpError && error.closeConnection) this.closeAfter = true;
    this.answerFor(req, res, status);
  }

  /** Answers `status` in the handler's place; what the handler still calls on `res` is ignored. */
  private answerFor(req: Request, res: Response, status: number): void {
    res.init(this, req.method === 'HEAD', req.version === '1.0');
    res.status = status;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(errorBody(status));
    res.detach();
  }

  // ───────────────────────────── body ─────────────────────────────

  private consumeBody(): void {
    const req = this.bodyRequest!;
    const buf = this.buf!;
    if (this.bodyKind === BODY_LENGTH) {
      const available = this.end - this.pos;
      const take = Math.min(available, this.bodyRemaining);
      const start = this.pos;
      this.pos += take;
      this.bodyRemaining -= take;
      this.pushBody(req, buf, start, start + take);
      if (this.bodyRemaining === 0) this.bodyFinished();
      return;
    }
    const decoder = this.chunked!;
    const result = decoder.next(buf, this.pos, this.end);
    this.pos = decoder.offset;
    if (result === DATA_READY) {
      const incoming = req.incoming;
      if (incoming.received + (decoder.dataEnd - decoder.dataStart) > this.options.maxBodyBytes) {
        this.bodyFailed(bodyTooLarge(this.options.maxBodyBytes));
        return;
      }
      this.pushBody(req, buf, decoder.dataStart, decoder.dataEnd);
    } else if (result === BODY_DONE) {
      this.bodyFinished();
    } else if (result !== NEED_MORE) {
      this.bodyFailed(
        result === -413
          ? bodyTooLarge(this.options.maxBodyBytes)
          : new HttpError(-result, decoder.error, { code: 'ERR_PEREGRINE_BAD_CHUNK', close: true }),
      );
    }
  }

  /** Hands body bytes to the request: a view, or a copy when they are in the shared read buffer. */
  private pushBody(req: Request, buf: Buffer, start: number, end: number): void {
    const incoming = req.incoming;
    if (buf !== this.shared || incoming.discarding) incoming.push(buf.subarray(start, end));
    else incoming.push(Buffer.copyBytesFrom(buf, start, end - start));
  }

  private bodyFinished(): void {
    this.reading = READ_HEAD;
    this.handlerActiveAt = this.clock.now;
    this.continuePending = false;
    this.bodyRequest!.incoming.finish();
    this.bodyRequest = null;
    if (!this.inFlight) this.setIdleDeadline();
  }

  /** The body can't be read to its end (bad chunk, too large, timeout, client gone). */
  private bodyFailed(error: HttpError): void {
    this.reading = READ_NONE;
    this.closeAfter = true;
    const req = this.bodyRequest;
    this.bodyRequest = null;
    if (this.inFlight && req !== null && this.res !== null && !this.res.headersSent && !req.incoming.wanted) {
      // The handler hasn't asked for the body: answer for it now, as it can never be read.
      req.incoming.fail(error);
      this.handlerFailed(req, this.res, error);
      return;
    }
    req?.incoming.fail(error);
    if (!this.inFlight) this.closeGracefully();
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

  signalWanted(): void {
    this.reusable = false;
  }

  /** Whether a request's response is still to end. */
  get requestInFlight(): boolean {
    return this.inFlight;
  }

  setHandlerTimeout(ms: number): void {
    if (!this.inFlight || this.closing) return;
    this.handlerTimeout = ms;
    this.handlerActiveAt = this.clock.now; // counted from now, as Bun's server.timeout() does
    this.updateDeadline();
  }

  // ───────────────────────────── output ─────────────────────────────

  flushSoon(): void {
    this.handlerActiveAt = this.clock.now; // a write: the handler is alive
    if (!this.processing) this.flush();
  }

  private flush(): void {
    if (this.closed) {
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
    if (this.closed || !this.writeCongested) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters ??= [];
      this.drainWaiters.push(resolve);
    });
  }

  private onDrain(): void {
    this.writeCongestedFlag = false;
    this.sentAtCheck = -1;
    if (this.inFlight) this.handlerActiveAt = this.clock.now; // it was waiting for the client, not stuck
    // The keep-alive and linger deadlines count from when the client has taken everything, not from
    // when the last response was queued: a slow download must not be cut at keepAliveTimeout.
    if (!this.inFlight && this.socket.writableLength === 0) {
      if (this.closing) this.deadline = this.clock.now + LINGER_MS;
      else if (this.reading === READ_HEAD && !this.headStarted) this.setIdleDeadline();
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
    if (requested || !this.keepAlive || this.owner.stopping || (this.peerEnded && this.pos >= this.end))
      this.closeAfter = true;
    // A body still arriving must be drained before the next request; if the client is waiting for
    // 100 Continue it may never send it, and a body larger than we buffer is not worth draining.
    if (
      this.reading === READ_BODY &&
      (this.continuePending ||
        (this.bodyKind === BODY_LENGTH && this.bodyRemaining > this.options.maxBodyBytes))
    ) {
      this.closeAfter = true;
    }
    return this.closeAfter;
  }

  responseEnded(): void {
    this.inFlight = false;
    if (this.closeAfter || this.closed) {
      this.closeGracefully();
      return;
    }
    if (this.reading === READ_BODY) this.bodyRequest!.incoming.discard();
    else this.setIdleDeadline();
    if (!this.dispatching) {
      this.reusable = false;
      this.process();
    }
  }

  abortConnection(): void {
    this.destroy();
  }

  /**
   * Turns this connection into a WebSocket (RFC 6455 §4.2): answers 400/426 itself when the request is
   * not a valid handshake, else sends 101 and hands the socket, and any bytes already read after the
   * handshake, to a new WebSocket.
   */
  upgrade(res: Response, options: UpgradeOptions): WebSocket | null {
    const req = this.req!;
    const refusal = checkUpgrade(req);
    if (refusal !== null) {
      res.status = refusal.status;
      for (const [name, value] of refusal.headers ?? []) res.setHeader(name, value);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`${refusal.reason}\n`);
      return null;
    }
    const protocol = options.protocol ?? '';
    if (protocol !== '' && !offeredProtocols(req).includes(protocol)) {
      throw new Error(`the client did not offer the subprotocol ${JSON.stringify(protocol)}`);
    }
    let deflate: PerMessageDeflate | null = null;
    let extensions = '';
    const wanted = this.options.wsPerMessageDeflate;
    if (wanted !== false) {
      const deflateOptions = {
        ...(wanted === true ? {} : wanted),
        maxInflatedBytes: this.options.wsMaxMessageBytes,
      };
      const agreed = negotiateDeflate(req.header('sec-websocket-extensions'), deflateOptions);
      if (agreed !== null) {
        deflate = new PerMessageDeflate(agreed.params, deflateOptions, this.owner.inflateLimiter);
        extensions = agreed.response;
      }
    }
    this.output.append(
      switchingProtocols(req.header('sec-websocket-key')!, protocol, extensions, res.upgradeHeaderLines()),
    );
    res.markUpgraded();
    this.flush();
    const leftover =
      this.buf !== null && this.pos < this.end
        ? Buffer.copyBytesFrom(this.buf, this.pos, this.end - this.pos)
        : null;
    this.handOver();
    const ws = new WebSocket(this.socket, this.owner as unknown as WebSocketOwner, {
      protocol,
      extensions,
      data: options.data,
      deflate,
    });
    if (this.shared !== null) this.upgradedTo = ws; // its reads still arrive here
    this.owner.connectionUpgraded(this, ws);
    // The open hook runs once handleRequest has returned; frames that came with the handshake follow it.
    queueMicrotask(() => {
      ws.opened();
      if (leftover !== null) ws.receive(leftover);
    });
    return ws;
  }

  /** Stops listening to the socket: a WebSocket owns it now. */
  private handOver(): void {
    const socket = this.socket;
    socket.off('data', Connection.socketData);
    socket.off('end', Connection.socketEnded);
    socket.off('close', Connection.socketClosed);
    socket.off('error', Connection.socketFailed);
    socket.off('drain', Connection.socketDrained);
    if (this.paused) {
      this.paused = false;
      socket.resume();
    }
    this.closed = true;
    this.closing = true;
    this.inFlight = false;
    this.deadline = 0;
    this.releaseInput();
  }

  // ───────────────────────────── errors, timeouts, closing ─────────────────────────────

  /** Answers a request that could not be parsed, then closes (RFC 9112 §2.2: framing is lost). */
  private failAndClose(status: number): void {
    this.reading = READ_NONE;
    this.headStarted = false;
    this.output.append(errorResponse(status, this.clock.dateLine));
    this.closeGracefully();
  }

  /** Called by the worker's timer when `deadline` has passed. */
  timedOut(): void {
    this.deadline = 0;
    // Earlier responses are still being sent: the deadline that fired waits for the drain, as long
    // as the client keeps reading.
    if (!this.inFlight && !this.closed && this.waitingOnClient()) return;
    if (this.closing) {
      this.destroy();
    } else if (this.inFlight) {
      if (this.reading === READ_BODY) {
        this.bodyFailed(new HttpError(408, 'request body timed out', { close: true }));
        this.flush();
      } else {
        this.checkHandler();
      }
    } else if (this.reading === READ_BODY) {
      this.destroy(); // draining a body that stopped coming
    } else if (this.headStarted) {
      this.failAndClose(408);
    } else {
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
    if (this.sendStalled()) this.destroy();
    return true;
  }

  /**
   * Whether the client took none of the pending output since the last check, sendTimeout ago; if it
   * did (or this is the first check), arms the next check.
   */
  private sendStalled(): boolean {
    const pending = unsentOnSocket(this.socket);
    if (this.sentAtCheck !== -1 && pending === this.sentAtCheck) return true;
    this.sentAtCheck = pending;
    const timeout = this.options.sendTimeout;
    this.deadline = timeout === 0 ? 0 : this.clock.now + timeout; // 0: onDrain re-arms
    return false;
  }

  /** Graceful shutdown: close now if idle, otherwise after the response in flight. */
  shutdown(): void {
    if (this.closing) return;
    if (this.inFlight) this.closeAfter = true;
    else this.closeGracefully();
  }

  private setIdleDeadline(): void {
    if (this.owner.stopping) {
      this.deadline = this.clock.now;
      return;
    }
    const timeout = this.options.keepAliveTimeout;
    this.deadline = timeout === 0 ? this.clock.now : this.clock.now + timeout;
  }

  private updateDeadline(): void {
    if (this.closing) return;
    const options = this.options;
    if (this.reading === READ_BODY) {
      this.deadline = options.requestTimeout === 0 ? 0 : this.requestStartedAt + options.requestTimeout;
    } else if (this.inFlight) {
      this.deadline = this.handlerTimeout === 0 ? 0 : this.handlerActiveAt + this.handlerTimeout;
    } else if (this.headStarted) {
      this.deadline = options.headersTimeout === 0 ? 0 : this.headStartedAt + options.headersTimeout;
    }
  }

  /** Stops reading while a response is pending with too much held, a body consumer lags, or writes back up. */
  private updateReading(): void {
    if (this.closing) return;
    const held = this.end - this.pos;
    const shouldPause =
      this.writeCongestedFlag ||
      (this.reading === READ_BODY && this.bodyRequest!.incoming.congested) ||
      (this.reading === READ_HEAD && this.inFlight && held > MAX_HELD_BYTES);
    if (shouldPause !== this.paused) {
      this.paused = shouldPause;
      if (shouldPause) this.socket.pause();
      else this.socket.resume();
    }
  }

  /** Sends what is queued, half-closes, and discards input until the client closes or LINGER_MS pass. */
  private closeGracefully(): void {
    if (this.closing || this.closed) return;
    this.flush();
    this.closing = true;
    this.reading = READ_NONE;
    this.releaseInput();
    this.deadline = this.clock.now + LINGER_MS;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.onClose();
  }

  private onEnd(): void {
    // The client half-closed (or closed: TCP can't tell the two apart until we write). Its handler's
    // signal aborts, but every request it sent completely is still answered.
    this.peerEnded = true;
    if (this.closing) {
      this.destroy();
      return;
    }
    if (this.inFlight && this.req !== null) this.req.aborted(new Error('the client closed the connection'));
    if (!this.processing) this.finishAfterPeerEnded();
  }

  /**
   * After the client's FIN nothing more arrives: once the complete requests held in the buffer are
   * answered, close. A body that is still incomplete can never complete, and a partial head is never
   * answered.
   */
  private finishAfterPeerEnded(): void {
    if (this.closing) return;
    // Held bytes are still to be processed (a pipelined request, or body a slow consumer hasn't taken).
    if (this.pos < this.end && (this.inFlight || this.reading === READ_BODY)) return;
    if (this.reading === READ_BODY) {
      this.bodyFailed(
        new HttpError(400, 'the client closed the connection before the body was complete', { close: true }),
      );
      this.flush();
    } else if (!this.inFlight) {
      this.closeGracefully();
    }
  }

  private onError(): void {
    // ECONNRESET and friends: the 'close' event follows and cleans up.
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.deadline = 0;
    this.output.discard();
    // The Error only when a handler is there to see it: capturing its stack costs more than the rest of a close.
    if (this.inFlight && this.req !== null) this.req.aborted(new Error('the client closed the connection'));
    if (this.bodyRequest !== null)
      this.bodyRequest.incoming.fail(
        new HttpError(400, 'the client closed the connection before the body was complete', { close: true }),
      );
    this.wakeDrainWaiters();
    this.owner.connectionClosed(this);
  }
}
