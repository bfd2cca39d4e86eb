import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { Clock } from '../../src/transport/clock.ts';
import { Link } from '../../src/transport/link.ts';
import { type DeflateParams, PerMessageDeflate } from '../../src/ws/deflate.ts';
import { WsError } from '../../src/ws/errors.ts';
import { InflateLimiter, type InflateSlot } from '../../src/ws/inflate-limiter.ts';
import { WebSocket, type WebSocketOwner } from '../../src/ws/socket.ts';
import { start } from '../helpers.ts';

const MB = 1024 * 1024;
const PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** What a client puts in a compressed frame: the message raw-deflated, without 00 00 ff ff. */
function compressed(message: Uint8Array): Buffer {
  const out = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** A masked, final client frame; RSV1 marks a compressed message. */
function clientFrame(opcode: number, payload: Buffer, rsv1: boolean): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, 0x80 | length])
      : length < 65536
        ? Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([
            Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, 0x80 | 127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(length));
              return b;
            })(),
          ]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, masked]);
}

/** Text that compresses well but not to nothing, so inflating it takes many zlib output chunks. */
function document(bytes: number, seed: number): Buffer {
  let text = '';
  for (let i = 0; text.length < bytes; i++) text += `line ${seed}:${i} ${(i * 7919 + seed) % 104729}\n`;
  return Buffer.from(text.slice(0, bytes));
}

/** A slot that does nothing but hold its place (and records what the limiter asked of it). */
function holder(limiter: InflateLimiter, log: string[] = [], name = 'slot'): InflateSlot {
  return limiter.request({
    start: () => log.push(`${name} start`),
    pause: () => log.push(`${name} pause`),
    resume: () => log.push(`${name} resume`),
  });
}

describe('InflateLimiter', () => {
  test('at most `concurrency` run; the rest start in arrival order as slots are released', () => {
    const limiter = new InflateLimiter(2, 1000);
    const log: string[] = [];
    const a = holder(limiter, log, 'a');
    const b = holder(limiter, log, 'b');
    const c = holder(limiter, log, 'c');
    const d = holder(limiter, log, 'd');
    assert.deepEqual(log, ['a start', 'b start']);
    assert.equal(limiter.active, 2);
    assert.equal(limiter.queued, 2);
    b.release();
    assert.deepEqual(log, ['a start', 'b start', 'c start']);
    b.release(); // idempotent: does not start another
    assert.equal(limiter.active, 2);
    d.release(); // abandoned while waiting: never starts
    a.release();
    c.release();
    assert.deepEqual(log, ['a start', 'b start', 'c start']);
    assert.equal(limiter.active, 0);
    assert.equal(limiter.queued, 0);
  });

  test('over maxBytes every running inflation but the oldest pauses, and resumes when bytes are freed', () => {
    const limiter = new InflateLimiter(3, 100);
    const log: string[] = [];
    const a = holder(limiter, log, 'a');
    const b = holder(limiter, log, 'b');
    const c = holder(limiter, log, 'c');
    log.length = 0;
    b.add(60);
    c.add(40);
    assert.deepEqual(log, []); // 100 is not over the bound
    c.add(1);
    assert.deepEqual(log, ['c pause']);
    a.add(500); // the oldest goes on regardless
    b.add(1);
    assert.deepEqual(log, ['c pause', 'b pause']);
    assert.equal(limiter.bytes, 602);
    a.release(); // b is now the oldest: it resumes, c stays paused (still over: 102)
    assert.deepEqual(log, ['c pause', 'b pause', 'b resume']);
    b.release();
    assert.deepEqual(log, ['c pause', 'b pause', 'b resume', 'c resume']);
    assert.equal(limiter.bytes, 41);
    c.release();
    assert.equal(limiter.bytes, 0);
  });

  test('a slot counts bytes only while it runs', () => {
    const limiter = new InflateLimiter(1, 10);
    const a = holder(limiter);
    const b = holder(limiter);
    b.add(50); // waiting: not counted
    assert.equal(limiter.bytes, 0);
    a.add(5);
    a.release();
    b.add(3);
    assert.equal(limiter.bytes, 3);
    b.release();
    b.add(3);
    assert.equal(limiter.bytes, 0);
  });

  test('invalid bounds throw', () => {
    assert.throws(() => new InflateLimiter(0, 1), RangeError);
    assert.throws(() => new InflateLimiter(1.5, 1), RangeError);
    assert.throws(() => new InflateLimiter(1, 0), RangeError);
    assert.throws(() => new InflateLimiter(1, Number.NaN), RangeError);
  });
});

