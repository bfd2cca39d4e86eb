/**
 * Content-coding negotiation, stated once for every part of Peregrine that picks a coding: response
 * compression (`compression.ts`) and the precompressed variants of static files
 * (`static/encodings.ts`). Plain strings in, plain values out; no zlib, no protocol.
 *
 * RFC 9110 §12.5.3 (Accept-Encoding), §12.4.2 (quality values), §12.5.5 (Vary).
 */

/** A qvalue (RFC 9110 §12.4.2): 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Weight of a coding the header does not name (and `*` does not cover): not acceptable. */
export const NOT_LISTED = -1;

/**
 * An Accept-Encoding value parsed: each coding it names (lower case, `x-gzip` as `gzip`) with its
 * weight, 0 to 1. `*` is kept under the name `*`; `identity` under `identity`.
 */
export type AcceptEncoding = ReadonlyMap<string, number>;

const EMPTY: AcceptEncoding = new Map();

/**
 * Parses an Accept-Encoding value (RFC 9110 §12.5.3). Names are case-insensitive; `x-gzip` is gzip
 * (§8.4.1.3); a member without `q` weighs 1; a `q` that is not a qvalue (§12.4.2) weighs 0, so a
 * malformed weight never turns into a preference; a coding listed twice keeps its lower weight, so
 * a refusal is never overridden. Empty members (`, ,gzip`) are skipped. Never throws.
 */
export function parseAcceptEncoding(value: string | undefined): AcceptEncoding {
  if (value === undefined || value === '') return EMPTY;
  const weights = new Map<string, number>();
  for (const member of value.split(',')) {
    const semicolon = member.indexOf(';');
    let name = (semicolon === -1 ? member : member.slice(0, semicolon)).trim().toLowerCase();
    if (name === '') continue;
    if (name === 'x-gzip') name = 'gzip';
    let q = 1;
    if (semicolon !== -1) {
      for (const param of member.slice(semicolon + 1).split(';')) {
        const equals = param.indexOf('=');
        if (equals === -1 || param.slice(0, equals).trim().toLowerCase() !== 'q') continue;
        const text = param.slice(equals + 1).trim();
        q = QVALUE.test(text) ? Number(text) : 0;
      }
    }
    const earlier = weights.get(name);
    weights.set(name, earlier === undefined ? q : Math.min(earlier, q));
  }
  return weights;
}

/**
 * The weight the client gives a content coding: its own entry, else `*`'s (which covers every
 * coding not named, §12.5.3), else NOT_LISTED. Not for `identity`, which is acceptable by default.
 */
export function codingWeight(accept: AcceptEncoding, coding: string): number {
  return accept.get(coding) ?? accept.get('*') ?? NOT_LISTED;
}

/**
 * The codings of `serverOrder` the client accepts (weight above 0), in the server's order. Weights
 * don't reorder them: this is what a static file server walks to find a precompressed variant.
 */
export function acceptableCodings<C extends string>(
  value: string | undefined,
  serverOrder: readonly C[],
): C[] {
  const accept = parseAcceptEncoding(value);
  const accepted: C[] = [];
  if (accept.size === 0) return accepted;
  for (const coding of serverOrder) if (codingWeight(accept, coding) > 0) accepted.push(coding);
  return accepted;
}

/**
 * The coding to answer with, or null for identity (no coding), per RFC 9110 §12.5.3:
 *
 * - no header, or an empty one: identity (the client asked for no coding, or stated nothing, and
 *   identity is the one every client understands);
 * - among `allowed`, the coding with the highest weight above 0 wins; equal weights go to the
 *   earlier one in `allowed` (the server's order of preference);
 * - identity wins only when the header names it with a weight above the best coding's (`br;q=0.5,
 *   identity`); a tie goes to the coding;
 * - nothing acceptable, even with `identity;q=0` or `*;q=0`: identity. The server never answers
 *   406 for this (§12.5.3 allows sending identity; a refusal of every coding is rarely meant).
 */
export function chooseEncoding<C extends string>(
  acceptEncoding: string | undefined,
  allowed: readonly C[],
): C | null {
  const accept = parseAcceptEncoding(acceptEncoding);
  if (accept.size === 0) return null;
  let best: C | null = null;
  let bestWeight = 0;
  for (const coding of allowed) {
    const weight = codingWeight(accept, coding);
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  if (best === null) return null;
  const identity = accept.get('identity');
  return identity !== undefined && identity > bestWeight ? null : best;
}

/**
 * The Vary value a response whose content depends on Accept-Encoding must carry (RFC 9110
 * §12.5.5), given the one it has: `Accept-Encoding` when it has none (or a blank one), the same
 * list with `, Accept-Encoding` appended otherwise, and undefined (leave it) when it already lists
 * Accept-Encoding or is `*`. Member names compare case-insensitively.
 */
export function varyWithAcceptEncoding(vary: string | undefined): string | undefined {
  if (vary === undefined || vary.trim() === '') return 'Accept-Encoding';
  for (const member of vary.split(',')) {
    const name = member.trim().toLowerCase();
    if (name === 'accept-encoding' || name === '*') return undefined;
  }
  return `${vary}, Accept-Encoding`;
}
