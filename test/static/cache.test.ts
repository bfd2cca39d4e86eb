import assert from 'node:assert/strict';
import { type Stats, statSync, utimesSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, DirServer, FileServer } from '../../src/index.ts';
import { etagOf, FileCache, SETTLED_MS } from '../../src/static/file-cache.ts';
import { delay, get, setup } from '../server/util.ts';

/** Stats as a cache compares them; only these fields matter. */
function fakeStats(fields: {
  dev?: number;
  ino?: number;
  size: number;
  mtimeMs?: number;
  ctimeMs?: number;
}): Stats {
  return { dev: 1, ino: 1, mtimeMs: 1000, ctimeMs: 1000, ...fields } as Stats;
}

const LONG_AFTER = 1000 + SETTLED_MS + 1;

describe('FileCache', () => {
  test('a hit needs the same device, inode, size, mtime and ctime; a stale entry is dropped', () => {
    const cache = new FileCache(1000, 100);
    const stats = fakeStats({ size: 3 });
    cache.set('/a', stats, Buffer.from('abc'), LONG_AFTER);
    assert.equal(cache.get('/a', stats)?.data.toString(), 'abc');
    assert.equal(cache.get('/b', stats), null);
    for (const changed of [{ dev: 2 }, { ino: 2 }, { mtimeMs: 1001 }, { ctimeMs: 999 }]) {
      cache.set('/a', stats, Buffer.from('abc'), LONG_AFTER);
      assert.equal(cache.get('/a', fakeStats({ size: 3, ...changed })), null, JSON.stringify(changed));
      assert.equal(cache.files, 0);
      assert.equal(cache.bytes, 0);
    }
    cache.set('/a', stats, Buffer.from('abc'), LONG_AFTER);
    assert.equal(cache.get('/a', fakeStats({ size: 4 })), null);
  });

  test('validators are made once from the stats', () => {
    const cache = new FileCache(1000, 100);
    const stats = fakeStats({ size: 3, mtimeMs: 1_700_000_000_123.5 });
    cache.set('/a', stats, Buffer.from('abc'), stats.mtimeMs + SETTLED_MS);
    const entry = cache.get('/a', stats)!;
    assert.equal(entry.etag, etagOf(stats));
    assert.equal(entry.etag, `"3-${(1_700_000_000_123_500).toString(16)}"`);
    assert.equal(entry.lastModified, new Date(stats.mtimeMs).toUTCString());
  });

  test('a file changed less than SETTLED_MS before its read began is not kept (racily clean)', () => {
    const cache = new FileCache(1000, 100);
    cache.set(
      '/a',
      fakeStats({ size: 1, ctimeMs: 5000, mtimeMs: 1000 }),
      Buffer.from('x'),
      5000 + SETTLED_MS - 1,
    );
    assert.equal(cache.files, 0);
    cache.set(
      '/a',
      fakeStats({ size: 1, ctimeMs: 1000, mtimeMs: 5000 }),
      Buffer.from('x'),
      5000 + SETTLED_MS - 1,
    );
    assert.equal(cache.files, 0);
    cache.set(
      '/a',
      fakeStats({ size: 1, ctimeMs: 5000, mtimeMs: 5000 }),
      Buffer.from('x'),
      5000 + SETTLED_MS,
    );
    assert.equal(cache.files, 1);
  });

  test('bytes that do not match the stats, and files over the per-file limit, are not kept', () => {
    const cache = new FileCache(1000, 4);
    cache.set('/short', fakeStats({ size: 5 }), Buffer.from('abcd'), LONG_AFTER);
    cache.set('/big', fakeStats({ size: 5 }), Buffer.from('abcde'), LONG_AFTER);
    assert.equal(cache.files, 0);
    assert.equal(cache.fits(4), true);
    assert.equal(cache.fits(5), false);
    // The per-file limit never exceeds the budget.
    assert.equal(new FileCache(10, 100).maxFileBytes, 10);
  });

  test('the budget holds; the least recently used go first', () => {
    const cache = new FileCache(10, 4);
    const put = (name: string) => cache.set(name, fakeStats({ size: 4 }), Buffer.alloc(4), LONG_AFTER);
    put('/a');
    put('/b');
    assert.ok(cache.get('/a', fakeStats({ size: 4 }))); // a is now more recent than b
    put('/c'); // 12 bytes > 10: b goes
    assert.equal(cache.bytes, 8);
    assert.ok(cache.get('/a', fakeStats({ size: 4 })));
    assert.equal(cache.get('/b', fakeStats({ size: 4 })), null);
    assert.ok(cache.get('/c', fakeStats({ size: 4 })));
    cache.clear();
    assert.equal(cache.files, 0);
    assert.equal(cache.bytes, 0);
  });

  test('property: bytes never exceed the budget and always equal the sum of the entries held', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 6 }), size: fc.integer({ min: 0, max: 12 }) }), {
          maxLength: 60,
        }),
        (sets) => {
          const cache = new FileCache(20, 8);
          const lastSize = new Map<string, number>();
          for (const { key, size } of sets) {
            const path = `/${key}`;
            cache.set(path, fakeStats({ size }), Buffer.alloc(size), LONG_AFTER);
            lastSize.set(path, size);
            assert.ok(cache.bytes <= 20);
            let held = 0;
            let files = 0;
            for (const [p, n] of lastSize) {
              const hit = cache.get(p, fakeStats({ size: n }));
              if (hit !== null) {
                assert.equal(hit.data.length, n);
                held += n;
                files++;
              }
            }
            assert.equal(cache.bytes, held);
            assert.equal(cache.files, files);
          }
        },
      ),
    );
  });
});

