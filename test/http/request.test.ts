import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findHeadEnd, type HeadLimits, methodString, parseHead } from '../../src/http/parser.ts';
import { Http1Request as Request, type RequestSource } from '../../src/http/request.ts';

// Request's accessors over a parsed head, without a socket: the head is parsed into `req.head` the way
// a connection does it, then `init()` is called with a stand-in for the connection.

const LIMITS: HeadLimits = { maxHeaderBytes: 16 * 1024, maxHeaderCount: 100, maxUrlLength: 8 * 1024 };
const SOURCE: RequestSource = {
  scheme: 'http',
  remoteAddress: '192.0.2.1',
  remotePort: 4242,
  ownProtocol: 'http',
  proxyTrust: null,
  signalWanted() {},
  setHandlerTimeout() {},
};

/** A Request over `text`, parsed at `offset` in a buffer that holds other bytes before and after it. */
function requestFor(text: string, req = new Request(), offset = 0): Request {
  const buf = Buffer.concat([
    Buffer.alloc(offset, 'x'),
    Buffer.from(text, 'latin1'),
    Buffer.from('GET /next HTTP/1.1\r\n'),
  ]);
  const end = findHeadEnd(buf, offset, offset, buf.length, LIMITS);
  assert.ok(end > 0, `head not found: ${end}`);
  const status = parseHead(buf, offset, end, req.head, LIMITS);
  assert.equal(status, end, req.head.error);
  req.init(SOURCE, methodString(buf, offset, req.head.methodEnd));
  return req;
}

/** A GET request for `target` with the given field lines. */
function get(target: string, ...fields: string[]): Request {
  return requestFor(
    `GET ${target} HTTP/1.1\r\nHost: example.com\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`,
  );
}

describe('header()', () => {
  test('finds a field by name in any case', () => {
    const req = get('/', 'Content-Type: text/plain');
    assert.equal(req.header('Content-Type'), 'text/plain');
    assert.equal(req.header('content-type'), 'text/plain');
    assert.equal(req.header('CONTENT-TYPE'), 'text/plain');
    assert.equal(req.header('cOnTeNt-TyPe'), 'text/plain');
  });

  test('a field sent with odd case is found by its lower-case name', () => {
    assert.equal(get('/', 'x-MiXeD-cAsE: v').header('x-mixed-case'), 'v');
  });

  test('is undefined for an absent field, a prefix or a longer name', () => {
    const req = get('/', 'X-Long-Name: v');
    assert.equal(req.header('X-Absent'), undefined);
    assert.equal(req.header('X-Long'), undefined);
    assert.equal(req.header('X-Long-Name-2'), undefined);
    assert.equal(req.header(''), undefined);
  });

  test('an empty value is the empty string, not undefined', () => {
    assert.equal(get('/', 'X-Empty:').header('x-empty'), '');
    assert.equal(get('/', 'X-Empty:   ').header('x-empty'), '');
  });

  test('values are trimmed of OWS, inner whitespace is kept', () => {
    assert.equal(get('/', 'X-A: \t a \t b \t').header('x-a'), 'a \t b');
  });

  test('duplicates are combined with ", " in the order sent, across name cases', () => {
    const req = get('/', 'Accept: text/html', 'X-Other: 1', 'accept: application/json', 'ACCEPT: */*');
    assert.equal(req.header('Accept'), 'text/html, application/json, */*');
  });

  test('empty duplicates take their place in the combined value', () => {
    assert.equal(get('/', 'X-A: a', 'X-A:', 'X-A: c').header('x-a'), 'a, , c');
  });

  test('Cookie duplicates are combined with "; ", whatever case the name is asked in', () => {
    const req = get('/', 'Cookie: a=1', 'cookie: b=2; c=3');
    assert.equal(req.header('Cookie'), 'a=1; b=2; c=3');
    assert.equal(req.header('COOKIE'), 'a=1; b=2; c=3');
  });

  test('obs-text is decoded as latin1', () => {
    assert.equal(get('/', 'X-Name: caf\xe9 \xff').header('x-name'), 'caf\u00e9 \u00ff');
  });

  test('a name with characters above U+00FF never matches on their low byte', () => {
    const req = get('/', 'Host-t: v');
    // U+0174 has the low byte 0x74 ('t'), U+0148 has 0x48 ('H').
    assert.equal(req.header(`Host-${String.fromCharCode(0x174)}`), undefined);
    assert.equal(req.header(`${String.fromCharCode(0x148)}ost-t`), undefined);
    assert.equal(req.header('Host-t'), 'v');
  });

  test('non-ASCII latin1 letters in the name are not case-folded', () => {
    // Field names are tokens, so they are ASCII; a lookup name with 'É' must not match 'é' or 'e'.
    assert.equal(get('/', 'X-e: v').header('X-\u00c9'), undefined);
  });
});

