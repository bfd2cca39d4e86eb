import { PeregrineError } from '../errors.ts';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../net/ip.ts';

/**
 * The PROXY protocol header a proxy sends before anything else on a connection it relays, carrying
 * the client's address (haproxy's doc/proxy-protocol.txt, versions 1 and 2). Parsing is strict: any
 * byte that does not fit the spec is an error (§2.1: "any sequence which does not exactly match the
 * protocol must be discarded"), and the header is bounded, so a peer can neither smuggle bytes past
 * it nor make us hold many.
 *
 * `parseProxyHeader` is stateless (it re-reads the bytes it is given from the start, as
 * picohttpparser does with a head); `ProxyHeaderReader` holds the bytes of a header that arrives in
 * pieces.
 */

/** The client's address, as the proxy saw it. */
export interface ProxiedAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/** A complete header. */
export interface ProxyHeader {
  /** Its length in bytes: what follows belongs to the relayed connection. */
  readonly length: number;
  /**
   * The client's address, or null when the connection's own endpoints stand (a v2 LOCAL command
   * such as a health check, v1 UNKNOWN, or a v2 family with no IP address: AF_UNSPEC, AF_UNIX).
   */
  readonly source: ProxiedAddress | null;
  /** Version 2 only: the client reached the proxy over TLS (PP2_TYPE_SSL with PP2_CLIENT_SSL, §2.2.6). */
  readonly ssl: boolean;
}

/** The header is not a valid PROXY protocol header: the connection must be closed. */
export class ProxyProtocolError extends PeregrineError {
  constructor(message: string) {
    super('ERR_PEREGRINE_PROXY_PROTOCOL', message);
    this.name = 'ProxyProtocolError';
  }
}

/** §2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses). */
export const V1_MAX_LENGTH = 107;
/**
 * The most address and TLV bytes accepted after the 16-byte v2 header. The spec allows up to 65535;
 * the addresses take at most 216 (AF_UNIX) and the TLVs proxies send (ALPN, authority, SSL details,
 * cloud endpoint ids) a few hundred, so more is treated as an attack.
 */
export const V2_MAX_BODY = 4096;
/** The most bytes a header can take. */
export const MAX_HEADER_LENGTH = 16 + V2_MAX_BODY;

/** §2.2: the v2 signature. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

/**
 * The header at the start of `buf[start..end)`: the header, or null while it is incomplete (every
 * byte so far fits). Throws a ProxyProtocolError as soon as a byte can't belong to a valid header.
 */
export function parseProxyHeader(buf: Uint8Array, start: number, end: number): ProxyHeader | null {
  if (end <= start) return null;
  const first = buf[start];
  if (first === V1_PREFIX[0]) return parseV1(buf, start, end);
  if (first === V2_SIGNATURE[0]) return parseV2(buf, start, end);
  throw new ProxyProtocolError('the connection does not start with a PROXY protocol header');
}

// ─────────────────────────── version 1 (§2.1) ───────────────────────────

function parseV1(buf: Uint8Array, start: number, end: number): ProxyHeader | null {
  const available = Math.min(end - start, V1_MAX_LENGTH);
  let lineEnd = -1;
  for (let i = 0; i < available; i++) {
    const c = buf[start + i]!;
    if (i < V1_PREFIX.length) {
      if (c !== V1_PREFIX[i]) throw new ProxyProtocolError('invalid PROXY protocol v1 header');
      continue;
    }
    if (c === 0x0d) {
      if (i + 1 < available && buf[start + i + 1] !== 0x0a)
        throw new ProxyProtocolError('PROXY protocol v1 header: CR without LF');
      lineEnd = i;
      break;
    }
    // US-ASCII text only: a binary byte means this is no v1 header (found early, not at the CRLF).
    if (c < 0x20 || c > 0x7e) throw new ProxyProtocolError('PROXY protocol v1 header: not text');
  }
  if (lineEnd === -1 || lineEnd + 1 >= available) {
    if (end - start >= V1_MAX_LENGTH)
      throw new ProxyProtocolError(`PROXY protocol v1 header: no CRLF in the first ${V1_MAX_LENGTH} bytes`);
    return null;
  }
  const line = Buffer.from(buf.buffer, buf.byteOffset + start, lineEnd).toString('latin1');
  const length = lineEnd + 2;
  const parts = line.split(' ');
  // "PROXY UNKNOWN": the rest of the line is ignored, and the connection's endpoints stand.
  if (parts[1] === 'UNKNOWN') return { length, source: null, ssl: false };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6'))
    throw new ProxyProtocolError('PROXY protocol v1 header: expected TCP4, TCP6 or UNKNOWN and four fields');
  const v4 = parts[1] === 'TCP4';
  const source = v4 ? parseIPv4(parts[2]!) : parseIPv6(parts[2]!);
  const destination = v4 ? parseIPv4(parts[3]!) : parseIPv6(parts[3]!);
  const sourcePort = port(parts[4]!);
  if (source === null || destination === null || sourcePort === -1 || port(parts[5]!) === -1)
    throw new ProxyProtocolError(`PROXY protocol v1 header: invalid ${parts[1]} addresses or ports`);
  return {
    length,
    source: v4
      ? { address: formatIPv4(source, 12), port: sourcePort, family: 'IPv4' }
      : { address: formatIPv6(source), port: sourcePort, family: 'IPv6' },
    ssl: false,
  };
}

