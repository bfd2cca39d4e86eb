import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors.ts';

/**
 * Where a Redis (or Valkey) server is and how to log in, from a URL as redis-cli takes it
 * (https://www.iana.org/assignments/uri-schemes/prov/redis, …/rediss):
 *
 *   redis://[[user]:password@]host[:port][/db]     rediss://… for TLS
 *
 * Parsing is strict: anything else is a ConfigError that says what is wrong. Messages never repeat
 * the URL, since it may hold a password.
 */
export interface RedisAddress {
  /** rediss://: connect with TLS. */
  readonly tls: boolean;
  /** A host name or IP address (an IPv6 address without its brackets). */
  readonly host: string;
  readonly port: number;
  /** The ACL user for `AUTH user password`; undefined for `AUTH password` (the default user). */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** The database to SELECT (0, Redis's default, needs no SELECT). */
  readonly db: number;
}

export const DEFAULT_REDIS_PORT = 6379;

/** A DNS name or IPv4 address: letters, digits, '-', '_' and dots (RFC 3986's reg-name, unencoded). */
const HOST_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$/;

export function parseRedisUrl(url: string, option = 'url'): RedisAddress {
  const fail = (problem: string): never => {
    throw new ConfigError(`option '${option}': ${problem}`);
  };
  if (typeof url !== 'string') fail('must be a string like redis://host:6379');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme === null) fail('must start with redis:// or rediss://');
  const name = scheme![1]!.toLowerCase(); // schemes are case-insensitive (RFC 3986 §3.1)
  if (name !== 'redis' && name !== 'rediss') fail(`the scheme must be redis or rediss, not ${name}`);
  let rest = url.slice(scheme![0].length);

  // The password may hold any character; the host part can't hold '@', so the last one ends it.
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon === -1)
      fail('a user without a password: write redis://user:password@host, or redis://:password@host');
    const user = decode(userinfo.slice(0, colon), 'the user name', fail);
    password = decode(userinfo.slice(colon + 1), 'the password', fail);
    if (password.length === 0) fail('the password is empty');
    username = user.length === 0 ? undefined : user;
  }

  const pathStart = rest.search(/[/?#]/);
  const authority = pathStart === -1 ? rest : rest.slice(0, pathStart);
  const path = pathStart === -1 ? '' : rest.slice(pathStart);

  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) fail('an IPv6 address without its closing bracket');
    host = authority.slice(1, close);
    if (!isIPv6(host)) fail('the address in brackets is not an IPv6 address');
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail('unexpected characters after the IPv6 address');
    portText = after === '' ? undefined : after.slice(1);
  } else {
    if (authority.indexOf(':') !== authority.lastIndexOf(':'))
      fail('an IPv6 address must be in brackets, as in redis://[::1]:6379');
    const colon = authority.indexOf(':');
    host = colon === -1 ? authority : authority.slice(0, colon);
    portText = colon === -1 ? undefined : authority.slice(colon + 1);
    if (host === '') fail('the host is missing');
    if (host.length > 253 || !HOST_NAME.test(host))
      fail('the host must be a DNS name, an IPv4 address or an IPv6 address in brackets');
  }

  let port = DEFAULT_REDIS_PORT;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) fail('the port must be a number from 1 to 65535');
    port = Number(portText);
    if (port < 1 || port > 65535) fail('the port must be a number from 1 to 65535');
  }

  let db = 0;
  if (path.startsWith('?') || path.startsWith('#') || /[?#]/.test(path))
    fail('query strings and fragments are not supported');
  if (path !== '' && path !== '/') {
    const digits = path.slice(1);
    if (!/^(?:0|[1-9][0-9]{0,8})$/.test(digits))
      fail('the path must be empty or a database number, as in redis://host:6379/2');
    db = Number(digits);
  }
  return { tls: name === 'rediss', host, port, username, password, db };
}

function decode(text: string, what: string, fail: (problem: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(`${what} has an invalid percent-encoding (%XX)`);
  }
}

/** `host:port` for messages, an IPv6 address in brackets; never the password. */
export function addressText(address: RedisAddress): string {
  const { host, port } = address;
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
