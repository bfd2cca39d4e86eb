import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * The layers, checked from the imports (type-only imports count too):
 * - addresses (src/net/: IP parsing, CIDR blocks) know nothing else, and every layer may use them;
 * - the transport (src/transport/) knows no protocol and no handler;
 * - HTTP (src/http/) knows the transport, and nothing of WebSockets, fetch mode or static files;
 * - HTTP/2 (src/http2/) builds on HTTP's interfaces and the transport;
 * - WebSockets (src/ws/) know HTTP and the transport, and reach other workers only through the
 *   relay the worker layer gives them.
 * `src/errors.ts`, if present, is neutral ground that every layer may import.
 */
const SRC = resolve(import.meta.dirname, '..', 'src');

const RULES: { layer: string; mayImport: string[] }[] = [
  { layer: 'net', mayImport: ['net'] },
  { layer: 'transport', mayImport: ['transport', 'net'] },
  { layer: 'http', mayImport: ['http', 'transport', 'net'] },
  { layer: 'http2', mayImport: ['http2', 'http', 'transport', 'net'] },
  { layer: 'ws', mayImport: ['ws', 'http', 'transport', 'net'] },
];

const NEUTRAL = new Set(['errors.ts']);

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

/** The project files a module imports, relative to src/ (e.g. `http/parser.ts`). */
function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/g)) {
    found.push(relative(SRC, resolve(dirname(file), match[1]!)));
  }
  for (const match of text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) {
    found.push(relative(SRC, resolve(dirname(file), match[1]!)));
  }
  return found;
}

for (const { layer, mayImport } of RULES) {
  test(`src/${layer}/ imports only from ${mayImport.map((l) => `src/${l}/`).join(', ')}`, async () => {
    const files = await sourceFiles(join(SRC, layer));
    assert.ok(files.length > 0, `no files in src/${layer}/`);
    const broken: string[] = [];
    for (const file of files) {
      for (const target of importsOf(file, await readFile(file, 'utf8'))) {
        const top = target.split('/')[0]!;
        const allowed = target.includes('/') ? mayImport.includes(top) : NEUTRAL.has(target);
        if (!allowed) broken.push(`${relative(SRC, file)} imports ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });
}

test('the import scan sees imports of every form', () => {
  const file = join(SRC, 'http', 'x.ts');
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from '../ws/socket.ts';",
    'import {',
    '  c,',
    "} from '../transport/link.ts';",
    "export { d } from './d.ts';",
    "const e = await import('../fetch/handler.ts');",
  ].join('\n');
  assert.deepEqual(importsOf(file, text), [
    'http/a.ts',
    'ws/socket.ts',
    'transport/link.ts',
    'http/d.ts',
    'fetch/handler.ts',
  ]);
});
