// An idle WebSocket holds no receiver, no message queue and no zlib stream: they are made when the
// first bytes, the first compressed message, arrive. Checked through internal state, not memory
// figures, so that a regression fails deterministically (the idle bench row measures the memory).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocketClient from 'ws';
import type { WebSocket } from '../../src/index.ts';
import { start } from '../helpers.ts';

/** The internal fields this test reads (private in the class). */
interface Internals {
  receiver: { scratch: Buffer; mask: unknown } | null;
  inbound: unknown[] | null;
  deflate: { inflaterLane: { stream: unknown } | null; deflaterLane: { stream: unknown } | null } | null;
}

const internals = (ws: WebSocket): Internals => ws as unknown as Internals;

/** A server that keeps its sockets and answers every message with its length; a client on it. */
async function setup(perMessageDeflate: boolean) {
  const sockets: WebSocket[] = [];
  const server = await start(
    {
      handleRequest(_req, res) {
        res.upgrade();
      },
      handleWSOpen(ws) {
        ws.subscribe('room');
        sockets.push(ws);
      },
      handleWSMessage(ws, message) {
        ws.send(String(message.length));
      },
    },
    { wsPerMessageDeflate: perMessageDeflate },
  );
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate });
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  const reply = (message: string | Buffer): Promise<string> =>
    new Promise((resolve) => {
      client.once('message', (data: Buffer) => resolve(data.toString()));
      client.send(message);
    });
  const stop = async () => {
    client.terminate();
    await server.shutdown();
  };
  return { sockets, client, reply, stop };
}

test('an idle WebSocket has no receiver and no message queue until bytes arrive', async () => {
  const { sockets, reply, stop } = await setup(false);
  try {
    assert.equal(sockets.length, 1);
    const ws = internals(sockets[0]!);
    assert.equal(ws.receiver, null, 'no receiver before the first frame');
    assert.equal(ws.inbound, null);
    assert.equal(ws.deflate, null);
    assert.equal(await reply('hello'), '5');
    assert.notEqual(ws.receiver, null, 'the first frame made the receiver');
    assert.equal(ws.receiver!.scratch.length, 0, 'a header inside one read needs no scratch buffer');
    assert.equal(typeof ws.receiver!.mask, 'number', 'the masking key is no buffer of its own');
    assert.equal(ws.inbound, null, 'uncompressed messages are delivered without the queue');
  } finally {
    await stop();
  }
});

test('with permessage-deflate agreed, no lane nor zlib stream exists until a compressed message comes', async () => {
  const { sockets, reply, stop } = await setup(true);
  try {
    const ws = internals(sockets[0]!);
    assert.notEqual(ws.deflate, null, 'permessage-deflate was agreed');
    assert.equal(ws.receiver, null);
    assert.equal(ws.deflate!.inflaterLane, null, 'no inflating lane (nor zlib stream) while idle');
    assert.equal(ws.deflate!.deflaterLane, null, 'no deflating lane while idle');
    assert.equal(await reply('x'.repeat(4096)), '4096'); // above ws's 1 KiB threshold: compressed
    const inflater = internals(sockets[0]!).deflate!.inflaterLane; // read afresh: not narrowed to null
    assert.notEqual(inflater?.stream ?? null, null, 'the compressed message made the inflater');
    assert.equal(ws.deflate!.deflaterLane, null, 'the short reply was not compressed: still no deflater');
    assert.equal(ws.inbound, null, 'the queue is dropped once it is empty');
  } finally {
    await stop();
  }
});
