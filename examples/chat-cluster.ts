// The chat of the websocket example on two instances that share one Redis: a message typed on
// http://localhost:3000 shows on http://localhost:3001 too. Run as it is, it starts a redis-server
// on a free port (or uses REDIS_URL) and the two instances (ports PORT and PORT2, by default 3000
// and 3001), and stops them all on Ctrl+C, or when one of them fails. Each instance is this same file, started with INSTANCE set; in production they are
// separate machines, each running `serve(chat, { pubsub: { redis: 'redis://…' } })`.
import { type ChildProcess, spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { serve } from '../src/index.ts';
import { chatHandler } from './shared/chat.ts';

const instance = process.env.INSTANCE;
if (instance === undefined) await launch();
else await serveInstance(instance, process.env.REDIS_URL!);

/** One instance: the chat, with pub/sub through Redis. */
async function serveInstance(name: string, redis: string): Promise<void> {
  // Guest names carry the instance and the worker, so that no two guests anywhere share one.
  const worker = cluster.worker?.id ?? threadId;
  let nextGuest = 1;
  await serve(
    chatHandler(() => `guest-${name}.${worker}-${nextGuest++}`),
    {
      port: Number(process.env.PORT ?? 3000),
      workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
      pubsub: { redis },
    },
  );
}

/** Starts Redis (unless REDIS_URL says where one is) and two instances; stops them on a signal. */
async function launch(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const ports = [port, Number(process.env.PORT2 ?? port + 1)];
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // The instances first (they say goodbye to their sockets), then Redis.
    const instances = children.filter((c) => c.spawnargs[0] === process.execPath);
    await Promise.all(instances.map((c) => stopChild(c)));
    await Promise.all(children.map((c) => stopChild(c)));
    process.exit(code);
  };
  let redis = process.env.REDIS_URL || undefined; // unset or empty: start one
  if (redis === undefined) {
    const redisPort = await freePort();
    const server = spawn(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    server.on('error', () => {
      console.error(
        'chat-cluster: redis-server is not installed (Debian: apt-get install redis-server), or set REDIS_URL',
      );
      process.exit(1);
    });
    children.push(server);
    await answers(redisPort);
    redis = `redis://127.0.0.1:${redisPort}`;
    console.log(`chat-cluster: redis-server on ${redis}`);
  }
  for (const [i, instancePort] of ports.entries()) {
    const child = spawn(process.execPath, [process.argv[1]!], {
      env: { ...process.env, INSTANCE: String(i + 1), PORT: String(instancePort), REDIS_URL: redis },
      stdio: 'inherit',
    });
    // An instance that fails (its port taken, say) takes the example down with it.
    child.once('exit', (code) => {
      if (!stopping) {
        console.error(`chat-cluster: instance ${i + 1} exited (${code}); stopping`);
        void stop(1);
      }
    });
    children.push(child);
  }
  console.log(`chat-cluster: open http://localhost:${ports[0]} and http://localhost:${ports[1]}`);
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** Waits until something listens on `port` (redis-server takes a moment to start). */
async function answers(port: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    await delay(10);
  }
  throw new Error(`redis-server did not start on port ${port}`);
}
