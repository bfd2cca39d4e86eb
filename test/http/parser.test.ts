import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  bytesEqualLower,
  CR,
  findHeadEnd,
  HEAD_STATE_UNKNOWN,
  type HeadLimits,
  headScanState,
  methodString,
  ParsedHead,
  parseHead,
  skipLeadingEmptyLines,
  TargetForm,
} from '../../src/http/parser.ts';
import { Http1Request as Request } from '../../src/http/request.ts';

// Every case runs three ways and must come out the same: the whole head in one buffer; fed one byte
// at a time as a connection would (findHeadEnd called with a growing `end` and `from` = the previous
// end, over a buffer that already holds the bytes past `end`); and placed after unrelated bytes that
// hold blank lines and bare LFs, so that nothing before `start` may be looked at.

const LIMITS: HeadLimits = { maxHeaderBytes: 16 * 1024, maxHeaderCount: 100, maxUrlLength: 8 * 1024 };
const SMALL: HeadLimits = { maxHeaderBytes: 256, maxHeaderCount: 4, maxUrlLength: 64 };
const PREFIX = Buffer.from('junk\r\n\r\n\n\nGET / HTTP/1.1\r\n\r\n', 'latin1');

/** What a parse found, as strings and offsets relative to the head's start, so modes can be compared. */
interface Summary {
  end: number;
  method: string;
  target: string;
  path: string;
  query: string | null;
  targetForm: number;
  minorVersion: number;
  fields: [string, string][];
  contentLength: number;
  chunked: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  hasUpgrade: boolean;
  expectContinue: boolean;
}

/** A parse's result: the summary, a negative status, or -1 for "needs more bytes". */
type Outcome = { status: number; summary: Summary | null; error: string };

function summarize(buf: Buffer, head: ParsedHead, skipped: number): Summary {
  const s = (a: number, b: number) => buf.toString('latin1', a, b);
  const fields: [string, string][] = [];
  for (let i = 0; i < head.fieldCount; i++) {
    const f = head.fields;
    fields.push([s(f[i * 4]!, f[i * 4 + 1]!), s(f[i * 4 + 2]!, f[i * 4 + 3]!)]);
  }
  return {
    end: head.end - head.start + skipped,
    method: s(head.start, head.methodEnd),
    target: s(head.targetStart, head.targetEnd),
    path: s(head.pathStart, head.pathEnd),
    query: head.queryStart === -1 ? null : s(head.queryStart + 1, head.targetEnd),
    targetForm: head.targetForm,
    minorVersion: head.minorVersion,
    fields,
    contentLength: head.contentLength,
    chunked: head.chunked,
    connectionClose: head.connectionClose,
    connectionKeepAlive: head.connectionKeepAlive,
    hasUpgrade: head.hasUpgrade,
    expectContinue: head.expectContinue,
  };
}

function finish(buf: Buffer, from: number, start: number, headEnd: number, limits: HeadLimits): Outcome {
  if (headEnd < 0) return { status: headEnd, summary: null, error: '' };
  assert.ok(headEnd > start && headEnd <= buf.length, `head end ${headEnd} out of range`);
  const head = new ParsedHead();
  const status = parseHead(buf, start, headEnd, head, limits);
  if (status < 0) {
    assert.notEqual(head.error, '', 'a failed parse says why');
    return { status, summary: null, error: head.error };
  }
  assert.equal(status, headEnd, 'parseHead returns the head end');
  return { status: 0, summary: summarize(buf, head, start - from), error: '' };
}

/** The input at `offset` in `buf`, in one piece. */
function parseWholeAt(buf: Buffer, offset: number, limits: HeadLimits): Outcome {
  const start = skipLeadingEmptyLines(buf, offset, buf.length);
  if (start >= buf.length) return { status: -1, summary: null, error: '' };
  return finish(buf, offset, start, findHeadEnd(buf, start, start, buf.length, limits), limits);
}

/** The input one byte at a time, the way a connection scans it. */
function parseBytewise(buf: Buffer, limits: HeadLimits): Outcome {
  let start = 0;
  let started = false;
  let scanFrom = 0;
  let state = HEAD_STATE_UNKNOWN;
  for (let end = 1; end <= buf.length; end++) {
    if (!started) {
      start = skipLeadingEmptyLines(buf, start, end);
      // A lone CR may be the first half of an empty line: wait for its LF before the head starts.
      if (start >= end || (start === end - 1 && buf[start] === CR)) continue;
      started = true;
      scanFrom = start;
    }
    const headEnd = findHeadEnd(buf, start, scanFrom, end, limits, state);
    scanFrom = end;
    state = headScanState();
    if (headEnd !== -1) return finish(buf, 0, start, headEnd, limits);
  }
  return { status: -1, summary: null, error: '' };
}

function outcomes(input: string | Buffer, limits: HeadLimits): Outcome[] {
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  return [
    parseWholeAt(buf, 0, limits),
    parseBytewise(buf, limits),
    parseWholeAt(Buffer.concat([PREFIX, buf]), PREFIX.length, limits),
  ];
}

function agree(input: string | Buffer, limits: HeadLimits): Outcome {
  const [whole, bytewise, shifted] = outcomes(input, limits);
  const label = JSON.stringify(typeof input === 'string' ? input : input.toString('latin1')).slice(0, 200);
  assert.deepEqual(
    { status: bytewise!.status, summary: bytewise!.summary },
    { status: whole!.status, summary: whole!.summary },
    `byte by byte differs from whole for ${label}`,
  );
  assert.deepEqual(
    { status: shifted!.status, summary: shifted!.summary },
    { status: whole!.status, summary: whole!.summary },
    `at an offset differs from whole for ${label}`,
  );
  return whole!;
}

/** Asserts the head parses (in every mode) and returns what was found. */
function ok(input: string | Buffer, limits: HeadLimits = LIMITS): Summary {
  const result = agree(input, limits);
  assert.equal(result.status, 0, `expected success, got ${result.status} (${result.error})`);
  return result.summary!;
}

/** Asserts the head is rejected with `status` (in every mode). */
function rejects(input: string | Buffer, status: number, limits: HeadLimits = LIMITS): void {
  const result = agree(input, limits);
  assert.equal(result.status, -status, `expected ${status}, got ${result.status} (${result.error})`);
}

