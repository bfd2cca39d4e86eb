import type { AddressInfo } from 'node:net';
import { listenError } from './errors.ts';
import type { Handler } from './handler.ts';
import { type ConnectionOwner, Http1Connection } from './http/connection.ts';
import type { ResolvedOptions } from './options.ts';
import { channelRelay } from './pubsub-relay.ts';
import type { Clock } from './transport/clock.ts';
import { Listener, SINGLE, type WorkerPlacement } from './transport/listener.ts';
import { InflateLimiter } from './ws/inflate-limiter.ts';
import { WebSocket, type WebSocketHooks, type WebSocketOptions, type WebSocketOwner } from './ws/socket.ts';
import { useTopicRelay } from './ws/topics.ts';
import { acceptWebSocket } from './ws/upgrade.ts';

export type { WorkerPlacement } from './transport/listener.ts';

// Pub/sub reaches the other workers over the channel that connects them.
useTopicRelay(channelRelay());

/**
 * One event loop's share of the server: the transport (its listener and connections) and the
 * protocols that speak on it, wired to the handler. Each accepted connection starts as HTTP/1; a
 * WebSocket handshake swaps its session for a WebSocket.
 */
export class HttpWorker implements ConnectionOwner, WebSocketOwner {
  readonly options: ResolvedOptions;
  readonly handler: Handler;
  readonly clock: Clock;
  readonly inflateLimiter: InflateLimiter;
  readonly wsOptions: WebSocketOptions;
  readonly wsHooks: WebSocketHooks;
  /** How a request becomes a WebSocket (the HTTP layer itself knows no other protocol). */
  readonly upgrade = acceptWebSocket;
  private readonly listener: Listener;
  private stopped: Promise<void> | null = null;

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
    this.listener = new Listener(
      {
        port: options.port,
        host: options.host,
        backlog: options.backlog,
        maxConnections: options.maxConnections,
        tickMs: tickInterval(options),
        placement,
      },
      (link) => new Http1Connection(link, this),
    );
    this.clock = this.listener.clock;
  }

  /** Set once shutdown begins. */
  get stopping(): boolean {
    return this.listener.stopping;
  }

  /** Runs the handler's `init()`, then listens. Rejects with a clear error if the address is taken. */
  async listen(): Promise<AddressInfo> {
    await this.handler.init?.();
    try {
      return await this.listener.listen();
    } catch (error) {
      // No shutdown() can come for a server that never started: undo init() now.
      try {
        await this.handler.deinit?.();
      } catch (deinitError) {
        this.options.onError(deinitError, undefined);
      }
      throw listenError(error as NodeJS.ErrnoException, this.options.port, this.options.host);
    }
  }

  get address(): AddressInfo | null {
    return this.listener.address;
  }

  get connectionCount(): number {
    return this.listener.connectionCount;
  }

  /** Requests whose response has not ended yet (counted when asked: nothing on the request path). */
  get pendingRequests(): number {
    let count = 0;
    for (const session of this.listener.sessions())
      if (session instanceof Http1Connection && session.requestInFlight) count++;
    return count;
  }

  /** Open WebSockets. */
  get pendingWebSockets(): number {
    let count = 0;
    for (const session of this.listener.sessions()) if (session instanceof WebSocket) count++;
    return count;
  }

  hookFailed(error: unknown): void {
    this.options.onError(error, undefined);
  }

  /**
   * Stops accepting, closes idle connections at once, lets requests in flight finish, and after
   * `timeout` (default `shutdownTimeout`) closes whatever is left (see Listener.shutdown, and its
   * `linger`). Then runs the handler's `deinit()`.
   */
  shutdown(timeout = this.options.shutdownTimeout, linger = 0): Promise<void> {
    if (this.stopped === null) this.stopped = this.stop(timeout, linger);
    return this.stopped;
  }

  private async stop(timeout: number, linger: number): Promise<void> {
    await this.listener.shutdown(timeout, linger);
    await this.handler.deinit?.();
  }
}

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
