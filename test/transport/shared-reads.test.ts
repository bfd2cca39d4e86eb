import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { SHARED_READ_BYTES, sharedReadCounts, withSharedReads } from '../../src/transport/shared-reads.ts';
import { httpGet, start } from '../helpers.ts';

// On a Node without the internals shared reads lean on (`_handle.useUserBuffer`, `_server`),
// withSharedReads() returns null and every connection quietly reads the plain way: correct, only
// slower, so nothing else would notice. On every Node that package.json's engines allows, it must
// not happen: these tests fail there instead (CI runs them on the oldest and newest Node too).

/** What an accepted socket offers of the internals shared reads need, for a failure message. */
function internals(socket: Socket): string {
  const s = socket as unknown as { _handle?: { useUserBuffer?: unknown } | null; _server?: unknown };
  return `_handle.useUserBuffer is ${typeof s._handle?.useUserBuffer}, _server is ${s._server === null ? 'null' : typeof s._server}`;
}

function listen(server: NetServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

function connections(server: NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.getConnections((error, count) => (error ? reject(error) : resolve(count)));
  });
}

test(`a socket accepted with pauseOnConnect reads into the shared buffer on Node ${process.version}`, {
  timeout: 10_000,
}, async () => {
  const buffer = Buffer.alloc(SHARED_READ_BYTES);
  let received = '';
  let foreignBuffer = false;
  let dataEvents = 0;
  const accepted: { socket: Socket | null; detail: string }[] = [];
  // As src/worker.ts makes its listener: paused, so the handle is not reading when it changes hands.
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    const detail = internals(socket);
    const wrapped = withSharedReads(socket, buffer, (nread, buf) => {
      if (buf !== buffer) foreignBuffer = true;
      if (nread > 0) received += buf.toString('latin1', 0, nread);
      if (received === 'ping') wrapped!.write('pong');
    });
    accepted.push({ socket: wrapped, detail });
    if (wrapped === null) {
      socket.destroy();
      return;
    }
    wrapped.on('data', () => dataEvents++);
    wrapped.on('end', () => wrapped.end());
  });
  const port = await listen(server);
  try {
    const client = connect({ port, host: '127.0.0.1' });
    let reply = '';
    client.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply === 'pong') client.end(); // the server ends its side in turn
    });
    await once(client, 'connect');
    client.write('ping');
    await once(client, 'close');
    assert.equal(accepted.length, 1);
    assert.notEqual(
      accepted[0]!.socket,
      null,
      `shared reads fell back to plain reads on Node ${process.version}: ${accepted[0]!.detail}`,
    );
    assert.equal(received, 'ping', 'the bytes came through onread');
    assert.equal(foreignBuffer, false, 'every read was into the shared buffer');
    assert.equal(dataEvents, 0, "no 'data' events: nothing went the plain way");
    assert.equal(reply, 'pong', 'the new socket writes on the moved handle');
    // `_server` moved to the new socket: the server counted it and counts it no longer.
    assert.equal(await connections(server), 0);
  } finally {
    for (const { socket } of accepted) socket?.destroy();
    server.close();
  }
});

test('the server counts the new socket as its connection while it is open', { timeout: 10_000 }, async () => {
  const buffer = Buffer.alloc(SHARED_READ_BYTES);
  const accepted: { socket: Socket | null; detail: string }[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const detail = internals(socket);
    const wrapped = withSharedReads(socket, buffer, () => {});
    accepted.push({ socket: wrapped, detail });
    if (wrapped === null) socket.destroy();
  });
  const port = await listen(server);
  const client = connect({ port, host: '127.0.0.1' });
  try {
    await once(client, 'connect');
    while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const wrapped = accepted[0]!.socket;
    assert.notEqual(
      wrapped,
      null,
      `shared reads fell back on Node ${process.version}: ${accepted[0]!.detail}`,
    );
    assert.equal(await connections(server), 1);
    const closed = once(server, 'close');
    server.close();
    wrapped!.destroy();
    await closed; // only once its connection count is back to 0
  } finally {
    client.destroy();
    for (const { socket } of accepted) socket?.destroy();
    server.close();
  }
});

test(`every connection to a Peregrine server takes the shared read path on Node ${process.version}`, {
  timeout: 10_000,
}, async () => {
  const before = { ...sharedReadCounts };
  const server = await start((req, res) => res.end(`hi ${req.path}`));
  try {
    for (const path of ['/a', '/b', '/c'])
      assert.deepEqual(await httpGet(server.port, path), { status: 200, body: `hi ${path}` });
  } finally {
    await server.shutdown();
  }
  assert.equal(
    sharedReadCounts.fellBack - before.fellBack,
    0,
    `connections fell back to plain reads on Node ${process.version} (see src/transport/shared-reads.ts)`,
  );
  assert.equal(
    sharedReadCounts.adopted - before.adopted,
    3,
    'each of the 3 connections read into the shared buffer',
  );
});