/** A head from its lines: request line, then fields, then the blank line. */
function head(...lines: string[]): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A GET head with `Host: x` and the given field lines. */
function withFields(...fields: string[]): string {
  return head('GET / HTTP/1.1', 'Host: x', ...fields);
}

describe('request line', () => {
  test('a minimal HTTP/1.1 request', () => {
    const s = ok(head('GET / HTTP/1.1', 'Host: example.com'));
    assert.equal(s.method, 'GET');
    assert.equal(s.target, '/');
    assert.equal(s.path, '/');
    assert.equal(s.query, null);
    assert.equal(s.targetForm, TargetForm.origin);
    assert.equal(s.minorVersion, 1);
    assert.deepEqual(s.fields, [['Host', 'example.com']]);
    assert.equal(s.contentLength, -1);
    assert.equal(s.chunked, false);
    assert.equal(s.end, 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'.length);
  });

  test('HTTP/1.0 needs no Host', () => {
    const s = ok(head('GET /x HTTP/1.0'));
    assert.equal(s.minorVersion, 0);
    assert.deepEqual(s.fields, []);
    assert.equal(ok(head('GET /x HTTP/1.0', 'Host: a')).minorVersion, 0);
  });

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'TRACE', 'M-SEARCH', 'PROPFIND', 'get']) {
    test(`method ${method} is accepted as a token`, () => {
      assert.equal(ok(head(`${method} / HTTP/1.1`, 'Host: x')).method, method);
    });
  }

  test('a method of every token character is accepted', () => {
    const method = "!#$%&'*+-.^_`|~09AZaz";
    assert.equal(ok(head(`${method} / HTTP/1.1`, 'Host: x')).method, method);
  });

  for (const [name, line] of [
    ['an empty method', ' / HTTP/1.1'],
    ['a method with "("', 'GE(T / HTTP/1.1'],
    ['a method with "@"', 'G@T / HTTP/1.1'],
    ['a method with a non-ASCII byte', 'G\xc9T / HTTP/1.1'],
    ['a leading space', ' GET / HTTP/1.1'],
    ['two spaces after the method', 'GET  / HTTP/1.1'],
    ['two spaces after the target', 'GET /  HTTP/1.1'],
    ['a trailing space', 'GET / HTTP/1.1 '],
    ['a tab after the method', 'GET\t/ HTTP/1.1'],
    ['a tab after the target', 'GET /\tHTTP/1.1'],
    ['a missing version', 'GET /'],
    ['a missing target', 'GET HTTP/1.1'],
    ['a lower-case version', 'GET / http/1.1'],
    ['a version with a suffix', 'GET / HTTP/1.1x'],
    ['a version without minor', 'GET / HTTP/1'],
    ['a version without minor digit', 'GET / HTTP/1.'],
    ['a two-digit major version', 'GET / HTTP/11.1'],
    ['HTTPS/1.1', 'GET / HTTPS/1.1'],
    ['only a method', 'GET'],
  ]) {
    test(`400 for ${name}`, () => rejects(head(line!, 'Host: x'), 400));
  }

  for (const version of ['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/3.0', 'HTTP/1.9', 'HTTP/0.0']) {
    test(`505 for ${version}`, () => rejects(head(`GET / ${version}`, 'Host: x'), 505));
  }
});

