import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  crc32c,
  MAX_HEADER_LENGTH,
  type ProxyHeader,
  ProxyHeaderReader,
  ProxyProtocolError,
  parseProxyHeader,
  V2_MAX_BODY,
} from '../../src/transport/proxy-protocol.ts';

// The PROXY protocol parser (haproxy's proxy-protocol.txt) fed whole, byte by byte and in every
// two-piece split, as picohttpparser's tests feed heads.

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: version/command byte, family/protocol byte, then the address block and TLVs. */
function v2(versionCommand: number, familyProtocol: number, body: Buffer | number[] = []): Buffer {
  const block = Buffer.from(body);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(block.length);
  return Buffer.concat([SIGNATURE, Buffer.from([versionCommand, familyProtocol]), length, block]);
}

function tlv(type: number, value: Buffer | number[]): Buffer {
  const v = Buffer.from(value);
  return Buffer.concat([Buffer.from([type, v.length >> 8, v.length & 0xff]), v]);
}

const IPV4_BLOCK = [192, 0, 2, 1, 198, 51, 100, 2, 0x30, 0x39, 0x01, 0xbb]; // 192.0.2.1:12345 → :443
const IPV6_BLOCK = [
  ...Buffer.from('20010db8000000000000000000000001', 'hex'),
  ...Buffer.from('20010db8000000000000000000000002', 'hex'),
  0xd4,
  0x31,
  0x00,
  0x50,
];

/** Feeds `input` to a reader in pieces cut at `cuts`; returns the header and where it ended, or throws. */
function feedPieces(input: Buffer, cuts: number[]): { header: ProxyHeader; end: number } | null {
  const reader = new ProxyHeaderReader();
  let from = 0;
  for (const to of [...cuts, input.length]) {
    if (to <= from) continue;
    const piece = Buffer.from(input.subarray(from, to)); // each read its own buffer, as sockets give
    const header = reader.feed(piece, piece.length);
    if (header !== null) return { header, end: from + reader.usedOfLast };
    from = to;
  }
  return null;
}

/** Parses `input` whole, byte by byte and in every two-piece split; all must agree. */
function parseAllWays(input: Buffer): { header: ProxyHeader; end: number } | null {
  const whole = feedPieces(input, []);
  const bytewise = feedPieces(
    input,
    Array.from({ length: input.length }, (_, i) => i + 1),
  );
  assert.deepEqual(bytewise, whole, 'byte by byte');
  for (let cut = 1; cut < Math.min(input.length, 120); cut++)
    assert.deepEqual(feedPieces(input, [cut]), whole, `split at ${cut}`);
  return whole;
}

