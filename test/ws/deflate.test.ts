import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  deflateRawSync,
  type InflateRaw,
  inflateRawSync,
} from 'node:zlib';
import fc from 'fast-check';
import {
  type DeflateOptions,
  type DeflateParams,
  negotiateDeflate,
  PerMessageDeflate,
  parseExtensions,
  validateDeflateOptions,
} from '../../src/ws/deflate.ts';
import { WsError } from '../../src/ws/errors.ts';

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MB = 1024 * 1024;
const OPTIONS: DeflateOptions = { maxInflatedBytes: 16 * MB };
const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** The same agreement seen from the client: what it compresses with is the server's inflater, and so on. */
function mirror(p: DeflateParams): DeflateParams {
  return {
    serverNoContextTakeover: p.clientNoContextTakeover,
    clientNoContextTakeover: p.serverNoContextTakeover,
    serverMaxWindowBits: p.clientMaxWindowBits,
    clientMaxWindowBits: p.serverMaxWindowBits,
  };
}

/** What a client does with a stand-alone message: compress with a sync flush, strip the trailer. */
function clientFrame(message: Uint8Array, windowBits = 15): Buffer {
  const out = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH, windowBits });
  assert.deepEqual(out.subarray(out.length - 4), TRAILER);
  return out.subarray(0, out.length - 4);
}

