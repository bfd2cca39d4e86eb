import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  commandLength,
  encodeCommand,
  encodePipeline,
  RespError,
  RespParser,
  type RespParserOptions,
  RespProtocolError,
  type RespValue,
} from '../../src/pubsub/resp.ts';

// The RESP2 encoder byte for byte, and the parser fed whole, byte by byte and at every split point,
// as Redis's own replies arrive in whatever pieces TCP makes of them.

/** A value as a server writes it (the test's own encoder, independent of the parser). */
function serverEncode(value: RespValue): Buffer {
  if (value === null) return Buffer.from('$-1\r\n');
  if (typeof value === 'string') return Buffer.from(`+${value}\r\n`);
  if (value instanceof RespError) return Buffer.from(`-${value.message}\r\n`);
  if (typeof value === 'number' || typeof value === 'bigint') return Buffer.from(`:${value}\r\n`);
  if (Buffer.isBuffer(value))
    return Buffer.concat([Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n')]);
  return Buffer.concat([Buffer.from(`*${value.length}\r\n`), ...value.map(serverEncode)]);
}

/** Feeds `input` cut at `cuts` (each piece its own buffer, as sockets give); all values, or throws. */
function feedPieces(input: Buffer, cuts: number[], options?: RespParserOptions): RespValue[] {
  const parser = new RespParser(options);
  const values: RespValue[] = [];
  let from = 0;
  for (const to of [...cuts, input.length]) {
    if (to <= from) continue;
    values.push(...parser.feed(Buffer.from(input.subarray(from, to))));
    from = to;
  }
  return values;
}

function byteByByte(input: Buffer): number[] {
  return Array.from({ length: input.length }, (_, i) => i + 1);
}

/** Parses `input` whole, byte by byte and at every two-piece split point; all must agree. */
function parseAllWays(input: Buffer, options?: RespParserOptions): RespValue[] {
  const whole = feedPieces(input, [], options);
  assert.deepEqual(feedPieces(input, byteByByte(input), options), whole, 'byte by byte');
  for (let cut = 1; cut < input.length; cut++)
    assert.deepEqual(feedPieces(input, [cut], options), whole, `split at ${cut}`);
  return whole;
}

function rejectedAllWays(input: Buffer, message?: RegExp, options?: RespParserOptions): void {
  assert.throws(() => feedPieces(input, [], options), message ?? RespProtocolError);
  assert.throws(() => feedPieces(input, byteByByte(input), options), message ?? RespProtocolError);
  for (let cut = 1; cut < input.length; cut++)
    assert.throws(() => feedPieces(input, [cut], options), RespProtocolError, `split at ${cut}`);
}

describe('RESP encoder', () => {
  test('a command is an array of bulk strings, its length in bytes (UTF-8), binary as is', () => {
    assert.equal(encodeCommand(['PING']).toString('latin1'), '*1\r\n$4\r\nPING\r\n');
    assert.equal(
      encodeCommand(['PUBLISH', 'chan', 'héllo']).toString('latin1'),
      '*3\r\n$7\r\nPUBLISH\r\n$4\r\nchan\r\n$6\r\nh\xc3\xa9llo\r\n',
    );
    assert.deepEqual(
      encodeCommand(['SET', Buffer.from([0, 13, 10, 255]), '']),
      Buffer.concat([
        Buffer.from('*3\r\n$3\r\nSET\r\n$4\r\n'),
        Buffer.from([0, 13, 10, 255]),
        Buffer.from('\r\n$0\r\n\r\n'),
      ]),
    );
    assert.equal(encodeCommand([new Uint8Array([65, 66])]).toString('latin1'), '*1\r\n$2\r\nAB\r\n');
    assert.equal(encodeCommand([]).toString('latin1'), '*0\r\n');
  });

  test('a pipeline is its commands back to back in one buffer; commandLength predicts every size', () => {
    const commands = [
      ['AUTH', 'user', 'pw'],
      ['SELECT', '2'],
      ['PUBLISH', 'c', 'x'.repeat(12345)],
    ];
    const pipeline = encodePipeline(commands);
    assert.deepEqual(pipeline, Buffer.concat(commands.map(encodeCommand)));
    assert.equal(
      pipeline.length,
      commands.reduce((n, c) => n + commandLength(c), 0),
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array())), (args) => {
        assert.equal(commandLength(args), encodeCommand(args).length);
      }),
    );
  });
});

