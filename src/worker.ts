import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ConfigError, listenError } from './errors.ts';
import type { Handler } from './handler.ts';
import { withHealth } from './health.ts';
import type { ResolvedCompression } from './http/compression.ts';
import { type ConnectionOwner, Http1Connection } from './http/connection.ts';
import { plainHttpOnTlsPort, serverFull } from './http/error-responses.ts';
import type { RequestHandler } from './http/exchange.ts';
import { redirectToHttps } from './http/redirect.ts';
import { ProxyTrust } from './http/trusted-proxy.ts';
import { Http2Connection } from './http2/connection.ts';
import { Http2Sessions } from './http2/sessions.ts';
import { AccessLog, accessLogFormatter, openDestination } from './observe/access-log.ts';
import { MetricsEndpoint } from './observe/endpoint.ts';
import { EventLoopMonitor } from './observe/event-loop.ts';
import {
  LOG_LINES_DROPPED,
  type ServerMetrics,
  toServerMetrics,
  WorkerMetrics,
  type WorkerSnapshot,
} from './observe/metrics.ts';
import { Observer } from './observe/observer.ts';
import type { ResolvedOptions } from './options.ts';
import { RemotePubSub } from './pubsub/remote.ts';
import { channelRelay } from './pubsub-relay.ts';
import type { Clock } from './transport/clock.ts';
import type { Link } from './transport/link.ts';
import { Listener, SINGLE, type TlsSettings, type WorkerPlacement } from './transport/listener.ts';
import type { Session } from './transport/session.ts';
import { Certificates } from './transport/tls.ts';
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
  /** What requests are dispatched to: the user's handler, behind the health and metrics paths when on. */
  readonly handler: RequestHandler;
  readonly clock: Clock;
  /** Counters of this worker, or null when metrics are off. */
  readonly metrics: WorkerMetrics | null;
  /** Metrics and access log for the protocols, or null when both are off. */
  readonly observer: Observer | null;
  /** This worker's number in the metrics (its slot + 1), 0 for a server in one thread. */
  workerNumber = 0;
  /**
   * How a scrape gets the server's numbers: this worker's own in a server of one thread; a worker
   * of several asks the primary (set by serve()).
   */
  collectMetrics: () => Promise<ServerMetrics> = () => Promise.resolve(this.localMetrics());
  private readonly user: Handler;
  private readonly accessLog: AccessLog | null;
  private readonly closeLogDestination: (() => void) | null;
  private readonly eventLoop: EventLoopMonitor | null;
  readonly inflateLimiter: InflateLimiter;
  readonly wsOptions: WebSocketOptions;
  readonly wsHooks: WebSocketHooks;
  /** How a request becomes a WebSocket (the HTTP layer itself knows no other protocol). */
  readonly upgrade = acceptWebSocket;
  readonly compression: ResolvedCompression | null;
  /** The `trustProxy` rules, or null. */
  readonly proxyTrust: ProxyTrust | null;
  /** With h2c: how a plain connection that opens with the HTTP/2 preface becomes HTTP/2. */
  readonly startHttp2: ((link: Link, received: Buffer) => void) | null;
  private readonly listener: Listener;
  /** The certificates, with `tls`. */
  private readonly certificates: Certificates | null;
  /** With `redirectHttp`: the plain-HTTP port that redirects to HTTPS. */
  private readonly redirect: Listener | null;
  /** With HTTP/2 on (over TLS, or h2c): makes each HTTP/2 connection's session. */
  private readonly http2: Http2Sessions | null;
  /** With `pubsub.redis`: pub/sub with the other instances. */
  private readonly pubsub: RemotePubSub | null;
  private stopped: Promise<void> | null = null;
  /** Set when shutdown is announced (readiness 503), which may be well before it begins (shutdownDelay). */
  private draining = false;

  constructor(handler: Handler, options: ResolvedOptions, placement: WorkerPlacement = SINGLE) {
    this.user = handler;
    this.options = options;
    this.metrics = options.metrics === false ? null : new WorkerMetrics();
    this.eventLoop = options.metrics === false ? null : new EventLoopMonitor();
    const format = accessLogFormatter(options.accessLog);
    if (format === null) {
      this.accessLog = null;
      this.closeLogDestination = null;
    } else {
      let destination: ReturnType<typeof openDestination>;
      try {
        destination = openDestination(options.accessLogTo);
      } catch (error) {
        throw new ConfigError(`option 'accessLogTo': cannot open it: ${(error as Error).message}`);
      }
      this.accessLog = new AccessLog(destination.writer, undefined, format);
      this.closeLogDestination = destination.close;
    }
    this.observer =
      this.metrics === null && this.accessLog === null
        ? null
        : new Observer(this.metrics, this.accessLog, typeof options.accessLog !== 'function');
    // The server's own endpoints answer before the application: health checks, then metrics.
    const app = options.health === null ? handler : withHealth(handler, options.health, () => this.ready);
    const metricsPath = options.metrics;
    this.handler =
      metricsPath === false ? app : new MetricsEndpoint(app, metricsPath, () => this.collectMetrics());
    this.compression = options.compression;
    this.proxyTrust = ProxyTrust.from(options.trustProxy, options.proxyHeaders);
    this.wsHooks = handler;
    this.wsOptions = {
      maxMessageBytes: options.wsMaxMessageBytes,
      idleTimeout: options.wsIdleTimeout,
      closeTimeout: options.wsCloseTimeout,
      maxBufferedBytes: options.wsMaxBufferedBytes,
      closeOnBackpressureLimit: options.wsCloseOnBackpressureLimit,
    };
    this.inflateLimiter = new InflateLimiter(options.wsInflateConcurrency, options.wsInflateMaxBytes);
    this.certificates = options.tls === null ? null : loadCertificates(options);
    const settings = {
      port: options.port,
      host: options.host,
      backlog: options.backlog,
      maxConnections: options.maxConnections,
      tickMs: tickInterval(options),
      placement,
      // The PROXY header gets what a TLS handshake gets: headersTimeout, or a default when that is 0.
      proxyHeaderTimeout: options.proxyProtocol
        ? options.headersTimeout === 0
          ? DEFAULT_HANDSHAKE_TIMEOUT
          : options.headersTimeout
        : 0,
      fullAnswer: serverFull,
      warn: options.log ? (message: string) => console.error(message) : () => {},
    };
    const offersHttp2 = (this.certificates !== null && options.http2) || options.h2c;
    this.http2 = offersHttp2
      ? new Http2Sessions({
          maxConcurrentStreams: options.http2MaxConcurrentStreams,
          maxHeaderListSize: options.maxHeaderBytes,
          maxHeaderCount: options.maxHeaderCount,
        })
      : null;
    const http2 = this.http2;
    this.startHttp2 =
      http2 !== null && options.h2c
        ? (link, received) => {
            link.socket.unshift(received); // node:http2 reads what was already read first
            link.swap(http2.open(link, this));
          }
        : null;
    let tls: TlsSettings | null = null;
    if (this.certificates !== null) {
      tls = {
        certificates: this.certificates,
        ticketKeys: placement.ticketKeys ?? randomBytes(48),
        alpn: options.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
        handshakeTimeout: options.headersTimeout === 0 ? DEFAULT_HANDSHAKE_TIMEOUT : options.headersTimeout,
        plaintextAnswer: plainHttpOnTlsPort,
      };
    }
    this.listener = new Listener({ ...settings, tls }, (link) => this.openSession(link));
    this.clock = this.listener.clock;
    this.redirect =
      options.redirectHttp === 0
        ? null
        : this.redirectListener({ ...settings, port: options.redirectHttp, tls: null });
    this.pubsub =
      options.pubsub === null
        ? null
        : new RemotePubSub(
            options.pubsub,
            placement.instanceId ?? randomBytes(8),
            this.metrics?.counts ?? null,
            settings.warn,
          );
  }

  /** A new connection's first protocol: HTTP/2 when the client chose h2 (ALPN), else HTTP/1. */
  private openSession(link: Link): Session {
    const http2 = this.http2;
    if (http2 !== null && (link.socket as { alpnProtocol?: string | false }).alpnProtocol === 'h2')
      return http2.open(link, this);
    return new Http1Connection(link, this);
  }

  /** The `redirectHttp` port: plain HTTP/1, every request answered with a 308 to HTTPS. */
  private redirectListener(settings: ConstructorParameters<typeof Listener>[0]): Listener {
    const redirect: ConnectionOwner = {
      options: this.options,
      handler: redirectToHttps(() => this.listener.address?.port ?? this.options.port),
      clock: this.clock,
      get stopping() {
        return listener.stopping;
      },
      upgrade: () => null,
      startHttp2: null,
      compression: null,
      proxyTrust: this.proxyTrust,
      observer: null,
    };
    const listener: Listener = new Listener(
      settings,
      (link) => new Http1Connection(link, redirect),
      this.clock,
    );
    return listener;
  }

  /** Set once shutdown begins. */
  get stopping(): boolean {
    return this.listener.stopping;
  }

  /** Whether this worker takes new work: what readiness answers (false from the moment shutdown is announced). */
  get ready(): boolean {
    return !this.draining && !this.listener.stopping;
  }

  /**
   * Shutdown is coming: readiness answers 503 from now on, while everything else is served as
   * before (shutdownDelay), so that load balancers stop sending before the listener closes.
   */
  drain(): void {
    this.draining = true;
  }

  /** Runs the handler's `init()`, then listens. Rejects with a clear error if the address is taken. */
  async listen(): Promise<AddressInfo> {
    await this.user.init?.();
    try {
      await this.pubsub?.start();
    } catch (error) {
      await this.undoInit();
      throw error;
    }
    let address: AddressInfo;
    try {
      address = await this.listener.listen();
    } catch (error) {
      await this.pubsub?.close();
      await this.undoInit();
      throw listenError(error as NodeJS.ErrnoException, this.options.port, this.options.host);
    }
    if (this.redirect !== null) {
      try {
        await this.redirect.listen();
      } catch (error) {
        await this.listener.shutdown(0);
        await this.pubsub?.close();
        await this.undoInit();
        throw listenError(error as NodeJS.ErrnoException, this.options.redirectHttp, this.options.host);
      }
    }
    this.certificates?.watch();
    return address;
  }

  /** No shutdown() can come for a server that never started: undo init() now. */
  private async undoInit(): Promise<void> {
    try {
      await this.user.deinit?.();
    } catch (deinitError) {
      this.options.onError(deinitError, undefined);
    }
  }

  /**
   * Reads the TLS certificate files again (SIGHUP): new handshakes use the new certificates; one
   * that fails to load is logged and the old one stays.
   */
  reloadCertificates(): Promise<void> {
    return this.certificates?.reload() ?? Promise.resolve();
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
    for (const session of this.listener.sessions()) {
      if (session instanceof Http1Connection && session.requestInFlight) count++;
      else if (session instanceof Http2Connection) count += session.requestsInFlight;
    }
    return count;
  }

  /** Open WebSockets. */
  get pendingWebSockets(): number {
    let count = 0;
    for (const session of this.listener.sessions()) if (session instanceof WebSocket) count++;
    return count;
  }

  /** This worker's counters and gauges now, or null when metrics are off. */
  metricsSnapshot(): WorkerSnapshot | null {
    const metrics = this.metrics;
    if (metrics === null) return null;
    if (this.accessLog !== null) metrics.counts[LOG_LINES_DROPPED] = this.accessLog.droppedTotal;
    const traffic = this.listener.traffic();
    return metrics.snapshot(
      this.workerNumber,
      {
        connectionsTotal: traffic.connections,
        connectionsEvicted: this.listener.evicted,
        connectionsRefused: this.listener.refused,
        receivedBytes: traffic.bytesRead,
        sentBytes: traffic.bytesWritten,
        openConnections: this.connectionCount,
        activeRequests: this.pendingRequests,
        openWebSockets: this.pendingWebSockets,
        pubsubConnected: this.pubsub?.isConnected ? 1 : 0,
      },
      this.eventLoop!.read(),
    );
  }

  /** The server's numbers when this worker is the whole server. */
  private localMetrics(): ServerMetrics {
    const snapshot = this.metricsSnapshot();
    if (snapshot === null) throw new Error('metrics are off');
    // A snapshot holds every counter: it is its own total.
    return toServerMetrics(snapshot, [snapshot], 1, 0, 0);
  }

  hookFailed(error: unknown): void {
    this.options.onError(error, undefined);
  }

  /**
   * Stops accepting, closes idle connections at once, lets requests in flight finish, and after
   * `timeout` (default `shutdownTimeout`) closes whatever is left (see Listener.shutdown, and its
   * `linger`). Then runs the handler's `deinit()`.
   */
  shutdown(timeout = this.options.shutdownTimeout, linger = 0, lastCall?: number): Promise<void> {
    if (this.stopped === null) this.stopped = this.stop(timeout, linger, lastCall);
    return this.stopped;
  }

  private async stop(timeout: number, linger: number, lastCall: number | undefined): Promise<void> {
    this.certificates?.close();
    await Promise.all([
      this.listener.shutdown(timeout, linger, lastCall),
      this.redirect?.shutdown(timeout, linger, lastCall),
    ]);
    try {
      await this.pubsub?.close();
      await this.user.deinit?.();
    } finally {
      // Every response has ended: the log's last lines go out before the worker exits.
      this.eventLoop?.stop();
      if (this.accessLog !== null) {
        await this.accessLog.close();
        this.closeLogDestination?.();
      }
    }
  }
}

/** How long a TLS client gets for its handshake when headersTimeout is 0 (no limit there). */
const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

/** The `tls` option's certificates, loaded now: a certificate that can't be used is a ConfigError. */
export function loadCertificates(options: ResolvedOptions): Certificates {
  try {
    return new Certificates(options.tls!, (message) => console.error(message));
  } catch (error) {
    throw new ConfigError((error as Error).message);
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
