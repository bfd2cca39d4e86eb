import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DirServer, FileServer } from '../../src/index.ts';
import { acceptedCodings } from '../../src/static/encodings.ts';
import { get, setup } from '../server/util.ts';

describe('acceptedCodings (RFC 9110 §12.5.3)', () => {
  test('table', () => {
    const cases: [string | undefined, string[]][] = [
      [undefined, []],
      ['', []],
      ['identity', []],
      ['gzip', ['gzip']],
      ['br', ['br']],
      ['gzip, deflate, br', ['br', 'gzip']],
      ['gzip, deflate, br, zstd', ['br', 'gzip']],
      ['GZIP, BR', ['br', 'gzip']],
      ['x-gzip', ['gzip']],
      ['*', ['br', 'gzip']],
      ['*;q=0', []],
      ['br;q=0, *', ['gzip']],
      ['gzip;q=0, br;q=0.5', ['br']],
      ['br;q=0.000, gzip;q=1.000', ['gzip']],
      ['br;q=0.001', ['br']],
      ['br; q=0', []],
      ['br ;q=0 , gzip', ['gzip']],
      ['br;q=2', []], // not a qvalue: counts as 0
      ['br;q=abc', []],
      ['br;level=5', ['br']],
      ['br, br;q=0', []], // listed twice: the refusal wins
      [' , ,gzip', ['gzip']],
    ];
    for (const [value, expected] of cases) {
      assert.deepEqual(acceptedCodings(value), expected, JSON.stringify(value));
    }
  });

  test('property: never throws, gives a subset of [br, gzip] in that order', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (value) => {
        const accepted = acceptedCodings(value);
        assert.ok(accepted.length <= 2);
        if (accepted.length === 2) assert.deepEqual(accepted, ['br', 'gzip']);
        for (const coding of accepted) assert.ok(coding === 'br' || coding === 'gzip');
      }),
    );
  });
});

