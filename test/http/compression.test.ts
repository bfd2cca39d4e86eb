import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import {
  type Coding,
  type CompressionCandidate,
  type CompressionOptions,
  compressStream,
  compressWhole,
  DEFAULT_LEVELS,
  decideCompression,
  hasCacheDirective,
  type ResolvedCompression,
  resolveCompression,
  resolveCompressionFor,
  type StreamCompressor,
  shouldCompress,
  weakEtag,
  ZSTD_AVAILABLE,
} from '../../src/http/compression.ts';
import { ConfigError } from '../../src/index.ts';

const C = zlib.constants;
const NO_ZSTD = ZSTD_AVAILABLE ? false : `this Node (${process.version}) has no zstd in node:zlib`;

/** Every coding, each test of a coding skipping zstd with a message where the running Node lacks it. */
const CODINGS: { coding: Coding; skip: string | false }[] = [
  { coding: 'gzip', skip: false },
  { coding: 'br', skip: false },
  { coding: 'zstd', skip: NO_ZSTD },
];

function decompress(coding: Coding, data: Buffer): Buffer {
  if (coding === 'gzip') return zlib.gunzipSync(data);
  if (coding === 'br') return zlib.brotliDecompressSync(data);
  return zlib.zstdDecompressSync(data);
}

/** Decodes a stream that isn't finished: everything up to its last flush. */
function decompressPartial(coding: Coding, data: Buffer): Buffer {
  if (coding === 'gzip') return zlib.gunzipSync(data, { finishFlush: C.Z_SYNC_FLUSH });
  if (coding === 'br') return zlib.brotliDecompressSync(data, { finishFlush: C.BROTLI_OPERATION_FLUSH });
  return zlib.zstdDecompressSync(data, { finishFlush: C.ZSTD_e_flush });
}

function resolved(options: CompressionOptions | true = true): ResolvedCompression {
  const result = resolveCompression(options);
  assert.ok(result !== null);
  return result;
}

const TEXT = 'Peregrine compresses text. '.repeat(300); // 8100 bytes

