import cluster from 'node:cluster';
import { type AddressInfo, createServer } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { type FetchOptions, fetchHandler, isFetchOptions } from './fetch/handler.ts';
import type { Handler } from './handler.ts';
import { ConfigError } from './http/errors.ts';
import { type ResolvedOptions, resolveOptions, type ServerOptions } from './options.ts';
import { type PoolMessage, type PoolMode, RETIRE_GRACE_MS, WorkerPool } from './pool.ts';
import { type WorkerContext, workerContext } from './shared.ts';
import { HttpWorker, listenError } from './worker.ts';

/**
 * How the server runs: `'single'` (one event loop, the calling thread), `'threads'` (worker threads
 * sharing the port with SO_REUSEPORT), `'cluster'` (node:cluster processes), or `'worker'` for the
 * server object a worker itself gets from `serve()`.
 */
export type ServerMode = 'single' | 'threads' | 'cluster' | 'worker';

/** A running server, as returned by `serve()`. */
export class Server {
  readonly options: Readonly<ResolvedOptions>;
  readonly mode: ServerMode;
  private readonly local: HttpWorker | null;
  private readonly pool: WorkerPool | null;
  private readonly listenAddress: AddressInfo | null;
  private readonly onSignal: (signal: NodeJS.Signals) => void;
  private signalled = false;
  private stopped: Promise<void> | null = null;

  /** @internal Use `serve()`. */
  constructor(
    options: ResolvedOptions,
    mode: ServerMode,
    runner: { local: HttpWorker } | { pool: WorkerPool; address: AddressInfo },
  ) {
    this.options = options;
    this.mode = mode;
    this.local = 'local' in runner ? runner.local : null;
    this.pool = 'pool' in runner ? runner.pool : null;
    this.listenAddress = 'address' in runner ? runner.address : null;
    this.onSignal = (signal) => this.signal(signal);
    if (options.handleSignals && mode !== 'worker') {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
  }

  /** The address the server listens on (useful with `port: 0`). */
  get address(): AddressInfo {
    const address = this.local === null ? this.listenAddress : this.local.address;
    if (address === null) throw new Error('the server is not listening');
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
    if (this.stopped === null)
      this.stopped = this.local !== null ? this.local.shutdown() : this.pool!.shutdown();
    return this.stopped;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.signalled) {
      console.error(`peregrine: ${signal} again, exiting now`);
      process.exit(1);
    }
    this.signalled = true;
    if (this.options.log)
      console.error(`peregrine: ${signal} received, shutting down (send it again to force)`);
    this.stopped ??= this.local !== null ? this.local.shutdown() : this.pool!.shutdown();
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
 * turns what it throws into one), as with Bun.serve; Peregrine's own options go in the same object
 * (`hostname` is taken for `host`).
 */
export async function serve(options: FetchOptions & ServerOptions & { hostname?: string }): Promise<Server>;
export async function serve<T = unknown>(
  first: Handler<T> | (FetchOptions & ServerOptions & { hostname?: string }),
  second?: ServerOptions,
): Promise<Server> {
  if (isFetchOptions(first)) {
    const { fetch, error, routes, hostname, ...options } = first as FetchOptions &
      ServerOptions & { hostname?: string };
    const handler = fetchHandler({
      ...(fetch === undefined ? {} : { fetch }),
      ...(error === undefined ? {} : { error }),
      ...(routes === undefined ? {} : { routes }),
    });
    return serveHandler(
      handler,
      hostname !== undefined && options.host === undefined ? { ...options, host: hostname } : options,
    );
  }
  return serveHandler(first as Handler<T>, second);
}

async function serveHandler<T>(handler: Handler<T>, options?: ServerOptions): Promise<Server> {
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
  const port = await claimPort(options);
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
  });
  const post = (message: PoolMessage) => parentPort?.postMessage(message);
  await listenOrReport(local, post);
  parentPort?.on('message', (message: PoolMessage) => obey(message, local, post));
  reportCrashes(own, post);
  post({ peregrine: 'listening' });
  return new Server(own, 'worker', { local });
}

/** Serves inside a node:cluster worker process; the cluster primary hands it connections. */
async function serveAsClusterWorker(handler: Handler, options: ResolvedOptions): Promise<Server> {
  const own = { ...options, port: Number(process.env.PEREGRINE_PORT), handleSignals: false };
  const local = new HttpWorker(handler, own);
  const post = (message: PoolMessage) => {
    if (process.connected) process.send?.(message);
  };
  // A terminal's Ctrl+C reaches the whole process group: the primary coordinates the shutdown.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  await listenOrReport(local, post);
  process.on('message', (message: PoolMessage) => obey(message, local, post));
  reportCrashes(own, post);
  post({ peregrine: 'listening' });
  return new Server(own, 'worker', { local });
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

function obey(
  message: PoolMessage | undefined,
  local: HttpWorker,
  post: (message: PoolMessage) => void,
): void {
  if (message?.peregrine === 'shutdown') void stopWorker(local, post, local.options.shutdownTimeout, 0);
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
): Promise<void> {
  if (code !== 0) setTimeout(() => process.exit(code), timeout + 500);
  try {
    await local.shutdown(timeout, linger);
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
  const host =
    address === '::' || address === '0.0.0.0'
      ? 'localhost'
      : address.includes(':')
        ? `[${address}]`
        : address;
  const workers = server.workers === 1 ? '1 worker' : `${server.workers} workers, ${server.mode}`;
  console.log(`peregrine: listening on http://${host}:${port} (${workers})`);
}
