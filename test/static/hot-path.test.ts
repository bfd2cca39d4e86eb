import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DirServer } from '../../src/index.ts';
import { SETTLED_MS } from '../../src/static/file-cache.ts';
import { parseResponses } from '../helpers.ts';
import { delay, get, setup } from '../server/util.ts';

/**
 * A request path that led straight to a cached file is answered the next time with one lstat and
 * header lines made once (DirServer's hot path). These tests ask for each path at least twice, so
 * the second answer comes from there, and check it says exactly what the long way says, and that
 * no change on disk — a symlink put in the way, a root switched, a variant added — is missed.
 */

/** The head of a response without its Date line, which changes every second. */
function headWithoutDate(raw: string): string {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  return head
    .split('\r\n')
    .filter((line) => !line.startsWith('Date: '))
    .join('\r\n');
}

describe('DirServer hot path', () => {
  let base = '';
  let root = '';
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'peregrine-hot-'));
    root = join(base, 'root');
    await mkdir(join(root, 'dir'), { recursive: true });
    await mkdir(join(root, 'docs'));
    await mkdir(join(base, 'outside'));
    await mkdir(join(base, 'release-1'));
    await mkdir(join(base, 'release-2'));
    await writeFile(join(root, 'page.html'), '<p>hello</p>');
    await writeFile(join(root, 'app.js'), 'console.log(1);');
    await writeFile(join(root, 'logo.png'), Buffer.alloc(64, 1));
    await writeFile(join(root, 'dir', 'f.txt'), 'inside!');
    await writeFile(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
    await writeFile(join(base, 'outside', 'f.txt'), 'SECRET!'); // the same size as dir/f.txt
    await writeFile(join(base, 'release-1', 'v.txt'), 'one');
    await writeFile(join(base, 'release-2', 'v.txt'), 'two');
    await symlink(join(base, 'release-1'), join(base, 'current'));
    await delay(SETTLED_MS + 100); // only settled files are cached
  });
  after(() => rm(base, { recursive: true, force: true }));

  test('the second answer is the first one, header for header, from memory', async (t) => {
    const dir = new DirServer(root, { cacheControl: 'public, max-age=60' });
    const h = await setup(t, dir);
    const c = await h.client();
    const paths = ['/page.html', '/app.js', '/logo.png', '/docs/', '/dir/f.txt'];
    c.send(paths.map((p) => get(p) + get(p)).join(''));
    const rs = await c.responses(paths.length * 2);
    for (let i = 0; i < paths.length; i++) {
      const [first, second] = [rs[2 * i]!, rs[2 * i + 1]!];
      assert.equal(first.status, 200, paths[i]);
      assert.equal(headWithoutDate(second.raw), headWithoutDate(first.raw), paths[i]);
      assert.equal(second.body, first.body, paths[i]);
    }
    assert.equal(rs[0]!.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(rs[0]!.headers.get('vary'), 'Accept-Encoding');
    assert.equal(rs[0]!.headers.get('cache-control'), 'public, max-age=60');
    assert.equal(rs[4]!.headers.get('vary'), undefined, 'a PNG has no variants to vary on');
    assert.equal(dir.cache!.files, paths.length);
  });

  test('a hot path costs one lstat, not one per segment, and no thread-pool call', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/dir/f.txt'));
    await c.responses(1);
    const looked: string[] = [];
    const original = fs.lstatSync;
    const mutableFs = fs as { lstatSync: typeof fs.lstatSync };
    t.after(() => {
      mutableFs.lstatSync = original;
      syncBuiltinESMExports();
    });
    mutableFs.lstatSync = ((path: fs.PathLike, options?: fs.StatSyncOptions) => {
      looked.push(String(path));
      return original(path, options);
    }) as typeof fs.lstatSync;
    syncBuiltinESMExports();
    c.send(get('/dir/f.txt'));
    assert.equal((await c.responses(2))[1]!.body, 'inside!');
    assert.deepEqual(looked, [join(root, 'dir', 'f.txt')]);
  });

  test('HEAD, conditional and range requests for a hot path answer as the long way does', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/page.html'));
    const [first] = await c.responses(1);
    const etag = first!.headers.get('etag')!;
    c.send(
      get('/page.html', `If-None-Match: ${etag}`) +
        get('/page.html', 'Range: bytes=3-7') +
        get('/page.html', 'Range: bytes=99-'),
    );
    const rs = (await c.responses(4)).slice(1);
    const headClient = await h.client();
    headClient.send('HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n');
    const head = parseResponses(await headClient.until((text) => text.includes('\r\n\r\n')), 1)[0]!;
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '12');
    assert.equal(head.headers.get('etag'), etag);
    assert.equal(head.body, '');
    rs.unshift(head);
    assert.equal(rs[3]!.status, 416);
  });

  test('a directory replaced by a symlink leaving the root is refused, even for a same-size file', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/dir/f.txt') + get('/dir/f.txt'));
    assert.deepEqual(
      (await c.responses(2)).map((r) => r.body),
      ['inside!', 'inside!'],
    );
    await rename(join(root, 'dir'), join(base, 'dir-moved'));
    await symlink(join(base, 'outside'), join(root, 'dir'));
    t.after(async () => {
      await rm(join(root, 'dir'));
      await rename(join(base, 'dir-moved'), join(root, 'dir'));
    });
    c.send(get('/dir/f.txt'));
    const r = (await c.responses(3))[2]!;
    assert.equal(r.status, 404);
    assert.doesNotMatch(r.body, /SECRET/);
  });

  test('a file replaced by a symlink is looked at again: inside the root served, outside refused', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    await writeFile(join(root, 'moving.txt'), 'plain file');
    await writeFile(join(root, 'target.txt'), 'the target');
    c.send(get('/moving.txt'));
    assert.equal((await c.responses(1))[0]!.body, 'plain file');
    await rm(join(root, 'moving.txt'));
    await symlink(join(root, 'target.txt'), join(root, 'moving.txt'));
    c.send(get('/moving.txt'));
    assert.equal((await c.responses(2))[1]!.body, 'the target');
    await rm(join(root, 'moving.txt'));
    await symlink(join(base, 'outside', 'f.txt'), join(root, 'moving.txt'));
    c.send(get('/moving.txt'));
    assert.equal((await c.responses(3))[2]!.status, 404);
    await rm(join(root, 'moving.txt'));
    await rm(join(root, 'target.txt'));
  });

  test('a root that is a symlink is followed on every request: switching it serves the new release', async (t) => {
    const dir = new DirServer(join(base, 'current'));
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/v.txt') + get('/v.txt'));
    assert.deepEqual(
      (await c.responses(2)).map((r) => r.body),
      ['one', 'one'],
    );
    const next = join(base, 'current.next');
    await symlink(join(base, 'release-2'), next);
    await rename(next, join(base, 'current')); // the atomic switch
    c.send(get('/v.txt'));
    assert.equal((await c.responses(3))[2]!.body, 'two');
  });

  test('a precompressed variant added after the path went hot is served to clients that accept it', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    const br = get('/app.js', 'Accept-Encoding: gzip, br');
    c.send(br + br);
    const rs = await c.responses(2);
    assert.equal(rs[1]!.headers.get('content-encoding'), undefined);
    assert.equal(rs[1]!.body, 'console.log(1);');
    await writeFile(join(root, 'app.js.br'), 'BROTLI');
    t.after(() => rm(join(root, 'app.js.br')));
    c.send(br + get('/app.js'));
    const [withBr, plain] = (await c.responses(4)).slice(2);
    assert.equal(withBr!.headers.get('content-encoding'), 'br');
    assert.equal(withBr!.body, 'BROTLI');
    assert.equal(plain!.headers.get('content-encoding'), undefined);
    assert.equal(plain!.body, 'console.log(1);');
  });

  test('headers the handler set before serve() are not repeated: one Cache-Control, its Vary kept', async (t) => {
    const files = new DirServer(root);
    const h = await setup(t, {
      handleRequest(req, res) {
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Vary', 'Origin');
        res.setHeader('X-Served-By', 'test');
        return files.handleRequest(req, res);
      },
    });
    const c = await h.client();
    c.send(get('/page.html') + get('/page.html'));
    for (const r of await c.responses(2)) {
      assert.equal(r.raw.match(/^Cache-Control:/gim)?.length, 1);
      assert.equal(r.headers.get('cache-control'), 'max-age=0');
      assert.equal(r.headers.get('vary'), 'Origin, Accept-Encoding');
      assert.equal(r.headers.get('x-served-by'), 'test');
      assert.equal(r.body, '<p>hello</p>');
    }
  });

  test('many spellings of one file keep the remembered paths bounded, and each still answers', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    // %70 is 'p': every spelling decodes to /page.html.
    const spellings: string[] = [];
    for (let mask = 0; mask < 16; mask++) {
      let path = '/';
      for (let i = 0; i < 4; i++)
        path += mask & (1 << i) ? '%' + 'page'.charCodeAt(i).toString(16) : 'page'[i];
      spellings.push(path + '.html');
    }
    c.send(spellings.map((p) => get(p) + get(p)).join(''));
    const rs = await c.responses(spellings.length * 2);
    assert.ok(rs.every((r) => r.status === 200 && r.body === '<p>hello</p>'));
    assert.equal(dir.cache!.files, 1);
  });

  test('the response kept whole carries the current Date, and is not used where it would be wrong', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, dir);
    const c = await h.client();
    c.send(get('/page.html') + get('/page.html'));
    const [, warm] = await c.responses(2);
    const bytes = dir.cache!.bytes;
    // Cross a second boundary: the Date moves on and the body is untouched.
    await delay(1100);
    c.send(get('/page.html'));
    const later = (await c.responses(3))[2]!;
    assert.notEqual(later.headers.get('date'), warm!.headers.get('date'));
    assert.ok(Math.abs(Date.parse(later.headers.get('date')!) - Date.now()) < 2000);
    assert.equal(later.body, '<p>hello</p>');
    assert.match(later.raw, /Content-Length: 12\r\nDate: [^\r]+\r\n\r\n/, 'sent whole: its Date comes last');
    assert.equal(dir.cache!.bytes, bytes, 'the file is stored once');
    // HTTP/1.0 keep-alive, Connection: close and HEAD get their own heads.
    const old = await h.client();
    old.send('GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const r10 = (await old.responses(1))[0]!;
    assert.equal(r10.headers.get('connection'), 'keep-alive');
    assert.equal(r10.body, '<p>hello</p>');
    const closing = await h.client();
    closing.send(get('/page.html', 'Connection: close'));
    const rc = parseResponses(await closing.closedByServer())[0]!;
    assert.equal(rc.headers.get('connection'), 'close');
    assert.equal(rc.body, '<p>hello</p>');
  });
});
