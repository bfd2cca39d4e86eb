import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.ts';
import { parseForwarded, parseForwardedFor, parseForwardedNode } from '../../src/http/forwarded.ts';
import { type ForwardedSource, ProxyTrust, resolveClient } from '../../src/http/trusted-proxy.ts';
import { resolveOptions } from '../../src/options.ts';

// trustProxy's rules over a stand-in request: a peer, the connection's protocol and host, and headers.

function source(peer: string, headers: Record<string, string> = {}, own: Partial<ForwardedSource> = {}) {
  return {
    remoteAddress: peer,
    ownProtocol: 'http' as const,
    ownHost: 'internal:8080',
    header: (name: string) => headers[name.toLowerCase()],
    ...own,
  };
}

function client(
  trust: unknown,
  peer: string,
  headers: Record<string, string> = {},
  headerFamily?: 'forwarded',
) {
  return resolveClient(source(peer, headers), ProxyTrust.from(trust, headerFamily));
}

const XFF = 'x-forwarded-for';

describe('trustProxy with X-Forwarded-*', () => {
  test('off (the default): the peer, whatever the headers say', () => {
    const view = client(false, '203.0.113.9', {
      [XFF]: '1.1.1.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
    });
    assert.deepEqual(view, { address: '203.0.113.9', protocol: 'http', host: 'internal:8080' });
  });

  test("an untrusted peer's headers never count", () => {
    const headers = { [XFF]: '10.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' };
    assert.deepEqual(client(['10.0.0.0/8'], '203.0.113.9', headers), {
      address: '203.0.113.9',
      protocol: 'http',
      host: 'internal:8080',
    });
  });

  test('walked from the right past trusted hops (real_ip_recursive): a client-sent prefix is not believed', () => {
    // The client claims 10.0.0.5 (trusted) and 6.6.6.6; our proxies appended the client's real 198.51.100.4.
    const headers = { [XFF]: '6.6.6.6, 10.0.0.5, 198.51.100.4, 10.0.0.2' };
    assert.equal(client(['10.0.0.0/8'], '10.0.0.1', headers).address, '198.51.100.4');
    assert.equal(client(['10.0.0.0/8', '198.51.100.0/24'], '10.0.0.1', headers).address, '6.6.6.6');
    assert.equal(client(true, '10.0.0.1', headers).address, '6.6.6.6', 'true: the leftmost');
  });

  test('every hop trusted: the leftmost address', () => {
    assert.equal(
      client(['loopback', '10.0.0.0/8'], '127.0.0.1', { [XFF]: '10.1.1.1, 10.2.2.2' }).address,
      '10.1.1.1',
    );
  });

  test('hop counts: trust that many proxies, whatever their address', () => {
    const headers = { [XFF]: '1.1.1.1, 2.2.2.2, 3.3.3.3' };
    assert.equal(client(1, '9.9.9.9', headers).address, '3.3.3.3');
    assert.equal(client(2, '9.9.9.9', headers).address, '2.2.2.2');
    assert.equal(client(3, '9.9.9.9', headers).address, '1.1.1.1');
    assert.equal(client(10, '9.9.9.9', headers).address, '1.1.1.1');
    assert.equal(client(1, '9.9.9.9').address, '9.9.9.9', 'no header: the peer');
  });

  test('several X-Forwarded-For lines count as one list (joined as the request joins them)', () => {
    // Request.header() joins repeated fields with ", " (RFC 9110 §5.3).
    assert.equal(
      client(['10.0.0.0/8'], '10.0.0.1', { [XFF]: '1.1.1.1, 10.0.0.7, 10.0.0.9' }).address,
      '1.1.1.1',
    );
  });

  test('IPv6, IPv4-mapped peers and entries with ports', () => {
    assert.equal(client(['::1'], '::1', { [XFF]: '2001:DB8::0:1' }).address, '2001:db8::1');
    assert.equal(client(['127.0.0.1'], '::ffff:127.0.0.1', { [XFF]: '192.0.2.1' }).address, '192.0.2.1');
    assert.equal(client(['::ffff:127.0.0.0/104'], '127.0.0.1', { [XFF]: '192.0.2.1' }).address, '192.0.2.1');
    assert.equal(client(['fe80::/10'], 'fe80::1%eth0', { [XFF]: '192.0.2.1' }).address, '192.0.2.1');
    assert.equal(client(1, '10.0.0.1', { [XFF]: '192.0.2.1:5678' }).address, '192.0.2.1');
    assert.equal(client(1, '10.0.0.1', { [XFF]: '[2001:db8::7]:5678' }).address, '2001:db8::7');
    assert.equal(client(1, '10.0.0.1', { [XFF]: '::ffff:192.0.2.1' }).address, '192.0.2.1');
  });

  test('malformed: the header does not count, the peer stands', () => {
    for (const value of [
      'unknown',
      'not-an-ip',
      '1.2.3',
      '1.2.3.4, ',
      ', 1.2.3.4',
      '1.2.3.4,,5.6.7.8',
      '1.2.3.4:99999',
      '[::1',
      '01.2.3.4',
      '1.2.3.4 5.6.7.8',
      '',
    ]) {
      assert.equal(client(1, '10.0.0.1', { [XFF]: value }).address, '10.0.0.1', value);
    }
    // Reached after trusted hops, it still voids the header: the peer, not the last trusted hop.
    assert.equal(client(['10.0.0.0/8'], '10.0.0.1', { [XFF]: 'garbage, 10.0.0.5' }).address, '10.0.0.1');
    // Garbage left of the client is never reached, so it does not matter.
    assert.equal(client(1, '10.0.0.1', { [XFF]: 'garbage, 192.0.2.1' }).address, '192.0.2.1');
    // Past 64 hops the list is refused whole.
    assert.equal(client(1, '10.0.0.1', { [XFF]: Array(65).fill('192.0.2.1').join(',') }).address, '10.0.0.1');
  });

  test('X-Forwarded-Proto and -Host: the value written by the proxy facing the client', () => {
    // One proxy that overwrites: one value.
    assert.deepEqual(
      client(1, '10.0.0.1', {
        [XFF]: '192.0.2.1',
        'x-forwarded-proto': 'HTTPS',
        'x-forwarded-host': 'Shop.Example:8443',
      }),
      { address: '192.0.2.1', protocol: 'https', host: 'shop.example:8443' },
    );
    // One proxy that appends: the client's own claims come first and are not believed.
    assert.deepEqual(
      client(1, '10.0.0.1', {
        [XFF]: '6.6.6.6, 192.0.2.1',
        'x-forwarded-proto': 'https, http',
        'x-forwarded-host': 'evil.example, shop.example',
      }),
      { address: '192.0.2.1', protocol: 'http', host: 'shop.example' },
    );
    // Two trusted proxies that append: the outer one's values.
    assert.deepEqual(
      client(['10.0.0.0/8'], '10.0.0.1', {
        [XFF]: '192.0.2.1, 10.0.0.2',
        'x-forwarded-proto': 'https, http',
        'x-forwarded-host': 'shop.example, inner',
      }),
      { address: '192.0.2.1', protocol: 'https', host: 'shop.example' },
    );
  });

  test('X-Forwarded-Proto and -Host that are not a protocol or a host are ignored', () => {
    for (const [proto, host] of [
      ['ftp', 'a b'],
      ['javascript', 'evil.example/path'],
      ['', 'user@evil.example'],
      ['https,', 'x:99999999'],
    ]) {
      const view = client(1, '10.0.0.1', { 'x-forwarded-proto': proto!, 'x-forwarded-host': host! });
      assert.equal(view.protocol, 'http', proto);
      assert.equal(view.host, 'internal:8080', host);
    }
    assert.equal(
      client(1, '10.0.0.1', { 'x-forwarded-host': '[2001:db8::1]:443' }).host,
      '[2001:db8::1]:443',
    );
  });

  test('the X-Forwarded family is not read when Forwarded is chosen, and the other way round', () => {
    const headers = { [XFF]: '192.0.2.1', forwarded: 'for=198.51.100.1' };
    assert.equal(client(1, '10.0.0.1', headers).address, '192.0.2.1');
    assert.equal(client(1, '10.0.0.1', headers, 'forwarded').address, '198.51.100.1');
  });
});

