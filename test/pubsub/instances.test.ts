import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocketClient from 'ws';
import { RedisPubSubClient } from '../../src/pubsub/redis-client.ts';
import { RedisServer, redisServerMissing, redisTlsMissing } from './redis-server.ts';

// Pub/sub between Peregrine instances through a real redis-server: each instance is its own process
// (test/fixtures/pubsub-instance.ts), its clients real WebSockets.

const FIXTURE = new URL('../fixtures/pubsub-instance.ts', import.meta.url).pathname;

interface Instance {
  port: number;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function instance(redisUrl: string, env: Record<string, string> = {}): Promise<Instance> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, REDIS_URL: redisUrl, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the instance exited with ${code}: ${out}`)));
  });
  const exited = once(child, 'exit');
  return {
    port,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A WebSocket client of an instance: publications it receives, and answers to its commands. */
class Client {
  readonly ws: WebSocketClient;
  readonly texts: string[] = [];
  readonly binaries: Buffer[] = [];
  private readonly answers: Record<string, unknown>[] = [];
  private waiting: (() => void) | null = null;
  /** Answers to commands sent without waiting for them. */
  private unwanted = 0;

  constructor(port: number, topics: string[]) {
    const query = topics.map((t) => `t=${encodeURIComponent(t)}`).join('&');
    this.ws = new WebSocketClient(`ws://127.0.0.1:${port}/?${query}`);
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.binaries.push(data);
      else {
        const text = String(data);
        if (!text.startsWith('{')) this.texts.push(text);
        else if (this.unwanted > 0) this.unwanted--;
        else this.answers.push(JSON.parse(text) as Record<string, unknown>);
      }
      this.waiting?.();
    });
  }

  static async open(port: number, topics: string[] = []): Promise<Client> {
    const client = new Client(port, topics);
    await client.answer(); // {"open":[…]}: subscribed
    return client;
  }

  async answer(): Promise<Record<string, unknown>> {
    await until(
      () => this.answers.length > 0,
      5000,
      () =>
        new Promise<void>((resolve) => {
          this.waiting = resolve;
        }),
    );
    return this.answers.shift()!;
  }

  async publish(topic: string, message: string | Buffer): Promise<number> {
    const command =
      typeof message === 'string'
        ? { pub: topic, text: message }
        : { pub: topic, b64: message.toString('base64') };
    this.ws.send(JSON.stringify(command));
    return (await this.answer()).taken as number;
  }

  /** Publishes without waiting for the answer. */
  fire(topic: string, text: string): void {
    this.unwanted++;
    this.ws.send(JSON.stringify({ pub: topic, text }));
  }

  async command(command: Record<string, string>): Promise<void> {
    this.ws.send(JSON.stringify(command));
    await this.answer();
  }

  close(): void {
    this.ws.terminate();
  }
}

async function until(
  condition: () => boolean,
  ms = 5000,
  wait: () => Promise<unknown> = () => delay(10),
): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await Promise.race([wait(), delay(20)]);
  }
}

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await delay(20);
  }
}

/** Waits until `n` connections subscribe to `channel` on Redis (SUBSCRIBE goes out asynchronously). */
async function subscribers(redis: RedisServer, channel: string, n: number): Promise<void> {
  await eventually(async () => (await numsub(redis, channel)) === n);
}

