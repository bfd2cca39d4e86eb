import assert from 'node:assert/strict';
import { test } from 'node:test';
import WsClient from 'ws';
import type { Handler, Request, Response, WebSocket } from '../../src/index.ts';
import { start } from '../helpers.ts';

// The WebSocket data type flows from Handler<T> to res.upgrade({ data }) and to every hook's ws.data.
// `npm run typecheck` (part of `npm test`) checks this file: the @ts-expect-error lines fail it if
// ws.data or the upgrade data were ever `unknown`/`any` again.

interface Guest {
  name: string;
  joinedAt: number;
}

const seen: string[] = [];

const chat: Handler<Guest> = {
  handleRequest(req: Request, res: Response<Guest>): void {
    if (req.path === '/wrong') {
      // @ts-expect-error: the data must be a Guest
      res.upgrade({ data: { name: 42 } });
    }
    res.upgrade({ data: { name: `guest-${req.path.slice('/chat/'.length)}`, joinedAt: Date.now() } });
  },
  handleWSOpen(ws) {
    const name: string = ws.data.name; // typed: no cast
    // @ts-expect-error: Guest has no `age`
    ws.data.age;
    seen.push(`open ${name}`);
  },
  handleWSMessage(ws: WebSocket<Guest>, message) {
    seen.push(`${ws.data.name}: ${message}`);
    ws.send(`${ws.data.name} said ${message}`);
  },
  handleWSClose(ws) {
    const joinedAt: number = ws.data.joinedAt;
    seen.push(`close ${ws.data.name} ${typeof joinedAt}`);
  },
};

test('a Handler<T> serves WebSockets whose hooks see the upgrade data typed as T', async (t) => {
  const server = await start(chat);
  t.after(() => server.shutdown());
  const client = new WsClient(`ws://127.0.0.1:${server.port}/chat/ann`);
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  client.send('hi');
  const reply = await new Promise<string>((resolve) =>
    client.once('message', (data) => resolve(String(data))),
  );
  assert.equal(reply, 'guest-ann said hi');
  client.close();
  await new Promise((resolve) => client.once('close', resolve));
  while (seen.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(seen, ['open guest-ann', 'guest-ann: hi', 'close guest-ann number']);
});
