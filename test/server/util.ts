import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Handler, Server, ServerOptions } from '../../src/index.ts';
import { RawClient, start } from '../helpers.ts';

export { delay };

/** A running server for one test, shut down (and its clients closed) when the test ends. */
export interface Harness {
  server: Server;
  port: number;
  /** Errors passed to `onError`, in order. */
  errors: unknown[];
  /** Opens a raw client that is closed when the test ends. */
  client(): Promise<RawClient>;
}

export async function setup(
  t: TestContext,
  handler: Handler | Handler['handleRequest'],
  options: ServerOptions = {},
): Promise<Harness> {
  const errors: unknown[] = [];
  const server = await start(handler, {
    onError: (error) => errors.push(error),
    shutdownTimeout: 1000,
    ...options,
  });
  const clients: RawClient[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await server.shutdown();
  });
  return {
    server,
    port: server.port,
    errors,
    async client() {
      const c = await RawClient.open(server.port);
      c.socket.setNoDelay(true); // small writes must go out as written, not wait for an ACK
      clients.push(c);
      return c;
    },
  };
}

/** Resolves when the server has closed its side (FIN or reset); rejects after `ms`. */
export function serverClosed(client: RawClient, ms = 3000): Promise<void> {
  const socket = client.socket;
  if (socket.readableEnded || client.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`the server did not close within ${ms} ms; received ${JSON.stringify(client.text)}`));
    }, ms);
    const done = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('end', done);
      socket.off('close', done);
    };
    socket.on('end', done);
    socket.on('close', done);
  });
}

/** Whether the server has closed its side by now. */
export function isClosed(client: RawClient): boolean {
  return client.socket.readableEnded || client.closed;
}

/** `GET <path> HTTP/1.1` with a Host header and any extra header lines. */
export function get(path: string, ...headers: string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

/** A POST with a Content-Length body. */
export function post(path: string, body: string, ...headers: string[]): string {
  const extra = headers.map((h) => `${h}\r\n`).join('');
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

/** A POST with a chunked body made of `chunks`. */
export function postChunked(path: string, chunks: string[], ...headers: string[]): string {
  const extra = headers.map((h) => `${h}\r\n`).join('');
  let body = '';
  for (const c of chunks) body += `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`;
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n${extra}\r\n${body}0\r\n\r\n`;
}

/** A promise with its resolve function, for letting a test step a handler along. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
