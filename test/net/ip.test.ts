import assert from 'node:assert/strict';
import { isIP, isIPv6, SocketAddress } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AddressSet } from '../../src/net/cidr.ts';
import { formatIP, formatIPv6, parseIP, parseIPv4, parseIPv6, parsePeerAddress } from '../../src/net/ip.ts';

const hex = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString('hex'));

describe('IP parsing', () => {
  test('IPv4: strict dotted quads only, stored as IPv4-mapped IPv6', () => {
    assert.equal(hex(parseIPv4('192.0.2.1')), '00000000000000000000ffffc0000201');
    assert.equal(hex(parseIPv4('0.0.0.0')), '00000000000000000000ffff00000000');
    assert.equal(hex(parseIPv4('255.255.255.255')), '00000000000000000000ffffffffffff');
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.256',
      '1..2.3',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '0x1.2.3.4',
      '1.2.3.-4',
      '1.2.3.4/8',
      '१.2.3.4',
    ]) {
      assert.equal(parseIPv4(bad), null, bad);
    }
  });

  test('IPv6: every text form of RFC 4291 §2.2', () => {
    assert.equal(hex(parseIPv6('::')), '0'.repeat(32));
    assert.equal(hex(parseIPv6('::1')), `${'0'.repeat(31)}1`);
    assert.equal(hex(parseIPv6('1::')), `0001${'0'.repeat(28)}`);
    assert.equal(hex(parseIPv6('2001:DB8::ff00:42:8329')), '20010db8000000000000ff0000428329');
    assert.equal(hex(parseIPv6('2001:db8:0:0:0:ff00:42:8329')), '20010db8000000000000ff0000428329');
    assert.equal(hex(parseIPv6('::ffff:192.0.2.1')), '00000000000000000000ffffc0000201');
    assert.equal(hex(parseIPv6('64:ff9b::192.0.2.1')), '0064ff9b0000000000000000c0000201');
    for (const bad of [
      '',
      ':',
      ':::',
      '1:::2',
      '1::2::3',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      'g::',
      '::1.2.3',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3.4:5',
      'fe80::1%eth0',
      '[::1]',
    ]) {
      assert.equal(parseIPv6(bad), null, bad);
    }
  });

  test('one address, however written: IPv4 and IPv4-mapped IPv6 are the same bytes', () => {
    assert.deepEqual(parseIP('127.0.0.1'), parseIP('::ffff:127.0.0.1'));
    assert.deepEqual(parseIP('::ffff:7f00:1'), parseIP('127.0.0.1'));
    assert.equal(formatIP(parseIP('::ffff:7f00:1')!), '127.0.0.1');
    assert.deepEqual(parsePeerAddress('fe80::1%eth0'), parseIP('fe80::1'));
  });

  test('IPv6 text is canonical (RFC 5952 §4), as Node writes it', () => {
    assert.equal(formatIPv6(parseIPv6('2001:0DB8:0000:0000:0001:0000:0000:0001')!), '2001:db8::1:0:0:1');
    assert.equal(formatIPv6(parseIPv6('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1'); // one zero group stays
    assert.equal(formatIPv6(parseIPv6('::')!), '::');
    assert.equal(formatIPv6(parseIPv6('::ffff:1.2.3.4')!), '::ffff:1.2.3.4');
  });

  test('property: any 16 bytes format to text that parses back to them, as Node formats it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, zeros) => {
        if (zeros) bytes.fill(0, 4, 12); // runs of zero groups, where compression rules matter
        const text = formatIPv6(bytes);
        assert.ok(isIPv6(text), text);
        assert.deepEqual(parseIPv6(text), bytes);
        if (!text.startsWith('::ffff:'))
          assert.equal(new SocketAddress({ address: text, family: 'ipv6' }).address, text);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: no string makes the parsers throw, and what they accept Node accepts', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/),
          fc.ipV4().map((a) => `::${a}`),
          fc.ipV6(),
          fc.ipV4(),
        ),
        (s) => {
          // Node's isIP is the reference: the same strings accepted, no more, no fewer.
          assert.equal(parseIP(s) !== null, isIP(s) !== 0, s);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('AddressSet (CIDR blocks)', () => {
  const has = (set: AddressSet, address: string) => set.has(parsePeerAddress(address)!);

  test('IPv4 and IPv6 blocks, single addresses and names', () => {
    const set = AddressSet.parse(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', 'loopback']);
    assert.ok(has(set, '10.255.1.2'));
    assert.ok(has(set, '::ffff:10.1.1.1'), 'an IPv4-mapped peer is in the IPv4 block');
    assert.ok(!has(set, '11.0.0.1'));
    assert.ok(has(set, '192.0.2.7'));
    assert.ok(!has(set, '192.0.2.8'));
    assert.ok(has(set, '2001:db8:ffff::1'));
    assert.ok(!has(set, '2001:db9::1'));
    assert.ok(has(set, '127.3.4.5'));
    assert.ok(has(set, '::1'));
    assert.ok(!has(set, '::2'));
  });

  test('prefixes that are not byte-aligned, and the edges', () => {
    const set = AddressSet.parse(['172.16.0.0/12', 'fe80::/10', '0.0.0.0/32']);
    assert.ok(has(set, '172.16.0.0'));
    assert.ok(has(set, '172.31.255.255'));
    assert.ok(!has(set, '172.32.0.0'));
    assert.ok(!has(set, '172.15.255.255'));
    assert.ok(has(set, 'febf::1'));
    assert.ok(!has(set, 'fec0::1'));
    assert.ok(has(set, '0.0.0.0'));
    assert.ok(AddressSet.parse(['0.0.0.0/0']).has(parseIP('8.8.8.8')!));
    assert.ok(
      !AddressSet.parse(['0.0.0.0/0']).has(parseIP('2001:db8::1')!),
      'all of IPv4 is not all of IPv6',
    );
    assert.ok(AddressSet.parse(['::/0']).has(parseIP('2001:db8::1')!));
    assert.ok(AddressSet.parse(['::ffff:0:0/96']).has(parseIP('8.8.8.8')!));
  });

  test('the named ranges', () => {
    const set = AddressSet.parse(['private', 'linklocal']);
    for (const a of ['10.1.2.3', '172.20.0.1', '192.168.1.1', 'fd12::1', '169.254.1.1', 'fe80::1%lo'])
      assert.ok(has(set, a), a);
    for (const a of ['8.8.8.8', '127.0.0.1', '2001:db8::1']) assert.ok(!has(set, a), a);
    assert.ok(has(AddressSet.parse(['UniqueLocal']), '10.0.0.1'));
  });

  test('a bad entry is an error that names it', () => {
    const cases: [string, RegExp][] = [
      ['10.0.0.0/33', /"10\.0\.0\.0\/33" has an invalid prefix length \(0 to 32\)/],
      ['::/129', /invalid prefix length \(0 to 128\)/],
      ['10.0.0.0/08', /invalid prefix length/],
      ['10.0.0.0/', /invalid prefix length/],
      ['10.0.0.1/8', /bits set past its \/8 prefix \(did you mean 10\.0\.0\.0\/8\?\)/],
      ['localhost', /"localhost" is not an IP address, a CIDR block or a known name/],
      ['300.1.1.1', /not an IP address/],
      ['', /not an IP address/],
    ];
    for (const [entry, message] of cases) assert.throws(() => AddressSet.parse([entry]), message, entry);
  });
});