/** A decimal port 0–65535 without leading zeros (§2.1), or -1. */
function port(text: string): number {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(text)) return -1;
  const value = Number(text);
  return value <= 65535 ? value : -1;
}

// ─────────────────────────── version 2 (§2.2) ───────────────────────────

const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const AF_UNSPEC = 0x0;
const AF_INET = 0x1;
const AF_UNIX = 0x3;
const PROTO_UNSPEC = 0x0;
const PROTO_DGRAM = 0x2;
/** §2.2: the address block's size for each family. */
const ADDRESS_BYTES = [0, 12, 36, 216];
const PP2_TYPE_CRC32C = 0x03;
const PP2_TYPE_SSL = 0x20;
const PP2_CLIENT_SSL = 0x01;

function parseV2(buf: Uint8Array, start: number, end: number): ProxyHeader | null {
  const available = end - start;
  const signed = Math.min(available, V2_SIGNATURE.length);
  for (let i = 0; i < signed; i++) {
    if (buf[start + i] !== V2_SIGNATURE[i])
      throw new ProxyProtocolError('invalid PROXY protocol v2 signature');
  }
  if (available < 16) {
    if (available > 12) checkVersionAndFamily(buf, start, available);
    return null;
  }
  const { command, family, protocol } = checkVersionAndFamily(buf, start, available);
  const bodyLength = (buf[start + 14]! << 8) | buf[start + 15]!;
  if (bodyLength > V2_MAX_BODY)
    throw new ProxyProtocolError(
      `PROXY protocol v2 header: ${bodyLength} address bytes, more than ${V2_MAX_BODY}`,
    );
  const length = 16 + bodyLength;
  if (available < length) return null;
  // LOCAL (a proxy's own connection, e.g. a health check): the real endpoints, the block ignored.
  if (command === CMD_LOCAL) return { length, source: null, ssl: false };
  const body = start + 16;
  const addressBytes = ADDRESS_BYTES[family]!;
  if (bodyLength < addressBytes)
    throw new ProxyProtocolError('PROXY protocol v2 header: address block shorter than its family');
  // AF_UNSPEC or an unspecified protocol: the rest can't be interpreted (not even as TLVs).
  if (family === AF_UNSPEC || protocol === PROTO_UNSPEC) return { length, source: null, ssl: false };
  const ssl = checkTlvs(buf, start, body + addressBytes, start + length);
  // A relayed datagram flow or a UNIX socket has no TCP client address to show: the real
  // endpoints stand, as the spec asks of a receiver that does not support a combination.
  if (protocol === PROTO_DGRAM || family === AF_UNIX) return { length, source: null, ssl };
  const sourcePort = family === AF_INET ? readPort(buf, body + 8) : readPort(buf, body + 32);
  const source: ProxiedAddress =
    family === AF_INET
      ? { address: formatIPv4(buf, body), port: sourcePort, family: 'IPv4' }
      : { address: formatIPv6(buf, body), port: sourcePort, family: 'IPv6' };
  return { length, source, ssl };
}

