import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ConfigError,
  DirServer,
  FileServer,
  type Request,
  type Response,
  type Server,
} from '../../src/index.ts';
import { type ParsedResponse, parseResponses, RawClient, start } from '../helpers.ts';
import { delay, serverClosed, setup } from '../server/util.ts';

let base: string; // holds root/ and an outside/ directory next to it
let root: string;
const big = randomBytes(1024 * 1024 + 17);

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'peregrine-dir-'));
  root = join(base, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(root, 'empty'));
  await mkdir(join(root, 'evil.com'));
  await mkdir(join(base, 'outside'));
  await writeFile(join(base, 'outside', 'secret.txt'), 'TOP SECRET');
  await writeFile(join(base, 'secret.txt'), 'TOP SECRET');
  await writeFile(join(root, 'a.txt'), 'hello a');
  await writeFile(join(root, 'page.html'), '<p>page</p>');
  await writeFile(join(root, 'app.js'), 'let x = 1;');
  await writeFile(join(root, 'data.json'), '{"a":1}');
  await writeFile(join(root, 'blob.bin'), Buffer.from([0, 1, 2, 255]));
  await writeFile(join(root, 'index.html'), '<h1>root</h1>');
  await writeFile(join(root, 'sub', 'index.html'), '<h1>sub</h1>');
  await writeFile(join(root, 'sub', 'b.css'), 'b { }');
  await writeFile(join(root, '.env'), 'SECRET=1');
  await writeFile(join(root, 'big.bin'), big);
  await symlink(join(base, 'outside'), join(root, 'out-link'));
  await symlink(join(base, 'secret.txt'), join(root, 'secret-link.txt'));
  await symlink(join(root, 'a.txt'), join(root, 'in-link.txt'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A server whose handler tries `dir` and answers 404 `fallthrough` when it declines. */
async function serveDir(dir: () => DirServer): Promise<Server> {
  return start({
    async handleRequest(req: Request, res: Response) {
      if (!(await dir().serve(req, res))) {
        res.status = 404;
        res.end('fallthrough');
      }
    },
  });
}

/** Sends one raw request and returns its parsed response (no body parsed for HEAD). */
async function send(port: number, raw: string, head = false): Promise<ParsedResponse> {
  const client = await RawClient.open(port);
  try {
    client.send(raw);
    const heads = head ? 1 : 0;
    await client.until((text) => parseResponses(text, heads).length >= 1);
    return parseResponses(client.text, heads)[0]!;
  } finally {
    client.close();
  }
}

function req(method: string, path: string, ...headers: string[]): string {
  return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

describe('DirServer at /', () => {
  let server: Server;
  let dir: DirServer;
  let port: number;
  before(async () => {
    dir = new DirServer(root);
    server = await serveDir(() => dir);
    port = server.port;
  });
  after(() => server.shutdown());

  test('serves files with their content types', async () => {
    const cases: [string, string, string][] = [
      ['/a.txt', 'text/plain; charset=utf-8', 'hello a'],
      ['/page.html', 'text/html; charset=utf-8', '<p>page</p>'],
      ['/app.js', 'text/javascript; charset=utf-8', 'let x = 1;'],
      ['/data.json', 'application/json; charset=utf-8', '{"a":1}'],
      ['/sub/b.css', 'text/css; charset=utf-8', 'b { }'],
      ['/blob.bin', 'application/octet-stream', '\x00\x01\x02\xff'],
    ];
    for (const [path, type, body] of cases) {
      const r = await send(port, req('GET', path));
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('content-type'), type, path);
      assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(body, 'latin1')), path);
      assert.equal(r.body, body, path);
      assert.equal(r.headers.get('cache-control'), 'max-age=0');
    }
  });

  test('query strings are ignored', async () => {
    const r = await send(port, req('GET', '/a.txt?v=123'));
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello a');
  });

  test('index.html for a directory path with "/", 301 without it, 404 without an index', async () => {
    assert.equal((await send(port, req('GET', '/'))).body, '<h1>root</h1>');
    const sub = await send(port, req('GET', '/sub/'));
    assert.equal(sub.status, 200);
    assert.equal(sub.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(sub.body, '<h1>sub</h1>');
    const redirect = await send(port, req('GET', '/sub'));
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/sub/');
    // A 301 may otherwise be cached for as long as a cache likes; the directory may become a file.
    assert.equal(redirect.headers.get('cache-control'), 'no-cache');
    const withQuery = await send(port, req('GET', '/sub?x=1'));
    assert.equal(withQuery.headers.get('location'), '/sub/?x=1');
    assert.equal((await send(port, req('GET', '/empty/'))).status, 404);
    assert.equal((await send(port, req('GET', '/empty'))).status, 301);
  });

  test('missing files and a file named as a directory: 404 in plain text', async () => {
    for (const path of ['/nope.txt', '/sub/nope', '/a.txt/', '/a.txt/x']) {
      const r = await send(port, req('GET', path));
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(r.body, 'Not Found');
    }
  });

  test('ETag and Last-Modified; 304 for If-None-Match (single, list, weak, *) and If-Modified-Since', async () => {
    const first = await send(port, req('GET', '/a.txt'));
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.match(lastModified, /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
    assert.equal((await send(port, req('GET', '/a.txt'))).headers.get('etag'), etag, 'stable');

    for (const inm of [etag, `"x", ${etag}`, `W/${etag}`, '*', `"a,b", W/"c",${etag}`]) {
      const r = await send(port, req('GET', '/a.txt', `If-None-Match: ${inm}`));
      assert.equal(r.status, 304, inm);
      assert.equal(r.body, '');
      assert.equal(r.headers.get('etag'), etag);
      assert.equal(r.headers.get('last-modified'), lastModified);
      assert.equal(r.headers.get('cache-control'), 'max-age=0');
      assert.equal(r.headers.has('content-length'), false);
    }
    const miss = await send(port, req('GET', '/a.txt', 'If-None-Match: "other"'));
    assert.equal(miss.status, 200);
    assert.equal(miss.body, 'hello a');

    const ims = await send(port, req('GET', '/a.txt', `If-Modified-Since: ${lastModified}`));
    assert.equal(ims.status, 304);
    const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
    assert.equal((await send(port, req('GET', '/a.txt', `If-Modified-Since: ${later}`))).status, 304);
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    assert.equal((await send(port, req('GET', '/a.txt', `If-Modified-Since: ${earlier}`))).status, 200);
    assert.equal((await send(port, req('GET', '/a.txt', 'If-Modified-Since: garbage'))).status, 200);
    // If-None-Match wins over If-Modified-Since.
    const both = await send(
      port,
      req('GET', '/a.txt', 'If-None-Match: "other"', `If-Modified-Since: ${lastModified}`),
    );
    assert.equal(both.status, 200);
    // HEAD is conditional too.
    const head = await send(port, req('HEAD', '/a.txt', `If-None-Match: ${etag}`), true);
    assert.equal(head.status, 304);
  });

  test('405 with Allow for other methods', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await send(port, `${method} /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get('allow'), 'GET, HEAD');
    }
  });

  test('HEAD keeps Content-Length and sends no body, for small and large files', async () => {
    const client = await RawClient.open(port);
    try {
      client.send(req('HEAD', '/a.txt') + req('HEAD', '/big.bin') + req('GET', '/a.txt'));
      await client.until((text) => parseResponses(text, 2).length >= 3);
      const [small, large, get] = parseResponses(client.text, 2);
      assert.equal(client.received.length < 2000, true, 'no body was sent');
      assert.equal(small!.status, 200);
      assert.equal(small!.headers.get('content-length'), '7');
      assert.equal(small!.body, '');
      assert.equal(large!.headers.get('content-length'), String(big.length));
      assert.equal(large!.headers.get('content-type'), 'application/octet-stream');
      assert.equal(large!.body, '');
      assert.equal(get!.body, 'hello a');
    } finally {
      client.close();
    }
  });

  test('a large file is streamed intact, and the connection stays usable', async () => {
    const client = await RawClient.open(port);
    try {
      client.send(req('GET', '/big.bin') + req('GET', '/a.txt'));
      const [large, small] = await client.responses(2, 10_000);
      assert.equal(large!.status, 200);
      assert.equal(large!.headers.get('content-length'), String(big.length));
      assert.ok(Buffer.from(large!.body, 'latin1').equals(big));
      assert.equal(small!.body, 'hello a');
    } finally {
      client.close();
    }
    // Through fetch as well (a real client reading at its own pace).
    const response = await fetch(`http://127.0.0.1:${port}/big.bin`);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(big));
  });

  test('a file changed on disk is served fresh with a new ETag', async () => {
    const path = join(root, 'changing.txt');
    await writeFile(path, 'version one');
    await utimes(path, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const one = await send(port, req('GET', '/changing.txt'));
    assert.equal(one.body, 'version one');
    assert.equal(one.headers.get('last-modified'), 'Wed, 01 Jan 2020 00:00:00 GMT');
    await writeFile(path, 'version two!');
    const two = await send(port, req('GET', '/changing.txt'));
    assert.equal(two.body, 'version two!');
    assert.notEqual(two.headers.get('etag'), one.headers.get('etag'));
    const stale = await send(port, req('GET', '/changing.txt', `If-None-Match: ${one.headers.get('etag')}`));
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'version two!');
  });

  test('traversal attempts never reach files outside the root', async () => {
    const attempts = [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/..%2fsecret.txt',
      '/..%2Fsecret.txt',
      '/sub/..%2f..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/.%2e/secret.txt',
      '/%252e%252e/secret.txt',
      '/out-link/secret.txt',
      '/out-link/',
      '/secret-link.txt',
      '/a.txt%00.html',
    ];
    for (const path of attempts) {
      const r = await send(port, req('GET', path));
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
      assert.doesNotMatch(r.raw, /TOP SECRET/, path);
    }
    // A symlink that stays inside the root is fine.
    assert.equal((await send(port, req('GET', '/in-link.txt'))).body, 'hello a');
  });

  test('dotfiles are 404', async () => {
    for (const path of ['/.env', '/%2eenv', '/sub/.hidden']) {
      const r = await send(port, req('GET', path));
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.raw, /SECRET/);
    }
  });

  test('redirects never point at another host', async () => {
    for (const path of [
      '//evil.com',
      '///evil.com',
      '//evil.com/',
      '/%2fevil.com',
      '/./evil.com',
      '//evil.com//',
    ]) {
      const r = await send(port, req('GET', path));
      const location = r.headers.get('location');
      if (location !== undefined) {
        assert.equal(r.status, 301, path);
        assert.equal(location, '/evil.com/', path);
      } else {
        assert.ok([200, 400, 404].includes(r.status), `${path}: ${r.status}`);
      }
      assert.ok(location === undefined || !location.startsWith('//'), `${path}: ${location}`);
    }
    const r = await send(port, req('GET', '//evil.com'));
    assert.equal(r.status, 301);
    assert.equal(r.headers.get('location'), '/evil.com/');
  });
});

describe('DirServer mounted at a prefix', () => {
  let server: Server;
  let port: number;
  before(async () => {
    const dir = new DirServer(root, { prefix: '/static', cacheControl: 'public, max-age=60' });
    assert.equal(dir.prefix, '/static/');
    server = await serveDir(() => dir);
    port = server.port;
  });
  after(() => server.shutdown());

  test('serves under the prefix and falls through elsewhere', async () => {
    const a = await send(port, req('GET', '/static/a.txt'));
    assert.equal(a.status, 200);
    assert.equal(a.body, 'hello a');
    assert.equal(a.headers.get('cache-control'), 'public, max-age=60');
    assert.equal((await send(port, req('GET', '/static/sub/'))).body, '<h1>sub</h1>');
    for (const path of ['/other', '/a.txt', '/staticx/a.txt', '/stat']) {
      const r = await send(port, req('GET', path));
      assert.equal(r.status, 404, path);
      assert.equal(r.body, 'fallthrough', path);
    }
    // A POST outside the prefix falls through too; inside, it is a 405.
    const post = 'POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n';
    assert.equal((await send(port, post)).body, 'fallthrough');
    assert.equal((await send(port, post.replace('/other', '/static/a.txt'))).status, 405);
  });

  test('redirects keep the prefix', async () => {
    const sub = await send(port, req('GET', '/static/sub'));
    assert.equal(sub.status, 301);
    assert.equal(sub.headers.get('location'), '/static/sub/');
    assert.equal(sub.headers.get('cache-control'), 'no-cache'); // not the files' cacheControl
    const mount = await send(port, req('GET', '/static'));
    assert.equal(mount.status, 301);
    assert.equal(mount.headers.get('location'), '/static/');
    assert.equal(mount.headers.get('cache-control'), 'no-cache');
    const evil = await send(port, req('GET', '/static//evil.com'));
    assert.equal(evil.headers.get('location'), '/static/evil.com/');
    assert.equal((await send(port, req('GET', '/static/'))).body, '<h1>root</h1>');
  });

  test('traversal through the prefix is refused', async () => {
    for (const path of ['/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/..%2fsecret.txt']) {
      const r = await send(port, req('GET', path));
      assert.ok(r.status === 400 || r.status === 404, path);
      assert.doesNotMatch(r.raw, /TOP SECRET/);
    }
  });
});

describe('DirServer streaming', () => {
  test('a reader that pauses, then leaves mid-stream, causes no error and the server keeps serving', async (t) => {
    const dir = new DirServer(root);
    const h = await setup(t, async (req, res) => {
      if (!(await dir.serve(req, res))) res.end('fallthrough');
    });
    const slow = await h.client();
    slow.socket.pause();
    slow.send(req('GET', '/big.bin'));
    await delay(200);
    slow.socket.resume();
    await slow.until((text) => text.length > 200_000, 10_000);
    slow.close();
    const after = await h.client();
    after.send(req('GET', '/a.txt'));
    const [r] = await after.responses(1);
    assert.equal(r!.body, 'hello a');
    await delay(100);
    assert.deepEqual(h.errors, []);
  });
  test('a client that half-closes mid-stream: the connection is cut, no error is reported', async (t) => {
    // Larger than every socket buffer on the way, so the server is still streaming when the FIN arrives.
    const huge = Buffer.alloc(32 * 1024 * 1024, 1);
    await writeFile(join(root, 'huge.bin'), huge);
    t.after(() => rm(join(root, 'huge.bin')));
    const h = await setup(t, new DirServer(root));
    const c = await h.client();
    c.socket.pause();
    c.send(req('GET', '/huge.bin'));
    await delay(300);
    c.socket.end(); // FIN: the handler's signal aborts mid-body
    await delay(100);
    c.socket.resume();
    await serverClosed(c, 5000);
    assert.ok(c.received.length < huge.length, 'the body was cut short');
    await delay(100);
    assert.deepEqual(h.errors, []);
  });
});

describe('DirServer options', () => {
  test('a custom index and visible dotfiles', async (t) => {
    const dir = new DirServer(root, { index: 'b.css', hideDotfiles: false });
    const server = await serveDir(() => dir);
    t.after(() => server.shutdown());
    assert.equal((await send(server.port, req('GET', '/sub/'))).body, 'b { }');
    assert.equal((await send(server.port, req('GET', '/.env'))).body, 'SECRET=1');
  });

  test('spaFallback: the root index for a path with no file when Accept admits HTML', async (t) => {
    const site = await mkdtemp(join(tmpdir(), 'peregrine-spa-'));
    await writeFile(join(site, 'index.html'), '<h1>app</h1>');
    await writeFile(join(site, 'app.js'), 'js');
    const server = await start(new DirServer(site, { spaFallback: true }));
    t.after(async () => {
      await server.shutdown();
      await rm(site, { recursive: true, force: true });
    });
    const get = (path: string, accept?: string) =>
      send(server.port, req('GET', path, ...(accept === undefined ? [] : [`Accept: ${accept}`])));
    const admitted = [
      undefined,
      '',
      '*/*',
      'text/*',
      'text/html',
      'TEXT/HTML',
      'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'image/avif,image/webp,*/*;q=0.8',
      'application/json, text/html;q=0.1',
    ];
    for (const accept of admitted) {
      for (const path of ['/route', '/users/jane.doe', '/missing.js', '/deep/link/']) {
        const r = await get(path, accept);
        assert.equal(r.status, 200, `${path} Accept: ${accept}`);
        assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
        // With Accept-Encoding too: HTML is compressible, so a precompressed variant might exist.
        assert.deepEqual(r.headers.get('vary')?.split(/, */), ['Accept', 'Accept-Encoding']);
        assert.equal(r.body, '<h1>app</h1>');
      }
    }
    const ruledOut = [
      'application/json',
      'text/plain',
      'text/html;q=0',
      '*/*;q=0',
      'text/html;q=0, */*',
      'text/*;q=0, */*',
    ];
    for (const accept of ruledOut) {
      const r = await get('/route', accept);
      assert.equal(r.status, 404, `Accept: ${accept}`);
      assert.equal(r.headers.get('vary'), 'Accept');
    }
    // A real file is served as itself, whatever the Accept.
    assert.equal((await get('/app.js', 'text/html')).body, 'js');
    // A fallback is not remembered: a file made later at that path is served.
    assert.equal((await get('/later.txt', '*/*')).body, '<h1>app</h1>');
    await writeFile(join(site, 'later.txt'), 'later');
    assert.equal((await get('/later.txt', '*/*')).body, 'later');
  });

  test('notFoundPage: the body of every 404, re-read when it changes, plain when missing', async (t) => {
    const site = await mkdtemp(join(tmpdir(), 'peregrine-404-'));
    await writeFile(join(site, 'a.txt'), 'a');
    await writeFile(join(site, '404.html'), '<h1>lost</h1>');
    const dir = new DirServer(site, { prefix: '/files/', notFoundPage: '404.html' });
    const server = await start(dir);
    t.after(async () => {
      await server.shutdown();
      await rm(site, { recursive: true, force: true });
    });
    // Missing, hidden, and outside the prefix (handleRequest answers those too).
    for (const path of ['/files/nope', '/files/.env', '/elsewhere']) {
      const r = await send(server.port, req('GET', path));
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8', path);
      assert.equal(r.headers.get('cache-control'), 'no-cache', path);
      assert.equal(r.body, '<h1>lost</h1>', path);
    }
    const head = await send(server.port, req('HEAD', '/files/nope'), true);
    assert.equal(head.status, 404);
    assert.equal(head.headers.get('content-length'), '13');
    await writeFile(join(site, '404.html'), '<h1>changed</h1>');
    assert.equal((await send(server.port, req('GET', '/files/nope'))).body, '<h1>changed</h1>');
    await rm(join(site, '404.html'));
    const plainNotFound = await send(server.port, req('GET', '/files/nope'));
    assert.equal(plainNotFound.status, 404);
    assert.equal(plainNotFound.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(plainNotFound.body, 'Not Found');
    // The page is only a 404's body: asked for by name it is a file like any other.
    await writeFile(join(site, '404.html'), '<h1>lost</h1>');
    const byName = await send(server.port, req('GET', '/files/404.html'));
    assert.equal(byName.status, 200);
    assert.equal(byName.headers.get('cache-control'), 'max-age=0');
  });

  test('invalid options throw a ConfigError with an exact message', () => {
    const missing = join(base, 'missing');
    assert.throws(() => new DirServer(missing), {
      name: 'ConfigError',
      message: `peregrine: DirServer root ${JSON.stringify(missing)} does not exist`,
    });
    const file = join(root, 'a.txt');
    assert.throws(() => new DirServer(file), {
      name: 'ConfigError',
      message: `peregrine: DirServer root ${JSON.stringify(file)} is not a directory`,
    });
    assert.throws(() => new DirServer(''), ConfigError);
    for (const prefix of ['static', '/a//b/', '/../', '/a b/', '']) {
      assert.throws(() => new DirServer(root, { prefix }), {
        message: `peregrine: DirServer option 'prefix' must be a URL path such as '/' or '/static/' (no empty, '.' or '..' segments), got ${JSON.stringify(prefix)}`,
      });
    }
    for (const index of ['', '../x', 'a/b', '..']) {
      assert.throws(() => new DirServer(root, { index }), ConfigError);
    }
    assert.throws(() => new DirServer(root, { cacheControl: 'a\r\nb' }), ConfigError);
    assert.throws(() => new DirServer(root, { hideDotfiles: 'no' as unknown as boolean }), ConfigError);
    assert.equal(new DirServer(root, { prefix: '/' }).prefix, '/');
    assert.equal(new DirServer(root, { prefix: '/a/b/' }).prefix, '/a/b/');
  });
});