async function numsub(redis: RedisServer, channel: string): Promise<number> {
  const client = new RedisPubSubClient({ url: redis.url });
  await client.connect();
  try {
    const reply = (await client.command(['PUBSUB', 'NUMSUB', channel])) as unknown[];
    return Number(reply[1]);
  } finally {
    await client.close();
  }
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

const skip = redisServerMissing() ?? false;

describe('pub/sub between two instances through Redis', { skip }, () => {
  let redis: RedisServer;
  let a: Instance;
  let b: Instance;
  before(async () => {
    redis = await RedisServer.start();
    [a, b] = await Promise.all([instance(redis.url), instance(redis.url)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.close();
  });

  test('a publication reaches the subscribers of both instances once each, text and binary', async () => {
    const onA = await Client.open(a.port, ['room']);
    const onB = await Client.open(b.port, ['room']);
    const other = await Client.open(b.port, ['elsewhere']);
    const publisher = await Client.open(a.port, ['room']);
    // One Redis subscription per instance, not per socket.
    await subscribers(redis, 'peregrine:room', 2);
    assert.equal(await publisher.publish('room', 'hello'), 1, 'taken by one other socket of this instance');
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await publisher.publish('room', everyByte);
    await until(() => onB.texts.length === 1 && onB.binaries.length === 1);
    await until(() => onA.texts.length === 1 && onA.binaries.length === 1);
    await delay(100); // time for a duplicate to arrive, were there one
    for (const client of [onA, onB]) {
      assert.deepEqual(client.texts, ['hello']);
      assert.deepEqual(client.binaries, [everyByte]);
    }
    assert.deepEqual(publisher.texts, [], 'ws.publish skips the publishing socket');
    assert.deepEqual(other.texts, []);
    for (const c of [onA, onB, other, publisher]) c.close();
  });

  test('an instance subscribes on Redis only while one of its sockets does', async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => Client.open(b.port, ['crowd'])));
    await subscribers(redis, 'peregrine:crowd', 1);
    await clients[0]!.command({ unsub: 'crowd' });
    await delay(50);
    assert.equal(await numsub(redis, 'peregrine:crowd'), 1, 'others still subscribe');
    for (const c of clients) c.close();
    await subscribers(redis, 'peregrine:crowd', 0); // the last socket gone, the subscription is dropped
  });

  test('unsubscribing stops delivery; many topics are routed apart', async () => {
    const topics = Array.from({ length: 100 }, (_, i) => `topic-${i}`);
    const onB = await Client.open(b.port, topics);
    const publisher = await Client.open(a.port);
    await subscribers(redis, 'peregrine:topic-99', 1);
    for (const topic of topics) await publisher.publish(topic, `to ${topic}`);
    await until(() => onB.texts.length === topics.length);
    assert.deepEqual(
      onB.texts,
      topics.map((t) => `to ${t}`),
    );
    await onB.command({ unsub: 'topic-7' });
    await subscribers(redis, 'peregrine:topic-7', 0);
    await publisher.publish('topic-7', 'not for you');
    await publisher.publish('topic-8', 'for you');
    await until(() => onB.texts.length === topics.length + 1);
    assert.equal(onB.texts.at(-1), 'for you');
    onB.close();
    publisher.close();
  });

  test('a backend can PUBLISH to WebSocket clients through Redis (text, and binary when not UTF-8)', async () => {
    const onA = await Client.open(a.port, ['alerts']);
    await subscribers(redis, 'peregrine:alerts', 1);
    const backend = new RedisPubSubClient({ url: redis.url });
    await backend.connect();
    try {
      backend.publish('peregrine:alerts', 'disk full');
      backend.publish('peregrine:alerts', Buffer.from([0xff, 0x00, 0xfe]));
      await until(() => onA.texts.length === 1 && onA.binaries.length === 1);
      assert.deepEqual(onA.texts, ['disk full']);
      assert.deepEqual(onA.binaries, [Buffer.from([0xff, 0x00, 0xfe])]);
    } finally {
      await backend.close();
      onA.close();
    }
  });
});

test('instances reach each other through Redis over TLS (rediss://, with a password and a CA)', {
  skip: redisTlsMissing() ?? false,
}, async () => {
  const redis = await RedisServer.start({ tls: true, password: 's3cret:/@' });
  const env = { REDIS_CA: redis.ca! };
  const [a, b] = await Promise.all([instance(redis.url, env), instance(redis.url, env)]);
  try {
    const onB = await Client.open(b.port, ['secure']);
    const publisher = await Client.open(a.port);
    await eventually(async () => {
      publisher.fire('secure', 'over TLS');
      return onB.texts.length > 0;
    }, 10_000);
    assert.equal(onB.texts[0], 'over TLS');
    onB.close();
    publisher.close();
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await redis.close();
  }
});

