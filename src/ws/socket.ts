import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { UsageError } from '../errors.ts';
import { TIMEOUT_WS_IDLE } from '../http/observer.ts';
import type { Clock } from '../transport/clock.ts';
import type { Link } from '../transport/link.ts';
import {
  WS_CLOSED,
  WS_MESSAGES_IN,
  WS_MESSAGES_OUT,
  WS_OPENED,
  WS_SENDS_DROPPED,
  type WsCounters,
} from './counters.ts';
import type { PerMessageDeflate } from './deflate.ts';
import { CLOSE, isValidCloseCode, WsError } from './errors.ts';
import { type Entry, Outbox } from './outbox.ts';
import { PendingFrame, type Publication } from './publication.ts';
import { Receiver } from './receiver.ts';
import { closePayload, frameHeader, MAX_CONTROL_PAYLOAD, OPCODE, wholeFrame } from './sender.ts';
import { publish, subscribe, unsubscribe } from './topics.ts';

/** @internal What a WebSocket needs from the worker and handler it belongs to. */
export interface WebSocketOwner {
  readonly clock: Clock;
  /** The worker's metrics, or null when off. */
  readonly metrics: WsCounters | null;
  readonly stopping: boolean;
  readonly wsOptions: WebSocketOptions;
  readonly wsHooks: WebSocketHooks;
  /** A WebSocket hook threw. */
  hookFailed(error: unknown): void;
}

/** @internal */
export interface WebSocketOptions {
  maxMessageBytes: number;
  idleTimeout: number;
  closeTimeout: number;
  maxBufferedBytes: number;
  /**
   * Past `maxBufferedBytes`: true closes the socket as too slow (1008); false only drops the
   * message (Bun.serve's `closeOnBackpressureLimit: false`).
   */
  closeOnBackpressureLimit: boolean;
}

/**
 * The handler's WebSocket hooks, all optional. `T` is the type of `ws.data`: what `res.upgrade({ data })`
 * gave the socket.
 */
export interface WebSocketHooks<T = unknown> {
  handleWSOpen?(ws: WebSocket<T>): void;
  handleWSMessage?(ws: WebSocket<T>, message: string | Buffer, isBinary: boolean): void;
  handleWSFrame?(ws: WebSocket<T>, fin: boolean, opcode: number, payload: Buffer): void;
  handleWSDrain?(ws: WebSocket<T>): void;
  /** A ping arrived (it is answered with a pong whether or not this hook is there). */
  handleWSPing?(ws: WebSocket<T>, payload: Buffer): void;
  /** A pong arrived: an answer to a ping, or a heartbeat the peer sends unasked. */
  handleWSPong?(ws: WebSocket<T>, payload: Buffer): void;
  handleWSClose?(ws: WebSocket<T>, code: number, reason: string): void;
}

/**
 * What `send()` did with a message:
 * - `'sent'`: written, or buffered below the high-water mark;
 * - `'buffered'`: buffered above the high-water mark — wait for `handleWSDrain` before sending more;
 * - `'dropped'`: not sent: the socket is closing or closed, or the message would have taken the
 *   buffered amount past `wsMaxBufferedBytes`, in which case the socket is closed (1008) as a consumer
 *   too slow to keep.
 */
export type SendResult = 'sent' | 'buffered' | 'dropped';

/** Buffered bytes above which `send()` reports 'buffered'. */
const HIGH_WATER = 64 * 1024;
/** Payloads up to this size are copied behind their header: one buffer per frame. */
const SMALL_FRAME = 1024;

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

