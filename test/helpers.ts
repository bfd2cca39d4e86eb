import { type ChildProcess, spawn } from 'node:child_process';
import { type Agent, request as httpRequest } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Handler, Server, ServerOptions } from '../src/index.ts';
import { serve } from '../src/index.ts';

/** Starts a server on a free loopback port without signal handling. Remember to `shutdown()` it. */
export function start(
  handler: Handler | Handler['handleRequest'],
  options: ServerOptions = {},
): Promise<Server> {
  const h = typeof handler === 'function' ? { handleRequest: handler } : handler;
  return serve(h, { port: 0, host: '127.0.0.1', handleSignals: false, workers: 1, log: false, ...options });
}

/** A raw TCP client that collects everything the server sends. */
export class RawClient {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on('error', () => {});
    // The server closing its side ends our reading side; with allowHalfOpen that is 'end', not 'close'.
    const ended = () => {
      this.closed = true;
      this.wake();
    };
    socket.on('end', ended);
    socket.on('close', ended);
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
        resolve(new RawClient(socket)),
      );
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits until `done(text)` holds or the server closes; rejects after `ms`. */
  async until(done: (text: string) => boolean, ms = 3000): Promise<string> {
    const limit = Date.now() + ms;
    while (!done(this.text)) {
      if (this.closed) return this.text;
      const left = limit - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting; received so far: ${JSON.stringify(this.text.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.text;
  }

  /** Waits until the server closes the connection. */
  async closedByServer(ms = 3000): Promise<string> {
    await this.until(() => false, ms).catch((error: unknown) => {
      if (!this.closed) throw error;
    });
    return this.text;
  }

  /** Waits for `count` complete responses (see parseResponses). */
  async responses(count: number, ms = 3000): Promise<ParsedResponse[]> {
    await this.until((t) => parseResponses(t).length >= count, ms);
    return parseResponses(this.text);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface ParsedResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
  raw: string;
}

/**
 * Splits a byte stream (latin1 text) into complete HTTP/1.1 responses: Content-Length and chunked
 * bodies; a response without either runs to the end of the text. 1xx responses are included.
 */
export function parseResponses(text: string, headRequests = 0): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = 0;
  while (pos < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', pos);
    if (headEnd === -1) break;
    const lines = text.slice(pos, headEnd).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    let bodyStart = headEnd + 4;
    let body = '';
    const noBody = status < 200 || status === 204 || status === 304 || out.length < headRequests;
    if (noBody) {
      // nothing
    } else if (headers.get('transfer-encoding') === 'chunked') {
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = text.indexOf('\r\n', p);
        if (lineEnd === -1) break;
        const size = Number.parseInt(text.slice(p, lineEnd), 16);
        if (size === 0) {
          const end = text.indexOf('\r\n\r\n', lineEnd);
          if (end === -1) break;
          bodyStart = end + 4;
          complete = true;
          break;
        }
        if (text.length < lineEnd + 2 + size + 2) break;
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      out.push({ status, headers, body, raw: text.slice(pos, bodyStart) });
      pos = bodyStart;
      continue;
    } else if (headers.has('content-length')) {
      const length = Number(headers.get('content-length'));
      if (text.length < bodyStart + length) break;
      body = text.slice(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      body = text.slice(bodyStart);
      bodyStart = text.length;
    }
    out.push({ status, headers, body, raw: text.slice(pos, bodyStart) });
    pos = bodyStart;
  }
  return out;
}

/** Sends `data` on a fresh connection and returns everything received until the server closes or `ms` pass. */
export async function exchange(port: number, data: string | Buffer, ms = 2000): Promise<string> {
  const client = await RawClient.open(port);
  client.send(data);
  try {
    return await client.closedByServer(ms);
  } catch {
    return client.text;
  } finally {
    client.close();
  }
}

/** A port that was free a moment ago, for programs that take their port from the environment. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Runs `examples/NAME.ts` as a user would (`PORT`, `WORKERS`) and waits for its start-up line. */
export async function runExample(name: string, port: number, workers = '1'): Promise<ChildProcess> {
  const file = fileURLToPath(new URL(`../examples/${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, PORT: String(port), WORKERS: workers },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return child;
}

/** GET over a fresh connection (or the given keep-alive agent); resolves with status and body. */
export function httpGet(
  port: number,
  path: string,
  agent?: Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