describe('request-target', () => {
  test('origin-form: path and query offsets', () => {
    const s = ok(head('GET /a/b%20c?x=1&y=2 HTTP/1.1', 'Host: x'));
    assert.equal(s.targetForm, TargetForm.origin);
    assert.equal(s.target, '/a/b%20c?x=1&y=2');
    assert.equal(s.path, '/a/b%20c');
    assert.equal(s.query, 'x=1&y=2');
  });

  test('origin-form: an empty query, and "?" inside the query', () => {
    const empty = ok(head('GET /p? HTTP/1.1', 'Host: x'));
    assert.equal(empty.path, '/p');
    assert.equal(empty.query, '');
    const nested = ok(head('GET /p?a=?/b?c HTTP/1.1', 'Host: x'));
    assert.equal(nested.path, '/p');
    assert.equal(nested.query, 'a=?/b?c');
  });

  test('origin-form: every allowed visible character', () => {
    const target = '/azAZ09-._~!$&\'()*+,;=:@%[]{}|\\^`"<>?/?';
    const s = ok(head(`GET ${target} HTTP/1.1`, 'Host: x'));
    assert.equal(s.target, target);
    assert.equal(s.path, '/azAZ09-._~!$&\'()*+,;=:@%[]{}|\\^`"<>');
  });

  test('absolute-form with path and query', () => {
    const s = ok(head('GET http://example.com:8080/a/b?q=1 HTTP/1.1', 'Host: example.com:8080'));
    assert.equal(s.targetForm, TargetForm.absolute);
    assert.equal(s.path, '/a/b');
    assert.equal(s.query, 'q=1');
  });

  test('absolute-form without a path, with and without a query', () => {
    const bare = ok(head('GET https://example.com HTTP/1.1', 'Host: example.com'));
    assert.equal(bare.targetForm, TargetForm.absolute);
    assert.equal(bare.path, '');
    assert.equal(bare.query, null);
    const query = ok(head('GET HTTP://EXAMPLE.COM?x=1 HTTP/1.1', 'Host: x'));
    assert.equal(query.path, '');
    assert.equal(query.query, 'x=1');
  });

  test('absolute-form with an unusual scheme', () => {
    const s = ok(head('GET a+b-c.d9://h/p HTTP/1.1', 'Host: h'));
    assert.equal(s.targetForm, TargetForm.absolute);
    assert.equal(s.path, '/p');
  });

  for (const target of ['http:/x', 'http:///x', '1http://h/', 'h', 'http:', 'http://', '*x', '?x', 'h/x']) {
    test(`400 for the target ${JSON.stringify(target)}`, () =>
      rejects(head(`GET ${target} HTTP/1.1`, 'Host: x'), 400));
  }

  test('authority-form for CONNECT', () => {
    const s = ok(head('CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443'));
    assert.equal(s.targetForm, TargetForm.authority);
    assert.equal(s.target, 'example.com:443');
    assert.equal(s.path, '');
    assert.equal(s.query, null);
    assert.equal(
      ok(head('CONNECT [::1]:8443 HTTP/1.1', 'Host: [::1]:8443')).targetForm,
      TargetForm.authority,
    );
  });

  test('CONNECT with an origin-form or absolute-form target is 400', () => {
    rejects(head('CONNECT / HTTP/1.1', 'Host: x'), 400);
    rejects(head('CONNECT http://h:443/ HTTP/1.1', 'Host: x'), 400);
    rejects(head('CONNECT h:443?x HTTP/1.1', 'Host: x'), 400);
  });

  test('authority-form for another method is 400', () => {
    rejects(head('GET example.com:443 HTTP/1.1', 'Host: x'), 400);
  });

  test('asterisk-form for OPTIONS', () => {
    const s = ok(head('OPTIONS * HTTP/1.1', 'Host: x'));
    assert.equal(s.targetForm, TargetForm.asterisk);
    assert.equal(s.path, '*');
  });

  test('asterisk-form for another method is 400', () => {
    rejects(head('GET * HTTP/1.1', 'Host: x'), 400);
    rejects(head('options * HTTP/1.1', 'Host: x'), 400);
    rejects(head('OPTIONS */x HTTP/1.1', 'Host: x'), 400);
  });

  for (const [name, byte] of [
    ['"#"', '#'],
    ['NUL', '\x00'],
    ['SOH', '\x01'],
    ['ESC', '\x1b'],
    ['DEL', '\x7f'],
    ['a bare CR', '\r'],
    ['a tab', '\t'],
    ['0x80', '\x80'],
    ['0xff', '\xff'],
  ]) {
    test(`400 for ${name} in the target`, () => rejects(head(`GET /a${byte}b HTTP/1.1`, 'Host: x'), 400));
  }

  test('a target of exactly maxUrlLength is accepted, one byte more is 414', () => {
    const limits = { ...LIMITS, maxUrlLength: 64 };
    const fits = `/${'a'.repeat(63)}`;
    assert.equal(ok(head(`GET ${fits} HTTP/1.1`, 'Host: x'), limits).target, fits);
    rejects(head(`GET ${fits}b HTTP/1.1`, 'Host: x'), 414, limits);
  });

  test('a too-long target is 414 even when the whole head is also over maxHeaderBytes', () => {
    // Regression: parseHead checked the head's size first (431) while findHeadEnd, seeing the head
    // in pieces, reports the target (414) before the head is complete; the answer depended on how
    // the bytes arrived. Now both say 414.
    const input = head(`GET /${'a'.repeat(100)} HTTP/1.1`, 'Host: x', `X: ${'v'.repeat(300)}`);
    const buf = Buffer.from(input, 'latin1');
    const parsed = new ParsedHead();
    assert.equal(parseHead(buf, 0, buf.length, parsed, SMALL), -414);
    rejects(input, 414, SMALL);
  });

  test('a long absolute-form target counts whole against maxUrlLength', () => {
    const limits = { ...LIMITS, maxUrlLength: 64 };
    rejects(head(`GET http://example.com/${'a'.repeat(60)} HTTP/1.1`, 'Host: x'), 414, limits);
  });
});

describe('leading empty lines', () => {
  test('CRLFs before the request line are skipped', () => {
    const s = ok(`\r\n\r\n\r\n${head('GET /a HTTP/1.1', 'Host: x')}`);
    assert.equal(s.method, 'GET');
    assert.equal(s.path, '/a');
  });

  test('skipLeadingEmptyLines stops at anything but a complete CRLF', () => {
    const buf = Buffer.from('\r\n\r\n\r', 'latin1');
    assert.equal(skipLeadingEmptyLines(buf, 0, buf.length), 4, 'a lone CR at the end waits');
    assert.equal(skipLeadingEmptyLines(buf, 0, 3), 2);
    assert.equal(skipLeadingEmptyLines(Buffer.from('\n\r\nGET'), 0, 6), 0, 'a bare LF is not skipped');
    assert.equal(skipLeadingEmptyLines(Buffer.from('\r\r\nGET'), 0, 6), 0);
    assert.equal(skipLeadingEmptyLines(Buffer.from('xx\r\nGET'), 2, 7), 4);
  });

  test('a bare LF or a CR CR before the request line is 400', () => {
    rejects(`\n${head('GET / HTTP/1.1', 'Host: x')}`, 400);
    rejects(`\r\n\n${head('GET / HTTP/1.1', 'Host: x')}`, 400);
    rejects(`\r\r\n${head('GET / HTTP/1.1', 'Host: x')}`, 400);
  });
});

