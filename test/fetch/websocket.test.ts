import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocketClient from 'ws';
import { webSocketServerOptions } from '../../src/fetch/websocket.ts';
import { ConfigError, type ServerWebSocket, UsageError, type WebSocketHandler } from '../../src/index.ts';
import { exchange } from '../helpers.ts';
import { startFetch as start, until } from './util.ts';

type Data = { name: string };

/** A fetch-mode server whose /ws upgrades with `data` from the query; records the socket events. */
async function chat(t: import('node:test').TestContext, websocket: Partial<WebSocketHandler<Data>> = {}) {
  const events: string[] = [];
  const sockets: ServerWebSocket<Data>[] = [];
  const h = await start<Data>(t, {
    fetch(request, server) {
      const url = new URL(request.url);
      if (url.pathname === '/ws') {
        const ok = server.upgrade(request, {
          data: { name: url.searchParams.get('name') ?? 'anon' },
          headers: { 'Set-Cookie': 'session=1', 'X-Extra': 'yes' },
        });
        return ok ? undefined : new Response('Upgrade failed', { status: 400 });
      }
      return new Response(`sockets ${server.pendingWebSockets}`);
    },
    websocket: {
      open(ws) {
        sockets.push(ws as ServerWebSocket<Data>);
        events.push(`open ${ws.data.name} ${ws.readyState}`);
      },
      message(ws, message) {
        events.push(
          `message ${ws.data.name} ${typeof message === 'string' ? message : `<${message.length} bytes>`}`,
        );
        ws.send(typeof message === 'string' ? `echo ${message}` : message);
      },
      close(ws, code, reason) {
        events.push(`close ${ws.data.name} ${code} ${reason}`);
      },
      ...websocket,
    } as WebSocketHandler<Data>,
  });
  const base = h.url('/').replace('http', 'ws');
  return {
    ...h,
    events,
    sockets,
    ws: (query: string, protocols: string[] = []) => open(`${base}ws?${query}`, protocols),
  };
}

function open(
  url: string,
  protocols: string[] = [],
): Promise<{ client: WebSocketClient; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const client = new WebSocketClient(url, protocols);
    let response: IncomingMessage;
    client.once('upgrade', (r) => (response = r));
    client.once('open', () => resolve({ client, response }));
    client.once('error', reject);
  });
}

function next(client: WebSocketClient): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) =>
    client.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })),
  );
}

function closed(client: WebSocketClient): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    client.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
}

test('fetch mode WebSocket: upgrade with data and headers; open, message, close with the code and reason', {
  timeout: 20_000,
}, async (t) => {
  const h = await chat(t);
  const { client, response } = await open(`${h.url('/ws?name=ada').replace('http', 'ws')}`);
  assert.equal(response.headers['set-cookie']?.[0], 'session=1');
  assert.equal(response.headers['x-extra'], 'yes');
  assert.equal(client.protocol, ''); // none chosen: no Sec-WebSocket-Protocol in the 101
  client.send('hi');
  assert.equal((await next(client)).data.toString(), 'echo hi');
  client.send(Buffer.from([1, 2, 3]));
  const binary = await next(client);
  assert.deepEqual([...binary.data], [1, 2, 3]);
  assert.equal(binary.isBinary, true);
  const gone = closed(client);
  client.close(4001, 'bye');
  await gone;
  await until(() => h.events.length === 4, 'the close event');
  assert.deepEqual(h.events, ['open ada 1', 'message ada hi', 'message ada <3 bytes>', 'close ada 4001 bye']);
  // A request that is not a handshake: upgrade() is false and the program answers.
  const plain = await fetch(h.url('/ws'));
  assert.equal(plain.status, 400);
  assert.equal(await plain.text(), 'Upgrade failed');
});

test('fetch mode WebSocket: a subprotocol the client offered, given as Sec-WebSocket-Protocol; one it did not is a UsageError', {
  timeout: 20_000,
}, async (t) => {
  const h = await start(t, {
    fetch(request, server) {
      const protocol = new URL(request.url).searchParams.get('p')!;
      try {
        return server.upgrade(request, {
          headers: { 'Sec-WebSocket-Protocol': protocol, 'X-Upgraded': 'yes' },
        })
          ? undefined
          : new Response('no', { status: 400 });
      } catch (error) {
        return new Response(String(error), { status: error instanceof UsageError ? 409 : 500 });
      }
    },
    websocket: { message() {} },
  });
  const base = h.url('/').replace('http', 'ws');
  const { client } = await open(`${base}?p=chat`, ['superchat', 'chat']);
  assert.equal(client.protocol, 'chat');
  client.close();
  await assert.rejects(open(`${base}?p=other`, ['chat']), /Unexpected server response: 409/);
  // The refused upgrade set nothing on the response the program answered with instead.
  const refused = await exchange(
    h.server.port,
    'GET /?p=other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: chat\r\nConnection: close\r\n\r\n',
  );
  assert.match(refused, /^HTTP\/1\.1 409 /);
  assert.doesNotMatch(refused, /x-upgraded/i);
});

