import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { Connection, type ConnectionOwner } from './connection.ts';
import { listenError } from './errors.ts';
import type { Handler } from './handler.ts';
import type { ResolvedOptions } from './options.ts';
import { Clock } from './transport/clock.ts';
import { SHARED_READ_BYTES } from './transport/shared-reads.ts';
import { InflateLimiter } from './ws/inflate-limiter.ts';
import type { WebSocket, WebSocketHooks, WebSocketOptions, WebSocketOwner } from './ws/socket.ts';

/**
 * One event loop's share of the server: its listening socket, its connections, and the single coarse
 * timer that refreshes the clock and expires every connection's timeout.
 */
/** Anything the worker's timer and shutdown look after: an HTTP connection or a WebSocket. */
interface Tracked {
  deadline: number;
  timedOut(): void;
  shutdown(): void;
  destroy(): void;
}

export class HttpWorker implements ConnectionOwner, WebSocketOwner {
  readonly options: ResolvedOptions;
  readonly handler: Handler;
  readonly clock = new Clock();
  readonly readBuffer = Buffer.allocUnsafe(SHARED_READ_BYTES);
  readonly inflateLimiter: InflateLimiter;
  stopping = false;
  /** False once shutting down, except while a retiring worker lingers (see shutdown()). */
  private accepting = true;
  /** While a retiring worker lingers, before its connections are told to close. */
  private lingering = false;
  readonly wsOptions: WebSocketOptions;
  readonly wsHooks: WebSocketHooks;
  private readonly connections = new Set<Tracked>();
  private readonly server: NetServer;
  private timer: NodeJS.Timeout | null = null;
  private allClosed: (() => void) | null = null;
  private stopped: Promise<void> | null = null;

  private readonly reusePort: boolean;
  /** Where this worker publishes its connection count for the primary, if it is one of several. */
  private readonly counts: Int32Array | null;
  private readonly slot: number;

  constructor(handler: Handler, options: ResolvedOptions, placement: WorkerPlacement = SINGLE) {
    this.handler = handler;
    this.options = options;
    this.wsHooks = handler;
    this.wsOptions = {
      maxMessageBytes: options.wsMaxMessageBytes,
      idleTimeout: options.wsIdleTimeout,
      closeTimeout: options.wsCloseTimeout,
      maxBufferedBytes: options.wsMaxBufferedBytes,
      closeOnBackpressureLimit: options.wsCloseOnBackpressureLimit,
    };
    this.inflateLimiter = new InflateLimiter(options.wsInflateConcurrency, options.wsInflateMaxBytes);
    this.reusePort = placement.reusePort;
    this.counts = placement.counts;
    this.slot = placement.slot;
    this.server = createServer(
      // Paused: a connection moves the socket's handle to one that reads into readBuffer.
      { noDelay: true, allowHalfOpen: true, pauseOnConnect: true },
      (socket) => this.accept(socket),
    );
    this.server.maxConnections = options.maxConnections;
  }

  /** Runs the handler's `init()`, then listens. Rejects with a clear error if the address is taken. */
  async listen(): Promise<AddressInfo> {
    await this.handler.init?.();
    const { port, host, backlog } = this.options;
    try {
      await new Promise<void>((resolve, reject) => {
        const failed = (error: NodeJS.ErrnoException) => reject(listenError(error, port, host));
        this.server.once('error', failed);
        this.server.listen({ port, host, backlog, reusePort: this.reusePort }, () => {
          this.server.off('error', failed);
          resolve();
        });
      });
    } catch (error) {
      // No shutdown() can come for a server that never started: undo init() now.
      try {
        await this.handler.deinit?.();
      } catch (deinitError) {
        this.options.onError(deinitError, undefined);
      }
      throw error;
    }
    this.server.on('error', (error) => console.error('peregrine: listener error:', error));
    this.timer = setInterval(() => this.tick(), tickInterval(this.options));
    this.timer.unref();
    return this.server.address() as AddressInfo;
  }

  get address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Requests whose response has not ended yet (counted when asked: nothing on the request path). */
  get pendingRequests(): number {
    let count = 0;
    for (const tracked of this.connections)
      if (tracked instanceof Connection && tracked.requestInFlight) count++;
    return count;
  }