describe('headers() and indexed access', () => {
  test('iterates every field in order with names as sent', () => {
    const req = get('/', 'X-First: 1', 'x-second:2', 'X-FIRST:  3 ');
    assert.deepEqual(
      [...req.headers()],
      [
        ['Host', 'example.com'],
        ['X-First', '1'],
        ['x-second', '2'],
        ['X-FIRST', '3'],
      ],
    );
  });

  test('headerCount, headerName and headerValue', () => {
    const req = get('/', 'A: 1', 'b: ');
    assert.equal(req.headerCount, 3);
    assert.equal(req.headerName(1), 'A');
    assert.equal(req.headerValue(1), '1');
    assert.equal(req.headerName(2), 'b');
    assert.equal(req.headerValue(2), '');
  });

  test('indexes out of range throw a UsageError', () => {
    const req = get('/');
    const outOfRange = { name: 'UsageError', code: 'ERR_PEREGRINE_INVALID_ARGUMENT' };
    assert.throws(() => req.headerName(1), outOfRange);
    assert.throws(() => req.headerValue(-1), outOfRange);
    assert.throws(() => req.headerName(100), outOfRange);
  });

  test('an HTTP/1.0 request may have no fields at all', () => {
    const req = requestFor('GET / HTTP/1.0\r\n\r\n');
    assert.equal(req.headerCount, 0);
    assert.deepEqual([...req.headers()], []);
    assert.equal(req.header('host'), undefined);
    assert.equal(req.version, '1.0');
  });
});

