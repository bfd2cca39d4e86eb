import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/index.ts';
import { checkNodeVersion } from '../../src/server.ts';

// Issue 12 item 9: on a Node.js older than package.json's engines (>= 22.12), serve() says so
// instead of failing in misleading ways (a free port "already in use").

test('checkNodeVersion accepts 22.12 and later, 23.1 and later, and any later major', () => {
  for (const version of [
    '22.12.0',
    '22.13.1',
    '22.100.0',
    '23.1.0',
    '23.11.0',
    '24.0.0',
    '24.21.0',
    '30.0.0',
  ])
    assert.doesNotThrow(() => checkNodeVersion(version), version);
});

test('checkNodeVersion rejects older releases with a ConfigError naming the version', () => {
  for (const version of ['20.20.2', '18.0.0', '22.0.0', '22.11.9', '22.2.0', '23.0.0', '0.12.18']) {
    assert.throws(
      () => checkNodeVersion(version),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message ===
          `peregrine: Peregrine needs Node.js >= 22.12 (or >= 23.1); this is Node.js ${version}`,
      version,
    );
  }
});

const SYSTEM_NODE = '/usr/bin/node';
// NODE_OPTIONS is for the Node running the tests (Node 22.12 gets --experimental-strip-types
// there, see scripts/test-node-versions.sh), and an older Node refuses options it doesn't know.
const { NODE_OPTIONS: _, ...systemEnv } = process.env;
const systemVersion = existsSync(SYSTEM_NODE)
  ? execFileSync(SYSTEM_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8', env: systemEnv }).trim()
  : null;
const systemTooOld =
  systemVersion !== null &&
  (() => {
    try {
      checkNodeVersion(systemVersion);
      return false;
    } catch {
      return true;
    }
  })();

test(`serve() on an old Node.js (${SYSTEM_NODE}) fails with the version message`, {
  skip: systemTooOld ? false : `${SYSTEM_NODE} is ${systemVersion ?? 'absent'}, not older than 22.12`,
}, () => {
  // An old Node can't run TypeScript: compile the package to JavaScript and run a script on it.
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-old-node-'));
  try {
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    execFileSync(tsc, ['-p', join(root, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], {
      cwd: root,
    });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      join(dir, 'main.js'),
      `import { serve } from './dist/index.js';
try {
  await serve({ handleRequest(req, res) { res.end('hi'); } }, { port: 0, workers: 2, log: false });
  console.log('served');
  process.exit(0);
} catch (error) {
  console.log(error.name + ': ' + error.message);
  process.exit(3);
}
`,
    );
    const run = spawnSync(SYSTEM_NODE, [join(dir, 'main.js')], {
      encoding: 'utf8',
      timeout: 20_000,
      env: systemEnv,
    });
    assert.equal(
      run.stdout.trim(),
      `ConfigError: peregrine: Peregrine needs Node.js >= 22.12 (or >= 23.1); this is Node.js ${systemVersion}`,
      run.stderr,
    );
    assert.equal(run.status, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
