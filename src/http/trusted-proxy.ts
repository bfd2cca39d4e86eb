import { AddressSet } from '../net/cidr.ts';
import { type IpBytes, parsePeerAddress } from '../net/ip.ts';
import {
  type ForwardedElement,
  type ForwardedNode,
  MAX_HOPS,
  parseForwarded,
  parseForwardedFor,
  parseForwardedNode,
} from './forwarded.ts';

/**
 * Which proxies' word counts (the `trustProxy` option), and what a request's client looks like once
 * it does: the client's address, the protocol and the host it used, read from `X-Forwarded-*` or
 * `Forwarded` (RFC 7239) — only ever from a trusted peer, and walked from the right so that only
 * hops written by trusted proxies are believed (nginx's `real_ip_recursive`, Express's `trust proxy`).
 */

/** The `trustProxy` option: `true` (every peer), a hop count, or addresses, CIDR blocks and range names. */
export type TrustProxy = boolean | number | string | readonly string[];

/** The `proxyHeaders` option: which family of headers the trusted proxies set. */
export type ProxyHeaders = 'x-forwarded' | 'forwarded';

/** The client as the request's trusted proxies describe it. */
export interface ClientView {
  readonly address: string;
  readonly protocol: 'http' | 'https';
  readonly host: string | undefined;
}

/** What the resolution reads from a request. */
export interface ForwardedSource {
  /** The connection's peer (after any PROXY protocol header). */
  readonly remoteAddress: string | undefined;
  /** The connection's own protocol, as the server saw it (https also when a PROXY v2 header said TLS). */
  readonly ownProtocol: 'http' | 'https';
  /** The host the request itself names (absolute-form target, `:authority` or `Host`), unchecked. */
  readonly ownHost: string | undefined;
  header(name: string): string | undefined;
}

export class ProxyTrust {
  readonly headers: ProxyHeaders;
  /** Trust hops while their index (0: the peer) is below this, whatever their address. */
  private readonly hops: number;
  /** Or trust hops whose address is in this set. */
  private readonly addresses: AddressSet | null;

  private constructor(hops: number, addresses: AddressSet | null, headers: ProxyHeaders) {
    this.hops = hops;
    this.addresses = addresses;
    this.headers = headers;
  }

  /**
   * The rules for an option value, or null when no proxy is trusted (`false`). Throws a RangeError or
   * TypeError whose message says what is wrong with the value.
   */
  static from(trust: unknown, headers: ProxyHeaders = 'x-forwarded'): ProxyTrust | null {
    if (trust === false) return null;
    if (trust === true) return new ProxyTrust(Number.POSITIVE_INFINITY, null, headers);
    if (typeof trust === 'number') {
      if (!Number.isInteger(trust) || trust < 1 || trust > MAX_HOPS)
        throw new RangeError(`a hop count must be an integer from 1 to ${MAX_HOPS} (false: none)`);
      return new ProxyTrust(trust, null, headers);
    }
    const list = typeof trust === 'string' ? trust.split(',') : trust;
    if (!Array.isArray(list) || list.length === 0 || list.some((e) => typeof e !== 'string'))
      throw new TypeError(
        'expected true, a hop count, or a non-empty list of addresses, CIDR blocks or names',
      );
    return new ProxyTrust(0, AddressSet.parse(list as string[]), headers);
  }

  /** Whether the hop at `index` (0: the peer), at `address`, is a trusted proxy. */
  private trusts(index: number, address: IpBytes | null): boolean {
    if (index < this.hops) return true;
    return address !== null && this.addresses?.has(address) === true;
  }

  /** The request's client, protocol and host, believing only what trusted hops wrote. */
  resolve(req: ForwardedSource): ClientView {
    const peer = req.remoteAddress ?? '';
    const own: ClientView = { address: peer, protocol: req.ownProtocol, host: checkedHost(req.ownHost) };
    if (!this.trusts(0, parsePeerAddress(peer))) return own; // an untrusted peer's headers never count
    return this.headers === 'forwarded' ? this.fromForwarded(req, own) : this.fromXForwarded(req, own);
  }