describe('header fields', () => {
  test('names keep their case and may use every token character', () => {
    const s = ok(withFields("X-Custom_Header.1~!#$%&'*+^`|: v", 'lower: a', 'UPPER: b'));
    assert.deepEqual(s.fields.slice(1), [
      ["X-Custom_Header.1~!#$%&'*+^`|", 'v'],
      ['lower', 'a'],
      ['UPPER', 'b'],
    ]);
  });

  for (const [name, line] of [
    ['whitespace before the colon', 'X-A : v'],
    ['a tab before the colon', 'X-A\t: v'],
    ['a space inside the name', 'X A: v'],
    ['"(" in the name', 'X(: v'],
    ['an empty name', ': v'],
    ['a missing colon', 'X-A v'],
    ['a non-ASCII byte in the name', 'X\xe9: v'],
    ['NUL in the name', 'X\x00: v'],
  ]) {
    test(`400 for ${name}`, () => rejects(withFields(line!), 400));
  }

  test('obs-fold is 400, with a space or a tab, and on the first field line', () => {
    rejects(withFields('X-A: a', ' b'), 400);
    rejects(withFields('X-A: a', '\tb'), 400);
    rejects(head('GET / HTTP/1.1', ' Host: x'), 400);
  });

  for (const [name, byte] of [
    ['NUL', '\x00'],
    ['a bare CR', '\r'],
    ['a bare LF', '\n'],
    ['DEL', '\x7f'],
    ['SOH', '\x01'],
    ['ESC', '\x1b'],
    ['US', '\x1f'],
    ['VT', '\x0b'],
  ]) {
    test(`400 for ${name} in a field value`, () => rejects(withFields(`X-A: a${byte}b`), 400));
  }

  test('a bare CR at the end of a value or alone on a line is 400', () => {
    rejects(withFields('X-A: a\r'), 400);
    rejects(`GET / HTTP/1.1\r\nHost: x\r\n\r\r\n\r\n`, 400);
  });

  test('obs-text and HTAB inside a value are kept', () => {
    const s = ok(withFields('X-A: caf\xe9 \x80\xff\tz'));
    assert.equal(s.fields[1]![1], 'caf\xe9 \x80\xff\tz');
  });

  test('OWS is trimmed on both sides, not inside', () => {
    const s = ok(withFields('X-A: \t a b \t ', 'X-B:c', 'X-C:\t\td\t'));
    assert.deepEqual(s.fields.slice(1), [
      ['X-A', 'a b'],
      ['X-B', 'c'],
      ['X-C', 'd'],
    ]);
  });

  test('empty values are allowed', () => {
    const s = ok(withFields('X-A:', 'X-B: ', 'X-C: \t '));
    assert.deepEqual(s.fields.slice(1), [
      ['X-A', ''],
      ['X-B', ''],
      ['X-C', ''],
    ]);
  });

  test('many fields grow the offset table', () => {
    const fields = Array.from({ length: 50 }, (_, i) => `X-${i}: ${i}`);
    const s = ok(withFields(...fields));
    assert.equal(s.fields.length, 51);
    assert.deepEqual(s.fields[50], ['X-49', '49']);
  });

  test('maxHeaderCount fields are accepted, one more is 431', () => {
    const limits = { ...LIMITS, maxHeaderCount: 4 };
    assert.equal(ok(withFields('A: 1', 'B: 2', 'C: 3'), limits).fields.length, 4);
    rejects(withFields('A: 1', 'B: 2', 'C: 3', 'D: 4'), 431, limits);
  });

  test('a head of exactly maxHeaderBytes is accepted, one byte more is 431', () => {
    const base = withFields('X: ');
    const exact = withFields(`X: ${'v'.repeat(SMALL.maxHeaderBytes - base.length)}`);
    assert.equal(exact.length, SMALL.maxHeaderBytes);
    ok(exact, { ...SMALL, maxHeaderCount: 100 });
    rejects(withFields(`X: ${'v'.repeat(SMALL.maxHeaderBytes - base.length + 1)}`), 431, SMALL);
  });

  for (const [name, input] of [
    ['the request line', 'GET / HTTP/1.1\nHost: x\r\n\r\n'],
    ['a field line', 'GET / HTTP/1.1\r\nHost: x\n\r\n'],
    ['the blank line', 'GET / HTTP/1.1\r\nHost: x\r\n\n'],
    ['both line ends', 'GET / HTTP/1.1\nHost: x\n\n'],
    ['the start', '\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'],
  ]) {
    test(`a bare LF ending ${name} is 400 from findHeadEnd`, () => {
      const buf = Buffer.from(input!, 'latin1');
      assert.equal(findHeadEnd(buf, 0, 0, buf.length, LIMITS), -400);
      rejects(input!, 400);
    });
  }
});

