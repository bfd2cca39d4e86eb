import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import WebSocketClient from 'ws';
import { freePort, runExample } from '../helpers.ts';

const CHROMIUM = '/usr/bin/chromium';

test('a real browser loads the chat page, talks over a WebSocket, and a second client sees it', {
  skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`,
}, async () => {
  const port = await freePort();
  const server = await runExample('websocket', port, '2');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction("document.getElementById('status')?.textContent === 'connected'");

    // A second participant: a Node client in the same room.
    const peer = new WebSocketClient(`ws://127.0.0.1:${port}/chat`);
    const peerSaw: string[] = [];
    peer.on('message', (data: Buffer) => peerSaw.push(data.toString()));
    await new Promise((resolve) => peer.once('open', resolve));

    await page.fill('#text', 'hello from the browser');
    await page.click('button');
    peer.send('hello from node');

    await page.waitForFunction(
      "(document.getElementById('log')?.textContent ?? '').includes('hello from node')",
    );
    const browserSaw = await page.$$eval('#log div', (lines) => lines.map((l) => l.textContent ?? ''));
    assert.ok(
      browserSaw.some((l) => /^guest-\d+-\d+: hello from the browser$/.test(l)),
      browserSaw.join('\n'),
    );
    assert.ok(
      browserSaw.some((l) => /^guest-\d+-\d+: hello from node$/.test(l)),
      browserSaw.join('\n'),
    );
    for (let i = 0; i < 100 && !peerSaw.some((l) => l.endsWith(': hello from the browser')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(
      peerSaw.some((l) => /^guest-\d+-\d+: hello from the browser$/.test(l)),
      peerSaw.join('\n'),
    );
    peer.close();
    await page.close();
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
});