describe('resolveCompression', () => {
  test('off: false or absent', () => {
    assert.equal(resolveCompression(false), null);
    assert.equal(resolveCompression(undefined), null);
  });

  test('true takes the defaults; zstd first only where Node has it', () => {
    const on = resolved();
    assert.deepEqual(on.encodings, ZSTD_AVAILABLE ? ['zstd', 'br', 'gzip'] : ['br', 'gzip']);
    assert.equal(on.threshold, 1024);
    assert.deepEqual(on.levels, { gzip: 1, br: 2, zstd: 2 });
    assert.equal(on.types('text/html; charset=utf-8'), true);
    assert.equal(on.types('image/png'), false);
    assert.deepEqual(resolveCompressionFor(true, false)!.encodings, ['br', 'gzip']);
    assert.deepEqual(resolveCompressionFor(true, true)!.encodings, ['zstd', 'br', 'gzip']);
  });

  test('an object overrides some defaults', () => {
    const r = resolved({ encodings: ['gzip', 'br'], threshold: 0, level: { br: 5 } });
    assert.deepEqual(r.encodings, ['gzip', 'br']);
    assert.equal(r.threshold, 0);
    assert.deepEqual(r.levels, { ...DEFAULT_LEVELS, br: 5 });
    // One number is every coding's level.
    assert.deepEqual(
      resolved({ level: 6 }).levels,
      ZSTD_AVAILABLE ? { gzip: 6, br: 6, zstd: 6 } : { ...DEFAULT_LEVELS, gzip: 6, br: 6 },
    );
    // A level above gzip's 9 is fine when gzip is not in use.
    assert.equal(resolved({ encodings: ['br'], level: 11 }).levels.br, 11);
    // A level for zstd where Node lacks it is harmless.
    assert.equal(resolveCompressionFor({ level: { zstd: 3 } }, false)!.levels.zstd, 3);
  });

  test('types: media types, whole top-level types, or a function', () => {
    const r = resolved({ types: ['application/json', 'TEXT/*'] });
    assert.equal(r.types('application/json'), true);
    assert.equal(r.types('Application/JSON ; charset=utf-8'), true);
    assert.equal(r.types('text/csv'), true);
    assert.equal(r.types('application/xml'), false);
    assert.equal(r.types('textual/plain'), false);
    const only = (type: string) => type === 'x/y';
    assert.equal(resolved({ types: only }).types, only);
  });

  test('invalid values throw a ConfigError naming the option and the rule', () => {
    const cases: [unknown, RegExp][] = [
      [null, /option 'compression' must be a boolean or an object/],
      ['gzip', /option 'compression' must be a boolean or an object .*got "gzip"/],
      [1, /option 'compression' must be a boolean or an object/],
      [['gzip'], /option 'compression' must be a boolean or an object .*got an array/],
      [{ encoding: ['gzip'] }, /option 'compression' has an unknown parameter 'encoding'/],
      [{ encodings: [] }, /option 'compression.encodings' must be a non-empty array.*compression: false/],
      [{ encodings: 'gzip' }, /option 'compression.encodings' must be a non-empty array/],
      [{ encodings: ['deflate'] }, /option 'compression.encodings' has an unknown coding "deflate"/],
      [{ encodings: ['GZIP'] }, /unknown coding "GZIP"/],
      [{ encodings: ['gzip', 'gzip'] }, /option 'compression.encodings' lists 'gzip' twice/],
      [{ threshold: -1 }, /option 'compression.threshold' must be a whole number of bytes/],
      [{ threshold: 1.5 }, /option 'compression.threshold'/],
      [{ threshold: '1k' }, /option 'compression.threshold' .*got "1k"/],
      [{ level: 10 }, /option 'compression.level' must be an integer from 1 to 9 for gzip, got 10/],
      [{ level: 0, encodings: ['gzip'] }, /from 1 to 9 for gzip, got 0/],
      [{ level: 2.5 }, /option 'compression.level' must be an integer/],
      [{ level: { br: 12 } }, /option 'compression.level.br' must be an integer from 0 to 11 for br, got 12/],
      [{ level: { zstd: 22 } }, /option 'compression.level.zstd' must be an integer from 1 to 19 for zstd/],
      [{ level: { deflate: 1 } }, /option 'compression.level' has an unknown coding 'deflate'/],
      [{ level: 'fast' }, /option 'compression.level' must be a number or an object/],
      [{ types: 'text/*' }, /option 'compression.types' must be an array of media types or a function/],
      [{ types: ['json'] }, /option 'compression.types' has "json", which is not a media type/],
      [{ types: ['*/*'] }, /option 'compression.types' has "\*\/\*"/],
      [{ types: ['text/'] }, /option 'compression.types' has "text\/"/],
      [{ types: [42] }, /option 'compression.types' has 42/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => resolveCompressionFor(value, true),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
        JSON.stringify(value),
      );
    }
  });

  test('zstd asked for on a Node without it is a ConfigError', () => {
    assert.throws(
      () => resolveCompressionFor({ encodings: ['zstd', 'gzip'] }, false),
      (error: unknown) =>
        error instanceof ConfigError &&
        /option 'compression.encodings' asks for 'zstd', but this Node .* has no zstd/.test(error.message),
    );
    assert.deepEqual(resolveCompressionFor({ encodings: ['zstd'] }, true)!.encodings, ['zstd']);
  });
});

