// Packs the package the way it is published (`npm pack`, which builds through `prepare`), installs
// the tarball into an empty project and uses it there as a user would: import it, type-check against
// its declarations, and run the `peregrine` command (its bin directly, and through `npx`).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPE_ROOTS = join(REPO, 'node_modules', '@types');

/** Every child runs with this Node first in PATH, so `npm`, `npx` and `#!/usr/bin/env node` use it. */
const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
  npm_config_update_notifier: 'false',
};

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killing it after `ms`). */
function run(command: string, args: string[], cwd: string, ms = 90_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like `run`, but fails with the output when the command does not succeed. */
async function ok(command: string, args: string[], cwd: string): Promise<Result> {
  const result = await run(command, args, cwd);
  assert.equal(
    result.code,
    0,
    `${command} ${args.join(' ')} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
  );
  return result;
}

/** Whether any process of the group led by `pid` is still alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends the whole process group of a detached child: SIGTERM, then SIGKILL if it lingers. */
async function killGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      // the group is gone already
    }
  };
  signal('SIGTERM');
  const limit = Date.now() + 5000;
  while (groupAlive(pid) && Date.now() < limit) await new Promise((r) => setTimeout(r, 50));
  if (groupAlive(pid)) {
    signal('SIGKILL');
    while (groupAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}

let work: string;
let tarball: string;
let project: string;
/** `npx peregrine --version` in the repository itself, run before `npm pack` builds anything. */
let npxInClone: Result;

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'peregrine-pack-'));
    const dest = join(work, 'tarball');
    project = join(work, 'project');
    await mkdir(dest);
    await mkdir(project);

    // In a fresh clone only `npm ci` has run: the bin works only if its `prepare` built dist/.
    npxInClone = await run('npx', ['--no', 'peregrine', '--', '--version'], REPO);

    await ok('npm', ['pack', '--pack-destination', dest], REPO);
    const packed = (await readdir(dest)).filter((name) => name.endsWith('.tgz'));
    assert.equal(packed.length, 1, `expected one tarball, got ${packed.join(', ')}`);
    tarball = join(dest, packed[0]!);

    await writeFile(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    const install = ['install', tarball, '--no-audit', '--no-fund'];
    const offline = await run('npm', [...install, '--offline'], project);
    if (offline.code !== 0) await ok('npm', [...install, '--prefer-offline'], project);
  },
  { timeout: 120_000 },
);

after(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the published package', { timeout: 120_000 }, () => {
  test('the tarball holds the build and nothing else', async () => {
    const { stdout } = await ok('tar', ['-tzf', tarball], work);
    const files = stdout.split('\n').filter((line) => line !== '');
    for (const needed of [
      'package/package.json',
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/cli.js',
      'package/LICENSE',
    ]) {
      assert.ok(files.includes(needed), `${needed} is missing from the tarball`);
    }
    for (const file of files) {
      assert.ok(file.startsWith('package/'), `${file} is outside package/`);
      assert.doesNotMatch(file, /(^|\/)(src|test|node_modules)\//, `${file} should not be published`);
      if (/\.(m|c)?tsx?$/.test(file))
        assert.match(file, /\.d\.(m|c)?ts$/, `${file}: TypeScript source should not be published`);
    }
  });

  test('in the clone, after npm ci, npx peregrine runs (prepare builds dist/)', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(npxInClone.code, 0, `npx peregrine failed:\n${npxInClone.stdout}\n${npxInClone.stderr}`);
    assert.equal(npxInClone.stdout.trim(), pkg.version);
  });

  test('the license it declares ships with it', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { license: string };
    assert.equal(pkg.license, 'MIT');
    const license = await readFile(join(project, 'node_modules', 'peregrine', 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License\n/);
    assert.match(license, /Permission is hereby granted, free of charge/);
  });

  test('the installed package has no dependencies and exposes its bin', async () => {
    const installed = JSON.parse(
      await readFile(join(project, 'node_modules', 'peregrine', 'package.json'), 'utf8'),
    ) as { dependencies?: Record<string, string> };
    assert.deepEqual(Object.keys(installed.dependencies ?? {}), []);
    const modules = (await readdir(join(project, 'node_modules'))).filter((name) => !name.startsWith('.'));
    assert.deepEqual(modules, ['peregrine']);
    assert.ok(
      existsSync(join(project, 'node_modules', '.bin', 'peregrine')),
      'no node_modules/.bin/peregrine',
    );
  });

  test('its bin runs: peregrine --help', async () => {
    const bin = join(project, 'node_modules', '.bin', 'peregrine');
    const result = await run(bin, ['--help'], project, 20_000);
    assert.equal(result.code, 0, `peregrine --help failed:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^Usage: peregrine \[options\] \[dir\]\n/);
    assert.match(result.stdout, /--port N/);
    assert.equal(result.stderr, '');
  });

  test('it imports by its name', async () => {
    const { stdout } = await ok(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('peregrine'); console.log(typeof m.serve, typeof m.DirServer);",
      ],
      project,
    );
    assert.equal(stdout.trim(), 'function function');
  });

  test('its declarations leave out the internals (stripInternal)', async () => {
    const dist = join(project, 'node_modules', 'peregrine', 'dist');
    const declarations = async (file: string) => readFile(join(dist, file), 'utf8');
    // The handler-facing Request and Response are interfaces that each protocol backs.
    const exchange = await declarations('http/exchange.d.ts');
    const request = exchange.slice(0, exchange.indexOf('export interface Response'));
    const response = exchange.slice(exchange.indexOf('export interface Response'));
    const socket = await declarations('ws/socket.d.ts');
    const cache = await declarations('static/file-cache.d.ts');
    assert.match(cache, /\bget files\(\): number/);
    for (const member of ['fits(', 'get(path', 'set(path', 'constructor(']) {
      assert.ok(!cache.includes(member), `file-cache.d.ts exposes ${member}`);
    }
    // The handler-facing API is there…
    assert.match(request, /\bheader\(name: string\)/);
    assert.match(response, /\bsetHeader\(name: string/);
    assert.match(socket, /\bsend\(message: string \| Uint8Array/);
    // …and the connection's plumbing is not.
    for (const [file, text, members] of [
      ['request.d.ts', request, ['abortedWith(', 'gone', 'onGone', 'RequestHandler']],
      [
        'response.d.ts',
        response,
        [
          'endPrebuilt(',
          'addPreparedHeaders(',
          'hasAnyHeader(',
          'headerLines(',
          'switchProtocols(',
          'Takeover',
        ],
      ],
      [
        'socket.d.ts',
        socket,
        [
          'deadline',
          'receive(',
          'drain(',
          'peerEnded(',
          'socketClosed(',
          'timedOut(',
          'shutdown(',
          'opened(',
          'deliver(',
          'WebSocketOwner',
          'constructor(',
        ],
      ],
    ] as const) {
      for (const member of members) assert.ok(!text.includes(member), `${file} exposes ${member}`);
    }
  });

  test('its declarations type-check a consumer', async () => {
    const types = await readFile(join(project, 'node_modules', 'peregrine', 'dist', 'index.d.ts'), 'utf8');
    assert.match(types, /export \{[^}]*\bserve\b[^}]*\}/);
    await writeFile(
      join(project, 'consumer.ts'),
      [
        "import { DirServer, type Handler, type ServerOptions, serve } from 'peregrine';",
        "const files = new DirServer('public');",
        'const handler: Handler = {',
        '  async handleRequest(req, res) {',
        "    if (!(await files.serve(req, res))) res.end('not found');",
        '  },',
        '};',
        "const options: ServerOptions = { port: 0, host: '127.0.0.1', workers: 1 };",
        'const server = await serve(handler, options);',
        'const port: number = server.address.port;',
        'console.log(port);',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2023',
          lib: ['es2023'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [TYPE_ROOTS],
        },
        files: ['consumer.ts'],
      }),
    );
    await ok(process.execPath, [TSC, '-p', '.'], project);
  });

  test('npx peregrine serves a directory', async () => {
    await mkdir(join(project, 'public'), { recursive: true });
    await writeFile(join(project, 'public', 'hello.txt'), 'hello from the tarball\n');
    // Detached: npx, the shell it starts and the server share a new process group we can end as one.
    const child = spawn(
      'npx',
      ['--no', 'peregrine', 'public', '--port', '0', '--host', '127.0.0.1', '--workers', '2'],
      { cwd: project, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let out = '';
    let err = '';
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no start-up line within 20 s\n--- stdout\n${out}\n--- stderr\n${err}`)),
          20_000,
        );
        child.stderr!.on('data', (chunk: Buffer) => {
          err += chunk.toString();
        });
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          if (listening && out.includes('peregrine: serving')) {
            clearTimeout(timer);
            resolve(Number(listening[1]));
          }
        });
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`npx peregrine exited with ${code}\n--- stdout\n${out}\n--- stderr\n${err}`));
        });
      });
      assert.match(out, /\(2 workers, /);

      const res = await fetch(`http://127.0.0.1:${port}/hello.txt`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await res.text(), 'hello from the tarball\n');

      const missing = await fetch(`http://127.0.0.1:${port}/nope.txt`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    } finally {
      await killGroup(child);
    }
    assert.ok(!groupAlive(child.pid!), 'the server outlived the test');
  });
});