/** Writes `inputs` through a zlib stream and collects what a sync flush brings out. */
function through(stream: DeflateRaw | InflateRaw, inputs: Uint8Array[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    stream.on('data', onData);
    stream.once('error', reject);
    for (const input of inputs) stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** A client that keeps its compression context across messages, written against node:zlib directly. */
class ZlibClient {
  readonly deflate: DeflateRaw;
  readonly inflate: InflateRaw;
  constructor(windowBits = 15) {
    this.deflate = createDeflateRaw({ windowBits: Math.max(windowBits, 9) });
    this.inflate = createInflateRaw({ windowBits: 15 });
  }
  async send(message: Uint8Array): Promise<Buffer> {
    const out = await through(this.deflate, [message]);
    assert.deepEqual(out.subarray(out.length - 4), TRAILER);
    return out.subarray(0, out.length - 4);
  }
  receive(payload: Uint8Array): Promise<Buffer> {
    return through(this.inflate, [payload, TRAILER]);
  }
  close(): void {
    this.deflate.destroy();
    this.inflate.destroy();
  }
}

/** Inflates a whole stream of our messages, each with its trailer put back, as one raw-deflate stream. */
function inflateAll(payloads: Buffer[]): Buffer {
  return inflateRawSync(Buffer.concat(payloads.flatMap((p) => [p, TRAILER])), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
}

function isWsError(code: string, closeCode: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof WsError, `expected a WsError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.closeCode, closeCode);
    return true;
  };
}

// ---------------------------------------------------------------------------------------------
// A small RFC 1951 decoder, independent of zlib, that reports the longest back-reference distance:
// zlib's own inflater does not enforce a window size, so it cannot show that we honour one.

const LBASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
  227, 258,
];
const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DBASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577,
];
const DEXT = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

interface Huffman {
  count: number[];
  symbol: number[];
}

function huffman(lengths: number[]): Huffman {
  const count = new Array<number>(16).fill(0);
  for (const l of lengths) count[l]!++;
  count[0] = 0;
  const offsets = [0, 0];
  for (let l = 1; l < 15; l++) offsets[l + 1] = offsets[l]! + count[l]!;
  const symbol: number[] = [];
  lengths.forEach((l, s) => {
    if (l !== 0) symbol[offsets[l]!++] = s;
  });
  return { count, symbol };
}

function inflateWithDistances(data: Uint8Array): { out: Buffer; maxDistance: number } {
  let pos = 0; // in bits
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = data[pos >> 3];
      if (byte === undefined) throw new Error('out of input');
      v |= ((byte >> (pos & 7)) & 1) << i;
      pos++;
    }
    return v;
  };
  const decode = (h: Huffman): number => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= bits(1);
      const count = h.count[len]!;
      if (code - count < first) return h.symbol[index + code - first]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error('invalid code');
  };
  const out: number[] = [];
  let maxDistance = 0;
  while (pos < data.length * 8) {
    const last = bits(1);
    const type = bits(2);
    if (type === 0) {
      pos = (pos + 7) & ~7;
      const at = pos >> 3;
      const len = data[at]! | (data[at + 1]! << 8);
      const nlen = data[at + 2]! | (data[at + 3]! << 8);
      assert.equal(len, ~nlen & 0xffff, 'stored block length');
      for (let i = 0; i < len; i++) out.push(data[at + 4 + i]!);
      pos += (4 + len) * 8;
    } else {
      let lit: Huffman;
      let dist: Huffman;
      if (type === 1) {
        const l: number[] = [];
        for (let s = 0; s < 288; s++) l.push(s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8);
        lit = huffman(l);
        dist = huffman(new Array<number>(30).fill(5));
      } else {
        assert.equal(type, 2, 'block type');
        const nlen = bits(5) + 257;
        const ndist = bits(5) + 1;
        const ncode = bits(4) + 4;
        const clen = new Array<number>(19).fill(0);
        for (let i = 0; i < ncode; i++) clen[CLEN_ORDER[i]!] = bits(3);
        const ch = huffman(clen);
        const lengths: number[] = [];
        while (lengths.length < nlen + ndist) {
          const sym = decode(ch);
          if (sym < 16) lengths.push(sym);
          else if (sym === 16) {
            const prev = lengths[lengths.length - 1]!;
            for (let r = 3 + bits(2); r > 0; r--) lengths.push(prev);
          } else if (sym === 17) for (let r = 3 + bits(3); r > 0; r--) lengths.push(0);
          else for (let r = 11 + bits(7); r > 0; r--) lengths.push(0);
        }
        lit = huffman(lengths.slice(0, nlen));
        dist = huffman(lengths.slice(nlen));
      }
      for (;;) {
        const sym = decode(lit);
        if (sym < 256) out.push(sym);
        else if (sym === 256) break;
        else {
          const len = LBASE[sym - 257]! + bits(LEXT[sym - 257]!);
          const dsym = decode(dist);
          const d = DBASE[dsym]! + bits(DEXT[dsym]!);
          assert.ok(d <= out.length, 'distance within the output');
          if (d > maxDistance) maxDistance = d;
          for (let i = 0; i < len; i++) out.push(out[out.length - d]!);
        }
      }
    }
    if (last) break;
  }
  return { out: Buffer.from(out), maxDistance };
}

// ---------------------------------------------------------------------------------------------

describe('negotiateDeflate', () => {
  const cases: [header: string | undefined, options: Partial<DeflateOptions>, response: string | null][] = [
    // What browsers send.
    ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate'],
    ['permessage-deflate', {}, 'permessage-deflate'],
    [
      'permessage-deflate; client_max_window_bits',
      { serverNoContextTakeover: true, clientMaxWindowBits: 12 },
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=12',
    ],
    // No client_max_window_bits in the offer: the server must not send it (RFC 7692 §7.1.2.2).
    ['permessage-deflate', { clientMaxWindowBits: 10 }, 'permessage-deflate'],
    ['permessage-deflate; client_max_window_bits=10', {}, 'permessage-deflate; client_max_window_bits=10'],
    [
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 12 },
      'permessage-deflate; client_max_window_bits=10',
    ],
    [
      'permessage-deflate; client_max_window_bits=13',
      { clientMaxWindowBits: 9 },
      'permessage-deflate; client_max_window_bits=9',
    ],
    ['permessage-deflate; client_max_window_bits=15', {}, 'permessage-deflate'],
    // server_max_window_bits: the same or a smaller value, always echoed; or imposed by the server.
    ['permessage-deflate; server_max_window_bits=10', {}, 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=15', {}, 'permessage-deflate; server_max_window_bits=15'],
    [
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=10',
    ],
    [
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=9',
    ],
    ['permessage-deflate', { serverMaxWindowBits: 11 }, 'permessage-deflate; server_max_window_bits=11'],
    ['permessage-deflate', { serverMaxWindowBits: 15 }, 'permessage-deflate'],
    ['permessage-deflate; server_max_window_bits=8', {}, 'permessage-deflate; server_max_window_bits=8'],
    // No context takeover: the client's request is accepted, the server may impose either.
    ['permessage-deflate; server_no_context_takeover', {}, 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate; client_no_context_takeover', {}, 'permessage-deflate; client_no_context_takeover'],
    [
      'permessage-deflate',
      { clientNoContextTakeover: true, serverNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ],
    [
      'permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
      {},
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
    ],
    // Several offers: the first acceptable one (RFC 7692 §7.1.3's example).
    [
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits',
      {},
      'permessage-deflate; server_max_window_bits=10',
    ],
    ['permessage-deflate; server_max_window_bits=7, permessage-deflate', {}, 'permessage-deflate'],
    [
      'permessage-deflate; foo=1, permessage-deflate; server_no_context_takeover',
      {},
      'permessage-deflate; server_no_context_takeover',
    ],
    // Multiple header lines joined by the HTTP layer.
    [
      'x-foo, permessage-deflate; bogus, permessage-deflate; client_max_window_bits=11',
      {},
      'permessage-deflate; client_max_window_bits=11',
    ],
    // Quoted values must unescape to a token.
    ['permessage-deflate; server_max_window_bits="10"', {}, 'permessage-deflate; server_max_window_bits=10'],
    [
      'permessage-deflate; server_max_window_bits="1\\0"',
      {},
      'permessage-deflate; server_max_window_bits=10',
    ],
    ['permessage-deflate; client_max_window_bits="9"', {}, 'permessage-deflate; client_max_window_bits=9'],
    ['permessage-deflate; server_max_window_bits="1 0"', {}, null],
    ['permessage-deflate; server_max_window_bits=""', {}, null],
    ['permessage-deflate; server_max_window_bits="10', {}, null],
    ['permessage-deflate; server_max_window_bits="10\\', {}, null],
    ['foo; a="x, permessage-deflate"; b="\\", permessage-deflate"', {}, null],
    ['foo; a="x, permessage-deflate", permessage-deflate', {}, 'permessage-deflate'],
    [
      'foo; a="x\\", permessage-deflate", permessage-deflate; server_no_context_takeover',
      {},
      'permessage-deflate; server_no_context_takeover',
    ],
    // Whitespace, case, empty list elements.
    [
      '  permessage-deflate ;  client_max_window_bits = 10  ',
      {},
      'permessage-deflate; client_max_window_bits=10',
    ],
    [
      '\tpermessage-deflate\t;\tserver_no_context_takeover\t',
      {},
      'permessage-deflate; server_no_context_takeover',
    ],
    ['PerMessage-Deflate; Client_Max_Window_Bits=12', {}, 'permessage-deflate; client_max_window_bits=12'],
    [', ,permessage-deflate,,', {}, 'permessage-deflate'],
    // Invalid values decline the offer.
    ['permessage-deflate; server_max_window_bits=7', {}, null],
    ['permessage-deflate; server_max_window_bits=16', {}, null],
    ['permessage-deflate; server_max_window_bits=010', {}, null],
    ['permessage-deflate; server_max_window_bits=1e1', {}, null],
    ['permessage-deflate; server_max_window_bits=-9', {}, null],
    ['permessage-deflate; server_max_window_bits=+9', {}, null],
    ['permessage-deflate; server_max_window_bits=9.0', {}, null],
    ['permessage-deflate; server_max_window_bits', {}, null],
    ['permessage-deflate; client_max_window_bits=0', {}, null],
    ['permessage-deflate; client_max_window_bits=abc', {}, null],
    ['permessage-deflate; server_no_context_takeover=1', {}, null],
    ['permessage-deflate; client_no_context_takeover=true', {}, null],
    ['permessage-deflate; client_no_context_takeover=""', {}, null],
    ['permessage-deflate; unknown_param', {}, null],
    ['permessage-deflate; x=1', {}, null],
    // Duplicates decline the offer.
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, null],
    ['permessage-deflate; client_max_window_bits; client_max_window_bits=10', {}, null],
    ['permessage-deflate; server_max_window_bits=10; Server_Max_Window_Bits=10', {}, null],
    // Malformed syntax.
    ['permessage-deflate;', {}, null],
    ['permessage-deflate; ;client_max_window_bits', {}, null],
    ['permessage-deflate client_max_window_bits', {}, null],
    ['permessage-deflate; client_max_window_bits=', {}, null],
    ['permessage-deflate; client_max_window_bits==10', {}, null],
    ['permessage-deflate; =10', {}, null],
    ['"permessage-deflate"', {}, null],
    ['permessage-deflate; server_max_window_bits=1"0"', {}, null],
    ['permessage-deflate; server_max_window_bits="10"x', {}, null],
    ['permessage-deflate/1', {}, null],
    // Unknown extensions are ignored; none or nothing acceptable is null.
    ['x-webkit-deflate-frame', {}, null],
    ['x-webkit-deflate-frame, permessage-deflate; client_max_window_bits', {}, 'permessage-deflate'],
    ['permessage-deflate-x, deflate-frame', {}, null],
    [undefined, {}, null],
    ['', {}, null],
    ['   ', {}, null],
    [',', {}, null],
    [';;;', {}, null],
    ['"', {}, null],
    ['\\', {}, null],
    ['\u0000\u00ff\uffff', {}, null],
  ];

  for (const [header, options, expected] of cases) {
    test(`${JSON.stringify(header)} ${JSON.stringify(options)}`, () => {
      const result = negotiateDeflate(header, { ...OPTIONS, ...options });
      assert.equal(result === null ? null : result.response, expected);
    });
  }

  test('agreed parameters', () => {
    assert.deepEqual(
      negotiateDeflate('permessage-deflate; client_max_window_bits', OPTIONS)?.params,
      DEFAULTS,
    );
    assert.deepEqual(
      negotiateDeflate('permessage-deflate', { ...OPTIONS, clientMaxWindowBits: 9 })?.params,
      DEFAULTS,
    );
    assert.deepEqual(
      negotiateDeflate('permessage-deflate; client_no_context_takeover; server_max_window_bits=12', {
        ...OPTIONS,
        serverNoContextTakeover: true,
        serverMaxWindowBits: 10,
      })?.params,
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 15,
      },
    );
    assert.deepEqual(
      negotiateDeflate('permessage-deflate; client_max_window_bits=8; server_max_window_bits=8', OPTIONS)
        ?.params,
      { ...DEFAULTS, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    );
  });

  test('invalid options throw, invalid headers never do', () => {
    for (const bad of [
      { serverMaxWindowBits: 7 },
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 9.5 },
      { level: 10 },
      { level: -2 },
      { threshold: -1 },
      { threshold: Number.NaN },
      { maxInflatedBytes: -1 },
      { maxInflatedBytes: Number.POSITIVE_INFINITY },
    ]) {
      assert.throws(() => negotiateDeflate('permessage-deflate', { ...OPTIONS, ...bad }), RangeError);
      assert.throws(() => validateDeflateOptions({ ...OPTIONS, ...bad }), RangeError);
      assert.throws(() => new PerMessageDeflate(DEFAULTS, { ...OPTIONS, ...bad }), RangeError);
    }
    assert.throws(() => validateDeflateOptions(null as unknown as DeflateOptions), TypeError);
    validateDeflateOptions({ maxInflatedBytes: 0, level: -1, threshold: 0, serverMaxWindowBits: 8 });
  });

  const fragments = fc.constantFrom(
    'permessage-deflate',
    'x-webkit-deflate-frame',
    'server_no_context_takeover',
    'client_no_context_takeover',
    'server_max_window_bits',
    'client_max_window_bits',
    ';',
    ',',
    '=',
    '"',
    '\\',
    ' ',
    '\t',
    '7',
    '8',
    '10',
    '15',
    '16',
    '010',
    'x',
    '\u0000',
    'é',
  );

  test('never throws; whatever it accepts is a valid single-extension response', () => {
    const check = (header: string) => {
      const result = negotiateDeflate(header, OPTIONS);
      if (result === null) return;
      const parsed = parseExtensions(result.response);
      assert.equal(parsed.length, 1);
      assert.equal(parsed[0]?.name, 'permessage-deflate');
      // The response is itself an acceptable offer with the same outcome.
      assert.deepEqual(negotiateDeflate(result.response, OPTIONS), result);
      const { params } = result;
      for (const bits of [params.serverMaxWindowBits, params.clientMaxWindowBits]) {
        assert.ok(Number.isInteger(bits) && bits >= 8 && bits <= 15);
      }
    };
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), check), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.array(fragments, { maxLength: 24 }), (parts) => check(parts.join(''))),
      { numRuns: 5000 },
    );
  });
});

describe('parseExtensions and the threshold', () => {
  test('parseExtensions keeps order, lower-cases names, unescapes values, marks malformed elements', () => {
    assert.deepEqual(parseExtensions('Foo; A=1; b="x\\y", bar, ,baz;;, qux'), [
      {
        name: 'foo',
        params: [
          ['a', '1'],
          ['b', 'xy'],
        ],
      },
      { name: 'bar', params: [] },
      null,
      { name: 'qux', params: [] },
    ]);
    assert.deepEqual(parseExtensions(undefined), []);
    assert.deepEqual(parseExtensions(''), []);
  });

  test('the compression threshold is 1024 by default', () => {
    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    assert.equal(d.threshold, 1024);
    assert.equal(new PerMessageDeflate(DEFAULTS, { ...OPTIONS, threshold: 0 }).threshold, 0);
    assert.deepEqual(d.params, DEFAULTS);
  });
});

// ---------------------------------------------------------------------------------------------

const paramsArb = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
  clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
});

/** Messages with some repetition, so that back-references (and context takeover) matter. */
const messageArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.integer({ min: 1, max: 40 }))
    .map(([chunk, n]) => Buffer.concat(new Array<Buffer>(n).fill(Buffer.from(chunk)))),
  fc.string({ maxLength: 500 }).map((s) => Buffer.from(s.repeat(3))),
);

describe('PerMessageDeflate', () => {
  test('round trips between two endpoints, every combination of parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        paramsArb,
        fc.array(messageArb, { minLength: 1, maxLength: 8 }),
        async (params, messages) => {
          const server = new PerMessageDeflate(params, OPTIONS);
          const client = new PerMessageDeflate(mirror(params), OPTIONS);
          try {
            for (const message of messages) {
              const down = await server.compress(Buffer.from(message));
              assert.deepEqual(await client.decompress(down), Buffer.from(message));
              const up = await client.compress(Buffer.from(message));
              assert.deepEqual(await server.decompress(up), Buffer.from(message));
            }
          } finally {
            server.close();
            client.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('round trips with calls issued back to back', async () => {
    await fc.assert(
      fc.asyncProperty(
        paramsArb,
        fc.array(messageArb, { minLength: 1, maxLength: 12 }),
        async (params, messages) => {
          const server = new PerMessageDeflate(params, OPTIONS);
          const client = new PerMessageDeflate(mirror(params), OPTIONS);
          try {
            const down = await Promise.all(messages.map((m) => server.compress(Buffer.from(m))));
            const received = await Promise.all(down.map((d) => client.decompress(d)));
            assert.deepEqual(
              received,
              messages.map((m) => Buffer.from(m)),
            );
            const up = await Promise.all(messages.map((m) => client.compress(Buffer.from(m))));
            const back = await Promise.all(up.map((u) => server.decompress(u)));
            assert.deepEqual(
              back,
              messages.map((m) => Buffer.from(m)),
            );
          } finally {
            server.close();
            client.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('our output inflates with node:zlib once the trailer is put back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 8, max: 15 }),
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        async (noContext, bits, messages) => {
          const d = new PerMessageDeflate(
            { ...DEFAULTS, serverNoContextTakeover: noContext, serverMaxWindowBits: bits },
            OPTIONS,
          );
          const payloads: Buffer[] = [];
          for (const m of messages) payloads.push(await d.compress(Buffer.from(m)));
          d.close();
          // With context takeover the messages form one stream; without, each also stands alone.
          assert.deepEqual(inflateAll(payloads), Buffer.concat(messages));
          if (noContext) {
            payloads.forEach((p, i) => {
              assert.deepEqual(inflateAll([p]), Buffer.from(messages[i]!));
            });
          }
          // A client keeping its context decodes them one by one.
          const client = new ZlibClient();
          for (let i = 0; i < payloads.length; i++) {
            assert.deepEqual(await client.receive(payloads[i]!), Buffer.from(messages[i]!));
          }
          client.close();
        },
      ),
      { numRuns: 100 },
    );
  });

  test('what a node:zlib client sends decompresses, with and without its context takeover', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 8, max: 15 }),
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        async (noContext, bits, messages) => {
          const d = new PerMessageDeflate(
            { ...DEFAULTS, clientNoContextTakeover: noContext, clientMaxWindowBits: bits },
            OPTIONS,
          );
          const client = new ZlibClient(bits);
          for (const m of messages) {
            const frame = noContext ? clientFrame(m, Math.max(bits, 9)) : await client.send(m);
            assert.deepEqual(await d.decompress(frame), Buffer.from(m));
          }
          client.close();
          d.close();
        },
      ),
      { numRuns: 100 },
    );
  });

  test('the agreed server window is honoured, 8 included (zlib runs it as 9)', async () => {
    for (let bits = 8; bits <= 15; bits++) {
      const d = new PerMessageDeflate({ ...DEFAULTS, serverMaxWindowBits: bits }, OPTIONS);
      const payloads: Buffer[] = [];
      const messages: Buffer[] = [];
      // Repeats at distances just past each window size tempt the compressor to reach too far.
      const periods = [200, 240, 255, 256, 257, 300, 511, 513, 1000, 4000, 20000, 40000];
      if (bits >= 10) periods.push(2 ** bits - 300, 2 ** bits + 1);
      for (const period of periods) {
        const message = Buffer.concat(new Array<Buffer>(4).fill(randomBytes(period)));
        messages.push(message);
        payloads.push(await d.compress(message));
      }
      d.close();
      const { out, maxDistance } = inflateWithDistances(Buffer.concat(payloads.flatMap((p) => [p, TRAILER])));
      assert.deepEqual(out, Buffer.concat(messages));
      assert.ok(maxDistance <= 2 ** bits, `window ${bits}: distance ${maxDistance}`);
      // zlib reaches at most 262 bytes short of its window: 250 with the 512 bytes it uses for 8 and 9.
      const reach = bits <= 9 ? 240 : 2 ** bits - 300;
      assert.ok(maxDistance >= reach, `window ${bits}: the window was used (${maxDistance})`);
    }
  });

  test('with context takeover a repeated message compresses smaller the second time', async () => {
    const message = Buffer.from(
      JSON.stringify({ type: 'update', items: [...Array(60).keys()].map((i) => `x${i * 7}`) }),
    );
    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    const first = await d.compress(message);
    const second = await d.compress(message);
    assert.ok(second.length < first.length / 4, `${second.length} vs ${first.length}`);
    assert.deepEqual(inflateAll([first, second]), Buffer.concat([message, message]));
    d.close();

    const fresh = new PerMessageDeflate({ ...DEFAULTS, serverNoContextTakeover: true }, OPTIONS);
    const a = await fresh.compress(message);
    const b = await fresh.compress(message);
    assert.deepEqual(a, b, 'without context takeover every message is compressed from scratch');
    assert.deepEqual(a, first);
    assert.deepEqual(inflateAll([b]), message);
    fresh.close();
  });

  test('the server inflater keeps the client context unless client_no_context_takeover', async () => {
    const message = Buffer.from('the same message, again and again. '.repeat(20));
    const client = new ZlibClient();
    const first = await client.send(message);
    const second = await client.send(message);
    assert.ok(second.length < first.length);
    const keeping = new PerMessageDeflate(DEFAULTS, OPTIONS);
    assert.deepEqual(await keeping.decompress(first), message);
    assert.deepEqual(await keeping.decompress(second), message);
    keeping.close();
    // A reset inflater cannot resolve the second message's reference into the first.
    const resetting = new PerMessageDeflate({ ...DEFAULTS, clientNoContextTakeover: true }, OPTIONS);
    assert.deepEqual(await resetting.decompress(first), message);
    await assert.rejects(resetting.decompress(second), isWsError('ERR_PEREGRINE_WS_INFLATE_FAILED', 1007));
    resetting.close();
    client.close();
  });

  test('empty messages', async () => {
    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    const empty = await d.compress(Buffer.alloc(0));
    assert.deepEqual(inflateAll([empty]), Buffer.alloc(0));
    assert.deepEqual(await d.decompress(Buffer.from([0x00])), Buffer.alloc(0));
    assert.deepEqual(await d.decompress(clientFrame(Buffer.alloc(0))), Buffer.alloc(0));
    // An empty payload is an empty message and leaves the context intact.
    assert.deepEqual(await d.decompress(Buffer.alloc(0)), Buffer.alloc(0));
    assert.deepEqual(await d.decompress(clientFrame(Buffer.from('after'))), Buffer.from('after'));
    d.close();
  });

  test('messages ending in a final block (BFINAL) from clients that use Z_FINISH', async () => {
    for (const noContext of [false, true]) {
      const d = new PerMessageDeflate({ ...DEFAULTS, clientNoContextTakeover: noContext }, OPTIONS);
      const messages = ['one', 'two two two two', '', 'three'.repeat(500)].map((s) => Buffer.from(s));
      const results = await Promise.all(
        messages.flatMap((m) => [d.decompress(deflateRawSync(m)), d.decompress(clientFrame(m))]),
      );
      assert.deepEqual(
        results,
        messages.flatMap((m) => [m, m]),
      );
      d.close();
    }
  });

  test('invalid compressed data fails with 1007 and the next message is fine', async () => {
    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    const good = clientFrame(Buffer.from('good'));
    const results = await Promise.allSettled([
      d.decompress(good),
      d.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00])),
      d.decompress(good),
      d.decompress(Buffer.from([0x07])), // reserved block type
      d.decompress(good),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    for (const r of results) {
      if (r.status === 'fulfilled') assert.deepEqual(r.value, Buffer.from('good'));
      else isWsError('ERR_PEREGRINE_WS_INFLATE_FAILED', 1007)(r.reason);
    }
    d.close();
  });

  describe('inflated size limit', () => {
    test('exactly maxInflatedBytes passes, one more byte fails with 1009', async () => {
      const d = new PerMessageDeflate(DEFAULTS, { maxInflatedBytes: 100_000 });
      const exact = randomBytes(100_000);
      assert.deepEqual(await d.decompress(clientFrame(exact)), exact);
      await assert.rejects(
        d.decompress(clientFrame(Buffer.concat([exact, Buffer.from([1])]))),
        isWsError('ERR_PEREGRINE_WS_MESSAGE_TOO_BIG', 1009),
      );
      assert.deepEqual(await d.decompress(clientFrame(exact)), exact);
      d.close();
      const zero = new PerMessageDeflate(DEFAULTS, { maxInflatedBytes: 0 });
      assert.deepEqual(await zero.decompress(clientFrame(Buffer.alloc(0))), Buffer.alloc(0));
      await assert.rejects(
        zero.decompress(clientFrame(Buffer.from('x'))),
        isWsError('ERR_PEREGRINE_WS_MESSAGE_TOO_BIG', 1009),
      );
      zero.close();
    });

    /** Runs `bomb` through a fresh instance; it must be refused quickly, without buffering it. */
    async function refuses(bomb: Buffer, noContext: boolean): Promise<void> {
      const d = new PerMessageDeflate(
        { ...DEFAULTS, clientNoContextTakeover: noContext },
        { maxInflatedBytes: MB },
      );
      const before = process.memoryUsage();
      const started = performance.now();
      await assert.rejects(d.decompress(bomb), isWsError('ERR_PEREGRINE_WS_MESSAGE_TOO_BIG', 1009));
      const elapsed = performance.now() - started;
      const after = process.memoryUsage();
      assert.ok(elapsed < 1000, `refused after ${elapsed.toFixed(0)} ms`);
      const grown = (after.arrayBuffers - before.arrayBuffers) / MB;
      assert.ok(grown < 24, `external memory grew by ${grown.toFixed(1)} MB`);
      // The instance is still usable.
      assert.deepEqual(await d.decompress(clientFrame(Buffer.from('next'))), Buffer.from('next'));
      d.close();
    }

    test('50 MB of zeros is refused with 1009', async () => {
      const bomb = clientFrame(Buffer.alloc(50 * MB));
      assert.ok(bomb.length < 100_000);
      await refuses(bomb, false);
      await refuses(bomb, true);
    });

    test('a 16 GB bomb is refused as fast, so inflation really stops', async () => {
      // Self-contained 1 MB runs of zeros, each ending in a sync flush, repeated: a valid stream of
      // 16 GB from ~16 MB. The last trailer is stripped as a client would.
      const block = deflateRawSync(Buffer.alloc(MB), { finishFlush: constants.Z_SYNC_FLUSH });
      const stream = Buffer.concat(new Array<Buffer>(16 * 1024).fill(block));
      const bomb = stream.subarray(0, stream.length - 4);
      await refuses(bomb, false);
    });
  });

  test('results come back in call order', async () => {
    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    const messages = Array.from({ length: 100 }, (_, i) =>
      i % 7 === 0 ? randomBytes(200_000) : Buffer.from(`message ${i} `.repeat(i * 10)),
    );
    const order: number[] = [];
    const compressed = await Promise.all(
      messages.map((m, i) =>
        d.compress(m).then((out) => {
          order.push(i);
          return out;
        }),
      ),
    );
    assert.deepEqual(order, [...messages.keys()]);
    assert.deepEqual(inflateAll(compressed), Buffer.concat(messages));

    // The same the other way, with one bad message in the middle that must not disturb the rest.
    const inflater = new PerMessageDeflate(
      { ...DEFAULTS, clientNoContextTakeover: true },
      { maxInflatedBytes: MB },
    );
    const frames = messages.map((m) => clientFrame(m));
    frames[50] = clientFrame(Buffer.alloc(2 * MB));
    const settled: number[] = [];
    const results = await Promise.allSettled(
      frames.map((f, i) => inflater.decompress(f).finally(() => settled.push(i))),
    );
    assert.deepEqual(settled, [...frames.keys()]);
    results.forEach((r, i) => {
      if (i === 50) {
        assert.equal(r.status, 'rejected');
        isWsError('ERR_PEREGRINE_WS_MESSAGE_TOO_BIG', 1009)((r as PromiseRejectedResult).reason);
      } else {
        assert.equal(r.status, 'fulfilled');
        assert.deepEqual((r as PromiseFulfilledResult<Buffer>).value, messages[i]);
      }
    });
    d.close();
    inflater.close();
  });

  test('compression and decompression run independently', async () => {
    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    const big = randomBytes(4 * MB);
    const slow = d.compress(big);
    const quick = await d.decompress(clientFrame(Buffer.from('hi')));
    assert.deepEqual(quick, Buffer.from('hi'));
    assert.deepEqual(inflateAll([await slow]), big);
    d.close();
  });

  test('close() rejects pending and later calls and is idempotent', async () => {
    const unused = new PerMessageDeflate(DEFAULTS, OPTIONS);
    unused.close();
    unused.close();
    await assert.rejects(
      unused.compress(Buffer.from('x')),
      isWsError('ERR_PEREGRINE_WS_DEFLATE_CLOSED', 1011),
    );

    const d = new PerMessageDeflate(DEFAULTS, OPTIONS);
    assert.deepEqual(inflateAll([await d.compress(Buffer.from('before'))]), Buffer.from('before'));
    const big = randomBytes(8 * MB);
    const pending = [
      d.compress(big),
      d.compress(Buffer.from('queued')),
      d.decompress(clientFrame(big)),
      d.decompress(clientFrame(Buffer.from('queued'))),
    ];
    await new Promise((resolve) => setImmediate(resolve));
    d.close();
    for (const p of pending) await assert.rejects(p, isWsError('ERR_PEREGRINE_WS_DEFLATE_CLOSED', 1011));
    await assert.rejects(
      d.compress(Buffer.from('after')),
      isWsError('ERR_PEREGRINE_WS_DEFLATE_CLOSED', 1011),
    );
    await assert.rejects(d.decompress(Buffer.from([0])), isWsError('ERR_PEREGRINE_WS_DEFLATE_CLOSED', 1011));
    d.close();
  });
});