describe('decideCompression', () => {
  const compression = resolveCompressionFor(true, true)!;
  const base: CompressionCandidate = {
    method: 'GET',
    acceptEncoding: 'gzip, deflate, br, zstd',
    range: undefined,
    status: 200,
    contentType: 'text/html; charset=utf-8',
    contentEncoding: undefined,
    contentRange: undefined,
    cacheControl: undefined,
    length: 6150,
  };
  const decide = (change: Partial<CompressionCandidate>, c = compression) =>
    decideCompression({ ...base, ...change }, c);

  test('a qualifying response gets the negotiated coding and Vary', () => {
    assert.deepEqual(decide({}), { coding: 'zstd', vary: true });
    assert.deepEqual(decide({ acceptEncoding: 'gzip' }), { coding: 'gzip', vary: true });
    assert.deepEqual(decide({ method: 'POST', status: 201 }), { coding: 'zstd', vary: true });
    assert.deepEqual(decide({ status: 404 }), { coding: 'zstd', vary: true });
    assert.deepEqual(decide({ length: undefined }), { coding: 'zstd', vary: true }); // a stream
    assert.deepEqual(decide({ length: 1024 }), { coding: 'zstd', vary: true }); // at the threshold
    assert.deepEqual(decide({ cacheControl: 'public, max-age=60' }), { coding: 'zstd', vary: true });
    assert.equal(shouldCompress({ ...base, acceptEncoding: 'br' }, compression), 'br');
  });

  test('the response itself does not qualify: no coding and no Vary', () => {
    const cases: [string, Partial<CompressionCandidate>][] = [
      ['101', { status: 101 }],
      ['103', { status: 103 }],
      ['204', { status: 204 }],
      ['205', { status: 205 }],
      ['206', { status: 206, contentRange: 'bytes 0-9/6150' }],
      ['206 alone', { status: 206 }],
      ['304', { status: 304 }],
      ['below the threshold', { length: 1023 }],
      ['empty', { length: 0 }],
      ['already encoded', { contentEncoding: 'gzip' }],
      ['already encoded (br)', { contentEncoding: 'br' }],
      ['a Content-Range', { contentRange: 'bytes 0-9/6150' }],
      ['no-transform', { cacheControl: 'no-transform' }],
      ['no-transform among others', { cacheControl: 'public, NO-TRANSFORM, max-age=0' }],
      ['no Content-Type', { contentType: undefined }],
      ['an empty Content-Type', { contentType: '' }],
      ['an incompressible type', { contentType: 'image/png' }],
      ['an incompressible stream', { contentType: 'video/mp4', length: undefined }],
    ];
    for (const [what, change] of cases) assert.deepEqual(decide(change), { coding: null, vary: false }, what);
  });

  test('the request does not get a coding, but the response still varies on Accept-Encoding', () => {
    const cases: [string, Partial<CompressionCandidate>][] = [
      ['HEAD', { method: 'HEAD' }],
      ['a Range', { range: 'bytes=0-99' }],
      ['no Accept-Encoding', { acceptEncoding: undefined }],
      ['an empty Accept-Encoding', { acceptEncoding: '' }],
      ['identity only', { acceptEncoding: 'identity' }],
      ['every coding refused', { acceptEncoding: '*;q=0' }],
      ['deflate only', { acceptEncoding: 'deflate' }],
    ];
    for (const [what, change] of cases) assert.deepEqual(decide(change), { coding: null, vary: true }, what);
  });

  test('threshold, types and encodings come from the option', () => {
    const tiny = resolveCompressionFor({ threshold: 0, encodings: ['gzip'], types: ['image/*'] }, true)!;
    assert.deepEqual(decide({ length: 1, contentType: 'image/png' }, tiny), { coding: 'gzip', vary: true });
    assert.deepEqual(decide({ length: 0, contentType: 'image/png' }, tiny), { coding: null, vary: false });
    assert.deepEqual(decide({ contentType: 'text/html' }, tiny), { coding: null, vary: false });
    assert.deepEqual(decide({ contentType: 'image/png', acceptEncoding: 'br' }, tiny), {
      coding: null,
      vary: true,
    });
    const big = resolveCompressionFor({ threshold: 10_000 }, true)!;
    assert.deepEqual(decide({}, big), { coding: null, vary: false });
    assert.deepEqual(decide({ length: undefined }, big), { coding: 'zstd', vary: true });
  });
});

