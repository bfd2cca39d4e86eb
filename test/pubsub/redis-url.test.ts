import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { parseRedisUrl } from '../../src/pubsub/redis-url.ts';

const plain = { tls: false, username: undefined, password: undefined, db: 0 };

test('host, port and TLS from the scheme; 6379 by default', () => {
  assert.deepEqual(parseRedisUrl('redis://localhost'), { ...plain, host: 'localhost', port: 6379 });
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6390'), { ...plain, host: '127.0.0.1', port: 6390 });
  assert.deepEqual(parseRedisUrl('rediss://redis.example.com:6380/'), {
    ...plain,
    tls: true,
    host: 'redis.example.com',
    port: 6380,
  });
  assert.deepEqual(parseRedisUrl('REDIS://cache_1.internal'), {
    ...plain,
    host: 'cache_1.internal',
    port: 6379,
  });
});

test('IPv6 addresses in brackets', () => {
  assert.deepEqual(parseRedisUrl('redis://[::1]:7000'), { ...plain, host: '::1', port: 7000 });
  assert.deepEqual(parseRedisUrl('rediss://[2001:db8::5]'), {
    ...plain,
    tls: true,
    host: '2001:db8::5',
    port: 6379,
  });
});

test('password alone, user and password, percent-decoded; the database from the path', () => {
  assert.deepEqual(parseRedisUrl('redis://:s3cret@h/2'), {
    ...plain,
    host: 'h',
    port: 6379,
    password: 's3cret',
    db: 2,
  });
  assert.deepEqual(parseRedisUrl('redis://app:p%40ss%3Aw%2Frd@h:1/15'), {
    ...plain,
    host: 'h',
    port: 1,
    username: 'app',
    password: 'p@ss:w/rd',
    db: 15,
  });
  assert.equal(parseRedisUrl('redis://us%C3%A9r:x@h').username, 'usér');
  // An unencoded '@' or '/' in the password still works: the last '@' ends it.
  assert.equal(parseRedisUrl('redis://:a@b/c@h/3').password, 'a@b/c');
  assert.equal(parseRedisUrl('redis://:a@b/c@h/3').db, 3);
});

test('anything else is a ConfigError that says what is wrong, never echoing the password', () => {
  const cases: [string, RegExp][] = [
    ['http://h', /the scheme must be redis or rediss, not http/],
    ['redis:h', /must start with redis:\/\/ or rediss:\/\//],
    ['h:6379', /must start with redis:\/\//],
    ['', /must start with/],
    ['redis://', /the host is missing/],
    ['redis://:6379', /the host is missing/],
    ['redis://h:', /the port must be a number from 1 to 65535/],
    ['redis://h:0', /the port must be a number from 1 to 65535/],
    ['redis://h:65536', /the port must be a number from 1 to 65535/],
    ['redis://h:12ab', /the port must be a number/],
    ['redis://h:-1', /the port must be a number/],
    ['redis://h/db', /the path must be empty or a database number/],
    ['redis://h/-1', /the path must be empty or a database number/],
    ['redis://h/01', /the path must be empty or a database number/],
    ['redis://h/1/', /the path must be empty or a database number/],
    ['redis://h?db=1', /query strings and fragments are not supported/],
    ['redis://h/1#x', /query strings and fragments are not supported/],
    ['redis://h o', /the host must be a DNS name/],
    ['redis://h%41', /the host must be a DNS name/],
    ['redis://::1', /an IPv6 address must be in brackets/],
    ['redis://2001:db8::1:6379', /an IPv6 address must be in brackets/],
    ['redis://[::1', /without its closing bracket/],
    ['redis://[1.2.3.4]', /not an IPv6 address/],
    ['redis://[::1]x', /unexpected characters after the IPv6 address/],
    ['redis://secretword@h', /a user without a password/],
    ['redis://user:@h', /the password is empty/],
    ['redis://:%zzsecret@h', /the password has an invalid percent-encoding/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseRedisUrl(url),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, url);
        assert.match(error.message, message, url);
        assert.match(error.message, /^peregrine: option 'url': /);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
  }
  assert.throws(() => parseRedisUrl(42 as unknown as string), ConfigError);
  assert.match(
    (() => {
      try {
        parseRedisUrl('ftp://x', 'pubsub.redis');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })(),
    /option 'pubsub.redis'/,
  );
});
