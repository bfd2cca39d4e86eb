import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { launchProgram } from './launch.ts';

// Issue 12 item 1: a handler bug that kills its worker every CRASH_EVERY-th request, under steady load.
// Restarting must never leave the port with no worker: every request is answered (all but a few that
// race a connection's close), and so is every probe on a fresh connection (all but at most one).

const FIXTURE = fileURLToPath(new URL('../fixtures/crash-loop-server.ts', import.meta.url));
const LOAD_MS = 6_000;
const LOOPS = 32;
const PROBE_EVERY_MS = 200;

/** The crash-loop fixture with two workers in `mode`. */
const launch = (mode: string) => launchProgram(FIXTURE, { WORKERS: '2', MODE: mode, CRASH_EVERY: '200' });

/** One GET; resolves true when it was answered with 200, false on any error or after `timeout` ms. */
function answered(port: number, agent: Agent | false, timeout = 3_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.setTimeout(timeout, () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

for (const mode of ['threads', 'cluster']) {
  test(`${mode}: a worker that crashes every 200th request never leaves the port unserved`, async () => {
    const server = await launch(mode);
    const exited = new Promise<number | null>((resolve) => server.child.on('exit', resolve));
    try {
      const until = Date.now() + LOAD_MS;
      const agent = new Agent({ keepAlive: true, maxSockets: LOOPS });
      let sent = 0;
      let ok = 0;
      const loops = Array.from({ length: LOOPS }, async () => {
        while (Date.now() < until) {
          sent++;
          if (await answered(server.port, agent)) ok++;
        }
      });
      const probes: boolean[] = [];
      const probing = (async () => {
        while (Date.now() < until) {
          const started = Date.now();
          probes.push(await answered(server.port, false));
          await delay(Math.max(0, PROBE_EVERY_MS - (Date.now() - started)));
        }
      })();
      await Promise.all([...loops, probing]);
      agent.destroy();
      const restarts = server.stderr().match(/ died \(Error: boom/g)?.length ?? 0;
      const summary = `${ok} of ${sent} requests, ${probes.filter(Boolean).length} of ${probes.length} probes answered, ${restarts} crashes`;
      assert.ok(restarts >= 4, `the workers crashed and were replaced: ${summary}`);
      assert.ok(ok >= sent * 0.99, summary);
      assert.ok(probes.length >= LOAD_MS / PROBE_EVERY_MS / 2, summary);
      // Every probe should be answered; one in ~30 is still lost now and then on a loaded machine (a
      // connection reset in a closing listener's accept queue, or stuck past 3 s), so one is allowed.
      assert.ok(probes.filter((ok) => !ok).length <= 1, summary);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await exited, 0, server.stderr().slice(-2000));
    }
  });
}