function rejectedAllWays(input: Buffer, message?: RegExp): void {
  assert.throws(() => feedPieces(input, []), message ?? ProxyProtocolError);
  assert.throws(
    () =>
      feedPieces(
        input,
        Array.from({ length: input.length }, (_, i) => i + 1),
      ),
    ProxyProtocolError,
  );
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

describe('PROXY protocol v1 (§2.1)', () => {
  test('TCP4 and TCP6: the source address and port, and where the header ends', () => {
    const line = 'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n';
    const parsed = parseAllWays(Buffer.from(line + REQUEST));
    assert.deepEqual(parsed, {
      header: {
        length: line.length,
        source: { address: '192.0.2.1', port: 56324, family: 'IPv4' },
        ssl: false,
      },
      end: line.length,
    });
    const line6 = 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::2 65535 0\r\n';
    const parsed6 = parseAllWays(Buffer.from(line6 + REQUEST));
    assert.deepEqual(parsed6?.header.source, { address: '2001:db8::1', port: 65535, family: 'IPv6' });
    assert.equal(parsed6?.end, line6.length);
  });

  test('UNKNOWN: the connection keeps its own addresses, whatever follows on the line', () => {
    assert.deepEqual(parseAllWays(Buffer.from('PROXY UNKNOWN\r\n'))?.header, {
      length: 15,
      source: null,
      ssl: false,
    });
    const long = `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`;
    assert.equal(long.length, 107); // the longest line a receiver must take
    assert.equal(parseAllWays(Buffer.from(long))?.header.length, 107);
  });

  test('an incomplete line waits for more', () => {
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4'), 0, 18), null);
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r'), 0, 31), null);
    assert.equal(parseProxyHeader(Buffer.from('P'), 0, 1), null);
  });

  test('anything that does not match exactly is rejected', () => {
    for (const bad of [
      'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n', // LF alone
      'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\rX',
      'PROXY  TCP4 192.0.2.1 198.51.100.2 56324 443\r\n', // two spaces
      'PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 \r\n',
      'PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n',
      'PROXY TCP4 192.0.2.01 198.51.100.2 56324 443\r\n', // heading zero
      'PROXY TCP4 192.0.2.1 198.51.100.2 056324 443\r\n',
      'PROXY TCP4 192.0.2.1 198.51.100.2 56324 0443\r\n',
      'PROXY TCP4 192.0.2.1 198.51.100.2 00 443\r\n',
      'PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n',
      'PROXY TCP4 2001:db8::1 198.51.100.2 1 443\r\n', // family mismatch
      'PROXY TCP6 192.0.2.1 ::1 1 443\r\n',
      'PROXY TCP6 fe80::1%eth0 ::1 1 443\r\n',
      'PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n',
      'PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n',
      'PROXY UNKNOWNX\r\n',
      'PROXY\r\n',
      'proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n',
      'PROXY TCP4 192.0.2.1 198.51.100.2 1 2\x00\r\n',
      'POST / HTTP/1.1\r\n\r\n', // HTTP where the header should be
      'GET / HTTP/1.1\r\n\r\n',
      '\x16\x03\x01\x02\x00\x01', // a TLS ClientHello
    ]) {
      rejectedAllWays(Buffer.from(bad, 'latin1'));
    }
  });

  test('no CRLF within 107 bytes is rejected at the 107th, not read on', () => {
    const long = Buffer.from(`PROXY UNKNOWN ${'a'.repeat(200)}\r\n`);
    assert.throws(() => parseProxyHeader(long, 0, 107), /no CRLF in the first 107 bytes/);
    assert.equal(parseProxyHeader(long, 0, 106), null);
    rejectedAllWays(long);
  });

  test('garbage is rejected at its first byte', () => {
    assert.throws(() => parseProxyHeader(Buffer.from('X'), 0, 1), ProxyProtocolError);
    assert.throws(() => parseProxyHeader(Buffer.from('PRX'), 0, 3), ProxyProtocolError);
  });
});

describe('PROXY protocol v2 (§2.2)', () => {
  test('PROXY over TCP/IPv4 and TCP/IPv6', () => {
    const header4 = v2(0x21, 0x11, IPV4_BLOCK);
    const parsed = parseAllWays(Buffer.concat([header4, Buffer.from(REQUEST)]));
    assert.deepEqual(parsed, {
      header: { length: 28, source: { address: '192.0.2.1', port: 12345, family: 'IPv4' }, ssl: false },
      end: 28,
    });
    const parsed6 = parseAllWays(Buffer.concat([v2(0x21, 0x21, IPV6_BLOCK), Buffer.from(REQUEST)]));
    assert.deepEqual(parsed6?.header.source, { address: '2001:db8::1', port: 54321, family: 'IPv6' });
    assert.equal(parsed6?.end, 52);
  });

  test('LOCAL (a health check): the real endpoints, and the block is skipped whatever it holds', () => {
    assert.deepEqual(parseAllWays(v2(0x20, 0x00))?.header, { length: 16, source: null, ssl: false });
    assert.deepEqual(parseAllWays(v2(0x20, 0x11, IPV4_BLOCK))?.header, {
      length: 28,
      source: null,
      ssl: false,
    });
    assert.deepEqual(parseAllWays(v2(0x20, 0x00, [1, 2, 3]))?.header, {
      length: 19,
      source: null,
      ssl: false,
    });
  });

  test('families without an IP address keep the real endpoints: UNSPEC, UNIX, DGRAM', () => {
    assert.equal(parseAllWays(v2(0x21, 0x00, [9, 9, 9]))?.header.source, null);
    assert.equal(parseAllWays(v2(0x21, 0x31, Buffer.alloc(216, 0x61)))?.header.source, null);
    assert.equal(parseAllWays(v2(0x21, 0x12, IPV4_BLOCK))?.header.source, null);
  });

  test('TLVs are skipped (an extra address block too); PP2_TYPE_SSL says whether the client used TLS', () => {
    const tlvs = Buffer.concat([
      tlv(0x01, Buffer.from('h2')), // ALPN
      tlv(0x02, Buffer.from('example.com')), // AUTHORITY
      tlv(0x04, []), // NOOP
      tlv(0xe0, Buffer.alloc(300)), // custom
      tlv(0x20, [0x01, 0, 0, 0, 0, ...tlv(0x21, Buffer.from('TLSv1.3'))]), // SSL, PP2_CLIENT_SSL
    ]);
    const parsed = parseAllWays(v2(0x21, 0x11, Buffer.concat([Buffer.from(IPV4_BLOCK), tlvs])));
    assert.equal(parsed?.header.source?.address, '192.0.2.1');
    assert.equal(parsed?.header.ssl, true);
    assert.equal(parsed?.header.length, 16 + 12 + tlvs.length);
  });

  test('a CRC32C TLV must match the header (§2.2.3)', () => {
    const unsigned = v2(0x21, 0x11, [...IPV4_BLOCK, ...tlv(0x03, [0, 0, 0, 0])]);
    const signed = Buffer.from(unsigned);
    signed.writeUInt32BE(crc32c(unsigned), unsigned.length - 4);
    assert.equal(parseAllWays(signed)?.header.source?.port, 12345);
    const wrong = Buffer.from(signed);
    wrong[17] ^= 1; // a changed address
    rejectedAllWays(wrong, /CRC32C mismatch/);
    // RFC 3720 B.4's check value: 32 bytes of zeros.
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  });

  test('hostile and malformed headers are rejected as soon as they can be', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['a bad signature', Buffer.from('0d0a0d0a000d0a515549540b', 'hex'), /signature/],
      ['version 1 in a v2 header', v2(0x11, 0x11, IPV4_BLOCK), /version or command/],
      ['an unknown command', v2(0x22, 0x11, IPV4_BLOCK), /version or command/],
      ['an unknown family', v2(0x21, 0x41, IPV4_BLOCK), /family/],
      ['an unknown protocol', v2(0x21, 0x13, IPV4_BLOCK), /family or protocol/],
      ['an address block shorter than its family', v2(0x21, 0x11, IPV4_BLOCK.slice(0, 11)), /shorter/],
      ['an IPv6 block too short', v2(0x21, 0x21, IPV4_BLOCK), /shorter/],
      ['a truncated TLV', v2(0x21, 0x11, [...IPV4_BLOCK, 0x01, 0x00]), /truncated TLV/],
      ['a TLV past the end', v2(0x21, 0x11, [...IPV4_BLOCK, 0x01, 0x00, 0x05, 0x61]), /TLV longer/],
      ['a CRC32C TLV of 3 bytes', v2(0x21, 0x11, [...IPV4_BLOCK, ...tlv(0x03, [0, 0, 0])]), /wrong size/],
    ];
    for (const [what, input, message] of cases) {
      assert.throws(() => feedPieces(input, []), message, what);
      assert.throws(
        () =>
          feedPieces(
            input,
            Array.from({ length: input.length }, (_, i) => i + 1),
          ),
        message,
        what,
      );
    }
    // Each is caught at the byte that breaks it, not after the header's announced length.
    assert.equal(parseProxyHeader(Buffer.from('0d0a0d0a00', 'hex'), 0, 5), null);
    assert.throws(() => parseProxyHeader(Buffer.from('0d0a0d0a01', 'hex'), 0, 5), /signature/);
    assert.throws(() => parseProxyHeader(v2(0x31, 0x11), 0, 13), /version or command/);
  });

  test('a length beyond the bound is rejected from the 16-byte header alone', () => {
    const header = v2(0x21, 0x11);
    header.writeUInt16BE(V2_MAX_BODY + 1, 14);
    assert.throws(() => parseProxyHeader(header, 0, 16), /more than 4096/);
    header.writeUInt16BE(0xffff, 14);
    assert.throws(() => parseProxyHeader(header, 0, 16), /65535 address bytes/);
    const largest = v2(0x21, 0x11, [...IPV4_BLOCK, ...tlv(0xe0, Buffer.alloc(V2_MAX_BODY - 15))]);
    assert.equal(largest.length, MAX_HEADER_LENGTH);
    assert.equal(feedPieces(largest, [100, 1000, 4000])?.header.length, MAX_HEADER_LENGTH);
  });

  test('an incomplete header waits for its announced length', () => {
    const header = v2(0x21, 0x11, IPV4_BLOCK);
    for (let i = 0; i < header.length; i++) assert.equal(parseProxyHeader(header, 0, i), null, `${i} bytes`);
  });
});