describe('PerMessageDeflate under a shared limiter', () => {
  /** Samples the limiter on every turn of the event loop until `done` settles. */
  async function watch<T>(limiter: InflateLimiter, done: Promise<T>) {
    let maxActive = 0;
    let maxBytes = 0;
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    while (!finished) {
      maxActive = Math.max(maxActive, limiter.active);
      maxBytes = Math.max(maxBytes, limiter.bytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { result: await done, maxActive, maxBytes };
  }

  test('every message inflates exactly while zlib is paused and resumed under a tight byte bound', async () => {
    const limiter = new InflateLimiter(4, 64 * 1024);
    const messages = Array.from({ length: 12 }, (_, i) => document(2 * MB + i * 1000, i));
    const inflaters = messages.map(
      (_, i) =>
        new PerMessageDeflate(
          { ...PARAMS, clientNoContextTakeover: i % 2 === 0 },
          { maxInflatedBytes: 4 * MB },
          limiter,
        ),
    );
    // Two messages per connection, so a stream paused at its end is reused for the next message.
    const all = Promise.all(
      inflaters.flatMap((d, i) => [
        d.decompress(compressed(messages[i]!)),
        d.decompress(compressed(messages[(i + 1) % 12]!)),
      ]),
    );
    const { result, maxActive, maxBytes } = await watch(limiter, all);
    result.forEach((out, k) => {
      const i = Math.floor(k / 2);
      assert.ok(out.equals(k % 2 === 0 ? messages[i]! : messages[(i + 1) % 12]!), `message ${k} differs`);
    });
    assert.equal(maxActive, 4);
    // Four inflations of 2 MB at once would hold 8 MB; paused, the others stop within zlib's buffer.
    assert.ok(maxBytes < 2 * MB + 4 * 256 * 1024, `held up to ${maxBytes} bytes`);
    assert.equal(limiter.bytes, 0);
    assert.equal(limiter.active, 0);
    for (const d of inflaters) d.close();
  });

  test('bombs from many connections are refused with 1009, a few at a time, and free every slot', async () => {
    const limiter = new InflateLimiter(3, 4 * MB);
    const bomb = compressed(Buffer.alloc(64 * MB));
    const inflaters = Array.from(
      { length: 30 },
      () => new PerMessageDeflate(PARAMS, { maxInflatedBytes: MB }, limiter),
    );
    const settled = Promise.allSettled(inflaters.map((d) => d.decompress(bomb)));
    const { result, maxActive } = await watch(limiter, settled);
    for (const r of result) {
      assert.equal(r.status, 'rejected');
      const error = (r as PromiseRejectedResult).reason;
      assert.ok(error instanceof WsError && error.closeCode === 1009, String(error));
    }
    assert.equal(maxActive, 3);
    assert.equal(limiter.active + limiter.queued + limiter.bytes, 0);
    // Still usable afterwards.
    assert.deepEqual(await inflaters[0]!.decompress(compressed(Buffer.from('ok'))), Buffer.from('ok'));
    for (const d of inflaters) d.close();
  });

  test('output zlib finished while paused still arrives, and the stream flows for the next message', async () => {
    const limiter = new InflateLimiter(2, 1);
    const held = holder(limiter); // the oldest: the inflation below pauses at its first output
    const d = new PerMessageDeflate(PARAMS, { maxInflatedBytes: MB }, limiter);
    // Incompressible, so zlib's output comes as a 16 KiB chunk and the rest: the rest is pushed
    // into the paused stream and zlib reports the flush done before it is read.
    const twoChunks = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 251));
    const first = d.decompress(compressed(twoChunks));
    await new Promise((resolve) => setTimeout(resolve, 50));
    held.release();
    assert.ok((await first).equals(twoChunks));
    // One chunk of output, paused at that chunk: completes paused, yet the next message flows.
    const heldAgain = holder(limiter);
    assert.deepEqual(
      await d.decompress(compressed(Buffer.from('x'.repeat(100)))),
      Buffer.from('x'.repeat(100)),
    );
    heldAgain.release();
    const next = d.decompress(compressed(Buffer.from('next')));
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('stuck')), 2000).unref());
    assert.deepEqual(await Promise.race([next, timeout]), Buffer.from('next'));
    d.close();
  });

  test('closing a connection gives up its slot, running or queued', async () => {
    const limiter = new InflateLimiter(1, MB);
    const held = holder(limiter);
    const queued = new PerMessageDeflate(PARAMS, { maxInflatedBytes: MB }, limiter);
    const other = new PerMessageDeflate(PARAMS, { maxInflatedBytes: MB }, limiter);
    const first = queued.decompress(compressed(Buffer.from('never')));
    const second = other.decompress(compressed(Buffer.from('after')));
    await new Promise((resolve) => setImmediate(resolve)); // each call takes its turn on its connection
    assert.equal(limiter.queued, 2);
    queued.stopInflating();
    await assert.rejects(
      first,
      (e: unknown) => e instanceof WsError && e.code === 'ERR_PEREGRINE_WS_DEFLATE_CLOSED',
    );
    assert.equal(limiter.queued, 1);
    held.release();
    assert.deepEqual(await second, Buffer.from('after'));
    // Compression still works after stopInflating().
    assert.ok((await queued.compress(Buffer.alloc(10_000))).length > 0);
    queued.close();
    other.close();
    assert.equal(limiter.active + limiter.queued, 0);
  });
});

