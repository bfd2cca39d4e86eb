import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.ts';
import { backoff, RedisPubSubClient, type RedisPubSubOptions } from '../../src/pubsub/redis-client.ts';
import { freePort } from '../helpers.ts';
import { RedisServer, type RedisServerOptions, redisServerMissing, redisTlsMissing } from './redis-server.ts';

// RedisPubSubClient against a real redis-server: started per describe block on a free port, killed,
// paused and restarted on that port to see the client reconnect and stay bounded.

const missing = redisServerMissing();

/** Polls `condition` every few ms until it holds; fails naming `what` after `ms`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Received {
  channel: string;
  payload: Buffer;
  pattern?: string;
}

/** A client that records its messages and events; closed by `closeAll()`. */
class Harness {
  readonly messages: Received[] = [];
  readonly errors: Error[] = [];
  readonly events: string[] = [];
  readonly client: RedisPubSubClient;

  constructor(url: string, options: Partial<RedisPubSubOptions> = {}) {
    this.client = new RedisPubSubClient({
      url,
      minBackoff: 10,
      maxBackoff: 100,
      onMessage: (channel, payload) => this.messages.push({ channel, payload }),
      onPMessage: (pattern, channel, payload) => this.messages.push({ pattern, channel, payload }),
      onConnect: () => this.events.push('connect'),
      onDisconnect: (error) => this.events.push(`disconnect: ${error.message}`),
      onError: (error) => this.errors.push(error),
      ...options,
    });
    open.add(this);
  }

  /** Waits until Redis counts `n` subscribers of `channel` (PUBSUB NUMSUB). */
  async subscribers(channel: string, n = 1): Promise<void> {
    await until(async () => {
      const reply = (await this.client.command(['PUBSUB', 'NUMSUB', channel])) as [Buffer, number];
      return reply[1] === n;
    }, `${n} subscriber(s) of ${channel}`);
  }

  async patterns(n: number): Promise<void> {
    await until(async () => (await this.client.command(['PUBSUB', 'NUMPAT'])) === n, `${n} pattern(s)`);
  }

  async received(n: number): Promise<Received[]> {
    await until(() => this.messages.length >= n, `${n} message(s), got ${this.messages.length}`);
    return this.messages;
  }

  close(): Promise<void> {
    open.delete(this);
    return this.client.close();
  }
}

const open = new Set<Harness>();
async function closeAll(): Promise<void> {
  await Promise.all([...open].map((h) => h.close()));
}

