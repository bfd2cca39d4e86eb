import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { BODY_DONE, ChunkedDecoder, DATA_READY, NEED_MORE } from '../../src/http/chunked.ts';
import { mutate, mutation as mutationOf } from '../mutate.ts';

// Every case is decoded several ways that must agree exactly: in one piece; split in two at every
// point; one byte per piece; and over one buffer whose `end` grows a byte at a time (the bytes past
// `end` are already there, as in a connection's read buffer). The data slices are concatenated.

const TRAILER_LIMIT = 1024;

interface Decoded {
  /** 'done' (BODY_DONE), 'more' (NEED_MORE after the last byte) or a negative status. */
  result: 'done' | 'more' | number;
  body: string;
  /** Bytes consumed over all pieces: just past the body when done, the offending byte on error. */
  consumed: number;
  error: string;
}

/** Runs the decoder over `pieces` in order, checking the invariants of every event. */
function decodePieces(pieces: Buffer[], maxTrailerBytes: number, maxBodyBytes?: number): Decoded {
  const decoder = new ChunkedDecoder();
  decoder.reset(maxTrailerBytes, maxBodyBytes);
  const body: Buffer[] = [];
  let consumed = 0;
  for (const piece of pieces) {
    let offset = 0;
    for (;;) {
      const result = decoder.next(piece, offset, piece.length);
      assert.ok(
        decoder.offset >= offset && decoder.offset <= piece.length,
        'offset moves forward, within the piece',
      );
      offset = decoder.offset;
      if (result === DATA_READY) {
        assert.ok(
          decoder.dataStart < decoder.dataEnd && decoder.dataEnd === offset,
          'data is what was consumed',
        );
        body.push(Buffer.from(piece.subarray(decoder.dataStart, decoder.dataEnd)));
        continue;
      }
      if (result === NEED_MORE) {
        assert.equal(offset, piece.length, 'NEED_MORE consumes everything');
        break;
      }
      assert.ok(result === BODY_DONE || result < 0, `unexpected result ${result}`);
      assert.equal(decoder.done, result === BODY_DONE);
      if (result < 0) assert.notEqual(decoder.error, '');
      return {
        result: result === BODY_DONE ? 'done' : result,
        body: Buffer.concat(body).toString('latin1'),
        consumed: consumed + offset,
        error: decoder.error,
      };
    }
    consumed += piece.length;
  }
  return { result: 'more', body: Buffer.concat(body).toString('latin1'), consumed, error: '' };
}

/** Runs the decoder over one buffer whose end grows one byte at a time. */
function decodeGrowing(buf: Buffer, maxTrailerBytes: number, maxBodyBytes?: number): Decoded {
  const decoder = new ChunkedDecoder();
  decoder.reset(maxTrailerBytes, maxBodyBytes);
  const body: Buffer[] = [];
  let offset = 0;
  for (let end = 1; end <= buf.length; end++) {
    for (;;) {
      const result = decoder.next(buf, offset, end);
      offset = decoder.offset;
      if (result === DATA_READY) {
        body.push(buf.subarray(decoder.dataStart, decoder.dataEnd));
        continue;
      }
      if (result === NEED_MORE) break;
      return {
        result: result === BODY_DONE ? 'done' : result,
        body: Buffer.concat(body).toString('latin1'),
        consumed: offset,
        error: decoder.error,
      };
    }
  }
  return { result: 'more', body: Buffer.concat(body).toString('latin1'), consumed: offset, error: '' };
}

const toBuffer = (input: string | Buffer) =>
  typeof input === 'string' ? Buffer.from(input, 'latin1') : input;

/** Decodes `input` every way, asserts they agree, and returns the one-piece result. */
function decodeEveryWay(
  input: string | Buffer,
  maxTrailerBytes = TRAILER_LIMIT,
  everySplit = true,
  maxBodyBytes?: number,
): Decoded {
  const buf = toBuffer(input);
  const whole = decodePieces([buf], maxTrailerBytes, maxBodyBytes);
  const label = JSON.stringify(buf.toString('latin1')).slice(0, 120);
  const bytes = Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
  assert.deepEqual(decodePieces(bytes, maxTrailerBytes, maxBodyBytes), whole, `byte by byte, ${label}`);
  assert.deepEqual(decodeGrowing(buf, maxTrailerBytes, maxBodyBytes), whole, `growing end, ${label}`);
  if (everySplit) {
    for (let i = 1; i < buf.length; i++) {
      const pieces = [Buffer.from(buf.subarray(0, i)), Buffer.from(buf.subarray(i))];
      assert.deepEqual(decodePieces(pieces, maxTrailerBytes, maxBodyBytes), whole, `split at ${i}, ${label}`);
    }
  }
  return whole;
}