  /** Open WebSockets. */
  get pendingWebSockets(): number {
    let count = 0;
    for (const tracked of this.connections) if (!(tracked instanceof Connection)) count++;
    return count;
  }

  private accept(socket: Socket): void {
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    this.connections.add(new Connection(socket, this));
    if (this.counts !== null) Atomics.store(this.counts, this.slot, this.connections.size);
  }

  private tick(): void {
    const clock = this.clock;
    clock.update();
    // A lingering worker's fresh connections count as idle (due at once) until their first request
    // is in: they are left to shutdown(), which gives them their last call.
    if (this.lingering) return;
    const now = clock.now;
    for (const connection of this.connections) {
      if (connection.deadline !== 0 && now >= connection.deadline) connection.timedOut();
    }
  }

  /** An HTTP connection became a WebSocket: track the socket in its place. */
  connectionUpgraded(connection: Connection, ws: WebSocket): void {
    this.connections.delete(connection);
    this.connections.add(ws);
  }

  webSocketClosed(ws: WebSocket): void {
    this.forget(ws);
  }

  hookFailed(error: unknown): void {
    this.options.onError(error, undefined);
  }

  connectionClosed(connection: Connection): void {
    this.forget(connection);
  }

  private forget(connection: Tracked): void {
    this.connections.delete(connection);
    if (this.counts !== null) Atomics.store(this.counts, this.slot, this.connections.size);
    if (this.connections.size === 0 && this.allClosed !== null) this.allClosed();
  }

  /**
   * Stops accepting, closes idle connections at once, lets requests in flight finish, and after
   * `timeout` (default `shutdownTimeout`) closes whatever is left. Then runs the handler's `deinit()`.
   *
   * With `linger` (ms), a worker retires under load without resetting connections: for that long it
   * still accepts and serves, answering every request with `Connection: close`; then it stops
   * accepting and lets the connections it accepted last bring in their request before it closes the
   * idle ones. (Closing a listener resets the connections in its accept queue, and a client that
   * sends its next request just as its idle connection is closed sees it reset: both are rare once
   * the worker is nearly idle.)
   */
  shutdown(timeout = this.options.shutdownTimeout, linger = 0): Promise<void> {
    if (this.stopped === null) this.stopped = this.stop(timeout, linger);
    return this.stopped;
  }

  private async stop(timeout: number, linger: number): Promise<void> {
    const started = Date.now();
    this.stopping = true;
    const drained = new Promise<void>((resolve) => {
      this.allClosed = resolve;
    });
    if (linger > 0) {
      this.lingering = true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(linger, timeout)));
      // Close right after a poll phase has accepted what was queued: the fewest to reset.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.accepting = false;
    const closedListener = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.connections.size > 0) {
      if (linger > 0) await within(drained, Math.min(LAST_CALL_MS, timeout - (Date.now() - started)));
      this.lingering = false;
      for (const connection of this.connections) connection.shutdown();
      await within(drained, Math.max(0, timeout - (Date.now() - started)));
      for (const connection of this.connections) connection.destroy();
    }
    await closedListener;
    if (this.timer !== null) clearInterval(this.timer);
    await this.handler.deinit?.();
  }
}

/** How long a lingering worker's last-accepted connections get to bring in their request. */
const LAST_CALL_MS = 100;

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise, expired]);
  clearTimeout(timer);
}

/** Where a worker runs: alone, or as one of several listening on a shared port. */
export interface WorkerPlacement {
  /** Listen with SO_REUSEPORT, so that several threads share the port. */
  reusePort: boolean;
  counts: Int32Array | null;
  slot: number;
}

const SINGLE: WorkerPlacement = { reusePort: false, counts: null, slot: 0 };

/** The timer runs often enough to honour the shortest timeout, and at most once per second. */
function tickInterval(options: ResolvedOptions): number {
  let shortest = 1000;
  const timeouts = [
    options.headersTimeout,
    options.requestTimeout,
    options.keepAliveTimeout,
    options.sendTimeout,
    options.handlerTimeout,
    options.wsIdleTimeout / 2, // when an idle WebSocket is pinged
    options.wsCloseTimeout,
  ];
  for (const t of timeouts) {
    if (t > 0 && t < shortest * 4) shortest = Math.max(10, Math.floor(t / 4));
  }
  return shortest;
}
