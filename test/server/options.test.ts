import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import {
  ConfigError,
  DEFAULTS,
  type Handler,
  ListenError,
  PeregrineError,
  type ServerOptions,
  serve,
} from '../../src/index.ts';
import { resolveOptions } from '../../src/options.ts';
import { get, setup } from './util.ts';

function rejects(options: unknown, message: string): void {
  assert.throws(
    () => resolveOptions(options as ServerOptions),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
      assert.equal(error.message, `peregrine: ${message}`);
      return true;
    },
  );
}

test('resolveOptions fills in the defaults', () => {
  // workers: 0 (the default) means one per core.
  const expected = { ...DEFAULTS, workers: availableParallelism() };
  assert.deepEqual(resolveOptions(undefined), expected);
  assert.deepEqual(resolveOptions({}), expected);
  const resolved = resolveOptions({ port: 8080, maxBodyBytes: 0, keepAliveTimeout: undefined });
  assert.equal(resolved.port, 8080);
  assert.equal(resolved.maxBodyBytes, 0);
  assert.equal(resolved.keepAliveTimeout, DEFAULTS.keepAliveTimeout);
  assert.equal(resolved.headersTimeout, DEFAULTS.headersTimeout);
  // The defaults themselves are never changed.
  assert.ok(Object.isFrozen(DEFAULTS));
  assert.equal(DEFAULTS.port, 3000);
});

test('an unknown option is rejected by name', () => {
  rejects({ prot: 3000 }, "unknown option 'prot'");
  rejects({ port: 1, keepAlive: true }, "unknown option 'keepAlive'");
});

test('options must be an object', () => {
  rejects(null, 'options must be an object');
  rejects('port=3000', 'options must be an object');
  rejects(3000, 'options must be an object');
});

test('negative and non-integer numbers are rejected with the rule they break', () => {
  rejects({ maxBodyBytes: -1 }, "option 'maxBodyBytes' must be an integer 0 or more, got -1");
  rejects({ maxBodyBytes: 1.5 }, "option 'maxBodyBytes' must be an integer 0 or more, got 1.5");
  rejects(
    { headersTimeout: -1 },
    "option 'headersTimeout' must be an integer from 0 to 2147483647 (0 means no timeout), got -1",
  );
  rejects(
    { requestTimeout: 0.5 },
    "option 'requestTimeout' must be an integer from 0 to 2147483647 (0 means no timeout), got 0.5",
  );
  rejects(
    { keepAliveTimeout: Number.NaN },
    "option 'keepAliveTimeout' must be an integer from 0 to 2147483647 (0 means close after each response), got NaN",
  );
  rejects(
    { handlerTimeout: -5 },
    "option 'handlerTimeout' must be an integer from 0 to 2147483647 (0 means no limit), got -5",
  );
  rejects(
    { sendTimeout: '10s' },
    'option \'sendTimeout\' must be an integer from 0 to 2147483647 (0 means no limit), got "10s"',
  );
  rejects(
    { headersTimeout: 2 ** 31 },
    "option 'headersTimeout' must be an integer from 0 to 2147483647 (0 means no timeout), got 2147483648",
  );
  rejects(
    { maxRequestsPerConnection: -2 },
    "option 'maxRequestsPerConnection' must be an integer 0 or more (0 means no limit), got -2",
  );
  rejects({ maxConnections: 0 }, "option 'maxConnections' must be an integer 1 or more, got 0");
  rejects({ maxHeaderCount: 0 }, "option 'maxHeaderCount' must be an integer 1 or more, got 0");
  rejects({ maxHeaderBytes: 255 }, "option 'maxHeaderBytes' must be an integer 256 or more, got 255");
  rejects({ maxUrlLength: 15 }, "option 'maxUrlLength' must be an integer 16 or more, got 15");
  rejects({ backlog: 0 }, "option 'backlog' must be an integer 1 or more, got 0");
  rejects(
    { shutdownTimeout: -1 },
    "option 'shutdownTimeout' must be an integer from 0 to 2147483647, got -1",
  );
  rejects(
    { workers: -1 },
    "option 'workers' must be an integer from 0 to 1024 (0 means one per core), got -1",
  );
  rejects({ mode: 'fork' }, "option 'mode' must be 'auto', 'threads' or 'cluster', got \"fork\"");
  rejects({ log: 'yes' }, 'option \'log\' must be a boolean, got "yes"');
  rejects(
    { wsPerMessageDeflate: 'on' },
    'option \'wsPerMessageDeflate\' must be a boolean or an object of deflate parameters, got "on"',
  );
  rejects(
    { wsPerMessageDeflate: { serverMaxWindowBits: 16 } },
    "option 'wsPerMessageDeflate': serverMaxWindowBits must be an integer from 8 to 15, got 16",
  );
  rejects(
    { wsPerMessageDeflate: { windowBits: 9 } },
    "option 'wsPerMessageDeflate' has an unknown parameter 'windowBits'",
  );
});

