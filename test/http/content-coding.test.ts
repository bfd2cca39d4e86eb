import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  acceptableCodings,
  chooseEncoding,
  codingWeight,
  NOT_LISTED,
  parseAcceptEncoding,
  varyWithAcceptEncoding,
} from '../../src/http/content-coding.ts';

const ALL = ['zstd', 'br', 'gzip'] as const;

describe('parseAcceptEncoding (RFC 9110 §12.5.3, §12.4.2)', () => {
  test('table', () => {
    const cases: [string | undefined, Record<string, number>][] = [
      [undefined, {}],
      ['', {}],
      [' , ,', {}],
      ['gzip', { gzip: 1 }],
      ['GZip;Q=0.5', { gzip: 0.5 }],
      ['x-gzip', { gzip: 1 }],
      ['x-gzip;q=0.3, gzip', { gzip: 0.3 }], // the same coding twice: the lower weight
      ['br, br;q=0', { br: 0 }],
      ['br;q=0, br', { br: 0 }],
      ['*;q=0.1, identity;q=0', { '*': 0.1, identity: 0 }],
      ['br;q=1.000', { br: 1 }],
      ['br;q=0.001', { br: 0.001 }],
      ['br;q=1.001', { br: 0 }], // not a qvalue
      ['br;q=0.0001', { br: 0 }],
      ['br;q=2', { br: 0 }],
      ['br;q=', { br: 0 }],
      ['br;q=-1', { br: 0 }],
      ['br;q=abc', { br: 0 }],
      ['br;q=.5', { br: 0 }],
      ['br;level=5', { br: 1 }],
      ['br;level=5;q=0.2', { br: 0.2 }],
      ['br ; q = 0.7 ', { br: 0.7 }],
      ['br;q=0.5;q=1', { br: 1 }], // the last q stands
      ['deflate, compress', { deflate: 1, compress: 1 }],
    ];
    for (const [value, expected] of cases) {
      assert.deepEqual(Object.fromEntries(parseAcceptEncoding(value)), expected, JSON.stringify(value));
    }
  });

  test('a named coding overrides *; unnamed codings take *; nothing listed is NOT_LISTED', () => {
    const accept = parseAcceptEncoding('br;q=0, *;q=0.4');
    assert.equal(codingWeight(accept, 'br'), 0);
    assert.equal(codingWeight(accept, 'gzip'), 0.4);
    assert.equal(codingWeight(parseAcceptEncoding('gzip'), 'br'), NOT_LISTED);
  });
});

