import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileServer, type Request, type Response, type Server } from '../../src/index.ts';
import { ifRangeMatches } from '../../src/static/file-server.ts';
import { coalesce, MAX_RANGES, parseRange } from '../../src/static/range.ts';
import { type ParsedResponse, parseResponses, RawClient, start } from '../helpers.ts';

describe('parseRange', () => {
  const r = (...pairs: [number, number][]) => ({ ranges: pairs.map(([start, end]) => ({ start, end })) });

  test('the three forms, clamping and suffixes', () => {
    const cases: [string, number, ReturnType<typeof parseRange>][] = [
      ['bytes=0-0', 10, r([0, 0])],
      ['bytes=0-9', 10, r([0, 9])],
      ['bytes=2-5', 10, r([2, 5])],
      ['bytes=9-9', 10, r([9, 9])],
      ['bytes=5-', 10, r([5, 9])],
      ['bytes=0-', 10, r([0, 9])],
      ['bytes=-3', 10, r([7, 9])],
      ['bytes=-10', 10, r([0, 9])],
      ['bytes=-1000', 10, r([0, 9])], // suffix longer than the file: the whole file
      ['bytes=5-1000', 10, r([5, 9])], // end clamped
      ['bytes=3-99999999999999999999999', 10, r([3, 9])],
      ['BYTES=1-2', 10, r([1, 2])], // the unit is case-insensitive
      ['bytes= 1-2 ', 10, r([1, 2])],
      ['bytes=1-2,\t4-5', 10, r([1, 2], [4, 5])],
      ['bytes=1-2 , 4-5 ,', 10, r([1, 2], [4, 5])], // empty list members are skipped
      ['bytes=8-, 0-1', 10, r([0, 1], [8, 9])], // sorted
      ['bytes=20-30, 2-3', 10, r([2, 3])], // the unsatisfiable member is dropped
      ['bytes=-0, 2-3', 10, r([2, 3])],
    ];
    for (const [header, size, expected] of cases)
      assert.deepEqual(parseRange(header, size), expected, header);
  });

  test('invalid syntax and other units: ignore', () => {
    for (const header of [
      '',
      'bytes',
      'bytes=',
      'bytes=,',
      'bytes=-',
      'bytes=a-b',
      'bytes=1-2-3',
      'bytes=5-2', // last before first
      'bytes=1 - 2',
      'bytes=+1-2',
      'bytes=1-2;x',
      'bytes=0x1-2',
      'bytes=1.5-2',
      'bytes=1-2, x',
      'bytes =1-2',
      ' bytes=1-2',
      'items=1-2',
      'bits=1-2',
      'bytes:1-2',
      `bytes=0-${'9'.repeat(2000)}`, // absurdly long header
    ]) {
      assert.equal(parseRange(header, 10), 'ignore', header);
    }
    // An empty file: ranges do not apply.
    assert.equal(parseRange('bytes=0-0', 0), 'ignore');
    assert.equal(parseRange('bytes=-5', 0), 'ignore');
  });

  test('unsatisfiable when no range overlaps the file', () => {
    for (const header of ['bytes=10-', 'bytes=10-20', 'bytes=-0', 'bytes=10-10, 11-', 'bytes=100-200, -0']) {
      assert.equal(parseRange(header, 10), 'unsatisfiable', header);
    }
  });

  test(`at most ${MAX_RANGES} ranges, else ignore`, () => {
    const many = (n: number) => `bytes=${Array.from({ length: n }, (_, i) => `${i * 3}-${i * 3}`).join(',')}`;
    const ok = parseRange(many(MAX_RANGES), 1000);
    assert.ok(typeof ok === 'object');
    assert.equal(ok.ranges.length, MAX_RANGES);
    assert.equal(parseRange(many(MAX_RANGES + 1), 1000), 'ignore');
    // Many tiny overlapping ranges (amplification) are refused before coalescing.
    assert.equal(parseRange(`bytes=${Array(100).fill('0-').join(',')}`, 1000), 'ignore');
  });

  test('overlapping and adjacent ranges are coalesced', () => {
    assert.deepEqual(parseRange('bytes=0-4, 2-8', 10), r([0, 8]));
    assert.deepEqual(parseRange('bytes=0-4, 5-9', 10), r([0, 9])); // adjacent
    assert.deepEqual(parseRange('bytes=0-4, 6-9', 10), r([0, 4], [6, 9])); // a gap of one byte
    assert.deepEqual(parseRange('bytes=0-, -3', 10), r([0, 9]));
    assert.deepEqual(parseRange('bytes=2-3, 0-0, 1-1, 7-, 6-6', 10), r([0, 3], [6, 9]));
    assert.deepEqual(parseRange('bytes=0-0, 0-0, 0-0', 10), r([0, 0]));
    assert.deepEqual(parseRange('bytes=1-8, 2-3', 10), r([1, 8])); // contained
    assert.deepEqual(coalesce([]), []);
  });
});