describe('findHeadEnd', () => {
  test('finds the end of the first head only', () => {
    const first = head('GET /1 HTTP/1.1', 'Host: x');
    const buf = Buffer.from(first + head('GET /2 HTTP/1.1', 'Host: x'), 'latin1');
    assert.equal(findHeadEnd(buf, 0, 0, buf.length, LIMITS), first.length);
    assert.equal(findHeadEnd(buf, first.length, first.length, buf.length, LIMITS), buf.length);
  });

  test('bytes that can never start a request line are 400 at once, not after a timeout', () => {
    const tlsClientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    for (const garbage of [
      tlsClientHello,
      Buffer.from(' GET / HTTP/1.1'),
      Buffer.from('GET\t/'),
      Buffer.from('G(T /'),
    ]) {
      assert.equal(
        findHeadEnd(garbage, 0, 0, garbage.length, LIMITS),
        -400,
        JSON.stringify(garbage.toString('latin1')),
      );
    }
    // …while every prefix of a valid request line keeps waiting for more.
    const valid = Buffer.from('M-SEARCH /a/b?c=d HTTP/1.1\r\nHost: x\r\n', 'latin1');
    for (let end = 1; end <= valid.length; end++) assert.equal(findHeadEnd(valid, 0, 0, end, LIMITS), -1);
    const bad = Buffer.from('GET /a\x00b HTTP/1.1', 'latin1');
    assert.equal(findHeadEnd(bad, 0, 0, bad.length, LIMITS), -400);
  });

  test('an unfinished head is 400 at the byte that breaks its grammar, fed whole or in pieces', () => {
    // The case: a CR inside the request line, and no blank line yet.
    for (const [text, breaksAt] of [
      ['GET / HTTP/1.1\rLine: 1\r\nHost: h\r\n', 15],
      ['GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n', 28],
      ['GET / HTTP/1.1\r\nHost: h\r\n folded\r\n', 25],
      ['GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n', 29],
      ['GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n', 30],
      ['GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n', 25],
      ['GET / HTTP/1.1\r\nHost: h\r\r\n', 24],
      ['GET / HTTP/2.0x\r\n', 14],
      ['GET / HTTPS/1.1\r\n', 10],
      ['GET  / HTTP/1.1\r\n', 4],
    ] as const) {
      const buf = Buffer.from(text, 'latin1');
      const label = JSON.stringify(text);
      assert.equal(findHeadEnd(buf, 0, 0, buf.length, LIMITS), -400, `whole: ${label}`);
      // Before the breaking byte arrives, every prefix still waits; at it, 400.
      let state = HEAD_STATE_UNKNOWN;
      for (let end = 1; end <= breaksAt; end++) {
        assert.equal(findHeadEnd(buf, 0, end - 1, end, LIMITS, state), -1, `${label} up to ${end}`);
        state = headScanState();
      }
      assert.equal(
        findHeadEnd(buf, 0, breaksAt, breaksAt + 1, LIMITS, state),
        -400,
        `${label} at ${breaksAt}`,
      );
    }
  });

  test('every prefix of heads that parseHead accepts keeps waiting, in pieces of every size', () => {
    const heads = [
      head('GET / HTTP/1.1', 'Host: x'),
      head('OPTIONS * HTTP/1.1', 'Host: x', 'Man: "ssdp:discover"', 'X:', 'Y:   spaced  \t'),
      head('OPTIONS http://a.b:8/c?d=e&f=%20 HTTP/1.0', 'host: a.b', 'X-Obs: \x80\xff obs-text'),
      head('CONNECT a.b:443 HTTP/1.1', 'Host: a.b:443', "Weird-!#$%&'*+.^_`|~: v"),
    ];
    for (const text of heads) {
      assert.ok(ok(text, LIMITS), `parseHead accepts ${JSON.stringify(text)}`);
      const buf = Buffer.from(text, 'latin1');
      for (let piece = 1; piece <= 7; piece++) {
        let state = HEAD_STATE_UNKNOWN;
        for (let from = 0; from < buf.length; from += piece) {
          const end = Math.min(from + piece, buf.length);
          const verdict = findHeadEnd(buf, 0, from, end, LIMITS, state);
          const label = `${JSON.stringify(text)} up to ${end} in pieces of ${piece}`;
          assert.equal(verdict, end === buf.length ? buf.length : -1, label);
          state = headScanState();
        }
      }
    }
  });

  test('needs more bytes until the blank line is complete', () => {
    const buf = Buffer.from(head('GET / HTTP/1.1', 'Host: x'), 'latin1');
    for (let end = 0; end < buf.length; end++) assert.equal(findHeadEnd(buf, 0, 0, end, LIMITS), -1);
  });

  test('a request line over the limits is 414 before it ends, even with an LF in the buffer past end', () => {
    // Regression: the maxUrlLength check looked for an LF in the whole buffer, past `end`, where a
    // reused read buffer holds stale bytes; the long target then went unnoticed until maxHeaderBytes.
    const line = `GET /${'a'.repeat(200)}`;
    const buf = Buffer.alloc(1024, '\n');
    buf.write(line, 'latin1');
    assert.equal(findHeadEnd(buf, 0, 0, line.length, SMALL), -414);
    const noLf = Buffer.from(line, 'latin1');
    assert.equal(findHeadEnd(noLf, 0, 0, noLf.length, SMALL), -414);
  });

  test('414 comes at the first byte that makes the target longer than maxUrlLength', () => {
    const buf = Buffer.from(`GET /${'a'.repeat(100)}`, 'latin1');
    const limit = 4 + SMALL.maxUrlLength; // "GET " and the longest target
    assert.equal(findHeadEnd(buf, 0, 0, limit, SMALL), -1);
    assert.equal(findHeadEnd(buf, 0, limit - 1, limit + 1, SMALL), -414);
  });

  test('a long method does not count against maxUrlLength', () => {
    // Regression: the incomplete request line was measured whole against maxUrlLength + 64, so a
    // long method with a long target was 414 when it arrived in pieces and accepted in one piece.
    const target = `/${'a'.repeat(SMALL.maxUrlLength - 1)}`;
    const s = ok(head(`${'M'.repeat(80)} ${target} HTTP/1.1`, 'Host: x'), { ...SMALL, maxHeaderBytes: 1024 });
    assert.equal(s.target, target);
    rejects(head(`${'M'.repeat(80)} ${target}a HTTP/1.1`, 'Host: x'), 414, {
      ...SMALL,
      maxHeaderBytes: 1024,
    });
  });

  test('an incomplete head over maxHeaderBytes is 431 once the request line is done', () => {
    const text = `GET / HTTP/1.1\r\nHost: x\r\nX: ${'v'.repeat(300)}`;
    const buf = Buffer.from(text, 'latin1');
    assert.equal(findHeadEnd(buf, 0, 0, SMALL.maxHeaderBytes, SMALL), -1);
    assert.equal(findHeadEnd(buf, 0, 0, SMALL.maxHeaderBytes + 1, SMALL), -431);
    // Scanning in pieces gives the same verdict.
    let verdict = -1;
    for (let end = 1, from = 0; end <= buf.length && verdict === -1; from = end, end++)
      verdict = findHeadEnd(buf, 0, from, end, SMALL);
    assert.equal(verdict, -431);
  });

  test('an incomplete request line over maxHeaderBytes is 414', () => {
    const limits = { maxHeaderBytes: 256, maxHeaderCount: 4, maxUrlLength: 256 };
    const buf = Buffer.from(`GET /${'a'.repeat(400)}`, 'latin1');
    assert.equal(findHeadEnd(buf, 0, 0, 256, limits), -1);
    assert.equal(findHeadEnd(buf, 0, 0, 257, limits), -414);
  });

  test('works at an offset, without looking before start', () => {
    const text = `\n\n\r\n${head('GET / HTTP/1.1', 'Host: x')}`;
    const buf = Buffer.from(text, 'latin1');
    assert.equal(findHeadEnd(buf, 4, 4, buf.length, LIMITS), buf.length);
    assert.equal(findHeadEnd(buf, 4, 0, buf.length, LIMITS), buf.length, 'from before start');
  });

  test('a CRLF split from its LF across calls is still a line end', () => {
    const buf = Buffer.from(head('GET / HTTP/1.1', 'Host: x'), 'latin1');
    const cr = buf.length - 1; // the last LF
    assert.equal(findHeadEnd(buf, 0, 0, cr, LIMITS), -1);
    assert.equal(findHeadEnd(buf, 0, cr, buf.length, LIMITS), buf.length);
  });
});