function readPort(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

/** Bytes 13 and 14, checked as soon as they arrive (a receiver "must drop" unknown values). */
function checkVersionAndFamily(
  buf: Uint8Array,
  start: number,
  available: number,
): { command: number; family: number; protocol: number } {
  const versionCommand = buf[start + 12]!;
  const command = versionCommand & 0x0f;
  if (versionCommand >> 4 !== 2 || (command !== CMD_LOCAL && command !== CMD_PROXY))
    throw new ProxyProtocolError('PROXY protocol v2 header: unknown version or command');
  if (available < 14) return { command, family: 0, protocol: 0 };
  const familyProtocol = buf[start + 13]!;
  const family = familyProtocol >> 4;
  const protocol = familyProtocol & 0x0f;
  if (family > AF_UNIX || protocol > PROTO_DGRAM)
    throw new ProxyProtocolError('PROXY protocol v2 header: unknown address family or protocol');
  return { command, family, protocol };
}

/**
 * Walks the TLVs in `buf[from..to)` (§2.2): each must fit exactly, and a CRC32C TLV must match
 * the header (§2.2.3, "the receiver MUST treat the TCP connection as invalid" otherwise). Returns
 * whether a PP2_TYPE_SSL TLV says the client used TLS.
 */
function checkTlvs(buf: Uint8Array, headerStart: number, from: number, to: number): boolean {
  let ssl = false;
  let at = from;
  while (at < to) {
    if (to - at < 3) throw new ProxyProtocolError('PROXY protocol v2 header: truncated TLV');
    const type = buf[at]!;
    const length = (buf[at + 1]! << 8) | buf[at + 2]!;
    const value = at + 3;
    if (value + length > to)
      throw new ProxyProtocolError('PROXY protocol v2 header: TLV longer than the header');
    if (type === PP2_TYPE_CRC32C) {
      if (length !== 4)
        throw new ProxyProtocolError('PROXY protocol v2 header: CRC32C TLV of the wrong size');
      const sent =
        ((buf[value]! << 24) | (buf[value + 1]! << 16) | (buf[value + 2]! << 8) | buf[value + 3]!) >>> 0;
      if (crc32cWithZeros(buf, headerStart, to, value) !== sent)
        throw new ProxyProtocolError('PROXY protocol v2 header: CRC32C mismatch');
    } else if (type === PP2_TYPE_SSL && length >= 1) {
      ssl = (buf[value]! & PP2_CLIENT_SSL) !== 0;
    }
    at = value + length;
  }
  return ssl;
}

/** CRC32C (Castagnoli, RFC 4960 Appendix B) lookup table, reflected polynomial 0x82F63B78. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C of `buf[from..to)` with the four bytes at `zeroAt` read as zeros (§2.2.3). */
function crc32cWithZeros(buf: Uint8Array, from: number, to: number, zeroAt: number): number {
  let crc = 0xffffffff;
  for (let i = from; i < to; i++) {
    const byte = i >= zeroAt && i < zeroAt + 4 ? 0 : buf[i]!;
    crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC32C of `buf`, for tests that build v2 headers with a checksum. */
export function crc32c(buf: Uint8Array): number {
  return crc32cWithZeros(buf, 0, buf.length, buf.length);
}

// ─────────────────────────── reading from a socket ───────────────────────────

/**
 * Collects a header that may arrive in pieces (even byte by byte). `feed` takes each read; once it
 * returns the header, `usedOfLast` says how many bytes of that last read were the header's (the rest
 * belong to the relayed connection). Bytes are copied only when a header spans reads.
 */
export class ProxyHeaderReader {
  /** Bytes of the last read that belonged to the header, once complete. */
  usedOfLast = 0;
  private held: Buffer | null = null;
  private heldLength = 0;

  /** The header once complete, else null; throws a ProxyProtocolError when the bytes can't be one. */
  feed(chunk: Uint8Array, length: number): ProxyHeader | null {
    if (this.heldLength === 0) {
      const header = parseProxyHeader(chunk, 0, length);
      if (header !== null) {
        this.usedOfLast = header.length;
        return header;
      }
      this.held = Buffer.allocUnsafe(MAX_HEADER_LENGTH);
    }
    const held = this.held!;
    const before = this.heldLength;
    const take = Math.min(length, MAX_HEADER_LENGTH - before);
    held.set(chunk.subarray(0, take), before);
    this.heldLength = before + take;
    const header = parseProxyHeader(held, 0, this.heldLength);
    if (header === null) return null;
    this.usedOfLast = header.length - before;
    this.held = null;
    return header;
  }
}
