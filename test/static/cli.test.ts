import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, DirServer } from '../../src/index.ts';
import { freePort } from '../helpers.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'peregrine-cli-'));
  await mkdir(join(root, 'sub'));
  await mkdir(join(root, 'docs'));
  await writeFile(join(root, 'index.html'), '<h1>app</h1>');
  await writeFile(join(root, 'a.txt'), 'hello a');
  await writeFile(join(root, 'app.js'), 'let x = 1;');
  await writeFile(join(root, 'route'), 'a real file without an extension');
  await writeFile(join(root, 'sub', 'c.txt'), 'ccc');
  await writeFile(join(root, 'sub', '<b>.txt'), 'bold');
  await writeFile(join(root, 'sub', '.hidden'), 'secret');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
}

/**
 * Starts the command on a free port and waits for its "serving" line. `how` says how the port is
 * given: the --port flag (default), -p, or the PORT variable.
 */
async function startCli(args: string[], how: '--port' | '-p' | 'PORT' = '--port'): Promise<Running> {
  const port = await freePort();
  const portArgs = how === 'PORT' ? [] : [how, String(port)];
  const env = how === 'PORT' ? { ...process.env, PORT: String(port) } : { ...process.env, PORT: undefined };
  const child = spawn(process.execPath, [CLI, ...args, ...portArgs, '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('peregrine: serving')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`peregrine exited with ${code}: ${err}`)));
  });
  return { child, port, stdout: () => out, stderr: () => err };
}

async function stop(running: Running, signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM'): Promise<number | null> {
  const { child } = running;
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}

