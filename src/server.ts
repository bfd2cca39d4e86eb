import type { AddressInfo } from 'node:net';
import type { Handler } from './handler.ts';
import { ConfigError } from './http/errors.ts';
import { type ResolvedOptions, resolveOptions, type ServerOptions } from './options.ts';
import { HttpWorker } from './worker.ts';

/** A running server, as returned by `serve()`. */
export class Server {
  readonly options: Readonly<ResolvedOptions>;
  private readonly worker: HttpWorker;
  private readonly onSignal: (signal: NodeJS.Signals) => void;
  private signalled = false;

  /** @internal Use `serve()`. */
  constructor(handler: Handler, options: ResolvedOptions) {
    this.options = options;
    this.worker = new HttpWorker(handler, options);
    this.onSignal = (signal) => this.signal(signal);
  }

  /** @internal */
  async start(): Promise<void> {
    await this.worker.listen();
    if (this.options.handleSignals) {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
  }

  /** The address the server listens on (useful with `port: 0`). */
  get address(): AddressInfo {
    const address = this.worker.address;
    if (address === null) throw new Error('the server is not listening');
    return address;
  }

  get port(): number {
    return this.address.port;
  }

  /** Open connections right now. */
  get connections(): number {
    return this.worker.connectionCount;
  }

  /**
   * Graceful shutdown: stop accepting, close idle keep-alive connections, let requests in flight finish
   * (up to `shutdownTimeout`), then run the handler's `deinit()`. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    return this.worker.shutdown();
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.signalled) {
      console.error(`peregrine: ${signal} again, exiting now`);
      process.exit(1);
    }
    this.signalled = true;
    console.error(`peregrine: ${signal} received, shutting down (send it again to force)`);
    this.worker.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('peregrine: error during shutdown:', error);
        process.exit(1);
      },
    );
  }
}

/**
 * Starts a server with `handler` and resolves once it is listening.
 *
 * ```ts
 * await serve({ handleRequest(req, res) { res.end('Hello, World!'); } }, { port: 3000 });
 * ```
 */
export async function serve(handler: Handler, options?: ServerOptions): Promise<Server> {
  if (handler === null || typeof handler !== 'object' || typeof handler.handleRequest !== 'function') {
    throw new ConfigError('serve() needs a handler object with a handleRequest(req, res) method');
  }
  const server = new Server(handler, resolveOptions(options));
  await server.start();
  return server;
}