describe('precompressed variants over real sockets', () => {
  let root = '';
  const js = 'export const answer = 42;\n'.repeat(50);
  const css = 'body { color: red }\n'.repeat(20);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'peregrine-enc-'));
    await mkdir(join(root, 'outside'));
    await mkdir(join(root, 'site'));
    const site = join(root, 'site');
    await writeFile(join(site, 'app.js'), js);
    await writeFile(join(site, 'app.js.br'), brotliCompressSync(js));
    await writeFile(join(site, 'app.js.gz'), gzipSync(js));
    await writeFile(join(site, 'style.css'), css);
    await writeFile(join(site, 'style.css.gz'), gzipSync(css));
    await writeFile(join(site, 'plain.txt'), 'no variants here');
    await writeFile(join(site, 'photo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await writeFile(join(site, 'photo.png.gz'), gzipSync(Buffer.from([0x89, 0x50, 0x4e, 0x47])));
    await writeFile(join(site, 'index.html'), '<h1>home</h1>');
    await writeFile(join(site, 'index.html.br'), brotliCompressSync('<h1>home</h1>'));
    // A variant that is a symlink out of the root must never be used.
    await writeFile(join(site, 'leak.js'), 'inside');
    await writeFile(join(root, 'outside', 'secret.gz'), gzipSync('SECRET'));
    await symlink(join(root, 'outside', 'secret.gz'), join(site, 'leak.js.gz'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('br preferred, gzip next, identity otherwise; Vary on each', async (t) => {
    const h = await setup(t, new DirServer(join(root, 'site')));
    const c = await h.client();
    c.send(
      get('/app.js', 'Accept-Encoding: gzip, deflate, br') +
        get('/app.js', 'Accept-Encoding: gzip') +
        get('/app.js') +
        get('/app.js', 'Accept-Encoding: br;q=0, gzip;q=0.5') +
        get('/app.js', 'Accept-Encoding: identity'),
    );
    const rs = await c.responses(5);
    assert.deepEqual(
      rs.map((r) => [r.status, r.headers.get('content-encoding') ?? 'identity']),
      [
        [200, 'br'],
        [200, 'gzip'],
        [200, 'identity'],
        [200, 'gzip'],
        [200, 'identity'],
      ],
    );
    for (const r of rs) {
      assert.equal(r.headers.get('vary'), 'Accept-Encoding');
      assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(r.body, 'latin1'));
    }
    assert.equal(brotliDecompressSync(Buffer.from(rs[0]!.body, 'latin1')).toString(), js);
    assert.equal(gunzipSync(Buffer.from(rs[1]!.body, 'latin1')).toString(), js);
    assert.equal(rs[2]!.body, js);
    // Each representation has its own validator.
    const tags = new Set(rs.slice(0, 3).map((r) => r.headers.get('etag')));
    assert.equal(tags.size, 3);
    assert.match(rs[0]!.headers.get('etag')!, /-br"$/);
    assert.match(rs[1]!.headers.get('etag')!, /-gz"$/);
  });

  test('only the variants that exist are used; index files too', async (t) => {
    const h = await setup(t, new DirServer(join(root, 'site')));
    const c = await h.client();
    c.send(
      get('/style.css', 'Accept-Encoding: br, gzip') +
        get('/plain.txt', 'Accept-Encoding: br, gzip') +
        get('/', 'Accept-Encoding: br'),
    );
    const [style, plain, index] = await c.responses(3);
    assert.equal(style!.headers.get('content-encoding'), 'gzip');
    assert.equal(gunzipSync(Buffer.from(style!.body, 'latin1')).toString(), css);
    assert.equal(plain!.headers.get('content-encoding'), undefined);
    assert.equal(plain!.headers.get('vary'), 'Accept-Encoding');
    assert.equal(plain!.body, 'no variants here');
    assert.equal(index!.headers.get('content-encoding'), 'br');
    assert.equal(index!.headers.get('content-type'), 'text/html; charset=utf-8');
  });

  test('types that are not compressible never use variants and do not vary', async (t) => {
    const h = await setup(t, new DirServer(join(root, 'site')));
    const c = await h.client();
    c.send(get('/photo.png', 'Accept-Encoding: gzip'));
    const [r] = await c.responses(1);
    assert.equal(r!.headers.get('content-encoding'), undefined);
    assert.equal(r!.headers.get('vary'), undefined);
    assert.equal(r!.body.length, 4);
  });

  test('a variant that is a symlink leaving the root is ignored', async (t) => {
    const h = await setup(t, new DirServer(join(root, 'site')));
    const c = await h.client();
    c.send(get('/leak.js', 'Accept-Encoding: gzip'));
    const [r] = await c.responses(1);
    assert.equal(r!.headers.get('content-encoding'), undefined);
    assert.equal(r!.body, 'inside');
  });

  test('304 with the variant ETag; HEAD; ranges apply to the encoded bytes', async (t) => {
    const h = await setup(t, new DirServer(join(root, 'site')));
    const c = await h.client();
    c.send(get('/app.js', 'Accept-Encoding: br'));
    const [first] = await c.responses(1);
    const etag = first!.headers.get('etag')!;
    const encoded = Buffer.from(first!.body, 'latin1');
    c.send(
      get('/app.js', 'Accept-Encoding: br', `If-None-Match: ${etag}`) +
        get('/app.js', 'Accept-Encoding: gzip', `If-None-Match: ${etag}`) +
        get('/app.js', 'Accept-Encoding: br', 'Range: bytes=0-9'),
    );
    const rs = await c.responses(4);
    assert.equal(rs[1]!.status, 304);
    assert.equal(rs[1]!.headers.get('etag'), etag);
    assert.equal(rs[1]!.headers.get('content-encoding'), 'br');
    assert.equal(rs[2]!.status, 200); // another representation: its tag differs
    assert.equal(rs[3]!.status, 206);
    assert.equal(rs[3]!.headers.get('content-encoding'), 'br');
    assert.equal(rs[3]!.headers.get('content-range'), `bytes 0-9/${encoded.length}`);
    assert.deepEqual(Buffer.from(rs[3]!.body, 'latin1'), encoded.subarray(0, 10));

    const head = await h.client();
    head.send(`HEAD /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n`);
    await head.until((text) => text.includes('\r\n\r\n'));
    assert.match(head.text, /content-encoding: gzip/i);
    assert.match(head.text, new RegExp(`Content-Length: ${gzipSync(js).length}\\r\\n`, 'i'));
  });

  test('precompressed: false serves only the file asked for', async (t) => {
    const h = await setup(t, new DirServer(join(root, 'site'), { precompressed: false }));
    const c = await h.client();
    c.send(get('/app.js', 'Accept-Encoding: br, gzip'));
    const [r] = await c.responses(1);
    assert.equal(r!.headers.get('content-encoding'), undefined);
    assert.equal(r!.headers.get('vary'), undefined);
    assert.equal(r!.body, js);
  });

  test('FileServer uses variants next to its file', async (t) => {
    const h = await setup(t, new FileServer(join(root, 'site', 'app.js')));
    const c = await h.client();
    c.send(get('/', 'Accept-Encoding: gzip'));
    const [r] = await c.responses(1);
    assert.equal(r!.headers.get('content-encoding'), 'gzip');
    assert.equal(gunzipSync(Buffer.from(r!.body, 'latin1')).toString(), js);
  });
});