// A topics.ts Subscriber by shape, not by an `implements` clause: `deliver` is internal (stripped from
// the published declarations), so the published class must not claim it.
/** One WebSocket connection, on the worker that accepted it. */
export class WebSocket<T = unknown> {
  /** Your per-connection data (from `res.upgrade({ data })`). */
  data: T;
  /** The subprotocol agreed in the handshake, or ''. */
  readonly protocol: string;
  /** The extensions agreed in the handshake (e.g. permessage-deflate), or ''. */
  readonly extensions: string;
  readonly remoteAddress: string | undefined;
  /** @internal When the current timeout expires (clock ms), or 0; checked by the worker's timer. */
  deadline = 0;
  private readonly link: Link;
  private readonly socket: Socket;
  private readonly owner: WebSocketOwner;
  private readonly options: WebSocketOptions;
  private readonly hooks: WebSocketHooks;
  /** The worker's counters, or null when metrics are off. */
  private readonly metrics: WsCounters | null;
  /** The frame parser, made when the first bytes arrive: an idle socket has none. */
  private receiver: Receiver | null = null;
  private readonly deflate: PerMessageDeflate | null;
  private state = OPEN;
  private closeSent = false;
  private closeReported = false;
  private receivedClose: { code: number; reason: string } | null = null;
  private lastHeard = 0;
  private pinged = false;
  private needsDrain = false;
  /** The topics subscribed to: one as a string (the usual case costs no Set), more as a Set. */
  private topics: string | Set<string> | null = null;
  /**
   * Messages being inflated, delivered strictly in arrival order, or null when none is. While any
   * wait, the socket is not read: a client cannot queue compressed messages faster than the worker
   * inflates them.
   */
  private inbound: InboundMessage[] | null = null;
  /**
   * Frames waiting their turn: behind one still being compressed, or while the socket is past its
   * high-water mark. Null while the socket keeps up.
   */
  private outbox: Outbox | null = null;
  /** Frames written in one tick go out together (one writev), not one system call per message. */
  private corked = false;
  /** The pong waiting in the outbox, if any: later pings update it rather than queue their own. */
  private waitingPong: PendingFrame | null = null;
  private readingPaused = false;

  /**
   * @internal A WebSocket is made by `res.upgrade()`; it becomes the link's session (see
   * acceptWebSocket), which hands it the socket's events.
   */
  constructor(
    link: Link,
    owner: WebSocketOwner,
    init: { protocol: string; extensions: string; data: T; deflate: PerMessageDeflate | null },
  ) {
    this.link = link;
    const socket = link.socket;
    this.socket = socket;
    this.owner = owner;
    this.options = owner.wsOptions;
    this.hooks = owner.wsHooks;
    this.metrics = owner.metrics;
    this.data = init.data;
    this.protocol = init.protocol;
    this.extensions = init.extensions;
    this.deflate = init.deflate;
    this.remoteAddress = link.remoteAddress;
    this.heard();
  }

  /** The receiver and its event handlers, made on first use: idle sockets are many, and hold none. */
  private makeReceiver(): Receiver {
    const receiver = new Receiver(
      {
        onMessage: (data, isBinary, compressed) => this.onMessage(data, isBinary, compressed),
        onPing: (data) => this.onPing(data),
        onPong: (data) => this.onPong(data),
        onClose: (code, reason) => this.onCloseFrame(code, reason),
        onFrame:
          this.hooks.handleWSFrame === undefined
            ? undefined
            : (fin, opcode, payload) => this.hooks.handleWSFrame?.(this, fin, opcode, payload),
        onError: (error) => this.fail(error.closeCode, error.message),
      },
      { maxMessageBytes: this.options.maxMessageBytes, perMessageDeflate: this.deflate !== null },
    );
    this.receiver = receiver;
    return receiver;
  }

  /** @internal Bytes from the socket (or left over from the handshake's read): `bytes[0..length)`. */
  receive(bytes: Buffer, length: number): void {
    if (this.state === CLOSED || length === 0) return;
    // The receiver may hold on to a partial frame: bytes in the shared read buffer are copied.
    const chunk =
      bytes === this.link.sharedBuffer
        ? Buffer.copyBytesFrom(bytes, 0, length)
        : length === bytes.length
          ? bytes
          : bytes.subarray(0, length);
    this.heard();
    try {
      (this.receiver ?? this.makeReceiver()).write(chunk);
    } catch (error) {
      this.hookFailed(error); // a hook threw while the receiver delivered a message
    }
  }

