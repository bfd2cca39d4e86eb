import type { TestContext } from 'node:test';
import {
  type BunServeOptions,
  type FetchOptions,
  type Server,
  type ServerOptions,
  serve,
} from '../../src/index.ts';

/** Starts a fetch-mode server on a free loopback port, shut down after the test; collects onError's errors. */
export async function startFetch<Data = undefined>(
  t: TestContext,
  options: FetchOptions<Data> & ServerOptions & BunServeOptions,
) {
  const errors: unknown[] = [];
  const server: Server<Data> = await serve<Data>({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    onError: (error) => errors.push(error),
    ...options,
  });
  t.after(() => server.shutdown());
  return { server, errors, url: (path: string) => `http://127.0.0.1:${server.port}${path}` };
}
