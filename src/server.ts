import cluster from 'node:cluster';
import { type AddressInfo, createServer } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { ConfigError, listenError, UsageError } from './errors.ts';
import { type BunServeOptions, fromBunOptions } from './fetch/bun-options.ts';
import { type FetchModeHandler, type FetchOptions, fetchHandler, isFetchOptions } from './fetch/handler.ts';
import { WebRequest } from './fetch/web-request.ts';
import {
  bytesOf,
  type FetchUpgradeOptions,
  type WebSocketPayload,
  webSocketServerOptions,
} from './fetch/websocket.ts';
import type { Handler } from './handler.ts';
import { MetricsClient } from './observe/client.ts';
import type { ServerMetrics } from './observe/metrics.ts';
import { type ResolvedOptions, resolveOptions, type ServerOptions } from './options.ts';
import {
  type PoolMessage,
  type PoolMode,
  RESTART_LAST_CALL_MS,
  RETIRE_GRACE_MS,
  WorkerPool,
} from './pool.ts';
import { type WorkerContext, workerContext } from './shared.ts';
import { HttpWorker, loadCertificates } from './worker.ts';
import { publish, subscriberCount } from './ws/topics.ts';

/**
 * How the server runs: `'single'` (one event loop, the calling thread), `'threads'` (worker threads
 * sharing the port with SO_REUSEPORT), `'cluster'` (node:cluster processes), or `'worker'` for the
 * server object a worker itself gets from `serve()`.
 */
export type ServerMode = 'single' | 'threads' | 'cluster' | 'worker';

/**
 * A running server, as returned by `serve()` — and, in fetch mode, the `server` that `fetch` gets,
 * with Bun.serve's members. `WebSocketData` types `ws.data` (what `upgrade(request, { data })` gives).
 *
 * With several workers, each worker runs your program and gets its own Server (mode `'worker'`);
 * the one in the primary starts and stops the workers.
 */
export class Server<WebSocketData = undefined> {
  readonly options: Readonly<ResolvedOptions>;
  readonly mode: ServerMode;
  private readonly local: HttpWorker | null;
  private readonly pool: WorkerPool | null;
  private readonly listenAddress: AddressInfo | null;
  /** In a worker: tells the primary something (for `stop()`). */
  private readonly post: ((message: PoolMessage) => void) | null;
  private readonly onSignal: (signal: NodeJS.Signals) => void;
  private readonly onReloadSignal: () => void;
  private signalled = false;
  private stopped: Promise<void> | null = null;
  /** @internal Fetch mode's handler, for `upgrade()` and `reload()`. */
  fetchMode: FetchModeHandler | null = null;

  /** @internal Use `serve()`. */
  constructor(
    options: ResolvedOptions,
    mode: ServerMode,
    runner:
      | { local: HttpWorker; post?: (message: PoolMessage) => void }
      | { pool: WorkerPool; address: AddressInfo },
  ) {
    this.options = options;
    this.mode = mode;
    this.local = 'local' in runner ? runner.local : null;
    this.pool = 'pool' in runner ? runner.pool : null;
    this.listenAddress = 'address' in runner ? runner.address : null;
    this.post = 'post' in runner ? (runner.post ?? null) : null;
    if (this.pool !== null) this.pool.onStopAsked = (closeActive) => void this.stop(closeActive);
    this.onSignal = (signal) => this.signal(signal);
    // SIGHUP, as it makes nginx reload: several workers are replaced one at a time (the new ones
    // read the program and the certificate files afresh); a single worker reloads its certificates.
    this.onReloadSignal =
      this.pool !== null
        ? () => void this.restartWorkers().catch(() => {})
        : () => void this.reloadCertificates();
    if (options.handleSignals && mode !== 'worker') {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
      if (this.pool !== null || options.tls !== null) process.on('SIGHUP', this.onReloadSignal);
    }
  }

  /** The address the server listens on (useful with `port: 0`). */
  get address(): AddressInfo {
    const address = this.local === null ? this.listenAddress : this.local.address;
    if (address === null) throw new UsageError('ERR_PEREGRINE_NOT_LISTENING', 'the server is not listening');
    return address;
  }