  /**
   * X-Forwarded-For, walked from the right past trusted hops; X-Forwarded-Proto and -Host taken from
   * the same hop: each proxy that appends to XFF appends to these too, so the value that the proxy
   * facing the client wrote sits as far from the right as the client does in XFF. A proxy that
   * overwrites them leaves one value, which is then the one taken.
   */
  private fromXForwarded(req: ForwardedSource, own: ClientView): ClientView {
    let address = own.address;
    let depth = 1; // the hop (from the right, 1-based) whose proxy faced the client
    const xff = req.header('x-forwarded-for');
    if (xff !== undefined) {
      const entries = splitList(xff);
      if (entries === null) return own;
      for (let k = entries.length - 1; k >= 0; k--) {
        const node = parseForwardedFor(entries[k]!);
        if (node === null || node.kind !== 'ip') return own; // malformed: the header does not count
        address = node.address;
        depth = entries.length - k;
        if (!this.trusts(depth, node.bytes)) break;
      }
    }
    const proto = pick(req.header('x-forwarded-proto'), depth);
    const host = pick(req.header('x-forwarded-host'), depth);
    return {
      address,
      protocol: proto === undefined ? own.protocol : (protocolOf(proto) ?? own.protocol),
      host: host === undefined ? own.host : (checkedHost(host) ?? own.host),
    };
  }

  /**
   * Forwarded: each proxy adds one element describing the request it received (RFC 7239 §4), so the
   * element whose `for` is the client also says which protocol and host the client used. A `for`
   * that is no address (`unknown`, an obfuscated name) ends the walk: the client is then known only
   * as the trusted hop that reported it.
   */
  private fromForwarded(req: ForwardedSource, own: ClientView): ClientView {
    const header = req.header('forwarded');
    if (header === undefined) return own;
    const elements = parseForwarded(header);
    if (elements === null || elements.length === 0) return own;
    let address = own.address;
    let chosen: ForwardedElement | null = null;
    for (let k = elements.length - 1; k >= 0; k--) {
      const element = elements[k]!;
      // No `for` (it is optional) says as little as `for=unknown`.
      const node: ForwardedNode | null = element.for === undefined ? UNSAID : parseForwardedNode(element.for);
      if (node === null) return own; // malformed: the header does not count
      chosen = element;
      if (node.kind !== 'ip') break;
      address = node.address;
      if (!this.trusts(elements.length - k, node.bytes)) break;
    }
    const proto = chosen?.proto;
    const host = chosen?.host;
    return {
      address,
      protocol: proto === undefined ? own.protocol : (protocolOf(proto) ?? own.protocol),
      host: host === undefined ? own.host : (checkedHost(host) ?? own.host),
    };
  }
}

const UNSAID: ForwardedNode = { kind: 'hidden', name: 'unknown' };

/** The client of `req`: as its trusted proxies describe it, or with no trusted proxies, as it connected. */
export function resolveClient(req: ForwardedSource, trust: ProxyTrust | null): ClientView {
  if (trust !== null) return trust.resolve(req);
  return { address: req.remoteAddress ?? '', protocol: req.ownProtocol, host: checkedHost(req.ownHost) };
}

/** The trimmed members of a comma-separated list, or null for an empty member or more than MAX_HOPS. */
function splitList(value: string): string[] | null {
  const parts = value.split(',');
  if (parts.length > MAX_HOPS) return null;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!.trim();
    if (part === '') return null;
    parts[i] = part;
  }
  return parts;
}

/** The list member `depth` from the right, or the leftmost when there are fewer; undefined if none or malformed. */
function pick(value: string | undefined, depth: number): string | undefined {
  if (value === undefined) return undefined;
  const parts = splitList(value);
  if (parts === null) return undefined;
  return parts[Math.max(0, parts.length - depth)];
}

function protocolOf(value: string): 'http' | 'https' | null {
  const lower = value.toLowerCase();
  return lower === 'https' ? 'https' : lower === 'http' ? 'http' : null;
}

/**
 * RFC 9110 §7.2's Host: uri-host [ ":" port ], lower-cased; undefined for anything else (a path, a
 * user, spaces: what would let a header steer links or redirects somewhere else).
 */
export function checkedHost(host: string | undefined): string | undefined {
  if (host === undefined || host.length === 0 || host.length > 255 + 6) return undefined;
  if (!HOST.test(host)) return undefined;
  return host.toLowerCase();
}

/** reg-name (RFC 3986 §3.2.2, percent-encoded bytes included) or an IP-literal, then an optional port. */
const HOST =
  /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$/;