describe('hasCacheDirective (RFC 9111 §5.2)', () => {
  test('table', () => {
    const cases: [string, boolean][] = [
      ['no-transform', true],
      ['No-Transform', true],
      [' public ,no-transform', true],
      ['max-age=60, no-transform', true],
      ['no-transform=1', true],
      ['', false],
      ['no-transformation', false],
      ['x-no-transform', false],
      ['no-cache="no-transform"', false],
      ['private="a, no-transform", max-age=0', false],
      ['private="a, \\"no-transform", no-store', false],
      ['private="a, b", no-transform', true],
      ['private="unterminated, no-transform', false],
    ];
    for (const [value, expected] of cases)
      assert.equal(hasCacheDirective(value, 'no-transform'), expected, value);
  });
});

test('weakEtag makes a strong tag weak and leaves a weak one', () => {
  assert.equal(weakEtag('"abc"'), 'W/"abc"');
  assert.equal(weakEtag('W/"abc"'), 'W/"abc"');
});

describe('compressWhole', () => {
  const compression = resolveCompressionFor(true, ZSTD_AVAILABLE)!;
  const json = JSON.stringify(
    Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `user-${(i * 7919) % 10007}`, ok: i % 3 === 0 })),
  );
  for (const { coding, skip } of CODINGS) {
    test(`${coding}: round trips text, bytes, JSON, incompressible and tiny bodies`, { skip }, () => {
      for (const body of [
        TEXT,
        Buffer.from(TEXT),
        json,
        randomBytes(70_000),
        'x',
        Buffer.alloc(0),
        'é✓ unicode '.repeat(200),
      ]) {
        const out = compressWhole(coding, body, compression, 'text/plain');
        assert.deepEqual(decompress(coding, out), Buffer.from(body));
      }
      const out = compressWhole(coding, TEXT, compression);
      assert.ok(out.length < TEXT.length / 10, `${coding} gave ${out.length} bytes`);
    });

    test(`${coding}: a large body (4 MiB) round trips`, { skip }, () => {
      const body = Buffer.from(json.repeat(Math.ceil((4 << 20) / json.length)));
      assert.deepEqual(
        decompress(coding, compressWhole(coding, body, compression, 'application/json')),
        body,
      );
    });

    test(`${coding}: the level is the option's`, { skip }, () => {
      const low = resolveCompressionFor({ level: { [coding]: coding === 'br' ? 0 : 1 } }, ZSTD_AVAILABLE)!;
      const high = resolveCompressionFor({ level: { [coding]: 9 } }, ZSTD_AVAILABLE)!;
      const a = compressWhole(coding, json, low);
      const b = compressWhole(coding, json, high);
      assert.ok(b.length < a.length, `level 9 (${b.length}) should beat the lowest (${a.length})`);
    });
  }

  test('gzip output is exactly zlib gzip at the level (the smaller window changes nothing)', () => {
    const r = resolved({ encodings: ['gzip'], level: 6 });
    assert.deepEqual(compressWhole('gzip', TEXT, r), zlib.gzipSync(TEXT, { level: 6 }));
  });

  test('zstd records the content size in its frame header', { skip: NO_ZSTD }, () => {
    const out = compressWhole('zstd', TEXT, compression);
    // RFC 8878 §3.1.1.1.1: Frame_Content_Size_Flag is the top two bits of the descriptor; Single_Segment
    // (bit 5) with flag 0 still means a 1-byte size is present.
    const descriptor = out[4]!;
    assert.ok((descriptor & 0xc0) !== 0 || (descriptor & 0x20) !== 0);
  });
});

/** push and end as promises. */
function push(stream: StreamCompressor, chunk: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    stream.push(chunk, (error, out) => (error ? reject(error) : resolve(out))),
  );
}
function end(stream: StreamCompressor, chunk?: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    stream.end(chunk, (error, out) => (error ? reject(error) : resolve(out))),
  );
}

