/**
 * Parsing a `Range: bytes=...` request header (RFC 9110 §14.1.2) against a representation of a
 * known size, with the safeguards of §14.1.1 and §17.15 against range amplification: a bounded
 * number of ranges, and overlapping or adjacent ranges coalesced into one.
 */

/** One satisfiable byte range, both ends inclusive (`0 <= start <= end < size`). */
export interface ByteRange {
  start: number;
  end: number;
}

/** More ranges than this in one header and the header is ignored (the whole file is sent). */
export const MAX_RANGES = 16;

/** Longer headers are ignored without being parsed. */
const MAX_HEADER_LENGTH = 1024;

const FIRST_LAST = /^(\d+)-(\d*)$/;
const SUFFIX = /^-(\d+)$/;

/**
 * Interprets a Range header for a representation of `size` bytes:
 * - `{ ranges }`: the satisfiable ranges, sorted by start, overlapping and adjacent ones merged
 *   (answer 206);
 * - `'unsatisfiable'`: well formed, but no range overlaps the representation (answer 416 with
 *   `Content-Range: bytes *\/size`);
 * - `'ignore'`: not a byte range set (another unit, a syntax error, a range whose last position is
 *   before its first, more than {@link MAX_RANGES} ranges), or an empty representation: answer 200
 *   with the whole representation, as if there were no Range header.
 *
 * Forms: `first-last` (last clamped to `size - 1`), `first-` (to the end) and `-suffix` (the last
 * `suffix` bytes; the whole representation when it is shorter). Ranges are separated by commas with
 * optional spaces or tabs around them; empty list members are skipped.
 */
export function parseRange(
  header: string,
  size: number,
): { ranges: ByteRange[] } | 'unsatisfiable' | 'ignore' {
  if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return 'ignore';
  if (!Number.isSafeInteger(size) || size <= 0) return 'ignore';
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).toLowerCase() !== 'bytes') return 'ignore';
  const members = header
    .slice(eq + 1)
    .split(',')
    .map((m) => m.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((m) => m !== '');
  if (members.length === 0 || members.length > MAX_RANGES) return 'ignore';

  const ranges: ByteRange[] = [];
  for (const member of members) {
    const pair = FIRST_LAST.exec(member);
    if (pair !== null) {
      const first = Number(pair[1]);
      const last = pair[2] === '' ? Number.POSITIVE_INFINITY : Number(pair[2]);
      if (last < first) return 'ignore';
      if (first < size) ranges.push({ start: first, end: Math.min(last, size - 1) });
      continue;
    }
    const suffix = SUFFIX.exec(member);
    if (suffix === null) return 'ignore';
    const length = Number(suffix[1]);
    if (length > 0) ranges.push({ start: Math.max(0, size - length), end: size - 1 });
  }
  if (ranges.length === 0) return 'unsatisfiable';
  return { ranges: coalesce(ranges) };
}

/** Sorts ranges by start and merges those that overlap or touch. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && range.start <= last.end + 1) {
      if (range.end > last.end) last.end = range.end;
    } else {
      out.push({ start: range.start, end: range.end });
    }
  }
  return out;
}