describe('Host', () => {
  test('missing in HTTP/1.1 is 400', () => rejects(head('GET / HTTP/1.1', 'X: y'), 400));
  test('twice is 400, even identical and in any case', () => {
    rejects(withFields('Host: x'), 400);
    rejects(withFields('host: y'), 400);
    rejects(head('GET / HTTP/1.0', 'Host: a', 'HOST: a'), 400);
  });

  for (const value of [
    'example.com',
    'example.com:8080',
    '[::1]:80',
    '127.0.0.1',
    'xn--bcher-kva.example',
    '',
  ]) {
    test(`accepts Host ${JSON.stringify(value)}`, () => {
      assert.deepEqual(ok(head('GET / HTTP/1.1', `Host: ${value}`)).fields, [['Host', value]]);
    });
  }

  for (const value of ['a b', 'a/b', 'user@host', 'h\x80', 'h?x', 'h#x', 'a"b', 'a\tb']) {
    test(`400 for Host ${JSON.stringify(value)}`, () =>
      rejects(head('GET / HTTP/1.1', `Host: ${value}`), 400));
  }
});

describe('Content-Length', () => {
  for (const [value, expected] of [
    ['0', 0],
    ['42', 42],
    ['007', 7],
    [' 5 ', 5],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ] as const) {
    test(`${JSON.stringify(value)} is ${expected}`, () => {
      assert.equal(ok(withFields(`Content-Length:${value}`)).contentLength, expected);
    });
  }

  for (const value of [
    '+5',
    '-5',
    '5 5',
    '0x5',
    '5a',
    'a',
    '',
    '5,5',
    '5, 5',
    '1.5',
    '9007199254740992',
    '9'.repeat(30),
  ]) {
    test(`400 for ${JSON.stringify(value)}`, () => rejects(withFields(`Content-Length: ${value}`), 400));
  }

  test('identical duplicates are accepted, in any name case', () => {
    assert.equal(ok(withFields('Content-Length: 5', 'content-length: 5')).contentLength, 5);
    assert.equal(ok(withFields('Content-Length: 5', 'CONTENT-LENGTH: 005')).contentLength, 5);
  });

  test('differing duplicates are 400', () => {
    rejects(withFields('Content-Length: 5', 'Content-Length: 6'), 400);
    rejects(withFields('Content-Length: 0', 'Content-Length: 5'), 400);
  });
});

describe('Transfer-Encoding', () => {
  for (const value of [
    'chunked',
    'Chunked',
    'CHUNKED',
    ' chunked ',
    ', chunked',
    'chunked,',
    ' , chunked , ',
  ]) {
    test(`${JSON.stringify(value)} means chunked`, () => {
      const s = ok(withFields(`Transfer-Encoding: ${value}`));
      assert.equal(s.chunked, true);
      assert.equal(s.contentLength, -1);
    });
  }

  for (const [name, fields, status] of [
    ['gzip, chunked', ['Transfer-Encoding: gzip, chunked'], 501],
    ['gzip then chunked on two lines', ['Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'], 501],
    ['an unknown coding then chunked', ['Transfer-Encoding: foo, chunked'], 501],
    ['chunked, gzip', ['Transfer-Encoding: chunked, gzip'], 400],
    ['chunked then gzip on two lines', ['Transfer-Encoding: chunked', 'Transfer-Encoding: gzip'], 400],
    ['gzip alone', ['Transfer-Encoding: gzip'], 400],
    ['identity', ['Transfer-Encoding: identity'], 400],
    ['chunked twice', ['Transfer-Encoding: chunked, chunked'], 400],
    ['chunked on two lines', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], 400],
    ['an empty value', ['Transfer-Encoding: '], 400],
    ['only commas', ['Transfer-Encoding: ,,'], 400],
    ['chunked with a parameter', ['Transfer-Encoding: chunked;q=1'], 400],
    ['chunked after a last empty line', ['Transfer-Encoding: chunked', 'Transfer-Encoding:'], 400],
    ['chunked with Content-Length', ['Transfer-Encoding: chunked', 'Content-Length: 5'], 400],
    ['Content-Length with chunked', ['Content-Length: 0', 'Transfer-Encoding: chunked'], 400],
    ['gzip, chunked with Content-Length', ['Transfer-Encoding: gzip, chunked', 'Content-Length: 5'], 400],
  ] as const) {
    test(`${status} for ${name}`, () => rejects(withFields(...fields), status));
  }

  test('400 in an HTTP/1.0 request', () => {
    rejects(head('POST / HTTP/1.0', 'Transfer-Encoding: chunked'), 400);
  });
});

describe('Connection, Upgrade and Expect', () => {
  const flags = (s: Summary) => [s.connectionClose, s.connectionKeepAlive];

  for (const [value, expected] of [
    ['close', [true, false]],
    ['Close', [true, false]],
    ['keep-alive', [false, true]],
    ['Keep-Alive', [false, true]],
    ['upgrade', [false, false]],
    ['keep-alive, Upgrade', [false, true]],
    [' foo ,CLOSE,, bar', [true, false]],
    ['closed', [false, false]],
    ['close-ish, keepalive', [false, false]],
    ['', [false, false]],
  ] as const) {
    test(`Connection: ${JSON.stringify(value)}`, () => {
      assert.deepEqual(flags(ok(withFields(`Connection: ${value}`))), expected);
    });
  }

  test('tokens from several Connection lines add up', () => {
    assert.deepEqual(flags(ok(withFields('Connection: keep-alive', 'connection: close'))), [true, true]);
  });

  test('Upgrade is noted', () => {
    assert.equal(ok(withFields('Upgrade: websocket', 'Connection: Upgrade')).hasUpgrade, true);
    assert.equal(ok(withFields('X-Upgrade: websocket')).hasUpgrade, false);
  });

  test('no Connection field sets no flag', () => {
    assert.deepEqual(flags(ok(withFields())), [false, false]);
  });

  test('Expect: 100-continue sets the flag, in any case', () => {
    assert.equal(ok(withFields('Expect: 100-continue')).expectContinue, true);
    assert.equal(ok(withFields('expect:  100-Continue ')).expectContinue, true);
    assert.equal(ok(withFields()).expectContinue, false);
  });

  for (const value of ['200-ok', '100-continue, foo', '100-continued', '']) {
    test(`417 for Expect: ${JSON.stringify(value)}`, () => rejects(withFields(`Expect: ${value}`), 417));
  }

  test('a malformed head is 400 before an unsupported expectation is 417', () => {
    rejects(head('GET / HTTP/1.1', 'Expect: foo'), 400);
  });
});