describe('properties', () => {
  /** Inputs near valid headers: mutated real ones, and random bytes after each prefix. */
  const near = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .tuple(
        fc.constantFrom(
          Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n'),
          Buffer.from('PROXY TCP6 2001:db8::1 ::2 1 2\r\n'),
          Buffer.from('PROXY UNKNOWN\r\n'),
          v2(0x21, 0x11, IPV4_BLOCK),
          v2(0x21, 0x21, IPV6_BLOCK),
          v2(0x20, 0x00),
          v2(0x21, 0x11, [...IPV4_BLOCK, ...tlv(0x20, [1, 0, 0, 0, 0])]),
        ),
        fc.nat(200),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([base, at, byte, tail]) => {
        const copy = Buffer.concat([base, tail]);
        if (at < copy.length) copy[at] = byte;
        return new Uint8Array(copy);
      }),
  );

  test('no input crashes the parser: a header, a wait, or a ProxyProtocolError, the same in any pieces', () => {
    fc.assert(
      fc.property(near, fc.array(fc.nat(400), { maxLength: 6 }), (bytes, cuts) => {
        const input = Buffer.from(bytes);
        let whole: unknown;
        try {
          whole = feedPieces(input, []);
        } catch (error) {
          assert.ok(error instanceof ProxyProtocolError, String(error));
          assert.throws(
            () =>
              feedPieces(
                input,
                cuts.sort((a, b) => a - b),
              ),
            ProxyProtocolError,
          );
          return;
        }
        assert.deepEqual(
          feedPieces(
            input,
            cuts.sort((a, b) => a - b),
          ),
          whole,
        );
        if (whole !== null) {
          const { header, end } = whole as { header: ProxyHeader; end: number };
          assert.ok(end <= input.length && header.length <= MAX_HEADER_LENGTH);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
