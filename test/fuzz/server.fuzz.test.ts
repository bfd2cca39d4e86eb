import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Server } from '../../src/index.ts';
import { type ParsedResponse, parseResponses, RawClient, start } from '../helpers.ts';
import { mutate, mutation as mutationOf } from '../mutate.ts';

// Random and mutated requests over real sockets. For every connection the server must answer with
// well-formed responses only, close after any 4xx (or 501/505), never answer 500 (our handler never
// fails by itself), and close the connection within a bounded time: the timeouts below bound partial
// heads, partial bodies and idle keep-alive. Afterwards the server still serves a normal request.

const OPTIONS = {
  headersTimeout: 300,
  requestTimeout: 500,
  keepAliveTimeout: 1000, // long enough that a loaded machine never makes a client late for its first byte
  maxBodyBytes: 16 * 1024,
  maxHeaderBytes: 2048,
  maxUrlLength: 512,
  maxHeaderCount: 20,
};
/** The longest a connection may stay open: the longest timeout, the timer's tick, and slack for CI. */
const CONNECTION_BOUND_MS = 3000;
const ERROR_STATUSES = new Set([400, 408, 413, 414, 417, 431, 501, 505]);

let server: Server;
const handlerErrors: unknown[] = [];

before(async () => {
  server = await start(
    async (req, res) => {
      const body = await req.bytes();
      res.setHeader('Content-Type', 'text/plain');
      res.end(`${req.method} ${req.target} ${body.length}`);
    },
    { ...OPTIONS, onError: (error) => handlerErrors.push(error) },
  );
});

after(async () => {
  await server.shutdown();
});

interface Exchange {
  received: string;
  /** Whether the server closed the connection within the bound (false: we gave up waiting). */
  closed: boolean;
}

/**
 * Sends `pieces` (a few ms apart) on a fresh connection and collects everything until the server
 * closes it. The client closes its side when the server does (no half-open), so 'close' is prompt.
 */
function exchangePieces(port: number, pieces: Buffer[]): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' });
    let settled = false;
    const settle = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(() => settle(false), CONNECTION_BOUND_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // EPIPE / ECONNRESET after the server closed: 'close' follows
    socket.on('close', () => settle(true));
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed || settled) return;
        socket.write(piece);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
}

/** Asserts what one connection received is a sequence of well-formed responses, ending as it must. */
function checkExchange(input: Buffer, exchange: Exchange): ParsedResponse[] {
  const label = JSON.stringify(input.toString('latin1')).slice(0, 300);
  assert.ok(exchange.closed, `the connection stayed open over ${CONNECTION_BOUND_MS} ms for ${label}`);
  const text = exchange.received;
  const responses = parseResponses(text);
  const parsedLength = responses.reduce((sum, r) => sum + r.raw.length, 0);
  assert.equal(
    parsedLength,
    text.length,
    `unparsable bytes in the answer to ${label}: ${JSON.stringify(text)}`,
  );
  for (const [i, r] of responses.entries()) {
    assert.match(r.raw, /^HTTP\/1\.1 [1-5]\d\d [^\r\n]*\r\n/, `bad status line for ${label}`);
    assert.notEqual(r.status, 500, `500 for ${label}: ${JSON.stringify(text)}`);
    if (r.status >= 400) {
      assert.ok(ERROR_STATUSES.has(r.status), `unexpected status ${r.status} for ${label}`);
      assert.equal(
        r.headers.get('connection'),
        'close',
        `${r.status} without Connection: close for ${label}`,
      );
      assert.equal(i, responses.length - 1, `bytes after a ${r.status} for ${label}`);
    } else if (r.status >= 200) {
      assert.equal(r.status, 200);
      assert.match(r.body, /^\S+ \S+ \d+$/, `unexpected body for ${label}`);
    } else {
      assert.equal(r.status, 100, `unexpected interim status for ${label}`);
    }
  }
  // Silence is right only for an input of nothing but empty lines (an idle connection times out).
  if (responses.length === 0) {
    assert.match(input.toString('latin1'), /^(\r\n)*$/, `no response at all for ${label}`);
  }
  return responses;
}

// ───────────────────────────── inputs ─────────────────────────────

const pick = <T>(...options: T[]) => fc.constantFrom(...options);