test('fetch mode WebSocket: send results, sendText/sendBinary, binaryType, cork, remoteAddress, close and terminate', {
  timeout: 20_000,
}, async (t) => {
  const results: unknown[] = [];
  const h = await chat(t, {
    message(ws, message) {
      const command = typeof message === 'string' ? message : 'binary';
      if (command === 'sends') {
        results.push(ws.send('héllo'), ws.sendText('abc'), ws.sendBinary(new Uint8Array([9, 8])));
        results.push(ws.send(new Uint16Array([1]).buffer), ws.send(new DataView(new ArrayBuffer(3))));
        results.push(ws.cork((socket) => socket.send('in cork') > 0 && socket === ws));
        results.push(ws.remoteAddress, ws.getBufferedAmount() >= 0);
      } else if (command === 'as-arraybuffer') {
        ws.binaryType = 'arraybuffer';
      } else if (command === 'binary') {
        results.push(Object.prototype.toString.call(message));
      } else if (command === 'close') {
        ws.close(4002, 'done here');
        results.push(ws.readyState, ws.send('late'));
      } else if (command === 'terminate') {
        ws.terminate();
      }
    },
  });
  const { client } = await h.ws('name=b');
  const received: string[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) =>
    received.push(isBinary ? `[${[...data]}]` : data.toString()),
  );
  client.send('sends');
  await until(() => received.length === 6, 'six messages');
  assert.deepEqual(received, ['héllo', 'abc', '[9,8]', '[1,0]', '[0,0,0]', 'in cork']);
  assert.deepEqual(results, [6, 3, 2, 2, 3, true, '127.0.0.1', true]);
  results.length = 0;
  client.send(Buffer.from([1]));
  client.send('as-arraybuffer');
  client.send(Buffer.from([2]));
  await until(() => results.length === 2, 'two binary messages');
  assert.deepEqual(results, ['[object Uint8Array]', '[object ArrayBuffer]']); // a Buffer, then an ArrayBuffer
  results.length = 0;
  const byClose = closed(client);
  client.send('close');
  assert.deepEqual(await byClose, { code: 4002, reason: 'done here' });
  assert.deepEqual(results, [2, 0]); // closing, and a send after close() is dropped
  const other = (await h.ws('name=c')).client;
  const byTerminate = closed(other);
  other.send('terminate');
  assert.equal((await byTerminate).code, 1006);
});

test('fetch mode WebSocket: pub/sub — subscribe, publish (not to self unless publishToSelf), server.publish, counts', {
  timeout: 20_000,
}, async (t) => {
  for (const publishToSelf of [false, true]) {
    const h = await chat(t, {
      publishToSelf,
      open(ws) {
        ws.subscribe('room');
        ws.subscribe(`user:${ws.data.name}`);
      },
      message(ws, message) {
        if (message === 'leave') {
          ws.unsubscribe('room');
          ws.send(`left ${ws.isSubscribed('room')} ${ws.subscriptions.join(',')}`);
        } else {
          ws.publish('room', `${ws.data.name}: ${message}`);
        }
      },
    });
    const a = (await h.ws('name=a')).client;
    const b = (await h.ws('name=b')).client;
    const got = { a: [] as string[], b: [] as string[] };
    a.on('message', (data: Buffer) => got.a.push(data.toString()));
    b.on('message', (data: Buffer) => got.b.push(data.toString()));
    await until(() => h.server.subscriberCount('room') === 2, 'two subscribers');
    a.send('hello');
    await until(() => got.b.length === 1 && got.a.length === (publishToSelf ? 1 : 0), 'the publication');
    assert.deepEqual(got.b, ['a: hello']);
    assert.deepEqual(got.a, publishToSelf ? ['a: hello'] : []);
    assert.equal(h.server.publish('user:b', 'direct'), 6);
    assert.equal(h.server.publish('room', new Uint8Array([1, 2])), 2);
    await until(() => got.b.length === 3, 'server publications');
    assert.deepEqual(got.b.slice(1), ['direct', '\u0001\u0002']);
    b.send('leave');
    await until(() => got.b.length === 4, 'the unsubscribe answer');
    assert.equal(got.b[3], 'left false user:b');
    assert.equal(h.server.subscriberCount('room'), 1);
    assert.equal(h.server.pendingWebSockets, 2);
    a.close();
    b.close();
    await until(() => h.server.pendingWebSockets === 0, 'the sockets to close');
    assert.equal(h.server.subscriberCount('room'), 0);
  }
});

