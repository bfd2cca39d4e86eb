import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Http1Request } from '../src/http/request.ts';
import * as peregrine from '../src/index.ts';
import { ConfigError, HttpError, ListenError, PeregrineError, UsageError, WsError } from '../src/index.ts';
import { resolveOptions } from '../src/options.ts';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const PREFIX = 'ERR_PEREGRINE_';

/** One of each error class, made as Peregrine makes it. */
function samples(): Error[] {
  let config: unknown;
  try {
    resolveOptions({ port: -1 });
  } catch (error) {
    config = error;
  }
  return [
    config as Error,
    new HttpError(404),
    new HttpError(400, 'bad', { code: 'ERR_PEREGRINE_BAD_CHUNK', close: true }),
    new WsError('ERR_PEREGRINE_WS_INVALID_UTF8', 1007, 'not UTF-8'),
    new UsageError('ERR_PEREGRINE_WRITE_AFTER_END', 'write after end'),
    new ListenError('EADDRINUSE', 'in use'),
  ];
}

test('every exported error class derives from PeregrineError', () => {
  const classes = Object.entries(peregrine).filter(
    ([name, value]) => typeof value === 'function' && name.endsWith('Error'),
  );
  assert.deepEqual(classes.map(([name]) => name).sort(), [
    'ConfigError',
    'HttpError',
    'ListenError',
    'PeregrineError',
    'RedisError',
    'UsageError',
    'WsError',
  ]);
  for (const [name, value] of classes) {
    assert.ok(
      value === PeregrineError || (value as { prototype: unknown }).prototype instanceof PeregrineError,
      name,
    );
  }
  for (const error of samples()) {
    assert.ok(error instanceof PeregrineError, error.name);
    assert.ok(error instanceof Error);
    assert.equal(typeof (error as PeregrineError).code, 'string');
    assert.ok(error.stack?.startsWith(`${error.name}: `), error.stack);
  }
  assert.ok(samples()[0] instanceof ConfigError);
});

test('the subclasses keep what they carry', () => {
  const http = new HttpError(413, 'too big', { code: 'ERR_PEREGRINE_BODY_TOO_LARGE', close: true });
  assert.equal(http.status, 413);
  assert.equal(http.closeConnection, true);
  assert.equal(new HttpError(500).code, 'ERR_PEREGRINE_HTTP');
  assert.equal(new HttpError(500).message, 'HTTP 500');
  const cause = new Error('inner');
  assert.equal(new HttpError(400, 'x', { cause }).cause, cause);
  assert.equal(new WsError('ERR_PEREGRINE_WS_INVALID_OPCODE', 1002, 'x').closeCode, 1002);
  assert.equal((samples()[0] as ConfigError).code, 'ERR_PEREGRINE_INVALID_OPTION');
});

test('every code Peregrine gives shares one prefix; a ListenError has the system code', () => {
  for (const error of samples()) {
    const { code } = error as PeregrineError;
    if (error instanceof ListenError) assert.equal(code, 'EADDRINUSE');
    else assert.ok(code.startsWith(PREFIX), code);
  }
  // And in the source: every quoted error code is one of ours.
  const codes = new Set<string>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    for (const [, code] of text.matchAll(/['"`]([A-Z0-9_]*ERR_[A-Z0-9_]+)['"`]/g)) codes.add(code!);
  }
  assert.ok(codes.size > 20, `found only ${[...codes].join(', ')}`);
  for (const code of codes) assert.ok(code.startsWith(PREFIX), code);
});

test('a misuse of the API is a UsageError naming the rule', () => {
  const req = new Http1Request();
  assert.throws(() => req.headerName(0), { name: 'UsageError', code: 'ERR_PEREGRINE_INVALID_ARGUMENT' });
  assert.throws(
    () => req.setTimeout(-1),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.ok(error instanceof PeregrineError);
      assert.equal(error.code, 'ERR_PEREGRINE_INVALID_ARGUMENT');
      return true;
    },
  );
});