/** Valid requests of every framing; mutations start from these. */
const validRequest = fc
  .record({
    method: pick('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'X-CUSTOM'),
    target: pick('/', '/a/b?c=d&e', '/%20x?y=%zz', 'http://example.com/p?q', '/' + 'p'.repeat(40)),
    version: pick('1.1', '1.1', '1.1', '1.0'),
    body: fc.string({ maxLength: 40 }),
    framing: pick('none', 'length', 'chunked', 'chunked-ext'),
    extra: fc.array(
      pick(
        'Connection: close',
        'Connection: keep-alive',
        'Expect: 100-continue',
        'X-A: b\tc',
        'Cookie: a=1',
        'Accept: */*',
      ),
      { maxLength: 3 },
    ),
  })
  .map(({ method, target, version, body, framing, extra }) => {
    const lines = [`${method} ${target} HTTP/${version}`];
    if (version === '1.1') lines.push('Host: example.com');
    lines.push(...extra);
    let payload = '';
    if (framing === 'length' || (version === '1.0' && framing !== 'none')) {
      lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
      payload = body;
    } else if (framing !== 'none') {
      lines.push('Transfer-Encoding: chunked');
      const ext = framing === 'chunked-ext' ? ';a="b"' : '';
      const bytes = Buffer.from(body);
      const half = bytes.length >> 1;
      for (const part of [bytes.subarray(0, half), bytes.subarray(half)]) {
        if (part.length > 0) payload += `${part.length.toString(16)}${ext}\r\n${part.toString('latin1')}\r\n`;
      }
      payload += `0\r\n${framing === 'chunked-ext' ? 'X-Trailer: t\r\n' : ''}\r\n`;
    }
    const buf = Buffer.from(`${lines.join('\r\n')}\r\n\r\n${payload}`, 'latin1');
    // Whether the server closes after answering it (RFC 9112 §9.3).
    const closes =
      extra.includes('Connection: close') || (version === '1.0' && !extra.includes('Connection: keep-alive'));
    return { buf, closes };
  });

/** An input, and how many 200 answers it must get when it is valid (null: unknown). */
type Input = { buf: Buffer; answers: number | null };

/** Valid requests sent together: each is answered with 200 up to the first that closes the connection. */
const pipelined = fc.array(validRequest, { minLength: 1, maxLength: 3 }).map((requests): Input => {
  const closing = requests.findIndex((r) => r.closes);
  return {
    buf: Buffer.concat(requests.map((r) => r.buf)),
    answers: closing === -1 ? requests.length : closing + 1,
  };
});

const INSERTS = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x3b, 0x22, 0x30, 0x7f, 0xff];

const mutation = mutationOf(fc.constantFrom(...INSERTS), 6, 30);

const mutated = pipelined.chain(({ buf }) =>
  fc
    .array(mutation, { minLength: 1, maxLength: 3 })
    .map((mutations): Input => ({ buf: mutations.reduce(mutate, buf), answers: null })),
);

const randomBytes = fc
  .uint8Array({ maxLength: 120 })
  .map((bytes): Input => ({ buf: Buffer.from(bytes), answers: null }));

const input = fc.oneof(
  { arbitrary: pipelined, weight: 3 },
  { arbitrary: mutated, weight: 8 },
  { arbitrary: randomBytes, weight: 1 },
);

/** An input and where to cut it into separate writes. */
const connectionCase = fc
  .tuple(input, fc.array(fc.nat(), { maxLength: 2 }))
  .map(([{ buf, answers }, cuts]) => {
    const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % buf.length)))].sort(
      (a, b) => a - b,
    );
    const pieces: Buffer[] = [];
    let from = 0;
    for (const p of points) {
      if (p > from) pieces.push(buf.subarray(from, p));
      from = Math.max(from, p);
    }
    pieces.push(buf.subarray(from));
    return { buf, answers, pieces: pieces.filter((p) => p.length > 0) };
  });

test('fuzz: random and mutated requests get well-formed answers and a bounded connection life', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(connectionCase, { minLength: 12, maxLength: 12 }), async (cases) => {
      const exchanges = await Promise.all(cases.map((c) => exchangePieces(server.port, c.pieces)));
      for (const [i, c] of cases.entries()) {
        const responses = checkExchange(c.buf, exchanges[i]!);
        if (c.answers !== null) {
          const statuses = responses.map((r) => r.status).filter((status) => status !== 100);
          const label = JSON.stringify(c.buf.toString('latin1'));
          assert.deepEqual(statuses, Array(c.answers).fill(200), `for the valid ${label}`);
        }
      }
    }),
    { seed: 42, numRuns: 25, endOnFailure: true },
  );
  assert.deepEqual(handlerErrors, []);
});

test('an empty line before the request line is skipped when its CR and LF arrive apart', async () => {
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line, also when
  // its CR and LF arrive in separate reads.
  for (const pieces of [
    ['\r', '\nGET /split HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['\r\n\r', '\nGET /split HTTP/1.1\r\nHost: x\r\n\r\n'],
  ]) {
    const exchange = await exchangePieces(
      server.port,
      pieces.map((p) => Buffer.from(p, 'latin1')),
    );
    assert.match(exchange.received, /^HTTP\/1\.1 200 /, `for ${JSON.stringify(pieces)}`);
  }
});

test('fuzz: the server still serves a normal request afterwards, and no connection is left behind', async () => {
  const client = await RawClient.open(server.port);
  client.send('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
  const [response] = await client.responses(1);
  assert.equal(response!.status, 200);
  assert.equal(response!.body, 'GET /after 0');
  client.close();
  const deadline = Date.now() + CONNECTION_BOUND_MS;
  while (server.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.connections, 0);
});