describe('the memory cache over real sockets', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'peregrine-cache-'));
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, 'a.txt'), 'version 1');
    await writeFile(join(root, 'b.txt'), 'bbbbbbbbbb');
    await writeFile(join(root, 'sub', 'c.txt'), 'cccc');
    await writeFile(join(root, 'swap.txt'), 'old release');
    await writeFile(join(root, 'big.bin'), Buffer.alloc(3000, 7));
    // Only files unchanged for SETTLED_MS are cached: let these settle once.
    await delay(SETTLED_MS + 100);
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('settled small files are kept in memory and served from there', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/a.txt') + get('/sub/c.txt') + get('/a.txt') + get('/big.bin'));
    const rs = await c.responses(4);
    assert.deepEqual(
      rs.map((r) => r.body.length),
      [9, 4, 9, 3000],
    );
    assert.equal(rs[0]!.headers.get('etag'), rs[2]!.headers.get('etag'));
    assert.equal(dir.cache!.files, 3);
    assert.equal(dir.cache!.bytes, 9 + 4 + 3000);
  });

  test('a rewrite with the same size and the old mtime restored is still served fresh', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/a.txt'));
    assert.equal((await c.responses(1))[0]!.body, 'version 1');
    assert.equal(dir.cache!.files, 1);
    const before = await stat(join(root, 'a.txt'));
    await writeFile(join(root, 'a.txt'), 'version 2');
    await utimes(join(root, 'a.txt'), before.atime, before.mtime); // size and mtime as before
    c.send(get('/a.txt'));
    assert.equal((await c.responses(2))[1]!.body, 'version 2');
  });

  test('a file replaced by rename (an atomic deploy) is served fresh', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/swap.txt'));
    assert.equal((await c.responses(1))[0]!.body, 'old release');
    const next = join(root, 'swap.next');
    await writeFile(next, 'new release');
    const old = statSync(join(root, 'swap.txt'));
    utimesSync(next, old.atime, old.mtime);
    await rename(next, join(root, 'swap.txt'));
    c.send(get('/swap.txt'));
    assert.equal((await c.responses(2))[1]!.body, 'new release');
  });

  test('a cached file that is deleted is a 404', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/b.txt'));
    assert.equal((await c.responses(1))[0]!.status, 200);
    await rm(join(root, 'b.txt'));
    c.send(get('/b.txt'));
    assert.equal((await c.responses(2))[1]!.status, 404);
  });

  test('memoryCacheBytes: 0 turns the cache off; files are still served', async (t) => {
    const dir = new DirServer(root, { memoryCacheBytes: 0 });
    assert.equal(dir.cache, null);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/sub/c.txt') + get('/sub/c.txt'));
    assert.deepEqual(
      (await c.responses(2)).map((r) => r.body),
      ['cccc', 'cccc'],
    );
  });

  test('memoryCacheFileBytes limits which files are kept; the budget holds', async (t) => {
    const dir = new DirServer(root, { memoryCacheBytes: 3100, memoryCacheFileBytes: 3000 });
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/big.bin') + get('/a.txt') + get('/sub/c.txt'));
    await c.responses(3);
    assert.ok(dir.cache!.bytes <= 3100);
    const small = new DirServer(root, { memoryCacheFileBytes: 5 });
    const h2 = await setup(t, small);
    const c2 = await h2.client();
    c2.send(get('/big.bin') + get('/sub/c.txt'));
    await c2.responses(2);
    assert.equal(small.cache!.files, 1);
  });

  test('FileServer caches too', async (t) => {
    const file = new FileServer(join(root, 'sub', 'c.txt'));
    const h = await setup(t, file);
    const c = await h.client();
    c.send(get('/') + get('/anything'));
    assert.deepEqual(
      (await c.responses(2)).map((r) => r.body),
      ['cccc', 'cccc'],
    );
    assert.equal(file.cache!.files, 1);
  });

  test('invalid cache and precompressed options throw a ConfigError with an exact message', () => {
    const cases: [object, string][] = [
      [
        { memoryCacheBytes: -1 },
        "DirServer option 'memoryCacheBytes' must be a whole number of bytes (0 or more), got -1",
      ],
      [
        { memoryCacheBytes: 1.5 },
        "DirServer option 'memoryCacheBytes' must be a whole number of bytes (0 or more), got 1.5",
      ],
      [
        { memoryCacheFileBytes: '1' },
        'DirServer option \'memoryCacheFileBytes\' must be a whole number of bytes (0 or more), got "1"',
      ],
      [{ precompressed: 'yes' }, 'DirServer option \'precompressed\' must be a boolean, got "yes"'],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => new DirServer(root, options),
        (error: unknown) => error instanceof ConfigError && error.message === `peregrine: ${message}`,
        message,
      );
    }
    assert.throws(
      () => new FileServer(join(root, 'a.txt'), { memoryCacheBytes: Number.NaN }),
      /FileServer option 'memoryCacheBytes' must be a whole number of bytes \(0 or more\), got null/,
    );
  });
});
