import { formatIP, type IpBytes, isMappedIPv4, parseIP } from './ip.ts';

/**
 * A set of address ranges (CIDR blocks, RFC 4632 §3.1 and RFC 4291 §2.3) to test addresses against.
 * IPv4 blocks are kept as their IPv4-mapped IPv6 blocks, so `10.0.0.0/8` also holds
 * `::ffff:10.1.2.3` and `::ffff:0:0/96` holds every IPv4 address.
 */

/** Names for well-known ranges (the names Express's `trust proxy` takes). */
export const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  // RFC 1918 and RFC 4193: the same ranges, by the name most people know them.
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

interface Block {
  bytes: IpBytes;
  /** Prefix length over all 128 bits (an IPv4 /8 is a /104). */
  bits: number;
}

export class AddressSet {
  private readonly blocks: Block[];

  private constructor(blocks: Block[]) {
    this.blocks = blocks;
  }

  /**
   * Addresses (`10.0.0.1`, `::1`), CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and names from
   * NAMED_RANGES. Throws a RangeError naming the first entry that is none of them, or a block with
   * bits set past its prefix (`10.0.0.1/8`, most likely a typo).
   */
  static parse(entries: readonly string[]): AddressSet {
    const blocks: Block[] = [];
    for (const entry of entries) {
      const named = NAMED_RANGES[entry.toLowerCase()];
      if (named !== undefined) {
        for (const range of named) blocks.push(parseBlock(range));
        continue;
      }
      blocks.push(parseBlock(entry));
    }
    return new AddressSet(blocks);
  }

  get size(): number {
    return this.blocks.length;
  }

  has(address: IpBytes): boolean {
    for (const block of this.blocks) if (inBlock(address, block)) return true;
    return false;
  }
}

function parseBlock(entry: string): Block {
  const text = entry.trim();
  const slash = text.indexOf('/');
  const bytes = parseIP(slash === -1 ? text : text.slice(0, slash));
  if (bytes === null)
    throw new RangeError(`${JSON.stringify(entry)} is not an IP address, a CIDR block or a known name`);
  const v4 = isMappedIPv4(bytes) && !text.includes(':');
  if (slash === -1) return { bytes, bits: 128 };
  const prefix = text.slice(slash + 1);
  const max = v4 ? 32 : 128;
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > max) {
    throw new RangeError(`${JSON.stringify(entry)} has an invalid prefix length (0 to ${max})`);
  }
  const bits = Number(prefix) + (v4 ? 96 : 0);
  const block = { bytes, bits };
  const base = new Uint8Array(bytes);
  clearAfter(base, bits);
  if (!equalBytes(base, bytes)) {
    throw new RangeError(
      `${JSON.stringify(entry)} has bits set past its /${prefix} prefix (did you mean ${formatIP(base)}/${prefix}?)`,
    );
  }
  return block;
}

function clearAfter(bytes: Uint8Array, bits: number): void {
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

function inBlock(address: IpBytes, block: Block): boolean {
  const whole = block.bits >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== block.bytes[i]) return false;
  const rest = block.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole]! & mask) === block.bytes[whole];
}
