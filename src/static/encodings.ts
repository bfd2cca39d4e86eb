import type { Response } from '../http/exchange.ts';

/**
 * Content negotiation for precompressed files (RFC 9110 §12.5.3 Accept-Encoding, §12.5.5 Vary).
 */

/** A qvalue (RFC 9110 §12.4.2): 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

const NONE: readonly ('br' | 'gzip')[] = Object.freeze([]);

/**
 * Which of br and gzip an Accept-Encoding value accepts (q > 0), in our order of preference. A coding
 * named explicitly overrides `*`; `x-gzip` is gzip (§12.5.3); a malformed weight counts as 0; no
 * header at all accepts neither (only identity).
 */
export function acceptedCodings(value: string | undefined): readonly ('br' | 'gzip')[] {
  if (value === undefined || value === '') return NONE;
  let br = -1;
  let gzip = -1;
  let star = -1;
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
    // Listed twice: the lower weight wins, so a refusal is never overridden.
    if (name === 'br') br = br === -1 ? q : Math.min(br, q);
    else if (name === 'gzip') gzip = gzip === -1 ? q : Math.min(gzip, q);
    else if (name === '*') star = star === -1 ? q : Math.min(star, q);
  }
  const accepted: ('br' | 'gzip')[] = [];
  if ((br === -1 ? star : br) > 0) accepted.push('br');
  if ((gzip === -1 ? star : gzip) > 0) accepted.push('gzip');
  return accepted;
}

/** Adds `Accept-Encoding` to the response's Vary header unless it is already there (or `*`). */
export function varyOnAcceptEncoding(res: Response): void {
  const vary = res.getHeader('vary');
  if (vary === undefined || vary.trim() === '') {
    res.setHeader('Vary', 'Accept-Encoding');
    return;
  }
  for (const member of vary.split(',')) {
    const name = member.trim().toLowerCase();
    if (name === 'accept-encoding' || name === '*') return;
  }
  res.setHeader('Vary', `${vary}, Accept-Encoding`);
}