  get port(): number {
    return this.address.port;
  }

  /** How many workers serve requests (1 in single mode and inside a worker). */
  get workers(): number {
    return this.pool === null ? 1 : this.options.workers;
  }

  /** Open connections right now, across every worker (threads mode counts exactly; cluster mode can't see them: 0). */
  get connections(): number {
    return this.local !== null ? this.local.connectionCount : this.pool!.connections;
  }

  /**
   * Graceful shutdown: stop accepting, close idle keep-alive connections, let requests in flight finish
   * (up to `shutdownTimeout`), then run the handler's `deinit()` — in every worker. Safe to call twice.
   */
  shutdown(): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGHUP', this.onReloadSignal);
    this.stopped ??= this.shutDownAfterDelay();
    return this.stopped;
  }

  /**
   * The server's metrics, summed over every worker (needs the `metrics` option): the numbers the
   * metrics endpoint prints. In a worker it asks the primary, as the endpoint does.
   */
  metrics(): Promise<ServerMetrics> {
    if (this.options.metrics === false)
      return Promise.reject(
        new UsageError('ERR_PEREGRINE_METRICS_OFF', "server.metrics() needs the 'metrics' option"),
      );
    return this.local !== null ? this.local.collectMetrics() : this.pool!.collectMetrics();
  }

  /**
   * Readiness turns 503 in every worker at once; with `shutdownDelay`, everything else is served as
   * before for that long (load balancers take the server out meanwhile); then the graceful shutdown.
   */
  private async shutDownAfterDelay(): Promise<void> {
    if (this.local !== null) this.local.drain();
    else this.pool!.drain();
    const delay = this.post === null ? this.options.shutdownDelay : 0; // the primary delays for its workers
    if (delay > 0) {
      if (this.options.log)
        console.error(`peregrine: readiness is 503; serving ${delay} ms more before shutting down`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    await (this.local !== null ? this.local.shutdown() : this.pool!.shutdown());
  }

  /**
   * Replaces every worker with a new one, one at a time, without dropping a request (what SIGHUP
   * does with several workers): the new worker runs your program afresh (new code, new certificate
   * files) and listens before the old one stops accepting; the old one finishes what is in flight
   * (answering with Connection: close), closes its WebSockets with 1001, and exits within
   * `shutdownTimeout`. Resolves when every slot is replaced; rejects, keeping the old worker, if a
   * new one fails to start. Asked while one runs, one more restart follows it. In a worker it asks
   * the primary. With `workers: 1` the server is the calling thread, which can't be replaced:
   * rejects with a UsageError (restart the process behind a load balancer instead).
   */
  restartWorkers(): Promise<void> {
    if (this.post !== null) {
      this.post({ peregrine: 'restart' });
      return Promise.resolve();
    }
    if (this.pool === null)
      return Promise.reject(
        new UsageError(
          'ERR_PEREGRINE_CANNOT_RESTART',
          'restartWorkers() needs workers > 1: with workers: 1 the server runs in the calling thread, which cannot be replaced while it serves',
        ),
      );
    return this.pool.restartWorkers();
  }

  /**
   * Reads the TLS certificate files again, in every worker (what SIGHUP does): new handshakes use the
   * new certificates, established connections keep theirs, and a certificate that fails to load is
   * logged while the old one stays in use. Certificate files are also reloaded when they change.
   */
  async reloadCertificates(): Promise<void> {
    if (this.local !== null) await this.local.reloadCertificates();
    else this.pool!.reloadCertificates();
  }

  // ───────────── Bun.serve's members (fetch mode; the address ones work in every mode) ─────────────

  /** The host name to reach the server at: `localhost` when it listens on every address. */
  get hostname(): string {
    return displayHost(this.address.address);
  }

  /** `http://hostname:port/`, or `https://` with TLS. */
  get url(): URL {
    const host = this.hostname;
    const scheme = this.options.tls === null ? 'http' : 'https';
    return new URL(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${this.port}/`);
  }

  /** Requests in flight in this worker (the primary of several workers has none of its own: 0). */
  get pendingRequests(): number {
    return this.local?.pendingRequests ?? 0;
  }

  /** Open WebSockets in this worker (the primary of several workers has none of its own: 0). */
  get pendingWebSockets(): number {
    return this.local?.pendingWebSockets ?? 0;
  }

  /**
   * Turns `request` into a WebSocket handled by the `websocket` handlers: true when it did (`fetch`
   * then returns undefined), false when the request is not a valid WebSocket handshake (answer it
   * yourself, e.g. with a 400). `headers` go out with the 101; `data` becomes `ws.data`.
   */
  upgrade(request: Request, options: FetchUpgradeOptions<WebSocketData> = {}): boolean {
    if (this.fetchMode === null)
      throw new UsageError(
        'ERR_PEREGRINE_NOT_FETCH_MODE',
        'server.upgrade() is for fetch mode: serve({ fetch, websocket })',
      );
    return this.fetchMode.upgrade(request, options);
  }

  /**
   * Sends a message to every socket subscribed to `topic`, in every worker. Returns the bytes sent
   * (the message is encoded once for all), or 0 for an empty topic name.
   */
  publish(topic: string, data: WebSocketPayload, compress = false): number {
    if (typeof topic !== 'string' || topic === '') return 0;
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : bytesOf(data);
    publish(topic, payload, typeof data !== 'string', null, compress);
    return payload.byteLength;
  }

  /** Sockets of this worker subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return subscriberCount(topic);
  }

  /**
   * The client's address for a request this server made, as Bun's `requestIP` (with `trustProxy`, the
   * address its trusted proxies report: `clientAddress`); else null.
   */
  requestIP(request: Request): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null {
    const req = WebRequest.nativeOf(request);
    if (req === undefined) return null;
    const address = req.clientAddress;
    if (address === '') return null;
    // A proxied client's port is not known (0); the peer's is.
    const port = address === req.remoteAddress ? (req.remotePort ?? 0) : 0;
    return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port };
  }

  /**
   * Gives one request its own handler timeout, from now: `seconds` without its response making
   * progress before it gets 503 (0: none). Ends with the response.
   */
  timeout(request: Request, seconds: number): void {
    if (typeof seconds !== 'number' || !(seconds >= 0))
      throw new UsageError('ERR_PEREGRINE_INVALID_ARGUMENT', `timeout seconds must be >= 0, got ${seconds}`);
    WebRequest.nativeOf(request)?.setTimeout(Math.min(Math.round(seconds * 1000), 2 ** 31 - 1));
  }

  /**
   * Bun's name for `shutdown()`: stops the whole server, gracefully — or, with
   * `closeActiveConnections`, closing the connections in flight at once. Called in a worker, it asks
   * the primary to stop every worker.
   */
  stop(closeActiveConnections = false): Promise<void> {
    if (this.post !== null) {
      this.post({ peregrine: 'stop', closeActiveConnections });
      return Promise.resolve();
    }
    if (!closeActiveConnections) return this.shutdown();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.stopped ??= this.local !== null ? this.local.shutdown(0) : this.pool!.shutdown(0);
    return this.stopped;
  }

  /**
   * Swaps in new `fetch`, `routes`, `error` and `websocket` handlers for what comes next, without
   * dropping a connection (limits and options stay). Routes with Response values take over once
   * those are read. In a worker it changes that worker's handlers: every worker runs your program,
   * so a reload in its top-level code reaches them all.
   */
  reload(options: FetchOptions<WebSocketData>): this {
    if (this.fetchMode === null) {
      if (this.pool !== null) return this; // the primary of several workers answers no requests itself
      throw new UsageError('ERR_PEREGRINE_NOT_FETCH_MODE', 'server.reload() is for fetch mode');
    }
    this.fetchMode.reload(options as FetchOptions<unknown>);
    return this;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.signalled) {
      console.error(`peregrine: ${signal} again, exiting now`);
      process.exit(1);
    }
    this.signalled = true;
    if (this.options.log)
      console.error(`peregrine: ${signal} received, shutting down (send it again to force)`);
    process.off('SIGHUP', this.onReloadSignal);
    this.stopped ??= this.shutDownAfterDelay();
    this.stopped.then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('peregrine: error during shutdown:', error);
        process.exit(1);
      },
    );
  }
}

/**
 * Starts a server with `handler` and resolves once every worker is listening.
 *
 * With more than one worker (the default is one per core), your program is the program of every
 * worker: the primary starts the workers, each runs your program again from the top, and its own
 * `serve()` call builds its own handler and listens. Keep start-up work that must happen once under
 * `if (isPrimary())`.
 *
 * ```ts
 * await serve({ handleRequest(req, res) { res.end('Hello, World!'); } }, { port: 3000 });
 * ```
 */
export async function serve<T = unknown>(handler: Handler<T>, options?: ServerOptions): Promise<Server>;
/**
 * Fetch mode: `fetch(request, server)` answers each Web `Request` with a `Response` (and `error`
 * turns what it throws into one), as with Bun.serve; Peregrine's own options go in the same object,
 * and Bun's own server options stand for theirs (see BunServeOptions).
 */
export async function serve<WebSocketData = undefined, Paths extends string = string>(
  options: FetchOptions<WebSocketData, Paths> & ServerOptions & BunServeOptions,
): Promise<Server<WebSocketData>>;
export async function serve<T = unknown>(
  first: Handler<T> | (FetchOptions<unknown> & ServerOptions & BunServeOptions),
  second?: ServerOptions,
): Promise<Server<unknown>> {
  if (isFetchOptions(first)) {
    const { fetch, error, routes, websocket, ...rest } = first as FetchOptions<unknown> &
      ServerOptions &
      BunServeOptions;
    const handler = fetchHandler({
      ...(fetch === undefined ? {} : { fetch }),
      ...(error === undefined ? {} : { error }),
      ...(routes === undefined ? {} : { routes }),
      ...(websocket === undefined ? {} : { websocket }),
    });
    let options = fromBunOptions(rest);
    if (websocket !== undefined) options = { ...options, ...webSocketServerOptions(websocket, options) };
    const server = await serveHandler(handler, options);
    server.fetchMode = handler;
    handler.attach(server);
    return server;
  }
  return serveHandler(first as Handler<T>, second);
}

async function serveHandler<T>(handler: Handler<T>, options?: ServerOptions): Promise<Server<unknown>> {
  checkNodeVersion(process.versions.node);
  if (handler === null || typeof handler !== 'object' || typeof handler.handleRequest !== 'function') {
    throw new ConfigError(
      'serve() needs a handler object with a handleRequest(req, res) method, or options with a fetch(request) function or routes',
    );
  }
  const resolved = resolveOptions(options);
  const context = workerContext();
  if (context !== null) return serveAsThreadWorker(handler, resolved, context);
  if (cluster.isWorker && process.env.PEREGRINE_WORKER !== undefined)
    return serveAsClusterWorker(handler, resolved);
  if (resolved.workers === 1) {
    const local = new HttpWorker(handler, resolved);
    await local.listen();
    const server = new Server(resolved, 'single', { local });
    logListening(server);
    return server;
  }
  return servePrimary(resolved);
}

/** The oldest Node.js releases Peregrine runs on, by major version (package.json's engines). */
const OLDEST_NODE: Readonly<Record<number, readonly [number, number]>> = { 22: [22, 12], 23: [23, 1] };

/**
 * Throws a ConfigError on a Node.js older than 22.12 (or 23.1): there the workers fail in misleading
 * ways (a free port reported as already in use).
 */
export function checkNodeVersion(version: string): void {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const oldest = OLDEST_NODE[major];
  const tooOld = major < 22 || (oldest !== undefined && minor < oldest[1]);
  if (tooOld) {
    throw new ConfigError(`Peregrine needs Node.js >= 22.12 (or >= 23.1); this is Node.js ${version}`);
  }
}

async function servePrimary(options: ResolvedOptions): Promise<Server> {
  const script = process.argv[1];
  if (script === undefined || script === '') {
    throw new ConfigError(
      'workers > 1 runs your program in every worker, so it must be started from a file (or set workers: 1)',
    );
  }
  // Fail here, once, rather than in every worker: a certificate that can't be used, a port in use.
  if (options.tls !== null) loadCertificates(options);
  const port = await claimPort(options);
  if (options.redirectHttp !== 0) await claimPort({ ...options, port: options.redirectHttp });
  const mode = await chooseMode(options);
  const pool = new WorkerPool(options, mode, script, port);
  await pool.start();
  const host = options.host ?? '::';
  const address: AddressInfo = { address: host, family: host.includes(':') ? 'IPv6' : 'IPv4', port };
  const server = new Server(options, mode, { pool, address });
  logListening(server);
  return server;
}

/** Serves inside a worker thread the primary started, on the port it chose, sharing it with SO_REUSEPORT. */
async function serveAsThreadWorker(
  handler: Handler,
  options: ResolvedOptions,
  context: WorkerContext,
): Promise<Server> {
  const own = { ...options, port: context.port, handleSignals: false };
  const local = new HttpWorker(handler, own, {
    reusePort: true,
    counts: context.connections,
    slot: context.index,
    ticketKeys: Buffer.from(context.ticketKeys),
    instanceId: Buffer.from(context.instanceId),
  });
  const post = (message: PoolMessage) => parentPort?.postMessage(message);
  observeAsWorker(local, context.index, post);
  await listenOrReport(local, post);
  parentPort?.on('message', (message: PoolMessage) => obey(message, local, post));
  reportCrashes(own, post);
  post({ peregrine: 'listening' });
  return new Server(own, 'worker', { local, post });
}

/** Serves inside a node:cluster worker process; the cluster primary hands it connections. */
async function serveAsClusterWorker(handler: Handler, options: ResolvedOptions): Promise<Server> {
  const own = { ...options, port: Number(process.env.PEREGRINE_PORT), handleSignals: false };
  const keys = process.env.PEREGRINE_TICKET_KEYS;
  const instance = process.env.PEREGRINE_INSTANCE;
  const slot = Number(process.env.PEREGRINE_WORKER);
  const local = new HttpWorker(handler, own, {
    reusePort: false,
    counts: null,
    slot,
    ticketKeys: keys === undefined ? null : Buffer.from(keys, 'hex'),
    instanceId: instance === undefined ? null : Buffer.from(instance, 'hex'),
  });
  const post = (message: PoolMessage) => {
    if (process.connected) process.send?.(message);
  };
  // A terminal's Ctrl+C reaches the whole process group: the primary coordinates the shutdown.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  observeAsWorker(local, slot, post);
  await listenOrReport(local, post);
  process.on('message', (message: PoolMessage) => obey(message, local, post));
  reportCrashes(own, post);
  post({ peregrine: 'listening' });
  return new Server(own, 'worker', { local, post });
}

async function listenOrReport(local: HttpWorker, post: (message: PoolMessage) => void): Promise<void> {
  try {
    await local.listen();
  } catch (error) {
    const { message, code } = error as NodeJS.ErrnoException;
    post({ peregrine: 'failed', message, ...(code === undefined ? {} : { code }) });
    throw error;
  }
}

/** One of several workers: its metrics are numbered by slot, and a scrape asks the primary for the sums. */
function observeAsWorker(local: HttpWorker, slot: number, post: (message: PoolMessage) => void): void {
  local.workerNumber = slot + 1;
  const client = new MetricsClient(post);
  local.collectMetrics = () => client.ask();
  metricsClients.set(local, client);
}

const metricsClients = new WeakMap<HttpWorker, MetricsClient>();

function obey(
  message: PoolMessage | undefined,
  local: HttpWorker,
  post: (message: PoolMessage) => void,
): void {
  if (message?.peregrine === 'metrics-snapshot-request')
    post({ peregrine: 'metrics-snapshot', id: message.id, snapshot: local.metricsSnapshot() });
  else if (message?.peregrine === 'metrics') metricsClients.get(local)?.answered(message);
  else if (message?.peregrine === 'shutdown')
    void stopWorker(local, post, message.timeout ?? local.options.shutdownTimeout, 0);
  else if (message?.peregrine === 'reload-certificates') void local.reloadCertificates();
  else if (message?.peregrine === 'draining') local.drain();
  else if (message?.peregrine === 'retire' && message.graceful === true)
    // Replaced by a rolling restart: stop accepting first, then a last call for each connection.
    void stopWorker(local, post, local.options.shutdownTimeout, 0, 0, RESTART_LAST_CALL_MS);
  else if (message?.peregrine === 'retire')
    void stopWorker(local, post, RETIRE_GRACE_MS, 1, RETIRE_GRACE_MS / 2);
}

/**
 * A worker's uncaught error doesn't end it at once: it reports the error to the primary and goes on
 * serving until another worker listens, when the primary tells it to retire. So a crash loop never
 * leaves the port without a worker.
 */
function reportCrashes(options: ResolvedOptions, post: (message: PoolMessage) => void): void {
  let reported = false;
  process.on('uncaughtException', (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
    // The primary logs the first error with its restart; any later one is only this worker's to tell.
    if (reported || !options.log) console.error('peregrine: uncaught error in a worker:', error);
    if (reported) return;
    reported = true;
    if (cluster.isWorker && !process.connected) process.exit(1); // no primary to replace it
    post({ peregrine: 'crashed', message: text });
  });
}

/**
 * Stops this worker gracefully (see HttpWorker.shutdown), giving requests in flight `timeout` ms,
 * (idle ones get `linger` ms to carry one more request), then exits with `code`. A retiring worker (code 1) exits soon after the deadline even if its
 * shutdown hangs; otherwise the primary kills what runs on long past it.
 */
async function stopWorker(
  local: HttpWorker,
  post: (message: PoolMessage) => void,
  timeout: number,
  code: number,
  linger = 0,
  lastCall?: number,
): Promise<void> {
  if (code !== 0) setTimeout(() => process.exit(code), timeout + 500);
  try {
    await local.shutdown(timeout, linger, lastCall);
  } finally {
    post({ peregrine: 'stopped' });
    process.exit(code); // in a worker thread this ends the thread only
  }
}

/** Fails fast, with a clear error, when the port is taken; resolves port 0 to the port all workers will share. */
function claimPort(options: ResolvedOptions): Promise<number> {
  const { port, host } = options;
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, port, host)));
    probe.listen({ port, host, exclusive: true }, () => {
      const claimed = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(claimed));
    });
  });
}

/** 'auto' picks threads where the platform can share a port with SO_REUSEPORT, cluster elsewhere. */
function chooseMode(options: ResolvedOptions): Promise<PoolMode> {
  if (options.mode !== 'auto') return Promise.resolve(options.mode);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve('cluster'));
    probe.listen({ port: 0, host: options.host, reusePort: true }, () =>
      probe.close(() => resolve('threads')),
    );
  });
}

function logListening(server: Server): void {
  if (!server.options.log) return;
  const { address, port } = server.address;
  const shown = displayHost(address);
  const host = shown.includes(':') ? `[${shown}]` : shown;
  const workers = server.workers === 1 ? '1 worker' : `${server.workers} workers, ${server.mode}`;
  const scheme = server.options.tls === null ? 'http' : 'https';
  const redirect =
    server.options.redirectHttp === 0
      ? ''
      : `, http://${host}:${server.options.redirectHttp} redirects to it`;
  console.log(`peregrine: listening on ${scheme}://${host}:${port} (${workers}${redirect})`);
}

/** The host to show for a listening address: `localhost` for every address (`::`, `0.0.0.0`). */
function displayHost(address: string): string {
  return address === '::' || address === '0.0.0.0' ? 'localhost' : address;
}