  /** @internal Called by the handler machinery once the handshake is complete. */
  opened(): void {
    if (this.metrics !== null) this.metrics.counts[WS_OPENED]!++;
    try {
      this.hooks.handleWSOpen?.(this);
    } catch (error) {
      this.hookFailed(error);
    }
  }

  /**
   * @internal A hook threw (or its promise rejected): report it and close with 1011, as an HTTP
   * handler's error gets a 500.
   */
  hookFailed(error: unknown): void {
    this.owner.hookFailed(error);
    this.fail(CLOSE.internalError, 'internal error');
  }

  /** Bytes waiting to be sent: queued in the socket, not yet handed to the kernel, and behind it. */
  get bufferedAmount(): number {
    const outbox = this.outbox;
    return this.socket.writableLength + (outbox === null ? 0 : outbox.bytes);
  }

  /** As the browser's WebSocket numbers it: 1 open, 2 closing (a Close sent or received), 3 closed. */
  get readyState(): 1 | 2 | 3 {
    return this.state === OPEN ? 1 : this.state === CLOSING ? 2 : 3;
  }

  /** The topics this socket subscribes to. */
  get subscriptions(): string[] {
    const topics = this.topics;
    return topics === null ? [] : typeof topics === 'string' ? [topics] : [...topics];
  }

  /** Whether `close()` or `terminate()` has been called, or the peer has gone. */
  get closed(): boolean {
    return this.state !== OPEN;
  }

  /**
   * Sends a message: a string as text, bytes as binary (or say `isBinary`). Large messages are
   * compressed when permessage-deflate was agreed (unless `compress: false`).
   */
  send(message: string | Uint8Array, isBinary = typeof message !== 'string', compress = true): SendResult {
    const metrics = this.metrics;
    if (this.state !== OPEN) {
      if (metrics !== null) metrics.counts[WS_SENDS_DROPPED]!++;
      return 'dropped';
    }
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    // This socket's own messages count against the limit at once: they are memory held for it alone.
    // Publications waiting in the outbox are shared, and judged at drains (see deliver).
    const outbox = this.outbox;
    const own = this.socket.writableLength + (outbox === null ? 0 : outbox.ownBytes);
    if (own + payload.byteLength > this.options.maxBufferedBytes) {
      if (metrics !== null) metrics.counts[WS_SENDS_DROPPED]!++;
      if (this.options.closeOnBackpressureLimit) this.tooSlow();
      return 'dropped';
    }
    if (metrics !== null) metrics.counts[WS_MESSAGES_OUT]!++;
    const opcode = isBinary ? OPCODE.binary : OPCODE.text;
    const deflate = this.deflate;
    if (deflate !== null && compress && payload.byteLength >= deflate.threshold) {
      // Compression is asynchronous: own a copy (the caller may reuse its buffer); the frame holds
      // its place in the outbox meanwhile, so everything sent after it waits for it.
      const copy = typeof message === 'string' ? (payload as Buffer) : Buffer.from(payload);
      const pending = new PendingFrame(payload.byteLength, false);
      this.put(pending, pending.size, true);
      deflate.compress(copy).then(
        (compressed) => pending.resolve(wholeFrame(opcode, true, compressed)),
        (error: unknown) => {
          pending.resolve(EMPTY);
          this.fail(CLOSE.internalError, `compression failed: ${String(error)}`);
        },
      );
    } else {
      this.putFrame(opcode, payload);
    }
    return this.pressure();
  }

  /** Sends a ping (payload up to 125 bytes); the peer answers with a pong. */
  ping(payload: string | Uint8Array = ''): SendResult {
    return this.control(OPCODE.ping, payload);
  }

  /** Sends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3); payload up to 125 bytes. */
  pong(payload: string | Uint8Array = ''): SendResult {
    return this.control(OPCODE.pong, payload);
  }

