import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.ts';
import { HEADER_BYTES, unwrap, wrap } from '../../src/pubsub/envelope.ts';
import { resolvePubSub } from '../../src/pubsub/options.ts';

const ID = Buffer.from('0123456789abcdef', 'hex');

test('a publication survives the envelope: origin, text or binary, compress, and the bytes', () => {
  for (const isBinary of [false, true]) {
    for (const compress of [false, true]) {
      const message = Buffer.from('héllo');
      const wrapped = wrap(ID, message, isBinary, compress);
      assert.equal(wrapped.length, HEADER_BYTES + message.length);
      const back = unwrap(wrapped);
      assert.deepEqual(back.origin, ID);
      assert.deepEqual(back.message, message);
      assert.equal(back.isBinary, isBinary);
      assert.equal(back.compress, compress);
    }
  }
  assert.deepEqual(unwrap(wrap(ID, Buffer.alloc(0), true, false)).message, Buffer.alloc(0));
});

test('a message from outside Peregrine (a plain PUBLISH) is delivered as it is: text if UTF-8, else binary', () => {
  assert.deepEqual(unwrap(Buffer.from('disk full')), {
    origin: null,
    message: Buffer.from('disk full'),
    isBinary: false,
    compress: true,
  });
  const bytes = Buffer.from([0xff, 0xfe, 0x00]);
  assert.equal(unwrap(bytes).isBinary, true);
  assert.equal(unwrap(bytes).origin, null);
  // Our magic with an unknown version is not ours.
  const future = wrap(ID, Buffer.from('x'), false, false);
  future[3] = 0x20;
  assert.equal(unwrap(future).origin, null);
});

test('unwrap never throws, and wrap/unwrap round-trips any message (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      unwrap(Buffer.from(bytes));
    }),
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 256 }),
      fc.boolean(),
      fc.boolean(),
      (bytes, isBinary, compress) => {
        const back = unwrap(wrap(ID, bytes, isBinary, compress));
        assert.deepEqual(new Uint8Array(back.message), bytes);
        assert.equal(back.isBinary, isBinary);
        assert.equal(back.compress, compress);
      },
    ),
  );
});

test('the pubsub option: defaults, and each mistake a ConfigError that says what is wrong', () => {
  const resolved = resolvePubSub('pubsub', { redis: 'redis://127.0.0.1:6390' });
  assert.equal(resolved.prefix, 'peregrine:');
  assert.equal(resolved.required, true);
  assert.equal(resolved.address.port, 6390);
  const bad: [unknown, RegExp][] = [
    ['redis://x', /must be an object/],
    [{}, /pubsub\.redis' is missing/],
    [{ redis: 'http://x' }, /scheme must be redis or rediss/],
    [{ redis: 'redis://x', prefix: 3 }, /prefix' must be a string/],
    [{ redis: 'redis://x', required: 'yes' }, /required' must be a boolean/],
    [{ redis: 'redis://x', tls: { ca: 'x' } }, /for rediss:\/\/ URLs/],
    [{ redis: 'redis://x', retries: 3 }, /pubsub\.retries' is unknown/],
  ];
  for (const [value, message] of bad) {
    assert.throws(
      () => resolvePubSub('pubsub', value),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match((error as Error).message, message);
        return true;
      },
    );
  }
});