describe('helpers', () => {
  test('methodString interns the common methods and copies the rest', () => {
    const buf = Buffer.from('GET OPTIONS get M-SEARCH', 'latin1');
    assert.equal(methodString(buf, 0, 3), 'GET');
    assert.equal(methodString(buf, 4, 11), 'OPTIONS');
    assert.equal(methodString(buf, 12, 15), 'get');
    assert.equal(methodString(buf, 16, 24), 'M-SEARCH');
  });

  test('bytesEqualLower compares ASCII case-insensitively against a lower-case name', () => {
    const buf = Buffer.from('Content-LENGTH', 'latin1');
    assert.equal(bytesEqualLower(buf, 0, 14, 'content-length'), true);
    assert.equal(bytesEqualLower(buf, 0, 13, 'content-length'), false);
    assert.equal(bytesEqualLower(buf, 0, 14, 'content-lengtx'), false);
  });

  test('a ParsedHead reused for a second parse keeps nothing of the first', () => {
    const parsed = new ParsedHead();
    const first = Buffer.from(
      withFields('Content-Length: 5', 'Connection: close, upgrade', 'Expect: 100-continue', 'Upgrade: x'),
      'latin1',
    );
    assert.equal(parseHead(first, 0, first.length, parsed, LIMITS), first.length);
    const second = Buffer.from(head('GET /?q HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'), 'latin1');
    assert.equal(parseHead(second, 0, second.length, parsed, LIMITS), second.length);
    assert.deepEqual(summarize(second, parsed, 0), ok(second));
    const third = Buffer.from(head('GET / HTTP/1.1'), 'latin1');
    assert.equal(parseHead(third, 0, third.length, parsed, LIMITS), -400);
    assert.equal(parseHead(second, 0, second.length, parsed, LIMITS), second.length);
    assert.equal(parsed.error, '');
  });
});

// ───────────────────────────── properties ─────────────────────────────

const HEAD_STATUSES = new Set([400, 414, 431, 501, 505, 417]);

/** Checks the invariants of one outcome on `buf` (the input alone, head at offset 0 after empty lines). */
function checkOutcome(buf: Buffer, outcome: Outcome, limits: HeadLimits): void {
  if (outcome.status === -1) return;
  if (outcome.status < 0) {
    assert.ok(HEAD_STATUSES.has(-outcome.status), `unexpected status ${outcome.status}`);
    return;
  }
  const s = outcome.summary!;
  const headStart = skipLeadingEmptyLines(buf, 0, buf.length);
  assert.ok(s.end > headStart && s.end <= buf.length);
  assert.equal(buf.toString('latin1', s.end - 4, s.end), '\r\n\r\n');
  assert.ok(s.fields.length <= limits.maxHeaderCount);
  assert.ok(s.target.length <= limits.maxUrlLength);
  for (const [name, value] of s.fields) {
    assert.match(name, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
    assert.doesNotMatch(value, /[\x00-\x08\x0a-\x1f\x7f]|^[ \t]|[ \t]$/);
  }
}

// Heads built from plausible pieces, most of them valid, some of them each kind of wrong.
/** Mostly one of `valid`, sometimes one of `invalid`. */
const choose = (valid: string[], invalid: string[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...valid), weight: 12 },
    { arbitrary: fc.constantFrom(...invalid), weight: 1 },
  );
const separator = choose([' '], ['  ', '\t', '']);
const lineEnd = choose(['\r\n'], ['\n', '\r', '']);
const headLike = fc
  .tuple(
    choose(['', '', '', '\r\n', '\r\n\r\n'], ['\n', '\r']),
    choose(['GET', 'POST', 'CONNECT', 'OPTIONS', 'M-SEARCH', 'get'], ['', 'G(T']),
    separator,
    choose(['/', '/a/b?c=1', '*', 'http://h/p?q', 'http://h', 'h:443'], ['/a#b', '/\x00', '/\xff', 'x']),
    separator,
    choose(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'], ['HTTP/2.0', 'HTTP/1.1x', 'http/1.1', '']),
    lineEnd,
    fc.array(
      fc.tuple(
        choose(
          [
            'Host: x',
            'Host: x',
            'Host: x',
            'Content-Length: 5',
            'Transfer-Encoding: chunked',
            'Connection: close',
            'Connection: keep-alive, upgrade',
            'Upgrade: websocket',
            'Expect: 100-continue',
            'X-A: v',
            'X-B:  spaced \t',
            'X-E: caf\xe9',
            'X-F:',
          ],
          [
            'Host: a b',
            'Content-Length: 6',
            'Content-Length: -1',
            'Transfer-Encoding: gzip',
            'Transfer-Encoding: gzip, chunked',
            'Expect: nope',
            ' folded',
            'X C: v',
            'X-D: a\x00b',
            '\x7f: y',
          ],
        ),
        lineEnd,
      ),
      { maxLength: 6 },
    ),
    lineEnd,
    fc.oneof(
      { arbitrary: fc.constant(null), weight: 4 },
      { arbitrary: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), weight: 1 },
    ),
  )
  .map(([lead, method, sp1, target, sp2, version, eol, fields, last, insert]) => {
    let text = lead + method + sp1 + target + sp2 + version + eol;
    for (const [field, end] of fields) text += field + end;
    text += last;
    if (insert !== null) {
      const at = insert[0] % (text.length + 1);
      text = text.slice(0, at) + String.fromCharCode(insert[1]) + text.slice(at);
    }
    return Buffer.from(text, 'latin1');
  });

const arbitraryBytes = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes));

test('property: arbitrary bytes never throw, every mode agrees, results are valid', () => {
  fc.assert(
    fc.property(fc.oneof(arbitraryBytes, headLike), (buf) => {
      const outcome = agree(buf, LIMITS);
      checkOutcome(buf, outcome, LIMITS);
    }),
    { seed: 42, numRuns: 600 },
  );
});