  private control(opcode: number, payload: string | Uint8Array): SendResult {
    if (this.state !== OPEN) return 'dropped';
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (data.byteLength > 125)
      throw new UsageError('ERR_PEREGRINE_INVALID_ARGUMENT', 'a control frame payload is at most 125 bytes');
    this.putFrame(opcode, data);
    return this.pressure();
  }

  /**
   * Starts the closing handshake (RFC 6455 §7): sends a Close frame with `code` and `reason` (≤ 123
   * bytes), waits up to `wsCloseTimeout` for the peer's Close, then closes the TCP connection.
   */
  close(code: number = CLOSE.normal, reason = ''): void {
    if (!isValidCloseCode(code))
      throw new UsageError('ERR_PEREGRINE_INVALID_ARGUMENT', `invalid close code ${code}`);
    const payload = closePayload(code, reason); // validates the reason's length
    this.startClose(payload);
  }

  /** Closes the TCP connection at once, without a closing handshake. */
  terminate(): void {
    this.state = CLOSED;
    this.socket.destroy();
  }

  /** Subscribes this socket to a pub/sub topic. */
  subscribe(topic: string): void {
    if (this.state === CLOSED) return;
    const topics = this.topics;
    if (topics === null) this.topics = topic;
    else if (typeof topics === 'string') {
      if (topics === topic) return;
      this.topics = new Set([topics, topic]);
    } else {
      if (topics.has(topic)) return;
      topics.add(topic);
    }
    subscribe(topic, this);
  }

  unsubscribe(topic: string): void {
    const topics = this.topics;
    if (topics === null) return;
    if (typeof topics === 'string') {
      if (topics !== topic) return;
      this.topics = null;
    } else if (!topics.delete(topic)) return;
    unsubscribe(topic, this);
  }

  /** Whether this socket subscribes to `topic`. */
  isSubscribed(topic: string): boolean {
    const topics = this.topics;
    return topics === null ? false : typeof topics === 'string' ? topics === topic : topics.has(topic);
  }

  /**
   * Publishes to every subscriber of `topic`, in every worker (and every instance, with
   * `pubsub.redis`), except this socket. Returns how many sockets of this worker took it.
   */
  publish(topic: string, message: string | Uint8Array, isBinary = typeof message !== 'string'): number {
    return publish(topic, message, isBinary, this);
  }

  /**
   * @internal Pub/sub delivery: queues the publication's shared frame. Returns false when the
   * socket did not take it: closing, or too slow. A subscriber past `wsMaxBufferedBytes` is too slow
   * only if it has made no progress at its drains for a while (see Outbox), so that a burst of
   * publications never cuts off a reader that keeps up.
   */
  deliver(publication: Publication): boolean {
    const metrics = this.metrics;
    if (this.state !== OPEN) {
      if (metrics !== null) metrics.counts[WS_SENDS_DROPPED]!++;
      return false;
    }
    const deflate = this.deflate;
    let entry: Entry = publication;
    let size: number;
    if (deflate !== null && publication.compress && publication.payload.byteLength >= deflate.threshold) {
      // A context carried over from message to message is this socket's alone: compress for it.
      if (!deflate.params.serverNoContextTakeover)
        return this.send(publication.payload, publication.isBinary, true) !== 'dropped';
      const pending = publication.deflatedFor(deflate.params.serverMaxWindowBits, deflate.level);
      entry = pending;
      size = pending.size;
    } else {
      size = publication.frame.byteLength;
    }
    if (this.outbox !== null || this.socket.writableNeedDrain) {
      if (this.bufferedAmount + size > this.options.maxBufferedBytes) {
        this.outbox ??= new Outbox();
        if (this.outbox.tooSlow(performance.now())) {
          if (metrics !== null) metrics.counts[WS_SENDS_DROPPED]!++;
          if (this.options.closeOnBackpressureLimit) this.tooSlow();
          return false;
        }
      }
    }
    if (metrics !== null) metrics.counts[WS_MESSAGES_OUT]!++;
    this.put(entry, size, false);
    if (this.bufferedAmount > HIGH_WATER) this.needsDrain = true;
    return true;
  }