test('values of the wrong type are rejected, showing what was given', () => {
  rejects({ port: '3000' }, 'option \'port\' must be an integer from 0 to 65535, got "3000"');
  rejects({ maxBodyBytes: null }, "option 'maxBodyBytes' must be an integer 0 or more, got null");
  rejects({ maxBodyBytes: {} }, "option 'maxBodyBytes' must be an integer 0 or more, got object");
  rejects({ host: '' }, 'option \'host\' must be a non-empty string, got ""');
  rejects({ host: 127 }, "option 'host' must be a non-empty string, got 127");
  rejects({ handleSignals: 'yes' }, 'option \'handleSignals\' must be a boolean, got "yes"');
  rejects({ onError: true }, "option 'onError' must be a function, got true");
});

test('the port must be in range', () => {
  rejects({ port: 65536 }, "option 'port' must be an integer from 0 to 65535, got 65536");
  rejects({ port: -1 }, "option 'port' must be an integer from 0 to 65535, got -1");
  assert.equal(resolveOptions({ port: 0 }).port, 0);
  assert.equal(resolveOptions({ port: 65535 }).port, 65535);
});

test('maxUrlLength may not exceed maxHeaderBytes', () => {
  rejects(
    { maxHeaderBytes: 1024, maxUrlLength: 2000 },
    "option 'maxUrlLength' (2000) must not exceed 'maxHeaderBytes' (1024)",
  );
  assert.equal(resolveOptions({ maxHeaderBytes: 1024, maxUrlLength: 1024 }).maxUrlLength, 1024);
});

test('ConfigError is a PeregrineError with a stable code', () => {
  try {
    resolveOptions({ port: -1 });
    assert.fail('no error');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.ok(error instanceof PeregrineError);
    assert.equal((error as ConfigError).name, 'ConfigError');
    assert.equal((error as ConfigError).code, 'ERR_PEREGRINE_INVALID_OPTION');
  }
});

test('serve() rejects bad options before running init() or listening', async () => {
  let inits = 0;
  const handler: Handler = {
    init() {
      inits++;
    },
    handleRequest(_req, res) {
      res.end();
    },
  };
  await assert.rejects(serve(handler, { port: 70000 }), {
    name: 'ConfigError',
    message: "peregrine: option 'port' must be an integer from 0 to 65535, got 70000",
  });
  await assert.rejects(serve(handler, { port: 0, bogus: 1 } as ServerOptions), {
    message: "peregrine: unknown option 'bogus'",
  });
  assert.equal(inits, 0);
});

test('serve() without a handleRequest method (or a fetch function) is a ConfigError', async () => {
  const message =
    'peregrine: serve() needs a handler object with a handleRequest(req, res) method, or options with a fetch(request) function or routes';
  for (const handler of [undefined, null, {}, { handleRequest: 'yes' }, () => {}]) {
    await assert.rejects(serve(handler as unknown as Handler, { port: 0, workers: 1 }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, message);
      return true;
    });
  }
});

test('listening on a port in use fails with a clear error, and undoes init()', async (t) => {
  const h = await setup(t, (_req, res) => res.end('first'));
  const lifecycle: string[] = [];
  const second: Handler = {
    init: () => {
      lifecycle.push('init');
    },
    handleRequest: (_req, res) => res.end('second'),
    deinit: () => {
      lifecycle.push('deinit');
    },
  };
  await assert.rejects(
    serve(second, { port: h.port, host: '127.0.0.1', handleSignals: false, workers: 1, log: false }),
    (error: unknown) => {
      assert.ok(error instanceof ListenError);
      assert.ok(error instanceof PeregrineError);
      assert.ok(!(error instanceof ConfigError));
      assert.equal(error.name, 'ListenError');
      assert.equal(error.code, 'EADDRINUSE');
      assert.equal(
        error.message,
        `peregrine: cannot listen on 127.0.0.1:${h.port}: the address is already in use`,
      );
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
      return true;
    },
  );
  // No shutdown() can come for a server that never started, so deinit() runs now.
  assert.deepEqual(lifecycle, ['init', 'deinit']);
  // The first server is unaffected.
  const client = await h.client();
  client.send(get('/'));
  const [r] = await client.responses(1);
  assert.equal(r!.body, 'first');
});

test('the options a server runs with are visible on it', async (t) => {
  const h = await setup(t, (_req, res) => res.end(), { maxBodyBytes: 1234, keepAliveTimeout: 777 });
  assert.equal(h.server.options.maxBodyBytes, 1234);
  assert.equal(h.server.options.keepAliveTimeout, 777);
  assert.equal(h.server.options.port, 0);
  assert.ok(h.server.port > 0);
  assert.equal(h.server.address.address, '127.0.0.1');
});