describe('ifRangeMatches', () => {
  const etag = '"a-b"';
  const old = Date.parse('Tue, 01 Jan 2030 00:00:00 GMT') - 86_400_000 * 3650;
  test('strong tags match exactly, weak tags never, dates only when equal and strong', () => {
    assert.equal(ifRangeMatches('"a-b"', etag, old), true);
    assert.equal(ifRangeMatches('"a-c"', etag, old), false);
    assert.equal(ifRangeMatches('W/"a-b"', etag, old), false);
    assert.equal(ifRangeMatches(new Date(old).toUTCString(), etag, old + 500), true);
    assert.equal(ifRangeMatches(new Date(old + 1000).toUTCString(), etag, old), false);
    assert.equal(ifRangeMatches(new Date(old - 1000).toUTCString(), etag, old), false);
    assert.equal(ifRangeMatches('garbage', etag, old), false);
    // A Last-Modified less than a second old is a weak validator.
    const now = Date.now();
    assert.equal(ifRangeMatches(new Date(now).toUTCString(), etag, now), false);
  });
});

let base: string;
const small = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'); // 36 bytes
const big = randomBytes(1024 * 1024);
const lastModified = new Date('2024-05-06T07:08:09Z');

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'peregrine-range-'));
  await writeFile(join(base, 'small.txt'), small);
  await writeFile(join(base, 'big.bin'), big);
  await writeFile(join(base, 'empty.txt'), '');
  for (const name of ['small.txt', 'big.bin', 'empty.txt']) {
    await utimes(join(base, name), lastModified, lastModified);
  }
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Sends one raw request and returns its parsed response (no body parsed for HEAD). */
async function send(port: number, raw: string, head = false): Promise<ParsedResponse> {
  const client = await RawClient.open(port);
  try {
    client.send(raw);
    const heads = head ? 1 : 0;
    await client.until((text) => parseResponses(text, heads).length >= 1, 5000);
    return parseResponses(client.text, heads)[0]!;
  } finally {
    client.close();
  }
}