describe('target, path and query', () => {
  test('origin-form: path as sent (still percent-encoded) and the raw query', () => {
    const req = get('/a%20b/c%2Fd?x=1&y=%E2%82%AC&z=a+b&x=2');
    assert.equal(req.target, '/a%20b/c%2Fd?x=1&y=%E2%82%AC&z=a+b&x=2');
    assert.equal(req.path, '/a%20b/c%2Fd');
    assert.equal(req.queryString, 'x=1&y=%E2%82%AC&z=a+b&x=2');
  });

  test('query is percent-decoded as UTF-8, "+" is a space, repeated keys are kept', () => {
    const query = get('/p?x=1&y=%E2%82%AC&z=a+b&x=2&empty=&flag').query;
    assert.deepEqual(query.getAll('x'), ['1', '2']);
    assert.equal(query.get('y'), '\u20ac');
    assert.equal(query.get('z'), 'a b');
    assert.equal(query.get('empty'), '');
    assert.equal(query.get('flag'), '');
    assert.equal(query.get('absent'), null);
  });

  test('the query keeps a second "?" and "/"', () => {
    const req = get('/p?a=b?c/d');
    assert.equal(req.path, '/p');
    assert.equal(req.queryString, 'a=b?c/d');
    assert.equal(req.query.get('a'), 'b?c/d');
  });

  test('no query: empty string and empty params', () => {
    const req = get('/only/path');
    assert.equal(req.queryString, '');
    assert.equal([...req.query].length, 0);
  });

  test('an empty query after "?"', () => {
    const req = get('/p?');
    assert.equal(req.path, '/p');
    assert.equal(req.queryString, '');
  });

  test('malformed percent-encoding in the query does not throw', () => {
    assert.equal(get('/p?a=%zz&b=%E2%82').query.get('a'), '%zz');
  });

  test('absolute-form: path and query from the target, the target kept whole', () => {
    const req = get('http://example.com:8080/p/q?s=1');
    assert.equal(req.target, 'http://example.com:8080/p/q?s=1');
    assert.equal(req.path, '/p/q');
    assert.equal(req.queryString, 's=1');
    assert.equal(req.query.get('s'), '1');
  });

  test('absolute-form without a path has the path "/"', () => {
    assert.equal(get('http://example.com').path, '/');
    const withQuery = get('https://example.com?x=1');
    assert.equal(withQuery.path, '/');
    assert.equal(withQuery.queryString, 'x=1');
  });

  test('asterisk-form', () => {
    const req = requestFor('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(req.method, 'OPTIONS');
    assert.equal(req.target, '*');
    assert.equal(req.path, '*');
    assert.equal(req.queryString, '');
  });

  test('authority-form', () => {
    const req = requestFor('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(req.method, 'CONNECT');
    assert.equal(req.target, 'example.com:443');
    assert.equal(req.path, '');
    assert.equal(req.queryString, '');
  });
});

describe('request state', () => {
  test('method, version and the connection stand-in', () => {
    const req = requestFor('M-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(req.method, 'M-SEARCH');
    assert.equal(req.version, '1.1');
    assert.equal(req.remoteAddress, '192.0.2.1');
    assert.equal(req.remotePort, 4242);
  });

  test('contentLength is the declared length, undefined without one or when chunked', () => {
    assert.equal(get('/', 'Content-Length: 12').contentLength, 12);
    assert.equal(get('/', 'Content-Length: 0').contentLength, 0);
    assert.equal(get('/').contentLength, undefined);
    assert.equal(get('/', 'Transfer-Encoding: chunked').contentLength, undefined);
  });

  test('a head parsed at an offset in a larger buffer reads the right bytes', () => {
    const req = requestFor('POST /at?o=1 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n', new Request(), 37);
    assert.equal(req.method, 'POST');
    assert.equal(req.target, '/at?o=1');
    assert.equal(req.path, '/at');
    assert.equal(req.queryString, 'o=1');
    assert.equal(req.header('x-a'), 'b');
    assert.deepEqual(
      [...req.headers()].map(([name]) => name),
      ['Host', 'X-A'],
    );
  });

  test('bytes after the head (a reused read buffer holds anything there) are never read as part of it', () => {
    // Each search in the head stops at its own end: a '?' or a ',' further on must not become a
    // query or a list element, nor a bare LF past the end a broken line.
    const head = 'GET /plain HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n';
    const tail = '?q=1, close, upgrade\n';
    const buf = Buffer.from(head + tail, 'latin1');
    const end = findHeadEnd(buf, 0, 0, buf.length, LIMITS);
    assert.equal(end, head.length);
    const req = new Request();
    assert.equal(parseHead(buf, 0, end, req.head, LIMITS), end, req.head.error);
    req.init(SOURCE, methodString(buf, 0, req.head.methodEnd));
    assert.equal(req.path, '/plain');
    assert.equal(req.queryString, '');
    assert.equal(req.head.connectionKeepAlive, true);
    assert.equal(req.head.connectionClose, false);
  });

  test('a query and a Connection list are found at any length, short or long, and only inside the head', () => {
    // Short ranges are searched with a loop, long ones natively through a view: both must stop at the end.
    for (const length of [1, 62, 63, 64, 65, 66, 200]) {
      const path = `/${'p'.repeat(length - 1)}`;
      const tokens = `${'x-token, '.repeat(Math.ceil(length / 9))}close`;
      for (const query of ['', `q=${'v'.repeat(length)}`]) {
        const target = query === '' ? path : `${path}?${query}`;
        const head = `GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: ${tokens}\r\n\r\n`;
        const buf = Buffer.from(`${head}?stale, keep-alive, upgrade?\n`, 'latin1');
        const end = findHeadEnd(buf, 0, 0, buf.length, LIMITS);
        assert.equal(end, head.length, `length ${length}`);
        const req = new Request();
        assert.equal(parseHead(buf, 0, end, req.head, LIMITS), end, req.head.error);
        req.init(SOURCE, methodString(buf, 0, req.head.methodEnd));
        assert.equal(req.path, path, `length ${length}`);
        assert.equal(req.queryString, query, `length ${length}`);
        assert.equal(req.head.connectionClose, true);
        assert.equal(req.head.connectionKeepAlive, false);
      }
    }
  });

  test('a reused Request forgets the previous request, cached values included', () => {
    const req = get('/first?a=1', 'X-Only-First: 1');
    assert.equal(req.path, '/first');
    assert.equal(req.target, '/first?a=1');
    assert.equal(req.query.get('a'), '1');
    requestFor('DELETE /second?b=2 HTTP/1.0\r\nX-Only-Second: 2\r\n\r\n', req);
    assert.equal(req.method, 'DELETE');
    assert.equal(req.version, '1.0');
    assert.equal(req.path, '/second');
    assert.equal(req.target, '/second?b=2');
    assert.equal(req.queryString, 'b=2');
    assert.equal(req.query.get('a'), null);
    assert.equal(req.query.get('b'), '2');
    assert.equal(req.header('x-only-first'), undefined);
    assert.equal(req.header('x-only-second'), '2');
    assert.equal(req.headerCount, 1);
  });
});