test('property: arbitrary bytes under small limits never throw, and accept or reject alike in every mode', () => {
  fc.assert(
    fc.property(fc.oneof(arbitraryBytes, headLike), (buf) => {
      const [whole, ...others] = outcomes(buf, SMALL);
      checkOutcome(buf, whole!, SMALL);
      for (const other of others) {
        checkOutcome(buf, other, SMALL);
        // A head that breaks several rules may be refused for a different one when it arrives in
        // pieces (a limit is seen before the end), but never accepted in one mode and not another.
        assert.equal(other.status < 0, whole!.status < 0);
        assert.deepEqual(other.summary, whole!.summary);
      }
    }),
    { seed: 42, numRuns: 400 },
  );
});

/** Valid heads around the limits: long methods and targets, many and long fields. */
const sizedHead = fc
  .record({
    method: fc.constantFrom('GET', 'M'.repeat(100)),
    target: fc.integer({ min: 1, max: 300 }),
    fields: fc.nat(8),
    value: fc.nat(100),
  })
  .map(({ method, target, fields, value }) => {
    const lines = [`${method} /${'a'.repeat(target - 1)} HTTP/1.1`, 'Host: x'];
    for (let i = 0; i < fields; i++) lines.push(`X-${i}: ${'v'.repeat(value)}`);
    return { buf: Buffer.from(head(...lines), 'latin1'), target, fieldCount: fields + 1 };
  });

test('property: a head near the limits gets the same verdict whole and byte by byte', () => {
  fc.assert(
    fc.property(sizedHead, ({ buf, target, fieldCount }) => {
      let expected = 0;
      if (target > SMALL.maxUrlLength) expected = -414;
      else if (buf.length > SMALL.maxHeaderBytes || fieldCount > SMALL.maxHeaderCount) expected = -431;
      assert.equal(agree(buf, SMALL).status, expected);
    }),
    { seed: 42, numRuns: 300 },
  );
});

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split('');
const token = (maxLength: number) => fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength });
const PATH_CHARS = "abcxyzABCXYZ0189-._~!$&'()*+,;=:@/%".split('');
const VALUE_CHARS: string[] = [];
for (let c = 0x21; c <= 0x7e; c++) VALUE_CHARS.push(String.fromCharCode(c));
for (const c of [0x80, 0xa0, 0xe9, 0xff]) VALUE_CHARS.push(String.fromCharCode(c));
const SPECIAL = new Set(['host', 'content-length', 'transfer-encoding', 'expect', 'connection', 'upgrade']);
const ows = fc.constantFrom('', ' ', '\t', ' \t ');

/** A field value without surrounding whitespace: visible words joined by SP or HTAB. */
const fieldValue = fc
  .array(fc.tuple(fc.string({ unit: fc.constantFrom(...VALUE_CHARS), minLength: 1, maxLength: 8 }), ows), {
    maxLength: 4,
  })
  .map((words) =>
    words
      .map(([word, space], i) => (i < words.length - 1 ? word + (space === '' ? ' ' : space) : word))
      .join(''),
  );

const validRequest = fc.record({
  method: token(10).filter((m) => m !== 'CONNECT'),
  path: fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 30 }).map((p) => `/${p}`),
  query: fc.option(fc.string({ unit: fc.constantFrom(...PATH_CHARS, '?', '='), maxLength: 20 })),
  minor: fc.constantFrom(0, 1),
  fields: fc.array(
    fc.record({
      name: token(12).filter((n) => !SPECIAL.has(n.toLowerCase())),
      before: ows,
      value: fieldValue,
      after: ows,
    }),
    { maxLength: 12 },
  ),
  framing: fc.constantFrom('none', 'length', 'chunked'),
  length: fc.nat(),
  leadingLines: fc.nat(2),
});

test('property: valid requests parse the same whole and byte by byte, and header() finds every value', () => {
  fc.assert(
    fc.property(validRequest, (r) => {
      const target = r.path + (r.query === null ? '' : `?${r.query}`);
      const entries: { name: string; raw: string; value: string }[] = [];
      if (r.minor === 1) entries.push({ name: 'Host', raw: ' example.com', value: 'example.com' });
      for (const f of r.fields)
        entries.push({ name: f.name, raw: f.before + f.value + f.after, value: f.value });
      if (r.framing === 'length')
        entries.push({ name: 'Content-Length', raw: ` ${r.length}`, value: `${r.length}` });
      if (r.framing === 'chunked' && r.minor === 1)
        entries.push({ name: 'Transfer-Encoding', raw: ' chunked', value: 'chunked' });
      const lines = [`${r.method} ${target} HTTP/1.${r.minor}`, ...entries.map((e) => `${e.name}:${e.raw}`)];
      const input = '\r\n'.repeat(r.leadingLines) + head(...lines);

      const s = ok(input);
      assert.equal(s.method, r.method);
      assert.equal(s.target, target);
      assert.equal(s.path, r.path);
      assert.equal(s.query, r.query);
      assert.equal(s.minorVersion, r.minor);
      assert.equal(s.contentLength, r.framing === 'length' ? r.length : -1);
      assert.equal(s.chunked, r.framing === 'chunked' && r.minor === 1);

      const buf = Buffer.from(input, 'latin1');
      const req = new Request();
      const start = skipLeadingEmptyLines(buf, 0, buf.length);
      assert.equal(parseHead(buf, start, buf.length, req.head, LIMITS), buf.length);
      req.init(
        {
          scheme: 'http',
          remoteAddress: undefined,
          remotePort: undefined,
          ownProtocol: 'http',
          proxyTrust: null,
          signalWanted() {},
          setHandlerTimeout() {},
        },
        methodString(buf, start, req.head.methodEnd),
      );
      assert.equal(req.method, r.method);
      assert.deepEqual(
        [...req.headers()],
        entries.map((e) => [e.name, e.value]),
      );
      const combined = new Map<string, string[]>();
      for (const e of entries) {
        const key = e.name.toLowerCase();
        combined.set(key, [...(combined.get(key) ?? []), e.value]);
      }
      for (const [key, values] of combined) {
        const joined = values.join(key === 'cookie' ? '; ' : ', ');
        assert.equal(req.header(key), joined);
        assert.equal(req.header(key.toUpperCase()), joined);
      }
    }),
    { seed: 42, numRuns: 300 },
  );
});