function req(method: string, path: string, ...headers: string[]): string {
  return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

const bytes = (r: ParsedResponse) => Buffer.from(r.body, 'latin1');

interface BodyPart {
  headers: Map<string, string>;
  data: Buffer;
}

/** Splits a multipart/byteranges body by its boundary, checking the framing strictly. */
function parseMultipart(r: ParsedResponse): BodyPart[] {
  const match = /^multipart\/byteranges; boundary=([0-9A-Za-z'()+_,\-./:=?]+)$/.exec(
    r.headers.get('content-type') ?? '',
  );
  assert.ok(match, r.headers.get('content-type'));
  const body = r.body;
  const delimiter = `--${match[1]}`;
  assert.ok(body.startsWith(`${delimiter}\r\n`), 'starts with the first boundary');
  assert.ok(body.endsWith(`\r\n${delimiter}--\r\n`), 'ends with the close delimiter');
  const inner = body.slice(delimiter.length + 2, body.length - delimiter.length - 6);
  return inner.split(`\r\n${delimiter}\r\n`).map((text) => {
    const headEnd = text.indexOf('\r\n\r\n');
    const headers = new Map<string, string>();
    for (const line of text.slice(0, headEnd).split('\r\n')) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    return { headers, data: Buffer.from(text.slice(headEnd + 4), 'latin1') };
  });
}

describe('range requests over real sockets', () => {
  let server: Server;
  let port: number;
  let etag: string;
  before(async () => {
    const files = new Map<string, FileServer>();
    for (const name of ['small.txt', 'big.bin', 'empty.txt'])
      files.set(`/${name}`, new FileServer(join(base, name)));
    server = await start({
      async handleRequest(req: Request, res: Response) {
        const file = files.get(req.path);
        if (file === undefined) {
          res.status = 404;
          res.end();
          return;
        }
        await file.serve(req, res);
      },
    });
    port = server.port;
    etag = (await send(port, req('GET', '/small.txt'))).headers.get('etag')!;
  });
  after(() => server.shutdown());

  test('Accept-Ranges on every 200, small, large and empty, GET and HEAD', async () => {
    for (const path of ['/small.txt', '/big.bin', '/empty.txt']) {
      const r = await send(port, req('GET', path));
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('accept-ranges'), 'bytes', path);
      const h = await send(port, req('HEAD', path), true);
      assert.equal(h.headers.get('accept-ranges'), 'bytes', path);
    }
    const whole = await send(port, req('GET', '/big.bin'));
    assert.ok(bytes(whole).equals(big));
  });

  test('206 single ranges: start, middle, suffix, open-ended, end past the size', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=0-4', 0, 4],
      ['bytes=10-19', 10, 19],
      ['bytes=-5', 31, 35],
      ['bytes=-100', 0, 35],
      ['bytes=30-', 30, 35],
      ['bytes=35-', 35, 35],
      ['bytes=20-1000', 20, 35],
      ['bytes=0-4, 2-7', 0, 7], // coalesced into one: no multipart
    ];
    for (const [range, start, end] of cases) {
      const r = await send(port, req('GET', '/small.txt', `Range: ${range}`));
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/36`, range);
      assert.equal(r.headers.get('content-length'), String(end - start + 1), range);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8', range);
      assert.equal(r.headers.get('etag'), etag, range);
      assert.equal(r.headers.get('last-modified'), lastModified.toUTCString(), range);
      assert.equal(r.headers.has('accept-ranges'), false, range);
      assert.ok(bytes(r).equals(small.subarray(start, end + 1)), range);
    }
  });

  test('invalid Range headers and other units: 200 with the whole file', async () => {
    for (const range of ['bytes=5-2', 'bytes=x', 'items=0-1', 'bytes=0-1,,x', 'bytes']) {
      const r = await send(port, req('GET', '/small.txt', `Range: ${range}`));
      assert.equal(r.status, 200, range);
      assert.ok(bytes(r).equals(small), range);
    }
    const empty = await send(port, req('GET', '/empty.txt', 'Range: bytes=0-0'));
    assert.equal(empty.status, 200);
    assert.equal(empty.body, '');
  });

  test('416 with Content-Range */size when nothing is satisfiable', async () => {
    for (const range of ['bytes=36-', 'bytes=100-200', 'bytes=-0', 'bytes=36-40, 50-']) {
      const r = await send(port, req('GET', '/small.txt', `Range: ${range}`));
      assert.equal(r.status, 416, range);
      assert.equal(r.headers.get('content-range'), 'bytes */36', range);
      assert.equal(r.body, 'Range Not Satisfiable');
    }
    const big416 = await send(port, req('GET', '/big.bin', `Range: bytes=${big.length}-`));
    assert.equal(big416.status, 416);
    assert.equal(big416.headers.get('content-range'), `bytes */${big.length}`);
  });

  test('304 comes first: If-None-Match with a Range', async () => {
    const r = await send(port, req('GET', '/small.txt', `If-None-Match: ${etag}`, 'Range: bytes=0-1'));
    assert.equal(r.status, 304);
    assert.equal(r.body, '');
    const ims = await send(
      port,
      req('GET', '/small.txt', `If-Modified-Since: ${lastModified.toUTCString()}`, 'Range: bytes=0-1'),
    );
    assert.equal(ims.status, 304);
  });

  test('several ranges: multipart/byteranges with exact parts and Content-Length', async () => {
    const r = await send(port, req('GET', '/small.txt', 'Range: bytes=30-, 0-2, 10-12, -1'));
    assert.equal(r.status, 206);
    assert.equal(r.headers.has('content-range'), false);
    assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.body, 'latin1')));
    const parts = parseMultipart(r);
    const expected: [number, number][] = [
      [0, 2],
      [10, 12],
      [30, 35],
    ];
    assert.equal(parts.length, expected.length);
    for (const [i, [start, end]] of expected.entries()) {
      const part = parts[i]!;
      assert.equal(part.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(part.headers.get('content-range'), `bytes ${start}-${end}/36`);
      assert.ok(part.data.equals(small.subarray(start, end + 1)), `part ${i}`);
    }
  });

  test('multipart over a large file is streamed with each part exact', async () => {
    const expected: [number, number][] = [
      [0, 99],
      [200_000, 499_999],
      [big.length - 70_000, big.length - 1],
    ];
    const header = `Range: bytes=${expected.map(([s, e]) => `${s}-${e}`).join(',')}`;
    const r = await send(port, req('GET', '/big.bin', header));
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.body, 'latin1')));
    const parts = parseMultipart(r);
    assert.equal(parts.length, 3);
    for (const [i, [start, end]] of expected.entries()) {
      assert.equal(parts[i]!.headers.get('content-type'), 'application/octet-stream');
      assert.equal(parts[i]!.headers.get('content-range'), `bytes ${start}-${end}/${big.length}`);
      assert.ok(parts[i]!.data.equals(big.subarray(start, end + 1)), `part ${i}`);
    }
  });

  test('a 1 MiB file: a range in the middle is streamed intact; small ranges of it too', async () => {
    const r = await send(port, req('GET', '/big.bin', 'Range: bytes=300000-800000'));
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes 300000-800000/${big.length}`);
    assert.equal(r.headers.get('content-length'), '500001');
    assert.ok(bytes(r).equals(big.subarray(300_000, 800_001)));

    const tiny = await send(port, req('GET', '/big.bin', 'Range: bytes=123456-123465'));
    assert.equal(tiny.status, 206);
    assert.ok(bytes(tiny).equals(big.subarray(123_456, 123_466)));
    const tail = await send(port, req('GET', '/big.bin', 'Range: bytes=-100000'));
    assert.equal(
      tail.headers.get('content-range'),
      `bytes ${big.length - 100_000}-${big.length - 1}/${big.length}`,
    );
    assert.ok(bytes(tail).equals(big.subarray(big.length - 100_000)));
  });

  test('If-Range: a matching strong ETag or date honours Range; stale, weak or other dates give 200', async () => {
    const range = 'Range: bytes=1-3';
    const matching = await send(port, req('GET', '/small.txt', range, `If-Range: ${etag}`));
    assert.equal(matching.status, 206);
    assert.equal(matching.body, '123');

    const date = await send(port, req('GET', '/small.txt', range, `If-Range: ${lastModified.toUTCString()}`));
    assert.equal(date.status, 206);
    assert.equal(date.body, '123');

    for (const ifRange of [
      '"stale-etag"',
      `W/${etag}`,
      new Date(lastModified.getTime() + 1000).toUTCString(),
      new Date(lastModified.getTime() - 1000).toUTCString(),
      'not a date',
    ]) {
      const r = await send(port, req('GET', '/small.txt', range, `If-Range: ${ifRange}`));
      assert.equal(r.status, 200, ifRange);
      assert.equal(r.headers.get('accept-ranges'), 'bytes', ifRange);
      assert.ok(bytes(r).equals(small), ifRange);
    }
    // A failed If-Range also means no 416: the whole file.
    const stale416 = await send(port, req('GET', '/small.txt', 'Range: bytes=100-', 'If-Range: "stale"'));
    assert.equal(stale416.status, 200);
  });

  test('HEAD with Range: the headers of the GET, no body', async () => {
    const client = await RawClient.open(port);
    try {
      client.send(
        req('HEAD', '/big.bin', 'Range: bytes=100-199') +
          req('HEAD', '/big.bin', 'Range: bytes=0-0, 500000-') +
          req('HEAD', '/small.txt', 'Range: bytes=99-') +
          req('GET', '/small.txt', 'Range: bytes=0-1'),
      );
      await client.until((text) => parseResponses(text, 3).length >= 4, 5000);
      const [single, multi, unsatisfiable, get] = parseResponses(client.text, 3);
      assert.ok(client.received.length < 3000, 'no body was sent');
      assert.equal(single!.status, 206);
      assert.equal(single!.headers.get('content-range'), `bytes 100-199/${big.length}`);
      assert.equal(single!.headers.get('content-length'), '100');
      assert.equal(single!.body, '');
      assert.equal(multi!.status, 206);
      assert.match(multi!.headers.get('content-type')!, /^multipart\/byteranges; boundary=/);
      assert.ok(Number(multi!.headers.get('content-length')) > big.length - 500_000 + 1);
      assert.equal(multi!.body, '');
      assert.equal(unsatisfiable!.status, 416);
      assert.equal(unsatisfiable!.headers.get('content-range'), 'bytes */36');
      assert.equal(get!.status, 206);
      assert.equal(get!.body, '01');
    } finally {
      client.close();
    }
  });

  test('the multipart Content-Length announced by HEAD equals the GET body length', async () => {
    const range = 'Range: bytes=0-0, 500000-500009, 1000000-';
    const head = await send(port, req('HEAD', '/big.bin', range), true);
    const get = await send(port, req('GET', '/big.bin', range));
    const length = Buffer.byteLength(get.body, 'latin1');
    // Boundaries are random but of a fixed length, so the two lengths agree.
    assert.equal(head.headers.get('content-length'), String(length));
    assert.equal(parseMultipart(get).length, 3);
  });
});