describe('trustProxy with Forwarded (RFC 7239)', () => {
  const fwd = (value: string, trust: unknown = 1, peer = '10.0.0.1') =>
    client(trust, peer, { forwarded: value }, 'forwarded');

  test('for, proto and host of the element that names the client', () => {
    assert.deepEqual(fwd('for=192.0.2.60;proto=https;host=Example.com;by=203.0.113.43'), {
      address: '192.0.2.60',
      protocol: 'https',
      host: 'example.com',
    });
    // RFC 7239 §4's examples, quoted IPv6 with a port.
    assert.equal(fwd('For="[2001:db8:cafe::17]:4711"').address, '2001:db8:cafe::17');
    assert.equal(fwd('for=192.0.2.43, for=198.51.100.17', 2).address, '192.0.2.43');
    assert.equal(fwd('for=192.0.2.43, for=198.51.100.17', 1).address, '198.51.100.17');
  });

  test('walked from the right: each element is one hop', () => {
    const value =
      'for=6.6.6.6;proto=https, for=192.0.2.1;proto=http;host=shop.example, for=10.0.0.2;proto=https';
    assert.deepEqual(fwd(value, ['10.0.0.0/8']), {
      address: '192.0.2.1',
      protocol: 'http',
      host: 'shop.example',
    });
  });

  test('"unknown", obfuscated names and a missing for end the walk at the hop that reported them', () => {
    assert.deepEqual(fwd('for=unknown;proto=https'), {
      address: '10.0.0.1',
      protocol: 'https',
      host: 'internal:8080',
    });
    assert.equal(fwd('for=_hidden, for=10.0.0.2', ['10.0.0.0/8']).address, '10.0.0.2');
    assert.equal(fwd('for="_gazonk"').address, '10.0.0.1');
    assert.equal(fwd('proto=https').protocol, 'https');
    assert.equal(fwd('for="192.0.2.1:_port"').address, '192.0.2.1');
  });

  test('malformed: the header does not count', () => {
    for (const value of [
      'for=192.0.2.1;for=192.0.2.2', // a parameter twice in one element (§5)
      'for="192.0.2.1',
      'for=[2001:db8::1]', // brackets need quotes: [ is no tchar
      'for="[2001:db8::1"',
      'for="2001:db8::1"', // IPv6 needs brackets (§6)
      'for',
      'for=',
      '=192.0.2.1',
      'for=192.0.2.1 proto=https',
      'for=1.2.3',
      'for="192.0.2.1:99999"',
      'for=192.0.2.1;',
    ]) {
      const view = fwd(value);
      if (value === 'for=192.0.2.1;')
        assert.equal(view.address, '192.0.2.1'); // an empty pair is allowed
      else assert.equal(view.address, '10.0.0.1', value);
    }
  });

  test('the element parser: quoted strings, escapes, empty list members, case-insensitive names', () => {
    assert.deepEqual(parseForwarded('for="a\\"b";Proto=https ,, for=x'), [
      { for: 'a"b', proto: 'https', host: undefined },
      { for: 'x', proto: undefined, host: undefined },
    ]);
    assert.deepEqual(parseForwarded('for="a,b;c"'), [{ for: 'a,b;c', proto: undefined, host: undefined }]);
    assert.equal(parseForwarded('for="a\nb"'), null);
    assert.equal(parseForwarded('for=a\\'), null);
    assert.deepEqual(parseForwarded(''), []);
  });

  test('node parsers', () => {
    assert.deepEqual(parseForwardedNode('unknown'), { kind: 'hidden', name: 'unknown' });
    assert.deepEqual(parseForwardedNode('_x.y-z'), { kind: 'hidden', name: '_x.y-z' });
    assert.equal(parseForwardedNode('_'), null);
    assert.equal(parseForwardedNode('[::1]:_p')?.kind, 'ip');
    assert.equal(parseForwardedFor('[::1]:_p'), null, 'obfuscated ports are Forwarded-only');
    assert.equal(parseForwardedFor('unknown'), null);
  });
});