describe('pub/sub when Redis or an instance fails', { skip }, () => {
  test('Redis killed and restarted mid-stream: local delivery never stops, the gap is counted, the instances reconnect and resubscribe', async () => {
    const redis = await RedisServer.start();
    const [a, b] = await Promise.all([instance(redis.url), instance(redis.url)]);
    try {
      const onA = await Client.open(a.port, ['live']);
      const onB = await Client.open(b.port, ['live']);
      const publisher = await Client.open(a.port);
      await subscribers(redis, 'peregrine:live', 2);
      let sent = 0;
      const publishSome = async (n: number) => {
        for (let i = 0; i < n; i++) {
          await publisher.publish('live', `m${sent++}`);
          await delay(5);
        }
      };
      await publishSome(20);
      await until(() => onB.texts.length === 20);
      await redis.stop('SIGKILL');
      await publishSome(30); // Redis is gone: these reach A's subscribers only
      await redis.restart();
      // Publications go through again once both instances have resubscribed.
      await until(() => {
        publisher.fire('live', `m${sent++}`);
        return onB.texts.length > 20;
      }, 15_000);
      await publishSome(10);
      await until(() => onA.texts.length === sent);
      assert.deepEqual(
        onA.texts,
        Array.from({ length: sent }, (_, i) => `m${i}`),
        'every publication reached the local subscriber, in order',
      );
      assert.ok(onB.texts.includes(`m${sent - 1}`), 'the other instance gets them again');
      assert.ok(
        (await metric(a.port, 'peregrine_pubsub_redis_lost_total')) >= 30,
        'the lost ones are counted',
      );
      // Each instance counts its reconnection once both its connections are back (the subscriber
      // may be back a little before the other).
      for (const port of [a.port, b.port]) {
        await eventually(async () => (await metric(port, 'peregrine_pubsub_redis_reconnects_total')) >= 1);
        assert.equal(await metric(port, 'peregrine_pubsub_redis_connected_workers'), 1);
      }
      for (const c of [onA, onB, publisher]) c.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await redis.close();
    }
  });

  test('an instance killed: the other serves on, and its Redis subscriptions go with it', async () => {
    const redis = await RedisServer.start();
    const [a, b] = await Promise.all([instance(redis.url), instance(redis.url)]);
    try {
      const onA = await Client.open(a.port, ['news']);
      const onB = await Client.open(b.port, ['news']);
      await subscribers(redis, 'peregrine:news', 2);
      await b.stop('SIGKILL');
      await until(() => onB.ws.readyState === WebSocketClient.CLOSED);
      const publisher = await Client.open(a.port);
      assert.equal(await publisher.publish('news', 'still here'), 1);
      await until(() => onA.texts.length === 1);
      await subscribers(redis, 'peregrine:news', 1);
      onA.close();
      publisher.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await redis.close();
    }
  });

  test('with two workers per instance a publication reaches every subscriber exactly once', async () => {
    const redis = await RedisServer.start();
    const [a, b] = await Promise.all([
      instance(redis.url, { WORKERS: '2' }),
      instance(redis.url, { WORKERS: '2' }),
    ]);
    try {
      const clients = await Promise.all(
        Array.from({ length: 16 }, (_, i) => Client.open(i % 2 === 0 ? a.port : b.port, ['all'])),
      );
      const publisher = await Client.open(a.port);
      // Each worker with a client subscribes on its own: at least one per instance.
      await eventually(async () => (await numsub(redis, 'peregrine:all')) >= 2);
      await delay(300);
      for (let i = 0; i < 5; i++) await publisher.publish('all', `n${i}`);
      await until(() => clients.every((c) => c.texts.length >= 5));
      await delay(200);
      for (const c of clients) assert.deepEqual(c.texts, ['n0', 'n1', 'n2', 'n3', 'n4']);
      for (const c of [...clients, publisher]) c.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await redis.close();
    }
  });

  test('Redis unreachable at start-up: an error that says where, or with required: false a start that connects later', async () => {
    const redis = await RedisServer.start();
    const url = redis.url;
    await redis.stop('SIGKILL');
    await assert.rejects(instance(url), /could not connect to Redis at 127\.0\.0\.1:\d+/);
    const degraded = await instance(url, { REQUIRED: 'false' });
    const peer = await (async () => {
      await redis.restart();
      return instance(url);
    })();
    try {
      const onDegraded = await Client.open(degraded.port, ['t']);
      const publisher = await Client.open(peer.port);
      await until(() => {
        publisher.fire('t', 'through at last');
        return onDegraded.texts.length > 0;
      }, 15_000);
      onDegraded.close();
      publisher.close();
    } finally {
      await Promise.all([degraded.stop(), peer.stop()]);
      await redis.close();
    }
  });
});
