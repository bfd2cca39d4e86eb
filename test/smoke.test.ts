import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawClient, start } from './helpers.ts';

test('answers a GET and keeps the connection for a second request', async () => {
  const server = await start((req, res) => res.end(`you asked for ${req.path}`));
  try {
    const client = await RawClient.open(server.port);
    client.send('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    const [first] = await client.responses(1);
    assert.equal(first!.status, 200);
    assert.equal(first!.body, 'you asked for /a');
    client.send('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    const both = await client.responses(2);
    assert.equal(both[1]!.body, 'you asked for /b');
    client.close();
  } finally {
    await server.shutdown();
  }
});