describe('properties', () => {
  const headerText = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc
      .array(
        fc.constantFrom(
          'for=',
          'proto=',
          'host=',
          '"',
          '\\',
          ';',
          ',',
          ' ',
          '[',
          ']',
          ':',
          '_',
          '1.2.3.4',
          '::1',
          'unknown',
          'https',
          'x',
        ),
        { maxLength: 40 },
      )
      .map((a) => a.join('')),
  );

  test('no header value crashes the resolution, and an untrusted peer always gets its own view', () => {
    const trusts = [true, 1, 3, ['10.0.0.0/8'], ['loopback', '::/0']].map((t) => ProxyTrust.from(t));
    const forwardedTrusts = [true, 2].map((t) => ProxyTrust.from(t, 'forwarded'));
    fc.assert(
      fc.property(headerText, headerText, headerText, headerText, (xff, proto, host, forwarded) => {
        const headers = { [XFF]: xff, 'x-forwarded-proto': proto, 'x-forwarded-host': host, forwarded };
        for (const trust of [...trusts, ...forwardedTrusts]) {
          const view = resolveClient(source('10.0.0.1', headers), trust);
          assert.ok(typeof view.address === 'string' && view.address.length > 0);
          assert.ok(view.protocol === 'http' || view.protocol === 'https');
          assert.ok(view.host === undefined || !/[\s/@?#]/.test(view.host), view.host);
        }
        const untrusted = resolveClient(source('203.0.113.1', headers), ProxyTrust.from(['10.0.0.0/8']));
        assert.deepEqual(untrusted, { address: '203.0.113.1', protocol: 'http', host: 'internal:8080' });
        const parsed = parseForwarded(forwarded);
        assert.ok(parsed === null || Array.isArray(parsed));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the options', () => {
  test('trustProxy and proxyHeaders are checked when the server is configured', () => {
    const bad: [unknown, RegExp][] = [
      [0, /option 'trustProxy': a hop count must be an integer from 1 to 64 \(false: none\), got 0/],
      [1.5, /hop count/],
      [65, /hop count/],
      [[], /non-empty list/],
      [[1], /non-empty list/],
      ['yes', /"yes" is not an IP address, a CIDR block or a known name/],
      [
        ['10.0.0.0/8', '10.0.0.0/33'],
        /^peregrine: option 'trustProxy': "10\.0\.0\.0\/33" has an invalid prefix length \(0 to 32\)$/,
      ],
      [['192.168.1.1/16'], /did you mean 192\.168\.0\.0\/16\?/],
      [{}, /non-empty list/],
      [null, /non-empty list/],
    ];
    for (const [value, message] of bad) {
      assert.throws(
        () => resolveOptions({ trustProxy: value as never }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
    assert.throws(
      () => resolveOptions({ proxyHeaders: 'x-real-ip' as never }),
      /'x-forwarded' or 'forwarded'/,
    );
    assert.throws(() => resolveOptions({ proxyProtocol: 1 as never }), /boolean/);
    for (const good of [
      false,
      true,
      1,
      64,
      'loopback',
      'loopback, 10.0.0.0/8',
      ['::1', 'private', 'linklocal'],
    ])
      assert.equal(resolveOptions({ trustProxy: good }).trustProxy, good);
  });
});