/** Asserts `input` decodes to `body`, consuming exactly `input` (or up to `rest`, which follows it). */
function decodes(input: string, body: string, rest = '', maxTrailerBytes = TRAILER_LIMIT): void {
  const result = decodeEveryWay(input + rest, maxTrailerBytes);
  assert.equal(result.result, 'done', `expected the body to end, got ${result.result} (${result.error})`);
  assert.equal(result.body, body);
  assert.equal(result.consumed, input.length);
}

/** Asserts `input` is rejected with `status`. */
function failsWith(input: string, status: number, maxTrailerBytes = TRAILER_LIMIT): void {
  const result = decodeEveryWay(input, maxTrailerBytes);
  assert.equal(result.result, -status, `expected ${status}, got ${result.result}`);
}

describe('chunk sizes', () => {
  test('one chunk, then the last chunk', () => decodes('5\r\nhello\r\n0\r\n\r\n', 'hello'));
  test('several chunks', () => decodes('5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n', 'hello world'));
  test('a zero-length body', () => decodes('0\r\n\r\n', ''));
  test('a zero-length body with leading zeros', () => decodes('000\r\n\r\n', ''));

  test('hex sizes in upper and lower case', () => {
    const a = 'x'.repeat(10);
    const f = 'y'.repeat(31);
    decodes(`A\r\n${a}\r\na\r\n${a}\r\n1F\r\n${f}\r\n1f\r\n${f}\r\n0\r\n\r\n`, a + a + f + f);
  });

  test('leading zeros', () =>
    decodes('0005\r\nhello\r\n00000000000000000000000002\r\nhi\r\n0\r\n\r\n', 'hellohi'));

  test('a chunk of binary data with CR, LF and NUL inside', () => {
    decodes('8\r\n\r\n\0\r\n\r\n\xff\r\n0\r\n\r\n', '\r\n\0\r\n\r\n\xff');
  });

  test('bytes after the body are left alone', () => {
    decodes('3\r\nabc\r\n0\r\n\r\n', 'abc', 'GET / HTTP/1.1\r\n\r\n');
    decodes('0\r\n\r\n', '', '0\r\n\r\n');
  });

  test('a large size that fits is accepted when no body limit is given', () => {
    const result = decodeEveryWay('ffffffffffff\r\nabc');
    assert.equal(result.result, 'more');
    assert.equal(result.body, 'abc');
  });

  for (const size of [
    'fffffffffffffffff',
    '10000000000000000',
    'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
    '1000000000000001',
  ]) {
    test(`400 for the overflowing size ${size}`, () => failsWith(`${size}\r\nabc`, 400));
  }

  for (const [name, input] of [
    ['a missing size', '\r\nhello\r\n0\r\n\r\n'],
    ['an extension without size', ';a=b\r\nhello\r\n0\r\n\r\n'],
    ['a non-hex size', 'g\r\nhello\r\n0\r\n\r\n'],
    ['a negative size', '-5\r\nhello\r\n0\r\n\r\n'],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['a leading space', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['a plus sign', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a size followed by garbage', '5x\r\nhello\r\n0\r\n\r\n'],
    ['a missing next size', '5\r\nhello\r\n\r\n'],
  ]) {
    test(`400 for ${name}`, () => failsWith(input!, 400));
  }

  test('400 for a size line longer than the limit', () => failsWith(`${'0'.repeat(5000)}5\r\nhello`, 400));

  test('the first size that overflows is 400 at its last digit: 13 hex digits fit, 14 do not', () => {
    const fits = decodeEveryWay('1000000000000\r\nabc');
    assert.equal(fits.result, 'more');
    assert.equal(fits.body, 'abc');
    const overflow = decodeEveryWay('10000000000000\r\nabc');
    assert.equal(overflow.result, -400);
    assert.equal(overflow.error, 'chunk size overflow');
    assert.equal(overflow.consumed, 13, 'rejected at the digit that overflows');
  });
});

describe('the body limit (maxBodyBytes)', () => {
  const limited = (input: string, maxBodyBytes: number) =>
    decodeEveryWay(input, TRAILER_LIMIT, true, maxBodyBytes);

  test('chunks that add up to exactly the limit are accepted', () => {
    const result = limited('5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n', 10);
    assert.equal(result.result, 'done');
    assert.equal(result.body, 'helloworld');
  });

  test('a declared chunk larger than the limit is 413 as soon as its size line ends, before any data', () => {
    // The case: a 4 GiB chunk against a 16 MiB limit, with none of its data sent.
    const result = limited('100000005\r\n', 16 * 1024 * 1024);
    assert.equal(result.result, -413);
    assert.equal(result.body, '');
    assert.equal(result.consumed, 9, 'rejected at the CR that ends the size');
    // With an extension, at the byte after the size.
    assert.equal(limited('100000005;a=b\r\n', 16 * 1024 * 1024).result, -413);
  });

  test('a chunk that fits alone but not in what earlier chunks left is 413 before its data', () => {
    const result = limited('5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n', 10);
    assert.equal(result.result, -413);
    assert.equal(result.body, 'hello', 'the first chunk was delivered, none of the second');
    assert.equal(result.consumed, '5\r\nhello\r\n6'.length);
  });

  test('an overflowing size is still 400, not 413', () => {
    assert.equal(limited('10000000000000\r\n', 1024).result, -400);
  });

  test('reset() restores the whole allowance for the next body', () => {
    const decoder = new ChunkedDecoder();
    const body = Buffer.from('8\r\nabcdefgh\r\n0\r\n\r\n', 'latin1');
    for (let round = 0; round < 3; round++) {
      decoder.reset(TRAILER_LIMIT, 8);
      let offset = 0;
      let result = decoder.next(body, offset, body.length);
      while (result === DATA_READY) {
        offset = decoder.offset;
        result = decoder.next(body, offset, body.length);
      }
      assert.equal(result, BODY_DONE, `round ${round}`);
    }
  });
});

describe('chunk extensions', () => {
  for (const ext of [
    ';name',
    ';name=value',
    ';a=b;c=d;e',
    ';a="quoted value"',
    ';a=""',
    ';a="with ; and = and \\" inside"',
    ';a="escaped \\\\ backslash and \\q"',
    ';a="obs-text \xe9\xff and \ttab"',
    ' ; a = b ; c ;d= "e" ',
    ";!#$%&'*+-.^_`|~09azAZ=!#$%&'*+-.^_`|~09azAZ",
    '\t;\ta\t=\tb',
  ]) {
    test(`accepted: ${JSON.stringify(ext)}`, () => {
      // The size line must end right after the extension, so trim what the grammar does not allow.
      const line = ext.trimEnd();
      decodes(`5${line}\r\nhello\r\n0${line}\r\n\r\n`, 'hello');
    });
  }

  for (const [name, ext] of [
    ['an empty name', ';'],
    ['an empty name before another', ';;a'],
    ['an empty value', ';a='],
    ['a second size', ' 6'],
    ['trailing whitespace after the size', ' '],
    ['trailing whitespace after a name', ';a '],
    ['trailing whitespace after a value', ';a=b '],
    ['a space inside a token value', ';a=b c'],
    ['a quote inside a token value', ';a=b"c"'],
    ['text after a quoted value', ';a="b"c'],
    ['an unterminated quoted value', ';a="b'],
    ['an unterminated quoted-pair', ';a="b\\'],
    ['a non-token name', ';a(b=c'],
    ['a second "="', ';a=b=c'],
    ['NUL in a name', ';a\x00'],
    ['NUL in a value', ';a=b\x00'],
    ['SOH in a quoted value', ';a="\x01"'],
    ['DEL in a quoted value', ';a="\x7f"'],
    ['DEL in a token value', ';a=\x7f'],
    ['NUL in a quoted-pair', ';a="\\\x00"'],
    ['obs-text in a token', ';a=\xe9'],
    ['ESC after the size', '\x1b'],
  ]) {
    test(`400 for ${name}`, () => failsWith(`5${ext}\r\nhello\r\n0\r\n\r\n`, 400));
  }

  test('400 for a bare LF or a bare CR inside an extension or quoted value', () => {
    failsWith('5;a\nhello\r\n0\r\n\r\n', 400);
    failsWith('5;a="x\ny"\r\nhello\r\n0\r\n\r\n', 400);
    failsWith('5;a="x\r\ny"\r\nhello\r\n0\r\n\r\n', 400);
    failsWith('5;a=b\rhello\r\n0\r\n\r\n', 400);
  });

  test('400 for an extension longer than the limit', () => {
    failsWith(`5;a=${'b'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`, 400);
    failsWith(`5;a="${' '.repeat(5000)}"\r\nhello\r\n0\r\n\r\n`, 400);
  });
});

describe('line ends and data', () => {
  for (const [name, input] of [
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['a bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
    ['a bare LF after the data', '5\r\nhello\n0\r\n\r\n'],
    ['a CR CR LF after the data', '5\r\nhello\r\r\n0\r\n\r\n'],
    ['a bare LF after the last chunk', '0\n\r\n'],
    ['a bare LF for the final line', '0\r\n\n'],
    ['a bare CR for the final line', '0\r\n\r\r'],
    ['a bare LF after a trailer', '0\r\nX: y\n\r\n'],
    ['data longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
    ['data shorter than its size', '5\r\nhel\r\n0\r\n\r\n'],
    ['no CRLF after the data', '5\r\nhello0\r\n\r\n'],
    ['a CR then not LF after the data', '5\r\nhello\rX0\r\n\r\n'],
  ]) {
    test(`400 for ${name}`, () => failsWith(input!, 400));
  }

  test('an incomplete body needs more at every point', () => {
    const input = '5;a="b"\r\nhello\r\n0\r\nX: y\r\n\r\n';
    for (let end = 0; end < input.length; end++) {
      const result = decodeEveryWay(input.slice(0, end), TRAILER_LIMIT, false);
      assert.equal(result.result, 'more', `after ${end} bytes`);
      assert.equal(result.body, 'hello'.slice(0, Math.max(0, Math.min(5, end - 9))));
    }
  });
});

describe('trailers', () => {
  test('valid trailer fields are read and the body ends after them', () => {
    decodes(
      '5\r\nhello\r\n0\r\nX-Sum: abc\r\nOther:  v w \t\r\nEmpty:\r\nObs: \xe9\xff\r\n\r\n',
      'hello',
      'NEXT',
    );
  });

  for (const [name, trailer] of [
    ['whitespace before the colon', 'X : v'],
    ['an empty name', ': v'],
    ['a missing colon', 'X'],
    ['obs-fold', 'X: a\r\n b'],
    ['a non-token name', 'X(: v'],
    ['NUL in a value', 'X: a\x00b'],
    ['DEL in a value', 'X: a\x7fb'],
    ['a bare CR in a value', 'X: a\rb'],
  ]) {
    test(`400 for ${name}`, () => failsWith(`0\r\n${trailer}\r\n\r\n`, 400));
  }

  test('a trailer section over the limit is 431', () => {
    const trailer = `0\r\nX-Long: ${'v'.repeat(100)}\r\n\r\n`;
    decodes(trailer, '', '', 200);
    failsWith(trailer, 431, 50);
    failsWith(`0\r\n${'X: y\r\n'.repeat(20)}\r\n`, 431, 50);
  });

  test('the blank line that ends an empty trailer section does not count against the limit', () => {
    // Regression: the final CR was counted as a trailer byte, so a limit of 0 rejected "0\r\n\r\n".
    decodes('0\r\n\r\n', '', '', 0);
    failsWith('0\r\nX: y\r\n\r\n', 431, 0);
  });
});

describe('decoder state', () => {
  test('after BODY_DONE, next() reports BODY_DONE again without consuming', () => {
    const decoder = new ChunkedDecoder();
    decoder.reset(TRAILER_LIMIT);
    const buf = Buffer.from('0\r\n\r\nGET', 'latin1');
    assert.equal(decoder.next(buf, 0, buf.length), BODY_DONE);
    assert.equal(decoder.offset, 5);
    assert.equal(decoder.done, true);
    assert.equal(decoder.next(buf, 5, buf.length), BODY_DONE);
    assert.equal(decoder.offset, 5);
  });

  test('reset() makes the decoder ready for the next body, also after an error', () => {
    const decoder = new ChunkedDecoder();
    decoder.reset(TRAILER_LIMIT);
    const bad = Buffer.from('5\r\nhelloX', 'latin1');
    assert.equal(decoder.next(bad, 0, bad.length), DATA_READY);
    assert.equal(decoder.next(bad, decoder.offset, bad.length), -400);
    assert.notEqual(decoder.error, '');
    decoder.reset(TRAILER_LIMIT);
    assert.equal(decoder.error, '');
    assert.equal(decoder.done, false);
    const good = Buffer.from('2\r\nok\r\n0\r\n\r\n', 'latin1');
    assert.equal(decoder.next(good, 0, good.length), DATA_READY);
    assert.equal(good.toString('latin1', decoder.dataStart, decoder.dataEnd), 'ok');
    assert.equal(decoder.next(good, decoder.offset, good.length), BODY_DONE);
    assert.equal(decoder.offset, good.length);
  });

  test('a DATA_READY slice never reaches past the chunk', () => {
    const decoder = new ChunkedDecoder();
    decoder.reset(TRAILER_LIMIT);
    const buf = Buffer.from('3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n', 'latin1');
    assert.equal(decoder.next(buf, 0, buf.length), DATA_READY);
    assert.deepEqual([decoder.dataStart, decoder.dataEnd], [3, 6]);
    assert.equal(decoder.next(buf, decoder.offset, buf.length), DATA_READY);
    assert.deepEqual([decoder.dataStart, decoder.dataEnd], [11, 14]);
  });
});

// ───────────────────────────── properties ─────────────────────────────

const EXTENSIONS = ['', '', '', ';a', ';a=b', ' ;x="y;z"', ';q="\\"\\\\"', '\t; n = v'];
const TRAILERS = ['', '', 'X-Sum: 1\r\n', 'A: b\r\nC:\r\n'];

/** A chunked encoding of `body`, cut in chunks of the given sizes (cycled), with random spelling. */
const encoded = fc
  .record({
    body: fc.uint8Array({ maxLength: 2000 }),
    sizes: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
    upper: fc.boolean(),
    zeros: fc.nat(3),
    extension: fc.constantFrom(...EXTENSIONS),
    trailer: fc.constantFrom(...TRAILERS),
  })
  .map(({ body, sizes, upper, zeros, extension, trailer }) => {
    const parts: Buffer[] = [];
    let k = 0;
    for (let at = 0; at < body.length; k++) {
      const size = Math.min(sizes[k % sizes.length]!, body.length - at);
      let hex = size.toString(16);
      if (upper) hex = hex.toUpperCase();
      parts.push(Buffer.from(`${'0'.repeat(zeros)}${hex}${extension}\r\n`, 'latin1'));
      parts.push(Buffer.from(body.subarray(at, at + size)), Buffer.from('\r\n'));
      at += size;
    }
    parts.push(Buffer.from(`0${extension}\r\n${trailer}\r\n`, 'latin1'));
    return { body: Buffer.from(body), encoding: Buffer.concat(parts) };
  });

/** Cuts `buf` at the given points (taken modulo its length). */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => (buf.length === 0 ? 0 : p % buf.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    if (p > from) pieces.push(Buffer.from(buf.subarray(from, p)));
    from = Math.max(from, p);
  }
  pieces.push(Buffer.from(buf.subarray(from)));
  return pieces;
}

test('property: a body cut into random chunks and fed in random pieces decodes to the same bytes', () => {
  fc.assert(
    fc.property(encoded, fc.array(fc.nat(), { maxLength: 20 }), ({ body, encoding }, points) => {
      const withNext = Buffer.concat([encoding, Buffer.from('GET / HTTP/1.1\r\n')]);
      const whole = decodePieces([withNext], TRAILER_LIMIT);
      assert.equal(whole.result, 'done');
      assert.equal(whole.consumed, encoding.length);
      assert.equal(whole.body, body.toString('latin1'));
      assert.deepEqual(decodePieces(cut(withNext, points), TRAILER_LIMIT), whole);
    }),
    { seed: 42, numRuns: 300 },
  );
});

test('property: a small body decodes the same one byte at a time and with a growing end', () => {
  fc.assert(
    fc.property(encoded, ({ encoding }) => {
      const small = encoding.length > 400 ? Buffer.concat([encoding.subarray(0, 400)]) : encoding;
      decodeEveryWay(small, TRAILER_LIMIT, false);
    }),
    { seed: 42, numRuns: 150 },
  );
});

const INTERESTING = [
  0x0d, 0x0a, 0x00, 0x3b, 0x22, 0x5c, 0x20, 0x09, 0x3d, 0x3a, 0x30, 0x61, 0x66, 0x7f, 0xff,
];

/** One change to a byte string: flip, insert, delete, duplicate or truncate. */
const mutation = mutationOf(
  fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
  8,
  16,
);

test('property: mutated encodings never throw, every way agrees, and the result is known', () => {
  fc.assert(
    fc.property(
      encoded,
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.constantFrom(0, 16, TRAILER_LIMIT),
      ({ encoding }, mutations, points, limit) => {
        let buf: Buffer = encoding.length > 600 ? Buffer.from(encoding.subarray(0, 600)) : encoding;
        for (const m of mutations) buf = mutate(buf, m);
        const whole = decodePieces([buf], limit);
        assert.ok(
          whole.result === 'done' ||
            whole.result === 'more' ||
            whole.result === -400 ||
            whole.result === -431,
          `unexpected ${whole.result}`,
        );
        assert.deepEqual(decodePieces(cut(buf, points), limit), whole);
        const bytes = Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
        assert.deepEqual(decodePieces(bytes, limit), whole);
        assert.deepEqual(decodeGrowing(buf, limit), whole);
      },
    ),
    { seed: 42, numRuns: 400 },
  );
});