  // ───────────────────────────── incoming ─────────────────────────────

  private onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (this.state === CLOSED) return;
    if (this.metrics !== null) this.metrics.counts[WS_MESSAGES_IN]!++;
    if (!compressed && this.inbound === null) {
      this.hooks.handleWSMessage?.(this, isBinary ? data : data.toString('utf8'), isBinary);
      return;
    }
    const item = {
      ready: !compressed,
      message: data as string | Buffer,
      isBinary,
      error: null as WsError | null,
    };
    if (this.inbound === null) this.inbound = [item];
    else this.inbound.push(item);
    if (!compressed) return;
    this.updateReading();
    this.deflate!.decompress(data).then(
      (inflated) => {
        this.heard(); // waiting for a turn to inflate is not the peer's silence
        if (!isBinary && !isUtf8(inflated)) {
          item.error = new WsError(
            'ERR_PEREGRINE_WS_INVALID_UTF8',
            CLOSE.invalidPayload,
            'invalid UTF-8 in a text message',
          );
        } else {
          item.message = isBinary ? inflated : inflated.toString('utf8');
        }
        item.ready = true;
        this.deliverInbound();
      },
      (error: unknown) => {
        item.error =
          error instanceof WsError
            ? error
            : new WsError('ERR_PEREGRINE_WS_INFLATE', CLOSE.invalidPayload, String(error));
        item.ready = true;
        this.deliverInbound();
      },
    );
  }

  private deliverInbound(): void {
    let inbound = this.inbound;
    while (inbound !== null && inbound.length > 0 && inbound[0]!.ready) {
      const item = inbound.shift()!;
      if (this.state === CLOSED) continue;
      if (item.error !== null) {
        this.fail(item.error.closeCode, item.error.message); // drops the rest
        return;
      }
      try {
        this.hooks.handleWSMessage?.(this, item.message, item.isBinary);
      } catch (error) {
        this.hookFailed(error);
      }
      inbound = this.inbound; // null if the hook failed
    }
    if (inbound !== null && inbound.length === 0) this.inbound = null;
    this.updateReading();
  }

  /** Reads only while no message waits to be inflated (a failed socket drops them and reads on). */
  private updateReading(): void {
    const pause = this.inbound !== null;
    if (pause === this.readingPaused || this.socket.destroyed) return;
    this.readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  private onPing(data: Buffer): void {
    if (this.state === OPEN) this.answerPing(data);
    this.hooks.handleWSPing?.(this, data);
  }

  /**
   * A pong in turn; but while the socket is backed up, one waiting pong answers every ping that
   * comes meanwhile, with the latest payload (RFC 6455 §5.5.3 allows answering only the most recent
   * ping): a client that pings without reading can't queue a pong per ping.
   */
  private answerPing(data: Buffer): void {
    const waiting = this.waitingPong;
    if (waiting !== null && !waiting.written) {
      waiting.frame = wholeFrame(OPCODE.pong, false, data);
      return;
    }
    if (this.outbox === null && !this.socket.writableNeedDrain) {
      this.putFrame(OPCODE.pong, data);
      return;
    }
    const pong = new PendingFrame(2 + MAX_CONTROL_PAYLOAD, false);
    pong.frame = wholeFrame(OPCODE.pong, false, data);
    this.waitingPong = pong;
    this.put(pong, pong.size, true);
  }

  private onPong(data: Buffer): void {
    this.hooks.handleWSPong?.(this, data);
  }

  private onCloseFrame(code: number, reason: string): void {
    this.receivedClose = { code, reason };
    if (!this.closeSent) {
      // Echo the code (RFC 6455 §5.5.1); a Close without a code is answered without one.
      this.startClose(code === CLOSE.noStatus ? Buffer.alloc(0) : closePayload(code, ''));
    }
    // Both Close frames have been exchanged: the server closes the TCP connection first (§7.1.1).
    this.endSocket();
  }

  /** Half-closes after everything queued, including frames still being compressed. */
  private endSocket(): void {
    if (this.outbox !== null) this.outbox.endWhenEmpty = true;
    else this.socket.end();
  }

  /** A protocol violation or a failure of ours: send a Close with `code`, then close the connection. */
  private fail(code: number, reason: string): void {
    if (this.state === CLOSED) return;
    // Nothing more is delivered: free this connection's turn at inflating for the others.
    if (this.inbound !== null) {
      this.inbound.length = 0; // ends a deliverInbound loop that called out to a failing hook
      this.inbound = null;
    }
    this.deflate?.stopInflating();
    this.updateReading(); // to see the peer's Close
    if (!this.closeSent) this.startClose(closePayload(code, truncateReason(reason)));
    this.report(code, reason);
    this.endSocket();
  }

  /** @internal The peer closed its side: nothing more will come. */
  peerEnded(): void {
    if (!this.closeSent) this.socket.end();
  }

  /** @internal */
  socketClosed(): void {
    this.state = CLOSED;
    this.deadline = 0;
    const received = this.receivedClose;
    if (received !== null) this.report(received.code, received.reason);
    else this.report(CLOSE.abnormal, '');
    const topics = this.topics;
    if (typeof topics === 'string') unsubscribe(topics, this);
    else if (topics !== null) for (const topic of topics) unsubscribe(topic, this);
    this.topics = null;
    this.outbox = null;
    this.deflate?.close();
    if (this.needsDrain) this.drained();
  }

  private report(code: number, reason: string): void {
    if (this.closeReported) return;
    this.closeReported = true;
    if (this.metrics !== null) this.metrics.counts[WS_CLOSED]!++;
    try {
      this.hooks.handleWSClose?.(this, code, reason);
    } catch (error) {
      this.owner.hookFailed(error);
    }
  }

  // ───────────────────────────── outgoing ─────────────────────────────

  private startClose(payload: Buffer): void {
    if (this.closeSent || this.state === CLOSED) return;
    this.closeSent = true;
    this.state = CLOSING;
    this.putFrame(OPCODE.close, payload);
    this.deadline = this.owner.clock.now + this.options.closeTimeout;
    if (this.receivedClose !== null) this.endSocket();
  }

  /** One frame of this socket's own: small payloads copied behind their header, large ones not. */
  private putFrame(opcode: number, payload: Uint8Array): void {
    if (payload.byteLength <= SMALL_FRAME) {
      const frame = wholeFrame(opcode, false, payload);
      this.put(frame, frame.byteLength, true);
      return;
    }
    const header = frameHeader(opcode, true, false, payload.byteLength);
    this.put(header, header.byteLength, true);
    const body = Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    this.put(body, body.byteLength, true);
  }

  /**
   * Sends `entry` in turn: straight to the socket while nothing waits and the socket takes more,
   * else behind what waits in the outbox.
   */
  private put(entry: Entry, size: number, own: boolean): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (this.outbox === null && !socket.writableNeedDrain) {
      if (Buffer.isBuffer(entry)) {
        this.write(entry);
        return;
      }
      if (!(entry instanceof PendingFrame)) {
        this.write(entry.frame);
        return;
      }
    }
    if (this.outbox === null) this.outbox = new Outbox();
    this.outbox.push(entry, size, own);
    if (entry instanceof PendingFrame && entry.frame === null) entry.wait(this);
    else if (!socket.writableNeedDrain) this.flush();
  }

  /**
   * @internal Writes what waits in the outbox, in order, until the socket is past its high-water
   * mark or the next frame is still being compressed. Called at drains and when a frame is ready.
   */
  flush(): void {
    const outbox = this.outbox;
    if (outbox === null) return;
    const socket = this.socket;
    if (socket.destroyed) {
      this.outbox = null;
      return;
    }
    while (!socket.writableNeedDrain) {
      const entry = outbox.peek();
      if (entry === undefined) {
        this.outbox = null;
        if (outbox.endWhenEmpty) socket.end();
        return;
      }
      let frame: Buffer;
      if (Buffer.isBuffer(entry)) {
        frame = entry;
        outbox.shift(frame.byteLength, true);
      } else if (entry instanceof PendingFrame) {
        if (entry.frame === null) return;
        frame = entry.frame;
        entry.written = true;
        outbox.shift(entry.size, !entry.shared);
      } else {
        frame = entry.frame;
        outbox.shift(frame.byteLength, false);
      }
      if (frame.byteLength > 0) this.write(frame);
    }
  }

  private write(frame: Buffer): void {
    const socket = this.socket;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      if (corkedSockets.push(this) === 1) process.nextTick(uncorkAll);
    }
    socket.write(frame);
  }

  /** @internal Ends a tick's cork: the frames written in it go out in one writev. */
  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  private pressure(): SendResult {
    if (this.bufferedAmount <= HIGH_WATER) return 'sent';
    this.needsDrain = true;
    return 'buffered';
  }

  /** @internal The socket's write queue emptied: refill it from the outbox, then measure. */
  drain(): void {
    this.flush();
    const outbox = this.outbox;
    if (outbox !== null)
      outbox.measure(this.bufferedAmount, this.options.maxBufferedBytes, performance.now());
    if (!this.needsDrain || this.bufferedAmount > HIGH_WATER) return;
    this.drained();
  }

  private drained(): void {
    this.needsDrain = false;
    try {
      this.hooks.handleWSDrain?.(this);
    } catch (error) {
      this.hookFailed(error);
    }
  }

  private tooSlow(): void {
    // The peer reads slower than we must send: a Close can't get through a full buffer, so cut.
    this.report(CLOSE.policyViolation, 'the client reads too slowly (wsMaxBufferedBytes exceeded)');
    this.terminate();
  }

  // ───────────────────────────── timers and shutdown ─────────────────────────────

  private heard(): void {
    this.lastHeard = this.owner.clock.now;
    this.pinged = false;
    if (this.state === OPEN) this.deadline = this.idleDeadline();
  }

  private idleDeadline(): number {
    const idle = this.options.idleTimeout;
    // Ping halfway through the idle time; close if not even the pong comes back.
    return idle === 0 ? 0 : this.lastHeard + (this.pinged ? idle : idle / 2);
  }

  /** @internal The worker's timer: the deadline passed. */
  timedOut(): void {
    if (this.state === CLOSING || this.state === CLOSED) {
      this.terminate(); // the peer never answered our Close
      return;
    }
    if (!this.pinged) {
      this.pinged = true;
      this.putFrame(OPCODE.ping, EMPTY);
      this.deadline = this.idleDeadline();
      return;
    }
    this.metrics?.timedOut(TIMEOUT_WS_IDLE);
    this.report(CLOSE.abnormal, 'idle timeout');
    this.terminate();
  }

  /** @internal Server shutdown: close with 1001 and let the handshake finish (or time out). */
  shutdown(): void {
    if (this.state === OPEN) this.close(CLOSE.goingAway, 'server shutting down');
  }

  /** @internal Never closed to make room for new connections: a WebSocket is a live conversation. */
  idleSince(): number {
    return -1;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The sockets corked in this tick, uncorked together when it ends: one callback for a publication to
 * thousands of sockets, not one each. A socket corked while they are uncorked (a close handler that
 * publishes) is in the list too, and uncorked in the same pass.
 */
const corkedSockets: WebSocket<unknown>[] = [];

function uncorkAll(): void {
  for (let i = 0; i < corkedSockets.length; i++) corkedSockets[i]!.uncork();
  corkedSockets.length = 0;
}

/** A message waiting its turn to be delivered (see `inbound`). */
interface InboundMessage {
  ready: boolean;
  message: string | Buffer;
  isBinary: boolean;
  error: WsError | null;
}

function truncateReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}