test('fetch mode WebSocket: ping and pong handlers, and pings and pongs from the server', {
  timeout: 20_000,
}, async (t) => {
  const h = await chat(t, {
    ping(ws, data) {
      h.events.push(`ping ${data}`);
      ws.ping('from server');
    },
    pong(ws, data) {
      h.events.push(`pong ${data}`);
      ws.pong('unasked');
    },
  });
  const { client } = await h.ws('name=p');
  const clientGot: string[] = [];
  client.on('ping', (data: Buffer) => clientGot.push(`ping ${data}`));
  client.on('pong', (data: Buffer) => clientGot.push(`pong ${data}`));
  client.ping('are you there'); // the server answers it, and its ping handler pings back
  // ws answers the server's ping with a pong: the pong handler sees it and sends an unasked pong.
  await until(() => clientGot.length >= 3, 'the pong, the ping and the unasked pong');
  assert.deepEqual(clientGot, ['pong are you there', 'ping from server', 'pong unasked']);
  assert.deepEqual(h.events.slice(1), ['ping are you there', 'pong from server']);
});

test('fetch mode WebSocket: a handler that throws or rejects closes that socket with 1011 and is reported', {
  timeout: 20_000,
}, async (t) => {
  const h = await chat(t, {
    async message(_ws, message) {
      await delay(1);
      if (message === 'reject') throw new Error('async failure');
    },
    open(ws) {
      if (ws.data.name === 'bad') throw new Error('open failure');
    },
  });
  const { client } = await h.ws('name=ok');
  const byReject = closed(client);
  client.send('reject');
  assert.equal((await byReject).code, 1011);
  const bad = (await h.ws('name=bad')).client;
  assert.equal((await closed(bad)).code, 1011);
  assert.deepEqual(
    h.errors.map((e) => (e as Error).message),
    ['async failure', 'open failure'],
  );
});