describe('compressStream', () => {
  const compression = resolveCompressionFor(true, ZSTD_AVAILABLE)!;
  for (const { coding, skip } of CODINGS) {
    test(`${coding}: every push is flushed: the output so far decodes to everything pushed`, {
      skip,
    }, async () => {
      const stream = compressStream(coding, compression);
      assert.equal(stream.coding, coding);
      const sent: Buffer[] = [];
      let text = '';
      for (const event of ['data: one\n\n', 'data: two\n\n', 'data: three\n\n']) {
        const out = await push(stream, event);
        assert.ok(out.length > 0);
        sent.push(out);
        text += event;
        assert.equal(decompressPartial(coding, Buffer.concat(sent)).toString(), text);
      }
      sent.push(await end(stream));
      assert.equal(decompress(coding, Buffer.concat(sent)).toString(), text);
    });

    test(`${coding}: many small chunks, then a last one given to end()`, { skip }, async () => {
      const stream = compressStream(coding, compression);
      const sent: Buffer[] = [];
      const chunks: string[] = [];
      for (let i = 0; i < 500; i++) {
        const chunk = `row ${i},${i * i}\n`;
        chunks.push(chunk);
        sent.push(await push(stream, i % 2 === 0 ? chunk : Buffer.from(chunk)));
      }
      sent.push(await end(stream, 'the end\n'));
      assert.equal(decompress(coding, Buffer.concat(sent)).toString(), chunks.join('') + 'the end\n');
    });

    test(`${coding}: large chunks, compressible and not, whose output exceeds zlib's buffers`, {
      skip,
    }, async () => {
      const stream = compressStream(coding, compression);
      const noise = randomBytes(1 << 20);
      const text = Buffer.from(TEXT.repeat(200)); // 1.6 MB
      const sent = [await push(stream, noise), await push(stream, text), await push(stream, noise)];
      assert.ok(sent[0]!.length > noise.length * 0.9, 'incompressible data comes out at about its size');
      sent.push(await end(stream));
      assert.deepEqual(decompress(coding, Buffer.concat(sent)), Buffer.concat([noise, text, noise]));
    });

    test(`${coding}: empty pushes, an empty stream`, { skip }, async () => {
      const stream = compressStream(coding, compression);
      assert.equal((await push(stream, '')).length, 0);
      assert.equal((await push(stream, Buffer.alloc(0))).length, 0);
      const tail = await end(stream);
      assert.equal(decompress(coding, tail).length, 0);
    });
  }

  test('one push at a time: the callback is asynchronous, and a push while busy throws', async () => {
    const stream = compressStream('gzip', compression);
    let called = false;
    const done = new Promise<void>((resolve) =>
      stream.push('first', () => {
        called = true;
        resolve();
      }),
    );
    assert.equal(called, false);
    assert.equal(stream.busy, true);
    assert.throws(() => stream.push('second', () => {}), { code: 'ERR_PEREGRINE_COMPRESSOR_BUSY' });
    assert.throws(() => stream.end(undefined, () => {}), { code: 'ERR_PEREGRINE_COMPRESSOR_BUSY' });
    await done;
    assert.equal(stream.busy, false);
    const empty = new Promise<void>((resolve) => stream.push('', () => resolve()));
    assert.equal(stream.busy, true, 'an empty push is still one at a time');
    await empty;
    await end(stream);
    assert.throws(() => stream.push('more', () => {}), { code: 'ERR_PEREGRINE_COMPRESSOR_ENDED' });
    assert.throws(() => stream.end(undefined, () => {}), { code: 'ERR_PEREGRINE_COMPRESSOR_ENDED' });
  });

  test('destroy: a pending callback is never called, later calls throw', async () => {
    const stream = compressStream('br', compression);
    let called = false;
    stream.push(TEXT, () => {
      called = true;
    });
    stream.destroy();
    stream.destroy(); // idempotent
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(called, false);
    assert.equal(stream.busy, false);
    assert.throws(() => stream.push('x', () => {}), { code: 'ERR_PEREGRINE_COMPRESSOR_DESTROYED' });
  });

  test('the level is the option’s', async () => {
    const body = TEXT + JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ i, v: (i * 7919) % 1009 })));
    const sizes: number[] = [];
    for (const level of [1, 9]) {
      const stream = compressStream('gzip', resolved({ encodings: ['gzip'], level }));
      sizes.push((await push(stream, body)).length + (await end(stream)).length);
    }
    assert.ok(sizes[1]! < sizes[0]!, `level 9 (${sizes[1]}) should beat level 1 (${sizes[0]})`);
  });
});