describe('RESP parser', () => {
  test('every RESP2 type, and the RESP3 push as an array', () => {
    const input = Buffer.from(
      '+OK\r\n-ERR unknown command\r\n:0\r\n:-42\r\n:9007199254740993\r\n$5\r\nhel\rl\r\n$0\r\n\r\n$-1\r\n' +
        '*-1\r\n*0\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n*2\r\n*1\r\n:1\r\n*2\r\n+a\r\n-b\r\n' +
        '>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n',
    );
    assert.deepEqual(parseAllWays(input), [
      'OK',
      new RespError('ERR unknown command'),
      0,
      -42,
      9007199254740993n,
      Buffer.from('hel\rl'),
      Buffer.alloc(0),
      null,
      null,
      [],
      [Buffer.from('message'), Buffer.from('c'), Buffer.from('hi')],
      [[1], ['a', new RespError('b')]],
      [Buffer.from('subscribe'), Buffer.from('c'), 1],
    ]);
  });

  test('a bulk string holds any bytes, CR and LF included', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(parseAllWays(serverEncode(all)), [all]);
    assert.deepEqual(parseAllWays(Buffer.from('$2\r\n\r\n\r\n')), [Buffer.from('\r\n')]);
  });

  test('an incomplete value waits for more; `partial` says one is under way', () => {
    const parser = new RespParser();
    assert.equal(parser.partial, false);
    assert.deepEqual(parser.feed(Buffer.from('*2\r\n$3\r\nab')), []);
    assert.equal(parser.partial, true);
    assert.deepEqual(parser.feed(Buffer.from('c\r\n:7\r')), []);
    assert.deepEqual(parser.feed(Buffer.from('\n+next')), [[Buffer.from('abc'), 7]]);
    assert.deepEqual(parser.feed(Buffer.from('\r\n')), ['next']);
    assert.equal(parser.partial, false);
  });

  test('64-bit integers beyond 2^53 are bigints; beyond 64 bits an error', () => {
    assert.deepEqual(parseAllWays(Buffer.from(':9223372036854775807\r\n:-9223372036854775808\r\n')), [
      9223372036854775807n,
      -9223372036854775808n,
    ]);
    rejectedAllWays(Buffer.from(':9223372036854775808\r\n'), /outside the 64-bit range/);
  });

  test('malformed input is a RespProtocolError, and the parser stays failed', () => {
    for (const bad of [
      'OK\r\n', // no type byte
      '%1\r\n', // RESP3 map: not asked for, not accepted
      '_\r\n',
      ' +OK\r\n',
      '+OK\n',
      '+OK\rX',
      '+O\nK\r\n',
      ':\r\n',
      ':+1\r\n',
      ':01\r\n',
      ':-0\r\n',
      ':1.5\r\n',
      ': 1\r\n',
      ':12345678901234567890\r\n',
      '$-2\r\n',
      '$01\r\nx\r\n',
      '$abc\r\n',
      '$3\r\nabcd\r\n', // longer than declared
      '$3\r\nabc\n\r',
      '$3\r\nabc\r\r',
      '*-2\r\n',
      '*1\r\n!',
      '*1 \r\n:1\r\n',
      '$1234567890123456789\r\n',
    ]) {
      rejectedAllWays(Buffer.from(bad));
    }
    const parser = new RespParser();
    assert.throws(() => parser.feed(Buffer.from('?')), /unexpected byte 0x3f where a type byte was expected/);
    assert.throws(() => parser.feed(Buffer.from('+OK\r\n')), RespProtocolError);
  });

  test('bounded: bulk length, array length, nesting and line length have limits', () => {
    const options = { maxBulkLength: 10, maxArrayLength: 3, maxDepth: 2, maxLineLength: 8 };
    assert.deepEqual(parseAllWays(Buffer.from('$10\r\n0123456789\r\n'), options), [
      Buffer.from('0123456789'),
    ]);
    rejectedAllWays(Buffer.from('$11\r\n'), /a bulk string of 11 bytes, more than the 10 allowed/, options);
    assert.deepEqual(parseAllWays(Buffer.from('*3\r\n:1\r\n:2\r\n:3\r\n'), options), [[1, 2, 3]]);
    rejectedAllWays(Buffer.from('*4\r\n'), /an array of 4 elements, more than the 3 allowed/, options);
    assert.deepEqual(parseAllWays(Buffer.from('*1\r\n*1\r\n*0\r\n'), options), [[[[]]]]);
    rejectedAllWays(Buffer.from('*1\r\n*1\r\n*1\r\n'), /nested more than 2 deep/, options);
    assert.deepEqual(parseAllWays(Buffer.from('+12345678\r\n'), options), ['12345678']);
    rejectedAllWays(Buffer.from('+123456789'), /no CRLF within 8 bytes/, options);
    // Numbers have a fixed bound, whatever maxLineLength says.
    rejectedAllWays(Buffer.from(':111111111111111111111'), /no CRLF within 20 bytes/);
    // The default bulk limit is Redis's 512 MiB: announcing more fails at once, nothing allocated.
    assert.throws(
      () => new RespParser().feed(Buffer.from('$536870913\r\n')),
      /more than the 536870912 allowed/,
    );
    assert.deepEqual(new RespParser().feed(Buffer.from('$536870912\r\nab')), []);
  });

  test('a large bulk string in many small chunks is assembled in linear time', () => {
    const size = 8 * 1024 * 1024;
    const payload = Buffer.alloc(size, 'x');
    const input = serverEncode(payload);
    const parser = new RespParser();
    const started = performance.now();
    const values: RespValue[] = [];
    for (let at = 0; at < input.length; at += 1024)
      values.push(...parser.feed(input.subarray(at, at + 1024)));
    assert.equal(values.length, 1);
    assert.ok((values[0] as Buffer).equals(payload));
    // 8192 chunks: re-joining them on every chunk would copy ~32 GiB and take many seconds.
    assert.ok(performance.now() - started < 2000, `took ${performance.now() - started} ms`);
  });
});