test('backoff: doubling from the minimum to the maximum, jittered down by at most half', () => {
  for (let failures = 0; failures < 40; failures++) {
    const ceiling = Math.min(5000, 50 * 2 ** failures);
    for (let i = 0; i < 20; i++) {
      const delay = backoff(failures, 50, 5000);
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} for ${failures}`);
    }
  }
});

test('bad options are ConfigErrors', () => {
  assert.throws(() => new RedisPubSubClient({ url: 'http://x' }), ConfigError);
  assert.throws(
    () => new RedisPubSubClient({ url: 'redis://x', maxPendingBytes: 0 }),
    /'maxPendingBytes' must be/,
  );
  assert.throws(
    () => new RedisPubSubClient({ url: 'redis://x', minBackoff: 100, maxBackoff: 10 }),
    /at least/,
  );
  assert.throws(() => new RedisPubSubClient({ url: 'redis://x', tls: {} }), /use rediss:\/\//);
});

test('connecting where nothing listens rejects clearly and quickly', async () => {
  const port = await freePort();
  const client = new RedisPubSubClient({ url: `redis://127.0.0.1:${port}` });
  const started = Date.now();
  await assert.rejects(client.connect(), {
    code: 'ERR_PEREGRINE_REDIS_CONNECTION',
    message: `could not connect to Redis at 127.0.0.1:${port}: ECONNREFUSED`,
  });
  assert.ok(Date.now() - started < 1000);
  assert.equal(client.publish('c', 'x'), false);
  assert.equal(client.stats.publishesDropped, 1);
  await assert.rejects(client.command(['PING']), /not connected to Redis/);
  await client.close();
});

test('a server that breaks the protocol is dropped and reconnected to', async () => {
  // Answers the handshake's PING, then sends junk on the first two connections only.
  let accepted = 0;
  const sockets = new Set<Socket>();
  const fake = createServer((socket) => {
    const n = ++accepted;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (data) => {
      if (!data.includes('PING')) return;
      socket.write('+PONG\r\n');
      if (n <= 2) setTimeout(() => socket.write('!junk\r\n'), 20);
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const { port } = fake.address() as { port: number };
  const h = new Harness(`redis://127.0.0.1:${port}`);
  try {
    await h.client.connect();
    await until(() => h.errors.length > 0, 'the protocol error');
    assert.match(
      h.errors[0]!.message,
      /Redis at 127\.0\.0\.1:\d+ broke the protocol: .*unexpected byte 0x21/,
    );
    assert.match(h.events[1]!, /^disconnect: .*broke the protocol/);
    await until(() => h.client.stats.connected && accepted >= 4, 'the reconnection');
    // Once, unless one connection came back before the other got its junk (a loaded machine).
    assert.ok(h.client.stats.reconnects >= 1);
  } finally {
    await h.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => fake.close(resolve));
  }
});

/**
 * Starts a redis-server before a describe block's tests (handing it to `use`) and, after them, closes
 * the clients they left open and the server.
 */
function serverForSuite(use: (server: RedisServer) => void, options: RedisServerOptions = {}): void {
  let server: RedisServer | undefined;
  before(async () => {
    server = await RedisServer.start(options);
    use(server);
  });
  after(async () => {
    await closeAll();
    await server?.close();
  });
}

describe('against redis-server', { skip: missing }, () => {
  let server: RedisServer;
  serverForSuite((started) => {
    server = started;
  });

  test('publish and subscribe: text, every byte value, empty and 1 MiB payloads', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    assert.equal(h.client.stats.connected, true);
    assert.deepEqual(h.events, ['connect']);
    h.client.subscribe('round-trip');
    await h.subscribers('round-trip');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    assert.equal(h.client.publish('round-trip', 'héllo ✓'), true);
    assert.equal(h.client.publish('round-trip', all), true);
    assert.equal(h.client.publish('round-trip', ''), true);
    assert.equal(h.client.publish('round-trip', big), true);
    const got = await h.received(4);
    assert.deepEqual(
      got.map((m) => m.channel),
      ['round-trip', 'round-trip', 'round-trip', 'round-trip'],
    );
    assert.equal(got[0]!.payload.toString(), 'héllo ✓');
    assert.deepEqual(got[1]!.payload, all);
    assert.equal(got[2]!.payload.length, 0);
    assert.ok(got[3]!.payload.equals(big));
    await until(() => h.client.stats.pendingBytes === 0, 'every reply');
    await h.close();
  });

  test('many publishes in one turn are pipelined; replies are matched in order', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    h.client.subscribe('pipeline');
    await h.subscribers('pipeline');
    const echoes: Promise<unknown>[] = [];
    // Count the socket writes: the whole turn's commands must go out in one.
    const write = Socket.prototype.write;
    let writes = 0;
    Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
      writes++;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof write;
    let replies: Buffer[];
    try {
      for (let i = 0; i < 2000; i++) {
        assert.equal(h.client.publish('pipeline', String(i)), true);
        if (i % 10 === 0) echoes.push(h.client.command(['ECHO', `echo ${i}`]));
      }
      replies = (await Promise.all(echoes)) as Buffer[];
    } finally {
      Socket.prototype.write = write;
    }
    assert.equal(writes, 1);
    assert.deepEqual(
      replies.map((r) => r.toString()),
      Array.from({ length: 200 }, (_, i) => `echo ${i * 10}`),
    );
    const got = await h.received(2000);
    assert.deepEqual(
      got.map((m) => m.payload.toString()),
      Array.from({ length: 2000 }, (_, i) => String(i)),
    );
    // A command Redis refuses rejects with its error, and the connection goes on.
    await assert.rejects(h.client.command(['NOSUCHCOMMAND']), {
      code: 'ERR_PEREGRINE_REDIS_REPLY',
      message: /unknown command/,
    });
    assert.equal(await h.client.command(['PING']), 'PONG');
    assert.equal(h.client.stats.publishErrors, 0);
    await h.close();
  });

  test('psubscribe delivers matching channels with their pattern; punsubscribe stops it', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    h.client.psubscribe('news.*');
    await h.patterns(1);
    h.client.publish('news.tech', 'a');
    h.client.publish('weather', 'b');
    h.client.publish('news.art', 'c');
    const got = await h.received(2);
    assert.deepEqual(
      got.map((m) => [m.pattern, m.channel, m.payload.toString()]),
      [
        ['news.*', 'news.tech', 'a'],
        ['news.*', 'news.art', 'c'],
      ],
    );
    h.client.punsubscribe('news.*');
    await h.patterns(0);
    await h.close();
  });

  test('unsubscribe stops delivery at once and really unsubscribes on Redis', async () => {
    const h: Harness = new Harness(server.url, {
      onMessage: (channel, payload) => {
        h.messages.push({ channel, payload });
        // The second message of the pipeline below is already on its way: it must not be delivered.
        if (payload.toString() === 'first') h.client.unsubscribe('drop');
      },
    });
    await h.client.connect();
    h.client.subscribe('keep');
    h.client.subscribe('drop');
    await h.subscribers('drop');
    await h.subscribers('keep');
    h.client.publish('drop', 'first');
    h.client.publish('drop', 'second');
    await h.subscribers('drop', 0);
    h.client.publish('drop', 'third');
    h.client.publish('keep', 'kept');
    await until(() => h.messages.some((m) => m.channel === 'keep'), 'the kept message');
    assert.deepEqual(
      h.messages.map((m) => `${m.channel}:${m.payload}`),
      ['drop:first', 'keep:kept'],
    );
    await h.close();
  });

  test('subscribing to a channel already subscribed sends nothing; subscribe+unsubscribe in a turn cancel', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    await h.client.command(['CONFIG', 'RESETSTAT']);
    h.client.subscribe('twice');
    h.client.subscribe('twice');
    await h.subscribers('twice');
    h.client.subscribe('twice');
    h.client.subscribe('fleeting');
    h.client.unsubscribe('fleeting');
    await new Promise((resolve) => setImmediate(resolve));
    h.client.subscribe('later');
    await h.subscribers('later');
    const info = String(await h.client.command(['INFO', 'commandstats']));
    assert.match(info, /cmdstat_subscribe:calls=2,/);
    assert.doesNotMatch(info, /cmdstat_unsubscribe/);
    await h.close();
  });

  test('the subscriber connection alone is killed: it comes back with its subscriptions, publishing goes on', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    h.client.subscribe('alone');
    await h.subscribers('alone');
    assert.equal(await h.client.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']), 1);
    await until(() => !h.client.stats.connected, 'the disconnection');
    assert.equal(h.client.publish('alone', 'while away'), true); // the command connection is up
    await until(() => h.client.stats.connected, 'the reconnection');
    assert.equal(h.client.stats.reconnects, 1);
    h.client.publish('alone', 'back');
    await until(() => h.messages.some((m) => m.payload.toString() === 'back'), 'the message after');
    // Commands that would turn the command connection into a subscriber are refused.
    await assert.rejects(h.client.command(['subscribe', 'x']), { code: 'ERR_PEREGRINE_REDIS_COMMAND' });
    await h.close();
  });

  test('a throwing callback is reported to onError; delivery goes on', async () => {
    let calls = 0;
    const h = new Harness(server.url, {
      onMessage: () => {
        calls++;
        throw new Error('handler bug');
      },
    });
    await h.client.connect();
    h.client.subscribe('throws');
    await h.subscribers('throws');
    h.client.publish('throws', '1');
    h.client.publish('throws', '2');
    await until(() => calls === 2, 'both messages');
    assert.deepEqual(
      h.errors.map((e) => e.message),
      ['handler bug', 'handler bug'],
    );
    assert.equal(h.client.stats.connected, true);
    await h.close();
  });

  test('SELECT: the command connection uses the URL database', async () => {
    const h = new Harness(`${server.url}/3`);
    await h.client.connect();
    const info = String(await h.client.command(['CLIENT', 'INFO']));
    assert.match(info, / db=3 /);
    await h.close();
  });

  test('a channel Redis refuses (ACL NOPERM) drops the subscriber connection until it is unsubscribed', async () => {
    const admin = new Harness(server.url);
    await admin.client.connect();
    await admin.client.command([
      'ACL',
      'SETUSER',
      'limited',
      'on',
      '>pw',
      'resetchannels',
      '&allowed',
      '+@all',
      '~*',
    ]);
    const url = `redis://limited:pw@127.0.0.1:${server.port}`;
    const first = new Harness(url);
    first.client.subscribe('forbidden');
    await assert.rejects(first.client.connect(), /Redis refused a subscription: NOPERM/);
    await first.close();

    const h = new Harness(url);
    h.client.subscribe('allowed');
    h.client.start();
    await until(() => h.client.stats.connected, 'connected');
    h.client.subscribe('forbidden');
    await until(() => h.errors.length > 0, 'the refusal');
    assert.match(h.errors[0]!.message, /NOPERM/);
    h.client.unsubscribe('forbidden');
    await until(() => h.client.stats.connected, 'connected again');
    await h.subscribers('allowed');
    await h.close();
    await admin.close();
  });

  test('close() leaves no handles: a process that used the client exits by itself', async () => {
    const client = fileURLToPath(new URL('../../src/pubsub/redis-client.ts', import.meta.url));
    const nowhere = await freePort();
    const script = `
      import { RedisPubSubClient } from ${JSON.stringify(client)};
      let got = null;
      const a = new RedisPubSubClient({ url: ${JSON.stringify(server.url)}, onMessage: (c, p) => { got = p.toString(); } });
      await a.connect();
      a.subscribe('exit-test');
      while ((await a.command(['PUBSUB', 'NUMSUB', 'exit-test']))[1] !== 1) await new Promise((r) => setTimeout(r, 5));
      a.publish('exit-test', 'bye');
      const pending = a.command(['PING']);
      while (got === null) await new Promise((r) => setTimeout(r, 5));
      await pending;
      // One that never connects, closed while it waits to retry.
      const b = new RedisPubSubClient({ url: 'redis://127.0.0.1:${nowhere}', minBackoff: 1000, maxBackoff: 1000 });
      b.start();
      await new Promise((r) => setTimeout(r, 50));
      await Promise.all([a.close(), b.close()]);
      console.log('closed', got);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(timer);
    assert.equal(signal, null, `the process did not exit by itself: ${output}`);
    assert.equal(code, 0, output);
    assert.equal(output.trim(), 'closed bye');
  });
});

describe('redis-server going away', { skip: missing }, () => {
  let server: RedisServer;
  serverForSuite((started) => {
    server = started;
  });

  test('killed and restarted on the same port: reconnects, resubscribes, messages flow again', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    h.client.subscribe('survivor');
    h.client.psubscribe('surv*');
    await h.subscribers('survivor');
    h.client.publish('survivor', 'before');
    await h.received(2);
    const blocked = assert.rejects(h.client.command(['BLPOP', 'no-such-list', '0']), /lost before the reply/);

    await server.stop('SIGKILL');
    await blocked;
    await until(() => !h.client.stats.connected, 'the disconnection');
    assert.equal(h.client.publish('survivor', 'lost'), false);
    assert.equal(h.client.publish('survivor', 'lost too'), false);
    assert.equal(h.client.stats.publishesDropped, 2);
    await assert.rejects(h.client.command(['PING']), /not connected/);

    await server.restart();
    await until(() => h.client.stats.connected, 'the reconnection');
    assert.equal(h.client.stats.reconnects, 1);
    assert.equal(h.events.length, 3);
    assert.match(h.events[1]!, /^disconnect: /);
    assert.equal(h.events[2], 'connect');
    // Connected means the subscriptions are back: no wait needed before publishing.
    h.client.publish('survivor', 'after');
    await h.received(4);
    assert.deepEqual(
      h.messages.map((m) => `${m.pattern ?? ''}>${m.channel}:${m.payload}`),
      ['>survivor:before', 'surv*>survivor:before', '>survivor:after', 'surv*>survivor:after'],
    );
    await h.close();
  });

  test('start() without Redis: keeps retrying in the background, connects when Redis comes', async () => {
    await server.stop('SIGTERM');
    const h = new Harness(server.url);
    h.client.subscribe('late');
    h.client.start();
    await until(() => h.errors.length >= 2, 'failed attempts');
    assert.match(h.errors[0]!.message, /could not connect to Redis at 127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(h.client.publish('late', 'x'), false);
    assert.deepEqual(h.events, []);
    await server.restart();
    await until(() => h.client.stats.connected, 'the connection');
    assert.deepEqual(h.events, ['connect']);
    assert.equal(h.client.stats.reconnects, 0);
    h.client.publish('late', 'hello');
    assert.equal((await h.received(1))[0]!.payload.toString(), 'hello');
    await h.close();
  });

  test('Redis paused (SIGSTOP): pending bytes stay bounded, publish returns false past the bound', async () => {
    const maxPendingBytes = 256 * 1024;
    const h = new Harness(server.url, { maxPendingBytes });
    await h.client.connect();
    server.pause();
    try {
      const payload = Buffer.alloc(60 * 1024, 'p');
      let accepted = 0;
      for (let i = 0; i < 100; i++) if (h.client.publish('paused', payload)) accepted++;
      assert.equal(accepted, 4); // 4 × ~60 KiB fit in 256 KiB, a fifth doesn't
      assert.equal(h.client.stats.publishesDropped, 96);
      assert.ok(h.client.stats.pendingBytes <= maxPendingBytes);
      await assert.rejects(h.client.command(['SET', 'k', payload]), /more than 262144 bytes wait for Redis/);
      assert.equal(h.client.stats.connected, true);
    } finally {
      server.resume();
    }
    await until(() => h.client.stats.pendingBytes === 0, 'the replies');
    assert.equal(h.client.publish('paused', 'again'), true);
    await h.close();
  });

  test('Redis accepting connections but not answering: connect() rejects after connectTimeout', async () => {
    const h = new Harness(server.url, { connectTimeout: 200 });
    server.pause(); // the kernel still completes TCP handshakes; nobody answers PING
    try {
      const started = Date.now();
      await assert.rejects(
        h.client.connect(),
        /could not connect to Redis at 127\.0\.0\.1:\d+: no answer within 200 ms/,
      );
      assert.ok(Date.now() - started < 1000);
    } finally {
      server.resume();
    }
    await h.close();
  });
});

describe('AUTH', { skip: missing }, () => {
  let server: RedisServer;
  serverForSuite(
    (started) => {
      server = started;
    },
    { password: 'hunter2 secret' },
  );

  test('AUTH password and AUTH user password', async () => {
    const h = new Harness(server.url);
    await h.client.connect();
    assert.equal(await h.client.command(['PING']), 'PONG');
    await h.close();
    const user = new Harness(`redis://default:hunter2%20secret@127.0.0.1:${server.port}`);
    await user.client.connect();
    assert.equal(await user.client.command(['PING']), 'PONG');
    await user.close();
  });

  test('a wrong password or none is a clear rejection that does not show the password', async () => {
    const wrong = new Harness(`redis://:not-the-secret@127.0.0.1:${server.port}`);
    await assert.rejects(wrong.client.connect(), (error: Error) => {
      assert.match(error.message, /^Redis refused AUTH: WRONGPASS/);
      assert.doesNotMatch(error.message, /not-the-secret/);
      return true;
    });
    await wrong.close();
    const none = new Harness(`redis://127.0.0.1:${server.port}`);
    await assert.rejects(
      none.client.connect(),
      /^Error: Redis refused PING: NOAUTH|Redis refused PING: NOAUTH/,
    );
    await none.close();
  });
});

describe('TLS (rediss://)', { skip: redisTlsMissing() }, () => {
  let server: RedisServer;
  serverForSuite(
    (started) => {
      server = started;
    },
    { tls: true },
  );

  test('publish and subscribe over TLS with the test CA', async () => {
    const h = new Harness(server.url, { tls: { ca: server.ca } });
    await h.client.connect();
    h.client.subscribe('secure');
    await h.subscribers('secure');
    h.client.publish('secure', Buffer.from([0, 1, 2, 255]));
    assert.deepEqual((await h.received(1))[0]!.payload, Buffer.from([0, 1, 2, 255]));
    await h.close();
  });

  test('a certificate the client does not trust is a clear rejection', async () => {
    const h = new Harness(server.url);
    await assert.rejects(h.client.connect(), /could not connect to Redis at 127\.0\.0\.1:\d+: .*certificate/);
    await h.close();
  });
});
