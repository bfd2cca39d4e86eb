import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { freePort } from '../helpers.ts';
import { TestCa } from '../tls/certs.ts';

/**
 * A real redis-server (Debian's package) for the client tests, on a free loopback port, with no
 * persistence; optionally with a password and TLS (a certificate from a test CA made with openssl).
 * It can be stopped, paused and restarted on the same port. Every server started is killed when the
 * test process exits, whatever happens.
 */

/** $REDIS_SERVER, or redis-server on the PATH (Debian puts it in /usr/bin). */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? onPath('redis-server') ?? '/usr/bin/redis-server';

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir || '.', command);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Why the Redis tests can't run here, or undefined when they can. */
export function redisServerMissing(): string | undefined {
  if (!existsSync(REDIS_SERVER))
    return `${REDIS_SERVER} is not installed (Debian package redis-server; .ci/run installs it)`;
  return undefined;
}

/** Why TLS tests can't run (redis-server built without TLS, or no openssl), or undefined. */
export function redisTlsMissing(): string | undefined {
  const missing = redisServerMissing();
  if (missing !== undefined) return missing;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'the openssl command is not installed';
  }
  // A build without TLS rejects the tls-* directives ("Bad directive"); one with TLS, given no port
  // to listen on, says so and exits at once too.
  try {
    execFileSync(REDIS_SERVER, ['--port', '0', '--tls-port', '0', '--save', '', '--appendonly', 'no'], {
      stdio: 'pipe',
      timeout: 5000,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    if (/Bad directive/i.test(`${stdout ?? ''}${stderr ?? ''}`))
      return `${REDIS_SERVER} was built without TLS`;
  }
  return undefined;
}

export interface RedisServerOptions {
  /** requirepass: clients must AUTH with it. */
  password?: string;
  /** Listen with TLS only (--port 0 --tls-port N). */
  tls?: boolean;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class RedisServer {
  readonly port: number;
  /** The test CA's certificate (PEM), for the client's `ca`, when started with TLS. */
  readonly ca: string | undefined;
  private readonly options: RedisServerOptions;
  private readonly dir: string;
  private readonly testCa: TestCa | undefined;
  private readonly args: string[];
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(port: number, options: RedisServerOptions) {
    this.port = port;
    this.options = options;
    this.dir = mkdtempSync(join(tmpdir(), 'peregrine-redis-'));
    this.args = [
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--loglevel',
      'warning',
    ];
    if (options.password !== undefined) this.args.push('--requirepass', options.password);
    if (options.tls) {
      this.testCa = new TestCa();
      const files = this.testCa.install(
        this.testCa.issue(['127.0.0.1', 'localhost']),
        join(this.testCa.dir, 'redis'),
      );
      this.ca = this.testCa.cert;
      this.args.push(
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        files.cert,
        '--tls-key-file',
        files.key,
        '--tls-ca-cert-file',
        join(this.testCa.dir, 'ca.pem'),
        '--tls-auth-clients',
        'no',
      );
    } else {
      this.ca = undefined;
      this.args.push('--port', String(port));
    }
  }

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    try {
      await server.restart();
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** redis:// or rediss:// URL of the server, with the password if it has one. */
  get url(): string {
    const auth = this.options.password === undefined ? '' : `:${encodeURIComponent(this.options.password)}@`;
    return `${this.options.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  /** Starts the server again (on the same port) and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is already running');
    this.output = '';
    const child = spawn(REDIS_SERVER, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => {
      running.delete(child);
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + 5000;
    while (!(await this.answersPing())) {
      if (this.child !== child) throw new Error(`redis-server exited at start:\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`redis-server did not answer PING within 5 s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops the server (SIGKILL: as if the machine died; SIGTERM: a clean shutdown) and waits for its exit. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill(signal);
    await exited;
  }

  /** SIGSTOP: the server keeps its connections but answers nothing, as when it hangs. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stops the server and removes its files. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    this.testCa?.remove();
  }

  /** Whether a fresh connection gets +PONG (after AUTH when there is a password). */
  private answersPing(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket: Socket = this.options.tls
        ? connectTls({ host: '127.0.0.1', port: this.port, ca: this.ca })
        : connectTcp({ host: '127.0.0.1', port: this.port });
      let received = '';
      const done = (ok: boolean) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), 1000);
      socket.once(this.options.tls ? 'secureConnect' : 'connect', () => {
        const password = this.options.password;
        const length = password === undefined ? 0 : Buffer.byteLength(password);
        const auth = password === undefined ? '' : `*2\r\n$4\r\nAUTH\r\n$${length}\r\n${password}\r\n`;
        socket.write(`${auth}*1\r\n$4\r\nPING\r\n`);
      });
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.includes('+PONG\r\n')) done(true);
        else if (received.includes('-')) done(false);
      });
      socket.on('error', () => done(false));
      socket.on('close', () => done(false));
    });
  }
}