describe('RESP properties (fast-check)', () => {
  const value: fc.Arbitrary<RespValue> = fc.letrec<{ value: RespValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string({ unit: 'grapheme' }).filter((s) => !/[\r\n]/.test(s)),
      fc
        .string()
        .filter((s) => !/[\r\n]/.test(s))
        .map((s) => new RespError(s)),
      fc.integer(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((n) => !Number.isSafeInteger(Number(n))),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 5 }),
    ),
  })).value;

  test('encode then parse gives the values back, at any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (values, cuts) => {
          const input = Buffer.concat(values.map(serverEncode));
          const sorted = cuts.map((c) => c % (input.length + 1)).sort((a, b) => a - b);
          assert.deepEqual(feedPieces(input, sorted), values);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a command the encoder writes parses back as its arguments (an array of bulk strings)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.uint8Array()), { maxLength: 8 }), (args) => {
        const expected = args.map((a) => (typeof a === 'string' ? Buffer.from(a) : Buffer.from(a)));
        assert.deepEqual(feedPieces(encodeCommand(args), []), [expected]);
      }),
    );
  });

  test('no byte sequence makes the parser throw anything but a RespProtocolError, or hang', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      // Mostly RESP-looking bytes, so that the parser gets deep before the junk.
      fc
        .array(
          fc.oneof(
            fc.constantFrom('+', '-', ':', '$', '*', '>', '\r', '\n', '\r\n', '-1', '0', '1', '3', '99', 'a'),
            fc.string({ maxLength: 4 }),
          ),
          { maxLength: 60 },
        )
        .map((parts) => Buffer.from(parts.join(''))),
    );
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 10 }), (input, cuts) => {
        const sorted = cuts.map((c) => c % (input.length + 1)).sort((a, b) => a - b);
        const options = { maxBulkLength: 1000, maxArrayLength: 1000, maxDepth: 8 };
        let whole: RespValue[] | RespProtocolError;
        try {
          whole = feedPieces(input, [], options);
        } catch (error) {
          assert.ok(error instanceof RespProtocolError, String(error));
          whole = error;
        }
        // Any chunking gives the same outcome: the same values, or an error too.
        try {
          assert.deepEqual(feedPieces(input, sorted, options), whole);
        } catch (error) {
          assert.ok(error instanceof RespProtocolError, String(error));
          assert.ok(whole instanceof RespProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
