import { acceptableCodings, varyWithAcceptEncoding } from '../http/content-coding.ts';
import type { Response } from '../http/exchange.ts';

/**
 * Content negotiation for precompressed files (RFC 9110 §12.5.3 Accept-Encoding, §12.5.5 Vary).
 * The rules themselves are in `http/content-coding.ts`, shared with response compression.
 */

/** The codings precompressed variants may have, in our order of preference. */
const VARIANT_CODINGS: readonly ('br' | 'gzip')[] = Object.freeze(['br', 'gzip']);

/**
 * Which of br and gzip an Accept-Encoding value accepts (q > 0), in our order of preference. A coding
 * named explicitly overrides `*`; `x-gzip` is gzip (§12.5.3); a malformed weight counts as 0; no
 * header at all accepts neither (only identity).
 */
export function acceptedCodings(value: string | undefined): readonly ('br' | 'gzip')[] {
  return acceptableCodings(value, VARIANT_CODINGS);
}

/** Adds `Accept-Encoding` to the response's Vary header unless it is already there (or `*`). */
export function varyOnAcceptEncoding(res: Response): void {
  const vary = varyWithAcceptEncoding(res.getHeader('vary'));
  if (vary !== undefined) res.setHeader('Vary', vary);
}