describe('a WebSocket waiting for its turn to inflate', () => {
  test('stops reading its socket until the message is delivered', async () => {
    const limiter = new InflateLimiter(1, MB);
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect(port, '127.0.0.1');
    const [socket] = await accepted;
    const received: string[] = [];
    const owner: WebSocketOwner = {
      clock: new Clock(),
      stopping: false,
      metrics: null,
      wsOptions: {
        maxMessageBytes: MB,
        idleTimeout: 0,
        closeTimeout: 1000,
        maxBufferedBytes: MB,
        closeOnBackpressureLimit: true,
      },
      wsHooks: { handleWSMessage: (_ws, message) => received.push(String(message)) },
      hookFailed: (error) => {
        throw error;
      },
    };
    const link = new Link(socket, null, { linkClosed: () => {} });
    const ws = new WebSocket(link, owner, {
      protocol: '',
      extensions: 'permessage-deflate',
      data: undefined,
      deflate: new PerMessageDeflate(PARAMS, { maxInflatedBytes: MB }, limiter),
    });
    link.swap(ws);
    link.startReading();
    try {
      const busy = holder(limiter); // another connection's inflation holds the only slot
      client.write(clientFrame(0x1, compressed(Buffer.from('first')), true));
      while (limiter.queued === 0) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(socket.isPaused(), true);
      client.write(clientFrame(0x1, Buffer.from('second'), false));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(received, []);
      busy.release();
      while (received.length < 2) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(received, ['first', 'second']);
      assert.equal(socket.isPaused(), false);
    } finally {
      ws.terminate();
      client.destroy();
      server.close();
    }
  });
});

describe('a server under compressed-message bombs', () => {
  test('refuses every bomb with 1009, keeps echoing an honest client, and validates its options', async () => {
    const server = await start(
      {
        handleRequest: (_req, res) => {
          res.upgrade();
        },
        handleWSMessage: (ws, message, isBinary) => {
          ws.send(message, isBinary);
        },
      },
      {
        wsPerMessageDeflate: true,
        wsMaxMessageBytes: 4 * MB,
        wsInflateConcurrency: 1,
        wsInflateMaxBytes: 1024,
      },
    );
    const { WebSocket: Client } = await import('ws');
    const url = `ws://127.0.0.1:${server.port}/`;
    try {
      // Raw bomb clients: each sends one 64 MB message of zeros, compressed to ~64 KB.
      const bomb = clientFrame(0x2, compressed(Buffer.alloc(64 * MB)), true);
      const codes = Array.from({ length: 20 }, async () => {
        const socket = connect(server.port, '127.0.0.1');
        socket.write(
          `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
        );
        socket.write(bomb);
        let bytes = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
        });
        socket.on('error', () => {});
        await once(socket, 'close');
        // After the 101's head, the server's Close frame: 0x88, length, code.
        const frame = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
        return frame[0] === 0x88 ? frame.readUInt16BE(2) : -1;
      });
      // An honest client alongside, whose messages need many pauses at a 1 KiB bound.
      const honest = new Client(url, { perMessageDeflate: { threshold: 0 } });
      await once(honest, 'open');
      const echoes: string[] = [];
      honest.on('message', (data) => echoes.push(String(data)));
      const sent = Array.from({ length: 5 }, (_, i) => document(200_000 + i, i).toString());
      for (const text of sent) honest.send(text);
      assert.deepEqual(await Promise.all(codes), new Array(20).fill(1009));
      while (echoes.length < sent.length) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(echoes, sent);
      honest.close();
    } finally {
      await server.shutdown();
    }
    await assert.rejects(
      start(() => {}, { wsInflateConcurrency: 0 }),
      /wsInflateConcurrency/,
    );
    await assert.rejects(
      start(() => {}, { wsInflateMaxBytes: -1 }),
      /wsInflateMaxBytes/,
    );
  });
});
