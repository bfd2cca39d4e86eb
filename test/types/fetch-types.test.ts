import assert from 'node:assert/strict';
import { test } from 'node:test';
import WsClient from 'ws';
import { type RouteParams, serve } from '../../src/index.ts';

// Fetch mode is typed as Bun.serve is: each route's `request.params` from its path, and `ws.data`
// from serve's type parameter (what server.upgrade(request, { data }) must give). `npm run
// typecheck` checks this file: the @ts-expect-error lines fail it if those types were ever loose.

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const exact = <A, B>(_proof: Equal<A, B>) => {};
exact<RouteParams<'/users/:id/posts/:post'>, { id: string; post: string }>(true);
exact<RouteParams<'/files/*'>, Record<never, string>>(true);
exact<RouteParams<string>, Record<string, string>>(true);

test('fetch-mode types: route params from the path, ws.data from the upgrade', {
  timeout: 20_000,
}, async (t) => {
  const seen: string[] = [];
  const server = await serve({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    routes: {
      '/users/:id/posts/:post': (request) => {
        const id: string = request.params.id;
        // @ts-expect-error: the path has no :name
        request.params.name;
        return Response.json({ id, post: request.params.post });
      },
      '/chat/:user': {
        GET(request, server) {
          if (request.method === 'never') {
            // @ts-expect-error: the data must be a { user: string }
            server.upgrade(request, { data: { user: 42 } });
          }
          return server.upgrade(request, { data: { user: request.params.user } })
            ? undefined
            : new Response('no', { status: 400 });
        },
      },
    },
    websocket: {
      data: {} as { user: string },
      message(ws, message) {
        const user: string = ws.data.user; // typed: no cast
        // @ts-expect-error: the data has no `age`
        ws.data.age;
        seen.push(`${user}: ${message}`);
        ws.send(`${user} said ${message}`);
      },
    },
  });
  t.after(() => server.shutdown());
  const post = await fetch(`http://127.0.0.1:${server.port}/users/7/posts/a%20b`);
  assert.deepEqual(await post.json(), { id: '7', post: 'a b' });
  const client = new WsClient(`ws://127.0.0.1:${server.port}/chat/ada`);
  const reply = await new Promise<string>((resolve, reject) => {
    client.once('open', () => client.send('hi'));
    client.once('message', (data: Buffer) => resolve(String(data)));
    client.once('error', reject);
  });
  client.close();
  assert.equal(reply, 'ada said hi');
  assert.deepEqual(seen, ['ada: hi']);
});