describe('chooseEncoding', () => {
  test('table', () => {
    const cases: [string | undefined, readonly string[], string | null][] = [
      // No header, or an empty one: identity.
      [undefined, ALL, null],
      ['', ALL, null],
      ['   ', ALL, null],
      [',', ALL, null],
      // What browsers send: every coding at q=1, so the server's order decides.
      ['gzip, deflate, br, zstd', ALL, 'zstd'],
      ['gzip, deflate, br, zstd', ['br', 'gzip'], 'br'],
      ['gzip, deflate, br, zstd', ['gzip', 'br'], 'gzip'],
      ['gzip, deflate, br', ALL, 'br'],
      ['gzip, deflate', ALL, 'gzip'],
      ['deflate', ALL, null],
      ['identity', ALL, null],
      // The highest weight wins over the server's order.
      ['zstd;q=0.5, gzip;q=0.8', ALL, 'gzip'],
      ['br;q=0.9, gzip', ALL, 'gzip'],
      ['br;q=0.001, zstd;q=0.002', ALL, 'zstd'],
      // q=0 refuses.
      ['zstd;q=0, br;q=0, gzip', ALL, 'gzip'],
      ['gzip;q=0', ALL, null],
      ['gzip;q=0.000', ['gzip'], null],
      // * covers codings not named, and only those.
      ['*', ALL, 'zstd'],
      ['*', ['gzip'], 'gzip'],
      ['*;q=0', ALL, null],
      ['zstd;q=0, *', ALL, 'br'],
      ['*;q=0.5, gzip', ALL, 'gzip'],
      ['*;q=0, gzip;q=0.1', ALL, 'gzip'],
      ['gzip;q=0.5, *;q=0.6', ['gzip', 'br'], 'br'],
      // identity: wins only with a higher weight than the best coding; a tie goes to the coding.
      ['gzip;q=0.5, identity', ALL, null],
      ['gzip;q=0.5, identity;q=0.5', ALL, 'gzip'],
      ['gzip, identity;q=0', ALL, 'gzip'],
      // Nothing acceptable, identity refused too: still identity (no 406).
      ['identity;q=0', ALL, null],
      ['*;q=0, identity;q=0', ALL, null],
      ['deflate, identity;q=0', ALL, null],
      // x-gzip is gzip; names are case-insensitive.
      ['x-gzip', ALL, 'gzip'],
      ['X-GZIP;Q=1', ['gzip'], 'gzip'],
      ['BR, GZIP', ALL, 'br'],
      ['ZsTd', ALL, 'zstd'],
      // Duplicates: the refusal stands.
      ['br, br;q=0', ALL, null],
      ['gzip;q=0, x-gzip', ALL, null],
      ['br;q=0.2, br;q=0.9, gzip;q=0.5', ALL, 'gzip'],
      // Malformed weights count as 0; other parameters are ignored.
      ['br;q=2', ALL, null],
      ['br;q=abc, gzip;q=0.1', ALL, 'gzip'],
      ['br;q=1.5, *', ALL, 'zstd'],
      ['br;foo=bar', ALL, 'br'],
      [' ,  , br ; q=0.3 ,, gzip;q=0.2 ', ALL, 'br'],
      // A coding the server doesn't allow is never chosen, whatever its weight.
      ['zstd', ['br', 'gzip'], null],
      ['gzip', [], null],
    ];
    for (const [value, allowed, expected] of cases) {
      assert.equal(chooseEncoding(value, allowed), expected, `${JSON.stringify(value)} of ${allowed}`);
    }
  });

  // The weight RFC 9110 §12.5.3 gives `coding`, worked out independently of the implementation.
  function referenceWeight(value: string, coding: string): number {
    let named: number | undefined;
    let star: number | undefined;
    for (const member of value.split(',')) {
      const [rawName = '', ...params] = member.split(';');
      let name = rawName.trim().toLowerCase();
      if (name === 'x-gzip') name = 'gzip';
      let q = 1;
      for (const param of params) {
        const [key = '', val] = param.split(/=(.*)/s);
        if (key.trim().toLowerCase() !== 'q') continue;
        const text = (val ?? '').trim();
        q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : 0;
      }
      if (name === coding) named = Math.min(named ?? 1, q);
      if (name === '*') star = Math.min(star ?? 1, q);
    }
    return named ?? star ?? -1;
  }

  const member = fc.tuple(
    fc.constantFrom(
      'gzip',
      'x-gzip',
      'GZIP',
      'br',
      'zstd',
      'deflate',
      'identity',
      '*',
      '',
      ' br ',
      'compress',
    ),
    fc.constantFrom(
      '',
      ';q=0',
      ';q=1',
      ';q=0.5',
      ';q=0.001',
      ';Q=0.9',
      ';q=2',
      ';q=x',
      ';level=3',
      ' ; q=0.25',
    ),
  );
  const headers = fc.oneof(
    fc.array(member, { maxLength: 8 }).map((members) => members.map(([n, p]) => n + p).join(',')),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );

  test('property: never throws; the choice is allowed, accepted with q > 0, and no allowed coding weighs more', () => {
    fc.assert(
      fc.property(headers, fc.subarray([...ALL]), (value, allowed) => {
        const chosen = chooseEncoding(value, allowed);
        if (chosen === null) {
          // Identity: either no coding was acceptable, or identity was named with a higher weight.
          const best = Math.max(0, ...allowed.map((c) => referenceWeight(value, c)));
          if (best > 0) assert.ok(referenceWeight(value, 'identity') > best, value);
          return;
        }
        assert.ok(allowed.includes(chosen), `${chosen} not in ${allowed}`);
        const weight = referenceWeight(value, chosen);
        assert.ok(weight > 0, `${JSON.stringify(value)} gave ${chosen} with q=${weight}`);
        for (const other of allowed) {
          const w = referenceWeight(value, other);
          assert.ok(w <= weight, `${JSON.stringify(value)}: ${other} (q=${w}) beats ${chosen} (q=${weight})`);
          if (w === weight)
            assert.ok(allowed.indexOf(chosen) <= allowed.indexOf(other), 'ties go to the earlier');
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('acceptableCodings keeps the server order and drops q=0', () => {
    assert.deepEqual(acceptableCodings('gzip;q=0.1, br;q=0.9', ['gzip', 'br']), ['gzip', 'br']);
    assert.deepEqual(acceptableCodings('gzip;q=0, *', ['zstd', 'br', 'gzip']), ['zstd', 'br']);
    assert.deepEqual(acceptableCodings(undefined, ['gzip']), []);
  });
});

describe('varyWithAcceptEncoding (RFC 9110 §12.5.5)', () => {
  test('table', () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, 'Accept-Encoding'],
      ['', 'Accept-Encoding'],
      ['  ', 'Accept-Encoding'],
      ['Origin', 'Origin, Accept-Encoding'],
      ['Origin, Accept-Language', 'Origin, Accept-Language, Accept-Encoding'],
      ['Accept-Encoding', undefined],
      ['origin, accept-encoding', undefined],
      ['Origin,ACCEPT-ENCODING ', undefined],
      ['*', undefined],
      ['Origin, *', undefined],
      ['Accept-Encodings', 'Accept-Encodings, Accept-Encoding'],
    ];
    for (const [vary, expected] of cases) assert.equal(varyWithAcceptEncoding(vary), expected, String(vary));
  });
});