describe('FileServer', () => {
  test('serves one file with the same headers and conditional requests', async (t) => {
    const file = new FileServer(join(root, 'page.html'), { cacheControl: 'no-cache' });
    const server = await start((req, res) => file.serve(req, res));
    t.after(() => server.shutdown());
    const r = await send(server.port, req('GET', '/anything?x'));
    assert.equal(r.status, 200);
    assert.equal(r.body, '<p>page</p>');
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    const etag = r.headers.get('etag')!;
    assert.equal((await send(server.port, req('GET', '/', `If-None-Match: ${etag}`))).status, 304);
    const post = await send(server.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('a large file, and 404 once the file is gone', async (t) => {
    const path = join(base, 'temp-big.bin');
    await writeFile(path, big);
    const file = new FileServer(path);
    const server = await start((req, res) => file.serve(req, res));
    t.after(() => server.shutdown());
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(big));
    await rm(path);
    assert.equal((await send(server.port, req('GET', '/'))).status, 404);
  });

  test('invalid paths throw a ConfigError', () => {
    const missing = join(base, 'missing.txt');
    assert.throws(() => new FileServer(missing), {
      name: 'ConfigError',
      message: `peregrine: FileServer path ${JSON.stringify(missing)} does not exist`,
    });
    assert.throws(() => new FileServer(root), {
      message: `peregrine: FileServer path ${JSON.stringify(root)} is not a file`,
    });
  });
});
