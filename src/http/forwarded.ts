import { formatIP, type IpBytes, parseIPv4, parseIPv6 } from '../net/ip.ts';
import { TOKEN } from './tokens.ts';

/**
 * Parsers for the headers proxies add: `Forwarded` (RFC 7239) and `X-Forwarded-For` (de facto).
 * They read untrusted input: anything malformed is null, never an exception, never a guess.
 */

/** One hop's node: an IP address (with its text, normalized), or a name that is not one. */
export type ForwardedNode =
  | { readonly kind: 'ip'; readonly address: string; readonly bytes: IpBytes }
  /** RFC 7239 §6.2 "unknown", or an obfuscated identifier (§6.3, `_hidden`). */
  | { readonly kind: 'hidden'; readonly name: string };

/** One forwarded-element (RFC 7239 §4): the parameters one proxy added. Values as sent, unquoted. */
export interface ForwardedElement {
  for: string | undefined;
  proto: string | undefined;
  host: string | undefined;
}

/** Upper bound on elements read from one header: a longer chain is treated as malformed. */
export const MAX_HOPS = 64;

/**
 * `Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8::1]:4711"` as its elements,
 * left to right; null when the value breaks RFC 7239 §4's grammar (a parameter without `=`, a bad
 * token, an unclosed quoted-string, a parameter twice in one element), or has more than MAX_HOPS.
 */
export function parseForwarded(value: string): ForwardedElement[] | null {
  const elements: ForwardedElement[] = [];
  let element: ForwardedElement = { for: undefined, proto: undefined, host: undefined };
  let pairs = 0;
  let i = 0;
  const n = value.length;
  for (;;) {
    i = skipSpace(value, i);
    if (i < n && value.charCodeAt(i) !== 0x2c /* , */ && value.charCodeAt(i) !== 0x3b /* ; */) {
      // forwarded-pair = token "=" value
      const nameStart = i;
      while (i < n && TOKEN[value.charCodeAt(i)] === 1) i++;
      if (i === nameStart || value.charCodeAt(i) !== 0x3d /* = */) return null;
      const name = value.slice(nameStart, i).toLowerCase();
      i++;
      let parameter: string;
      if (value.charCodeAt(i) === 0x22 /* " */) {
        // quoted-string (RFC 9110 §5.6.4): backslash escapes any visible char.
        let text = '';
        i++;
        for (;;) {
          if (i >= n) return null;
          const c = value.charCodeAt(i);
          if (c === 0x22) break;
          if (c === 0x5c /* \ */) {
            i++;
            if (i >= n) return null;
          } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return null;
          text += value[i];
          i++;
        }
        i++;
        parameter = text;
      } else {
        const valueStart = i;
        while (i < n && TOKEN[value.charCodeAt(i)] === 1) i++;
        if (i === valueStart) return null;
        parameter = value.slice(valueStart, i);
      }
      if (name === 'for' || name === 'proto' || name === 'host') {
        if (element[name] !== undefined) return null; // §5: each parameter at most once per element
        element[name] = parameter;
      }
      pairs++;
      i = skipSpace(value, i);
    }
    if (i >= n || value.charCodeAt(i) === 0x2c) {
      // The end of an element; empty list members (`a, , b`) are allowed by RFC 9110 §5.6.1.
      if (pairs > 0) {
        if (elements.length === MAX_HOPS) return null;
        elements.push(element);
        element = { for: undefined, proto: undefined, host: undefined };
        pairs = 0;
      }
      if (i >= n) return elements;
      i++;
      continue;
    }
    if (value.charCodeAt(i) === 0x3b) {
      i++;
      continue;
    }
    return null;
  }
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  return i;
}

/**
 * A Forwarded `for=` value (RFC 7239 §6): `192.0.2.43`, `"[2001:db8:cafe::17]"`, either with a port
 * (`:4711`, or an obfuscated `:_port`), `unknown`, or an obfuscated `_identifier`. Null otherwise.
 */
export function parseForwardedNode(node: string): ForwardedNode | null {
  if (node.toLowerCase() === 'unknown' || OBFUSCATED.test(node)) return { kind: 'hidden', name: node };
  if (node.charCodeAt(0) === 0x5b /* [ */) {
    const close = node.indexOf(']');
    if (close === -1 || !validPort(node, close + 1, true)) return null;
    return ipNode(parseIPv6(node.slice(1, close)));
  }
  const colon = node.indexOf(':');
  if (colon !== -1 && !validPort(node, colon, true)) return null;
  return ipNode(parseIPv4(colon === -1 ? node : node.slice(0, colon)));
}

/** RFC 7239 §6.3: obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-"). */
const OBFUSCATED = /^_[A-Za-z0-9._-]+$/;

/**
 * An X-Forwarded-For entry: an IPv4 or IPv6 address, optionally with a port as some proxies append
 * it (`192.0.2.1:5678`, `[2001:db8::1]:5678`). Null otherwise (`unknown` included).
 */
export function parseForwardedFor(entry: string): ForwardedNode | null {
  if (entry.charCodeAt(0) === 0x5b /* [ */) {
    const close = entry.indexOf(']');
    if (close === -1 || !validPort(entry, close + 1, false)) return null;
    return ipNode(parseIPv6(entry.slice(1, close)));
  }
  const colon = entry.indexOf(':');
  if (colon !== -1 && entry.indexOf(':', colon + 1) !== -1) return ipNode(parseIPv6(entry)); // bare IPv6
  if (colon !== -1 && !validPort(entry, colon, false)) return null;
  return ipNode(parseIPv4(colon === -1 ? entry : entry.slice(0, colon)));
}

/** `s[from..)` is empty or `:` and a port (1–5 digits), or with `obfuscated`, `:_name`. */
function validPort(s: string, from: number, obfuscated: boolean): boolean {
  if (from === s.length) return true;
  if (s.charCodeAt(from) !== 0x3a) return false;
  const port = s.slice(from + 1);
  if (/^[0-9]{1,5}$/.test(port)) return Number(port) <= 65535;
  return obfuscated && OBFUSCATED.test(port);
}

function ipNode(bytes: IpBytes | null): ForwardedNode | null {
  if (bytes === null) return null;
  // Canonical text (RFC 5952; IPv4-mapped as dotted quad): one client, one string, however written.
  return { kind: 'ip', address: formatIP(bytes), bytes };
}
