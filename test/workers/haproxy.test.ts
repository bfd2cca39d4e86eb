import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, httpGet } from '../helpers.ts';
import { launchProgram, type Running } from './launch.ts';
import { type Load, startLoad, until } from './load.ts';

// Two Peregrine instances behind a real HAProxy that checks /readyz, restarted in turn under load:
// shutdownDelay keeps each serving while HAProxy sees its 503 and takes it out, so nothing fails.

const FIXTURE = fileURLToPath(new URL('../fixtures/health-server.ts', import.meta.url));
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((path) => existsSync(path));
const SHUTDOWN_DELAY = 1200;

function config(port: number, servers: number[]): string {
  return [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 10s',
    '  timeout server 10s',
    '  retries 3',
    '  option redispatch',
    'listen web',
    `  bind 127.0.0.1:${port}`,
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    // A check every 100 ms; one 503 takes a server out, two 200s bring it back.
    '  default-server inter 100ms fall 1 rise 2',
    ...servers.map((p, i) => `  server s${i} 127.0.0.1:${p} check`),
    '',
  ].join('\n');
}

test('two instances behind HAProxy (option httpchk GET /readyz), restarted in turn under load: no request fails', {
  timeout: 60_000,
}, async (t) => {
  if (HAPROXY === undefined) {
    t.skip('haproxy is not installed (apt-get install haproxy)');
    return;
  }
  const start = (port: number) =>
    launchProgram(FIXTURE, { PORT: String(port), SHUTDOWN_DELAY: String(SHUTDOWN_DELAY) });
  const ports = [await freePort(), await freePort()];
  const instances: Running[] = [await start(ports[0]!), await start(ports[1]!)];
  const front = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config(front, ports));
  const haproxy = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let haproxyLog = '';
  haproxy.stderr.on('data', (chunk: Buffer) => {
    haproxyLog += chunk.toString();
  });
  let load: Load | null = null;
  try {
    // HAProxy is up once it answers (until then the port refuses connections).
    let up = false;
    while (!up) {
      up = await httpGet(front, '/').then(
        (response) => response.status === 200,
        () => false,
      );
      if (!up) await delay(50);
    }
    const active = startLoad(front, 8);
    load = active;
    // Both instances are up when both answer through HAProxy.
    await until(() => active.takeWorkers().size === 2, 'both instances behind HAProxy');
    for (const index of [0, 1]) {
      const old = instances[index]!;
      old.child.kill('SIGTERM');
      assert.equal(await old.exited, 0);
      const fresh = await start(ports[index]!);
      instances[index] = fresh;
      const pid = String(fresh.child.pid);
      active.takeWorkers();
      await until(() => active.takeWorkers().has(pid), `HAProxy sending to the restarted instance ${index}`);
    }
    const result = await active.stop();
    t.diagnostic(`${result.ok} requests through HAProxy, ${result.workers.size} instances answered`);
    assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.ok} failed\n${haproxyLog}`);
    assert.equal(result.workers.size, 4, 'two instances, each restarted once');
  } finally {
    await load?.stop();
    haproxy.kill('SIGTERM');
    for (const instance of instances) instance.child.kill('SIGTERM');
    await Promise.all(instances.map((instance) => instance.exited));
    rmSync(dir, { recursive: true, force: true });
  }
});
