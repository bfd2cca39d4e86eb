/**
 * IP addresses as 16 bytes: IPv6 as they are, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291
 * §2.5.5.2), so that `127.0.0.1` and `::ffff:127.0.0.1` (what a dual-stack socket reports) are one
 * address to every comparison. Parsing is strict: what is not exactly an address is null, never a
 * guess (no octal or shortened IPv4 forms, no zone in the middle).
 */

/** An address in its 16-byte form. */
export type IpBytes = Uint8Array;

/** Bytes 0–11 of an IPv4-mapped IPv6 address. */
const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Strict dotted-quad IPv4 in `s[start..end)`: four decimal numbers 0–255 without leading zeros (the
 * PROXY protocol's rule, which also rules out octal readings). Writes the bytes to `out[at..at+4)`.
 */
function parseIPv4Into(s: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (digits === 0 || part > 3) return false;
      out[at + part++] = value;
      value = digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39) return false;
    if (digits > 0 && value === 0) return false; // a leading zero
    value = value * 10 + (c - 0x30);
    if (++digits > 3 || value > 255) return false;
  }
  return part === 4;
}

/** IPv6 text (RFC 4291 §2.2, all three forms) in `s[start..end)` into `out`, or false. */
function parseIPv6Into(s: string, start: number, end: number, out: Uint8Array): boolean {
  if (end - start < 2 || end - start > 45) return false;
  const groups: number[] = [];
  let gap = -1; // where "::" stands, as a group index
  let i = start;
  if (s.charCodeAt(i) === 0x3a) {
    if (s.charCodeAt(i + 1) !== 0x3a) return false;
    gap = 0;
    i += 2;
    if (i === end) {
      out.fill(0);
      return true;
    }
  }
  let tail4 = false;
  while (i < end) {
    let j = i;
    let value = 0;
    while (j < end && j - i < 5) {
      const c = s.charCodeAt(j);
      const d = hexDigit(c);
      if (d < 0) break;
      value = value * 16 + d;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 0x2e) {
      // An IPv4 tail (`::ffff:1.2.3.4`): the last 32 bits.
      if (groups.length > 6) return false;
      const v4 = new Uint8Array(4);
      if (!parseIPv4Into(s, i, end, v4, 0)) return false;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      tail4 = true;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups.push(value);
    if (j === end) break;
    if (s.charCodeAt(j) !== 0x3a) return false;
    if (j + 1 < end && s.charCodeAt(j + 1) === 0x3a) {
      if (gap !== -1) return false; // one "::" at most
      gap = groups.length;
      i = j + 2;
      if (i === end) break;
      continue;
    }
    if (j + 1 === end) return false; // a trailing single colon
    i = j + 1;
  }
  if (tail4 && groups.length > 8) return false;
  if (gap === -1 ? groups.length !== 8 : groups.length > 7) return false;
  out.fill(0);
  const after = groups.length - (gap === -1 ? groups.length : gap);
  for (let g = 0; g < groups.length; g++) {
    const slot = gap === -1 || g < gap ? g : 8 - after + (g - gap);
    out[slot * 2] = groups[g]! >> 8;
    out[slot * 2 + 1] = groups[g]! & 0xff;
  }
  return true;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** A strict dotted-quad IPv4 address as its mapped 16 bytes, or null. */
export function parseIPv4(s: string): IpBytes | null {
  const out = new Uint8Array(16);
  out.set(MAPPED_PREFIX);
  return parseIPv4Into(s, 0, s.length, out, 12) ? out : null;
}

/** An IPv6 address (no brackets, no zone) as its 16 bytes, or null. */
export function parseIPv6(s: string): IpBytes | null {
  const out = new Uint8Array(16);
  return parseIPv6Into(s, 0, s.length, out) ? out : null;
}

/** An IPv4 or IPv6 address as 16 bytes, or null. */
export function parseIP(s: string): IpBytes | null {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

/**
 * A socket's peer address as 16 bytes: as parseIP, but an IPv6 zone (`fe80::1%eth0`, which Node
 * reports for link-local peers) is dropped.
 */
export function parsePeerAddress(s: string): IpBytes | null {
  const zone = s.indexOf('%');
  return parseIP(zone === -1 ? s : s.slice(0, zone));
}

/** Whether the 16 bytes are an IPv4-mapped address. */
export function isMappedIPv4(bytes: IpBytes): boolean {
  for (let i = 0; i < 12; i++) if (bytes[i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

/** Four bytes at `at` as dotted-quad text. */
export function formatIPv4(bytes: Uint8Array, at = 0): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/**
 * Sixteen bytes at `at` as IPv6 text in the canonical form of RFC 5952 §4 (lower case, no leading
 * zeros, the longest run of two or more zero groups, the first of equals, as "::"), with an IPv4
 * tail for IPv4-mapped addresses (§5), as Node writes them.
 */
export function formatIPv6(bytes: Uint8Array, at = 0): string {
  const groups = new Array<number>(8);
  for (let g = 0; g < 8; g++) groups[g] = (bytes[at + g * 2]! << 8) | bytes[at + g * 2 + 1]!;
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0) {
    if (groups[5] === 0xffff) return `::ffff:${formatIPv4(bytes, at + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let g = 0; g < 8; ) {
    if (groups[g] !== 0) {
      g++;
      continue;
    }
    let e = g;
    while (e < 8 && groups[e] === 0) e++;
    if (e - g > bestLength) {
      bestStart = g;
      bestLength = e - g;
    }
    g = e;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((n) => n.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** The address as text: dotted quad for IPv4-mapped bytes, else canonical IPv6. */
export function formatIP(bytes: IpBytes): string {
  return isMappedIPv4(bytes) ? formatIPv4(bytes, 12) : formatIPv6(bytes);
}