/** Runs the command to its end. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const limit = Date.now() + ms;
  while (!check()) {
    if (Date.now() > limit) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('peregrine command', () => {
  test('serves a file on --port/--host, and says which directory once', async () => {
    const running = await startCli([root]);
    try {
      const res = await fetch(`http://127.0.0.1:${running.port}/a.txt`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'hello a');
      assert.equal(res.headers.get('cache-control'), 'max-age=0');
      assert.equal(res.headers.get('access-control-allow-origin'), null);
      assert.equal((await fetch(`http://127.0.0.1:${running.port}/`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${running.port}/sub/`)).status, 404); // no listing
      assert.match(running.stdout(), new RegExp(`peregrine: listening on http://127.0.0.1:${running.port} `));
      assert.ok(running.stdout().includes(`peregrine: serving ${root}\n`));
    } finally {
      assert.equal(await stop(running), 0);
    }
  });

  test('serves the current directory by default', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, '--port', String(port), '--host', '127.0.0.1'], {
      cwd: join(root, 'sub'),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('peregrine: serving')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/c.txt`)).text(), 'ccc');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  test('--workers 2: serves from every worker, with one start-up line each', async () => {
    const running = await startCli([root, '--workers', '2']);
    try {
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`http://127.0.0.1:${running.port}/a.txt`);
        assert.equal(await res.text(), 'hello a');
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.match(running.stdout(), /\(2 workers, /);
      assert.equal(count(running.stdout(), 'peregrine: listening on'), 1);
      assert.equal(count(running.stdout(), 'peregrine: serving'), 1);
    } finally {
      assert.equal(await stop(running), 0);
    }
  });

  test('--cors: the header on every response, and 204 for a preflight', async () => {
    const running = await startCli([root, '--cors']);
    try {
      const ok = await fetch(`http://127.0.0.1:${running.port}/a.txt`);
      assert.equal(ok.headers.get('access-control-allow-origin'), '*');
      const missing = await fetch(`http://127.0.0.1:${running.port}/nope.txt`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('access-control-allow-origin'), '*');
      const preflight = await fetch(`http://127.0.0.1:${running.port}/a.txt`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'http://example.com',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'x-custom',
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /GET/);
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /HEAD/);
      assert.equal(preflight.headers.get('access-control-allow-headers'), 'x-custom');
      assert.equal(await preflight.text(), '');
    } finally {
      assert.equal(await stop(running), 0);
    }
  });

  test('--listing: escaped names and links with sizes, dotfiles hidden, index.html still wins', async () => {
    const running = await startCli([root, '--listing']);
    try {
      const res = await fetch(`http://127.0.0.1:${running.port}/sub/`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const html = await res.text();
      assert.ok(html.includes('<a href="c.txt">c.txt</a>'), html);
      assert.ok(html.includes('&lt;b&gt;.txt'), html);
      assert.ok(html.includes('href="%3Cb%3E.txt"'), html);
      assert.ok(!html.includes('<b>'), html);
      assert.ok(!html.includes('.hidden'), html);
      assert.ok(html.includes('<td>3</td>'), html);
      assert.ok(html.includes('href="../"'), html);
      const linked = await fetch(`http://127.0.0.1:${running.port}/sub/%3Cb%3E.txt`);
      assert.equal(await linked.text(), 'bold');
      assert.equal(await (await fetch(`http://127.0.0.1:${running.port}/docs/`)).text(), '<h1>docs</h1>');
    } finally {
      assert.equal(await stop(running), 0);
    }
  });

  test('--spa: paths with no file fall back to /index.html unless Accept rules HTML out; files win', async () => {
    const running = await startCli([root, '--spa']);
    const html = { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const url = (path: string) => `http://127.0.0.1:${running.port}${path}`;
    try {
      const route = await fetch(url('/some/route'), { headers: html });
      assert.equal(route.status, 200);
      assert.equal(await route.text(), '<h1>app</h1>');
      // A dot in the last segment no longer means "a file": /users/jane.doe is a route.
      const dotted = await fetch(url('/users/jane.doe'), { headers: html });
      assert.equal(dotted.status, 200);
      assert.equal(await dotted.text(), '<h1>app</h1>');
      // `*/*` (curl, fetch) and no Accept at all admit HTML, as `serve` treats them.
      for (const accept of ['*/*', undefined, 'text/*']) {
        const res = await fetch(
          url('/some/route'),
          accept === undefined ? {} : { headers: { Accept: accept } },
        );
        assert.equal(res.status, 200, `Accept: ${accept}`);
        assert.match(res.headers.get('vary') ?? '', /\bAccept\b/);
        await res.text();
      }
      // A dotted name that is not a file falls back too when Accept admits HTML (a <script> sends
      // */*): one rule, "no file here", as `serve` has it; a client asking only for script gets 404.
      const script = await fetch(url('/missing.js'), { headers: { Accept: '*/*' } });
      assert.equal(script.status, 200);
      assert.equal(script.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(await script.text(), '<h1>app</h1>');
      const onlyJs = await fetch(url('/missing.js'), { headers: { Accept: 'text/javascript' } });
      assert.equal(onlyJs.status, 404);
      await onlyJs.text();
      assert.equal((await fetch(url('/x'), { headers: { Accept: 'text/html;q=0, */*' } })).status, 404);
      const head = await fetch(url('/deep/link/'), { method: 'HEAD', headers: html });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal((await fetch(url('/some/route'), { headers: { Accept: 'text/html;q=0' } })).status, 404);
      assert.equal(
        (await fetch(url('/some/route'), { headers: { Accept: 'application/json' } })).status,
        404,
      );
      assert.equal((await fetch(url('/some/route'), { method: 'POST', headers: html })).status, 405);
      assert.equal(
        await (await fetch(url('/route'), { headers: html })).text(),
        'a real file without an extension',
      );
      assert.equal(await (await fetch(url('/app.js'), { headers: html })).text(), 'let x = 1;');
      assert.equal(await (await fetch(url('/docs/'), { headers: html })).text(), '<h1>docs</h1>');
    } finally {
      assert.equal(await stop(running), 0);
    }
  });

  test('DirServer checks the listing, spaFallback and notFoundPage options; all are off by default', () => {
    const files = new DirServer(root);
    assert.equal(files.listing, false);
    assert.equal(files.spaFallback, false);
    assert.throws(() => new DirServer(root, { listing: 'yes' as unknown as boolean }), ConfigError);
    assert.throws(() => new DirServer(root, { spaFallback: 1 as unknown as boolean }), ConfigError);
    assert.equal(new DirServer(root).notFoundPage, null);
    assert.equal(new DirServer(root, { notFoundPage: '404.html' }).notFoundPage, join(root, '404.html'));
    for (const page of ['', '../404.html', '/etc/passwd', '.', 7]) {
      assert.throws(() => new DirServer(root, { notFoundPage: page as string }), ConfigError, String(page));
    }
  });

  test('--cache-control sets the header of files', async () => {
    const running = await startCli([root, '--cache-control', 'public, max-age=3600']);
    try {
      const res = await fetch(`http://127.0.0.1:${running.port}/a.txt`);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=3600');
    } finally {
      assert.equal(await stop(running), 0);
    }
  });

  test('logs every request by default: time client method target status bytes duration', async () => {
    const running = await startCli([root, '--workers', '2']);
    const line = (target: string, status: number, bytes: string) =>
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (::ffff:)?127\\.0\\.0\\.1 GET ${target} ${status} ${bytes} \\d+\\.\\dms$`,
        'm',
      );
    try {
      await (await fetch(`http://127.0.0.1:${running.port}/a.txt?x=1`)).text();
      await (await fetch(`http://127.0.0.1:${running.port}/nope`)).text();
      await until(() => running.stdout().includes(' /nope '));
      assert.match(running.stdout(), line('/a\\.txt\\?x=1', 200, '7'));
      assert.match(running.stdout(), line('/nope', 404, '\\d+'));
      // A burst, then a graceful stop at once: every line is written out, whole.
      const burst = Array.from({ length: 200 }, (_, i) =>
        fetch(`http://127.0.0.1:${running.port}/a.txt?n=${i}`).then((r) => r.text()),
      );
      await Promise.all(burst);
    } finally {
      assert.equal(await stop(running), 0);
    }
    for (let i = 0; i < 200; i++) assert.match(running.stdout(), line(`/a\\.txt\\?n=${i}`, 200, '7'));
    for (const text of running.stdout().split('\n')) {
      if (text.includes('GET')) assert.match(text, /^\S+ \S+ GET \S+ \d{3} \d+ \d+\.\dms$/);
    }
  });

  test('Ctrl+C (SIGINT) right after a burst: every line is written out, whole', async () => {
    const running = await startCli([root, '--workers', '1']);
    try {
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          fetch(`http://127.0.0.1:${running.port}/a.txt?sigint=${i}`).then((r) => r.text()),
        ),
      );
    } finally {
      assert.equal(await stop(running, 'SIGINT'), 0);
    }
    const lines = running
      .stdout()
      .split('\n')
      .filter((text) => text.includes('?sigint='));
    assert.equal(lines.length, 300);
    for (const text of lines) assert.match(text, /^\S+ \S+ GET \/a\.txt\?sigint=\d+ 200 7 \d+\.\dms$/);
  });

  test('-q and --quiet log nothing; --log is still accepted', async () => {
    for (const flag of ['-q', '--quiet']) {
      const running = await startCli([root, flag]);
      try {
        await (await fetch(`http://127.0.0.1:${running.port}/a.txt`)).text();
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        assert.equal(await stop(running), 0);
      }
      assert.doesNotMatch(running.stdout(), /GET/);
    }
    const logged = await startCli([root, '--log']);
    try {
      await (await fetch(`http://127.0.0.1:${logged.port}/a.txt`)).text();
      await until(() => logged.stdout().includes('GET /a.txt 200'));
    } finally {
      assert.equal(await stop(logged), 0);
    }
  });

  test('-p and PORT choose the port; the flag wins; a bad PORT exits 2', async () => {
    for (const how of ['-p', 'PORT'] as const) {
      const running = await startCli([root, '-q'], how);
      try {
        assert.equal(await (await fetch(`http://127.0.0.1:${running.port}/a.txt`)).text(), 'hello a', how);
      } finally {
        assert.equal(await stop(running), 0);
      }
    }
    const bad = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, root], {
        env: { ...process.env, PORT: 'eighty' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.once('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^peregrine: PORT must be a whole number from 0 to 65535, got "eighty"/);
  });

  test('a 404.html at the root is the page of every 404; a directory redirect says no-cache', async () => {
    const site = await mkdtemp(join(tmpdir(), 'peregrine-cli-404-'));
    await mkdir(join(site, 'docs'));
    await writeFile(join(site, 'index.html'), '<h1>home</h1>');
    await writeFile(join(site, '404.html'), '<h1>lost</h1>');
    const running = await startCli([site, '-q', '--spa']);
    const url = (path: string) => `http://127.0.0.1:${running.port}${path}`;
    try {
      const json = { Accept: 'application/json' };
      const missing = await fetch(url('/nope.json'), { headers: json });
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(await missing.text(), '<h1>lost</h1>');
      const head = await fetch(url('/nope.json'), { method: 'HEAD', headers: json });
      assert.equal(head.status, 404);
      assert.equal(head.headers.get('content-length'), '13');
      assert.equal(await head.text(), '');
      // Hidden dotfiles are 404s too.
      assert.equal(await (await fetch(url('/.env'), { headers: json })).text(), '<h1>lost</h1>');
      // The page changes without a restart.
      await writeFile(join(site, '404.html'), '<h1>still lost</h1>');
      assert.equal(await (await fetch(url('/gone'), { headers: json })).text(), '<h1>still lost</h1>');
      // A symlink is not followed, so nothing outside the root is sent: the plain 404 instead.
      await writeFile(join(site, '..', `outside-${process.pid}.html`), 'outside');
      await rm(join(site, '404.html'));
      await symlink(join(site, '..', `outside-${process.pid}.html`), join(site, '404.html'));
      const linked = await fetch(url('/gone'), { headers: json });
      assert.equal(linked.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(await linked.text(), 'Not Found');
      await rm(join(site, '..', `outside-${process.pid}.html`));
      const redirect = await fetch(url('/docs'), { redirect: 'manual' });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get('location'), '/docs/');
      assert.equal(redirect.headers.get('cache-control'), 'no-cache');
      await redirect.text();
    } finally {
      assert.equal(await stop(running), 0);
      await rm(site, { recursive: true, force: true });
    }
  });

  test('a 404.html made or removed while the server runs takes effect at once', async () => {
    const site = await mkdtemp(join(tmpdir(), 'peregrine-cli-404-later-'));
    await writeFile(join(site, 'a.txt'), 'a');
    const running = await startCli([site, '-q']);
    const missing = async () => {
      const res = await fetch(`http://127.0.0.1:${running.port}/nope`);
      assert.equal(res.status, 404);
      return { type: res.headers.get('content-type'), body: await res.text() };
    };
    try {
      assert.deepEqual(await missing(), { type: 'text/plain; charset=utf-8', body: 'Not Found' });
      await writeFile(join(site, '404.html'), '<h1>made later</h1>');
      assert.deepEqual(await missing(), { type: 'text/html; charset=utf-8', body: '<h1>made later</h1>' });
      await rm(join(site, '404.html'));
      assert.deepEqual(await missing(), { type: 'text/plain; charset=utf-8', body: 'Not Found' });
    } finally {
      assert.equal(await stop(running), 0);
      await rm(site, { recursive: true, force: true });
    }
  });

  test('--help and --version exit 0', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: peregrine \[options\] \[dir\]/);
    for (const text of [
      '-p, --port N',
      '$PORT',
      '-q, --quiet',
      '--spa',
      '404.html',
      '--cache-control V',
      'max-age=0',
    ]) {
      assert.ok(help.stdout.includes(text), `--help does not mention ${text}`);
    }
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test('unknown flags and bad values exit 2 with a message', async () => {
    for (const args of [['--bogus'], ['--port', 'abc'], ['--port', '70000'], ['--workers'], ['--cors=yes']]) {
      const result = await run([root, ...args]);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /^peregrine: /, args.join(' '));
      assert.equal(result.stdout, '');
    }
  });

  test('a missing directory exits 1 with one message, also with workers', async () => {
    const missing = join(root, 'no-such-dir');
    for (const workers of ['1', '2']) {
      const result = await run([missing, '--workers', workers, '--port', '0']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `peregrine: directory "${missing}" does not exist\n`);
    }
  });

  test('a busy port exits 1 with the library message', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      for (const workers of ['1', '2']) {
        const result = await run([root, '--port', String(port), '--host', '127.0.0.1', '--workers', workers]);
        assert.equal(result.code, 1);
        // Exactly this, once: the library's message already says "peregrine: ", the CLI adds nothing.
        assert.equal(
          result.stderr,
          `peregrine: cannot listen on 127.0.0.1:${port}: the address is already in use\n`,
          `--workers ${workers}`,
        );
        assert.equal(result.stdout, '');
      }
    } finally {
      blocker.close();
    }
  });
});