test('fetch mode WebSocket: limits — maxPayloadLength closes 1009; past backpressureLimit a send is dropped, or the socket closed', {
  timeout: 30_000,
}, async (t) => {
  for (const closeOnBackpressureLimit of [false, true]) {
    const sendResults: number[] = [];
    let state = 0;
    const h = await chat(t, {
      maxPayloadLength: 1000,
      backpressureLimit: 256 * 1024,
      closeOnBackpressureLimit,
      message(ws, message) {
        if (message !== 'flood') return;
        // A client that reads nothing: sends fill the socket until the limit.
        for (let i = 0; i < 200; i++) {
          const result = ws.send(Buffer.alloc(16 * 1024));
          sendResults.push(result);
          if (result === 0) break;
        }
        state = ws.readyState;
      },
    });
    const { client } = await h.ws('name=big');
    const tooBig = closed(client);
    client.send('x'.repeat(1001));
    assert.equal((await tooBig).code, 1009);

    // A raw client that shakes hands, asks for the flood, then never reads.
    const raw = connectTcp(h.server.port, '127.0.0.1');
    await new Promise((resolve) => raw.once('connect', resolve));
    raw.write(
      'GET /ws?name=slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => raw.once('data', resolve));
    raw.pause();
    const mask = Buffer.from([0x81, 0x85, 1, 2, 3, 4]);
    raw.write(
      Buffer.concat([mask, Buffer.from([...Buffer.from('flood')].map((b, i) => b ^ mask[2 + (i % 4)]!))]),
    );
    await until(() => sendResults.includes(0), 'a dropped send');
    assert.ok(sendResults.includes(-1), 'backpressure (-1) came before the limit');
    assert.ok(sendResults.filter((r) => r === 16 * 1024).length >= 1);
    assert.equal(state, closeOnBackpressureLimit ? 3 : 1);
    raw.destroy();
  }
});

test('websocket options: Bun names stand for Peregrine options, Bun defaults, one of each only', () => {
  const message = () => {};
  assert.deepEqual(webSocketServerOptions({ message }, {}), {
    wsMaxMessageBytes: 1024 * 1024, // Peregrine's default, not Bun's 16 MiB
    wsIdleTimeout: 120_000,
    wsMaxBufferedBytes: 16 * 1024 * 1024,
    wsCloseOnBackpressureLimit: false,
    wsPerMessageDeflate: false,
  });
  assert.deepEqual(
    webSocketServerOptions(
      {
        message,
        maxPayloadLength: 10,
        idleTimeout: 1.5,
        backpressureLimit: 20,
        perMessageDeflate: { compress: true },
      },
      { wsCloseOnBackpressureLimit: true },
    ),
    {
      wsMaxMessageBytes: 10,
      wsIdleTimeout: 1500,
      wsMaxBufferedBytes: 20,
      wsCloseOnBackpressureLimit: true,
      wsPerMessageDeflate: true,
    },
  );
  assert.throws(
    () => webSocketServerOptions({ message, maxPayloadLength: 1 }, { wsMaxMessageBytes: 2 }),
    ConfigError,
  );
  assert.throws(() => webSocketServerOptions({ message, idleTimeout: -1 }, {}), ConfigError);
  assert.throws(() => webSocketServerOptions({} as WebSocketHandler, {}), ConfigError);
});

test('fetch mode WebSocket: permessage-deflate when asked; compress on a send only when asked', {
  timeout: 20_000,
}, async (t) => {
  const h = await chat(t, {
    perMessageDeflate: true,
    message(ws, message) {
      ws.send(String(message).repeat(200), message === 'compressed');
    },
  });
  const { client } = await h.ws('name=z');
  assert.match(client.extensions, /permessage-deflate/);
  client.send('compressed');
  assert.equal((await next(client)).data.toString(), 'compressed'.repeat(200));
  client.send('plain');
  assert.equal((await next(client)).data.toString(), 'plain'.repeat(200));
});

test('fetch mode WebSocket: drain follows a send that returned -1; publishText and publishBinary', {
  timeout: 20_000,
}, async (t) => {
  let drained = 0;
  const results: number[] = [];
  const h = await chat(t, {
    open(ws) {
      ws.subscribe('news');
    },
    message(ws, message) {
      if (message === 'flood') {
        // Until the socket's buffer is past its high-water mark: the last send says -1.
        for (let i = 0; i < 1000; i++) {
          const result = ws.send(new Uint8Array(64 * 1024));
          results.push(result);
          if (result === -1) break;
        }
      } else if (message === 'publish') {
        results.push(ws.publishText('news', 'text news'), ws.publishBinary('news', new Uint8Array([7])));
      }
    },
    drain(ws) {
      drained++;
      ws.send('drained');
    },
  });
  const { client } = await h.ws('name=d');
  const texts: string[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) texts.push(String(data));
  });
  client.send('flood');
  await until(() => texts.includes('drained'), 'the drain handler');
  assert.equal(results.at(-1), -1);
  assert.ok(results.slice(0, -1).every((r) => r === 64 * 1024));
  assert.equal(drained, 1);
  // publishText/publishBinary reach the other subscribers, not the sender.
  const other = (await h.ws('name=e')).client;
  const heard: string[] = [];
  other.on('message', (data: Buffer, isBinary: boolean) =>
    heard.push(isBinary ? `[${[...data]}]` : String(data)),
  );
  await until(() => h.server.subscriberCount('news') === 2, 'two subscribers');
  results.length = 0;
  client.send('publish');
  await until(() => heard.length === 2, 'both publications');
  assert.deepEqual(heard, ['text news', '[7]']);
  assert.deepEqual(results, [9, 1]);
});

test('fetch mode WebSocket: an async fetch may upgrade after awaiting (a session lookup, say)', {
  timeout: 20_000,
}, async (t) => {
  const h = await start<{ user: string }>(t, {
    async fetch(request, server) {
      await delay(20);
      const user = request.headers.get('x-user') ?? 'nobody';
      return server.upgrade(request, { data: { user } }) ? undefined : new Response('no', { status: 400 });
    },
    websocket: {
      message(ws, message) {
        ws.send(`${ws.data.user}: ${message}`);
      },
    },
  });
  const client = new WebSocketClient(h.url('/').replace('http', 'ws'), { headers: { 'X-User': 'ada' } });
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  client.send('late upgrade');
  assert.equal((await next(client)).data.toString(), 'ada: late upgrade');
  client.close();
});
