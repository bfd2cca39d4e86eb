/**
 * The Dockerfiles in docker/, built and run with podman (Debian's `podman`; `.ci/run` installs it).
 * Registry images can't be pulled here, so the base image (node:24-slim in the Dockerfiles) is made
 * locally from this machine's own Node binary and the libraries it links, with a `node` user as the
 * official images have, and given as the BASE build argument. Where podman is missing or can't run a
 * container, the tests are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, httpGet } from '../helpers.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

interface Engine {
  /** Flags every `podman run` needs on this machine. */
  runFlags: string[];
  base: string;
}

async function podman(args: string[], timeout = 120_000): Promise<string> {
  const { stdout } = await run('podman', args, { timeout, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** A resource limit no higher than the shell's, as `podman run --ulimit` takes it. */
async function ulimitFlags(): Promise<string[]> {
  const { stdout } = await run('bash', ['-c', 'ulimit -n; ulimit -u']);
  const [files = '1024', processes = '1024'] = stdout.trim().split('\n');
  const cap = (value: string) => (value === 'unlimited' ? 4096 : Math.min(4096, Number(value)));
  // The container may not raise a limit, nor (under some kernels) set one equal to the host's.
  const nofile = cap(files);
  const nproc = cap(processes) - 1;
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

/**
 * The stand-in for node:24-slim: this Node binary, the shared libraries it links (from `ldd`), and
 * `node`/`root` in /etc/passwd. Built once per binary (its tag is the binary's hash).
 */
async function baseImage(): Promise<string> {
  const binary = process.execPath;
  const { size, mtimeMs } = statSync(binary);
  const id = createHash('sha256').update(`${binary} ${size} ${mtimeMs}`).digest('hex').slice(0, 16);
  const tag = `localhost/peregrine-test-node:${id}`;
  const exists = await podman(['image', 'exists', tag]).then(
    () => true,
    () => false,
  );
  if (exists) return tag;
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-rootfs-'));
  try {
    const rootfs = join(dir, 'rootfs');
    const put = (from: string, to = from) => {
      mkdirSync(dirname(join(rootfs, to)), { recursive: true });
      copyFileSync(from, join(rootfs, to));
    };
    put(binary, '/usr/local/bin/node');
    const { stdout } = await run('ldd', [binary]);
    for (const match of stdout.matchAll(/(\/\S+)/g)) put(match[1]!);
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    mkdirSync(join(rootfs, 'home', 'node'), { recursive: true });
    writeFileSync(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n',
    );
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnode:x:1000:\n');
    await run('tar', ['-C', rootfs, '--owner=0', '--group=0', '-cf', join(dir, 'rootfs.tar'), '.']);
    await podman([
      'import',
      '--change',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      join(dir, 'rootfs.tar'),
      tag,
    ]);
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** podman, a base image and the flags that let it run a container here; or why not. */
async function engine(): Promise<Engine | string> {
  try {
    await podman(['--version']);
  } catch {
    return 'podman is not installed (apt-get install podman runc)';
  }
  let base: string;
  try {
    base = await baseImage();
  } catch (error) {
    return `podman could not make the base image: ${(error as Error).message.split('\n')[0]}`;
  }
  const limits = await ulimitFlags();
  // crun refuses hosts with cgroups v1 and v2 mounted side by side ("hybrid mode"); runc runs there.
  const runtimes = [['--runtime', 'runc'], []];
  let last = '';
  for (const runtime of runtimes) {
    const flags = [...runtime, ...limits, '--network', 'host'];
    try {
      const out = await podman(['run', '--rm', ...flags, base, 'node', '-e', 'console.log("ok")'], 60_000);
      if (out === 'ok') return { runFlags: flags, base };
    } catch (error) {
      last = (error as Error).message.split('\n').filter(Boolean).at(-1) ?? String(error);
    }
  }
  return `podman cannot run a container on this machine: ${last}`;
}

const found = await engine();
const skip = typeof found === 'string' ? found : false;

async function build(dockerfile: string, tag: string, base: string): Promise<void> {
  // Docker's image format keeps HEALTHCHECK (OCI's has no field for it).
  await podman(
    [
      'build',
      '--format',
      'docker',
      '-f',
      join(ROOT, dockerfile),
      '--build-arg',
      `BASE=${base}`,
      '-t',
      tag,
      ROOT,
    ],
    300_000,
  );
}

/** Polls `path` until the server answers, or fails after `ms`. */
async function until(port: number, path: string, ms = 20_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await httpGet(port, path);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function stopGracefully(id: string): Promise<{ exitCode: number; logs: string }> {
  await podman(['stop', '-t', '15', id]);
  const exitCode = Number(await podman(['inspect', '--format', '{{.State.ExitCode}}', id]));
  const logs = await podman(['logs', id]).catch(() => '');
  return { exitCode, logs };
}

test('docker/counter.Dockerfile: builds, runs as a non-root user, counts, is healthy, stops on SIGTERM', {
  skip,
  timeout: 300_000,
}, async (t) => {
  const { runFlags, base } = found as Engine;
  const tag = 'localhost/peregrine-counter:test';
  await build('docker/counter.Dockerfile', tag, base);
  const image = JSON.parse(await podman(['image', 'inspect', tag]))[0];
  assert.equal(image.Config.User, 'node');
  assert.equal(image.Config.StopSignal, 'SIGTERM');
  assert.ok(image.Healthcheck?.Test?.join(' ').includes('/livez'), JSON.stringify(image.Healthcheck));
  const port = await freePort();
  const id = await podman(['run', '-d', ...runFlags, '-e', `PORT=${port}`, '-e', 'WORKERS=2', tag]);
  t.after(() => podman(['rm', '-f', id]).catch(() => {}));
  const first = await until(port, '/');
  assert.equal(first.status, 200);
  assert.equal(Number(first.body) + 1, Number((await httpGet(port, '/')).body));
  assert.equal((await httpGet(port, '/livez')).status, 200);
  const uid = await podman(['exec', id, 'node', '-e', 'process.stdout.write(String(process.getuid()))']);
  assert.equal(uid, '1000');
  await podman(['healthcheck', 'run', id]); // exits non-zero (and throws) when unhealthy
  const { exitCode, logs } = await stopGracefully(id);
  assert.equal(exitCode, 0, logs);
  assert.match(logs, /SIGTERM received, shutting down/);
});

test('docker/cli.Dockerfile: serves a mounted directory with an access log, is healthy, stops on SIGTERM', {
  skip,
  timeout: 300_000,
}, async (t) => {
  const { runFlags, base } = found as Engine;
  const tag = 'localhost/peregrine-static:test';
  await build('docker/cli.Dockerfile', tag, base);
  const site = mkdtempSync(join(tmpdir(), 'peregrine-site-'));
  t.after(() => rmSync(site, { recursive: true, force: true }));
  writeFileSync(join(site, 'index.html'), '<h1>from the container</h1>\n');
  const port = await freePort();
  const id = await podman(['run', '-d', ...runFlags, '-e', `PORT=${port}`, '-v', `${site}:/srv/www:ro`, tag]);
  t.after(() => podman(['rm', '-f', id]).catch(() => {}));
  const page = await until(port, '/');
  assert.equal(page.status, 200);
  assert.equal(page.body, readFileSync(join(site, 'index.html'), 'utf8'));
  assert.equal((await httpGet(port, '/livez')).status, 200);
  await podman(['healthcheck', 'run', id]);
  const { exitCode, logs } = await stopGracefully(id);
  assert.equal(exitCode, 0, logs);
  assert.match(logs, /GET \/ 200/);
});
