import { FIELD_VALUE, TOKEN } from './tokens.ts';
/**
 * The request-head parser (RFC 9112 §2–§7). It works straight on the read buffer: a parsed head is a set
 * of offsets into that buffer, and strings are only made when a handler asks for them.
 *
 * Parsing is two steps. `findHeadEnd` scans only the bytes that arrived since the last call for the
 * blank line that ends the head (so a head arriving byte by byte costs O(n), not O(n²)), and rejects a
 * bare LF at once; while the head is unfinished it also checks the new bytes against the head's
 * grammar, keeping its state between calls, so a malformed head is 400 as soon as it is malformed.
 * `parseHead` then validates the complete head in one pass.
 */

export const CR = 0x0d;
export const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** Bytes allowed in a request-target: visible ASCII except '#' (a fragment is never sent, RFC 9112 §3.2). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
TARGET[0x23] = 0;

/** Bytes allowed in a Host value: reg-name, IP-literal and port characters (RFC 3986 §3.2.2). */
const HOST = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=:[]%") HOST[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) HOST[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) HOST[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) HOST[c] = 1;

/** ASCII lower-casing table for case-insensitive comparison without making strings. */
export const LOWER = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOWER[c] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;

/** The four request-target forms of RFC 9112 §3.2. */
export const TargetForm = { origin: 0, absolute: 1, authority: 2, asterisk: 3 } as const;

export interface HeadLimits {
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxUrlLength: number;
}

/** The result of parsing one request head: offsets into `buf`, and the framing decisions. */
export class ParsedHead {
  buf: Buffer = EMPTY;
  start = 0;
  /** Offset just past the blank line that ends the head. */
  end = 0;
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  /** The path part of the target (after scheme and authority in absolute-form), up to '?'. */
  pathStart = 0;
  pathEnd = 0;
  /** Offset of the '?' or -1. */
  queryStart = -1;
  targetForm = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion = 1;
  /** name start, name end, value start, value end — four entries per field. */
  fields: Int32Array = new Int32Array(16); // 4 fields in 64 bytes, kept inside V8's heap; grows as needed
  fieldCount = 0;
  /** -1 when absent. */
  contentLength = -1;
  chunked = false;
  connectionClose = false;
  connectionKeepAlive = false;
  hasUpgrade = false;
  expectContinue = false;
  /** Human-readable reason for the last error, for logs and tests. */
  error = '';

  /** Moves every offset by `delta` into `buf`, which now holds the head's bytes (copied out of a reused read buffer). */
  rebase(buf: Buffer, delta: number): void {
    this.buf = buf;
    this.start += delta;
    this.end += delta;
    this.methodEnd += delta;
    this.targetStart += delta;
    this.targetEnd += delta;
    this.pathStart += delta;
    this.pathEnd += delta;
    if (this.queryStart !== -1) this.queryStart += delta;
    const fields = this.fields;
    for (let i = 0; i < this.fieldCount * 4; i++) fields[i] = fields[i]! + delta;
  }

  reset(): void {
    this.fieldCount = 0;
    this.contentLength = -1;
    this.chunked = false;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.hasUpgrade = false;
    this.expectContinue = false;
    this.queryStart = -1;
    this.error = '';
  }
}

const EMPTY = Buffer.alloc(0);

// ───────────── the grammar of an unfinished head, checked as its bytes arrive ─────────────
//
// A head that arrives whole is validated once, by parseHead. One that arrives in pieces is also
// checked byte by byte as each piece comes (only the new bytes; the state is kept between reads), so
// that a head that breaks the grammar is 400 the moment the breaking byte arrives, not after
// headersTimeout. The states follow parseHead's grammar exactly (request line, then field lines), and
// accept every prefix of a head that parseHead accepts: semantics (Host, Content-Length, the version
// number, the limits) are left to parseHead and the limit checks below.

/** States of the head scanner. HS_METHOD_START is 0, the state at the head's first byte. */
const HS_METHOD_START = 0;
const HS_METHOD = 1;
const HS_TARGET_START = 2;
const HS_TARGET = 3;
/** "HTTP/" DIGIT "." DIGIT CR LF: one state per byte, HS_VERSION + k expects byte k. */
const HS_VERSION = 4;
/** The start of a field line, or the CR of the blank line. */
const HS_LINE_START = HS_VERSION + 10;
const HS_NAME = HS_LINE_START + 1;
/** After the colon: OWS and the value's bytes, up to CR. */
const HS_VALUE = HS_NAME + 1;
const HS_VALUE_LF = HS_VALUE + 1;
const HS_BLANK_LF = HS_VALUE_LF + 1;
/** The head is complete; findHeadEnd never scans past it. */
const HS_DONE = HS_BLANK_LF + 1;
const HS_STATES = HS_DONE + 1;
/** The byte broke the grammar. */
const HS_ERROR = 0xff;
/** findHeadEnd's `state` when the caller doesn't know it: the scan then starts again at `start`. */
export const HEAD_STATE_UNKNOWN = -1;

/** HEAD_SCAN[state << 8 | byte] is the next state. */
const HEAD_SCAN = new Uint8Array(HS_STATES * 256).fill(HS_ERROR);
{
  const on = (state: number, set: Uint8Array, next: number) => {
    for (let c = 0; c < 256; c++) if (set[c] === 1) HEAD_SCAN[(state << 8) | c] = next;
  };
  const onByte = (state: number, c: number, next: number) => {
    HEAD_SCAN[(state << 8) | c] = next;
  };
  on(HS_METHOD_START, TOKEN, HS_METHOD);
  on(HS_METHOD, TOKEN, HS_METHOD);
  onByte(HS_METHOD, SP, HS_TARGET_START);
  on(HS_TARGET_START, TARGET, HS_TARGET);
  on(HS_TARGET, TARGET, HS_TARGET);
  onByte(HS_TARGET, SP, HS_VERSION);
  const version = [0x48, 0x54, 0x54, 0x50, 0x2f, -1, 0x2e, -1, CR, LF]; // "HTTP/" DIGIT "." DIGIT CR LF
  for (let k = 0; k < version.length; k++) {
    const byte = version[k]!;
    if (byte >= 0) onByte(HS_VERSION + k, byte, HS_VERSION + k + 1);
    else for (let d = 0x30; d <= 0x39; d++) onByte(HS_VERSION + k, d, HS_VERSION + k + 1);
  }
  on(HS_LINE_START, TOKEN, HS_NAME);
  onByte(HS_LINE_START, CR, HS_BLANK_LF);
  on(HS_NAME, TOKEN, HS_NAME);
  onByte(HS_NAME, COLON, HS_VALUE);
  on(HS_VALUE, FIELD_VALUE, HS_VALUE);
  onByte(HS_VALUE, CR, HS_VALUE_LF);
  onByte(HS_VALUE_LF, LF, HS_LINE_START);
  onByte(HS_BLANK_LF, LF, HS_DONE);
}

/** The scanner's state after the last findHeadEnd that returned -1: pass it to the next call. */
let scannedState = HS_METHOD_START;

/** The state to pass to the next findHeadEnd call for the same head (after one that returned -1). */
export function headScanState(): number {
  return scannedState;
}

/**
 * Scans `buf[from..end)` for the end of a head that starts at `start`.
 * Returns the offset just past CRLFCRLF, -1 when more bytes are needed, or a negative HTTP status:
 * -400 for a bare LF, or for an unfinished head whose bytes so far break the request-line or
 * field-line grammar; -414 for a request line longer than allowed; -431 for a head too large.
 *
 * `state` is what `headScanState()` said after the previous call for this head, which returned -1
 * and was made with an `end` equal to this `from`; it is not used when `from <= start`, and
 * HEAD_STATE_UNKNOWN makes the grammar check start again at `start`.
 */
export function findHeadEnd(
  buf: Buffer,
  start: number,
  from: number,
  end: number,
  limits: HeadLimits,
  state: number = HEAD_STATE_UNKNOWN,
): number {
  // A plain loop: heads are short, and a call into Buffer#indexOf per line costs more than the scan.
  for (let lf = Math.max(from, start); lf < end; lf++) {
    if (buf[lf] !== LF) continue;
    if (lf === start || buf[lf - 1] !== CR) return -400;
    // CRLF directly after the previous CRLF: the blank line that ends the head.
    if (lf - start >= 3 && buf[lf - 2] === LF && buf[lf - 3] === CR) return lf + 1;
  }
  // The head is unfinished. Check the new bytes against the grammar (a complete head never gets
  // here: parseHead checks it), so that what can never become a valid head (a malformed line,
  // binary garbage, a TLS ClientHello) is rejected at once, not after headersTimeout.
  let s = state;
  let i = from;
  if (from <= start || state === HEAD_STATE_UNKNOWN) {
    s = HS_METHOD_START;
    i = start;
  }
  for (; i < end; i++) {
    s = HEAD_SCAN[(s << 8) | buf[i]!]!;
    if (s === HS_ERROR) return -400;
  }
  scannedState = s;
  const size = end - start;
  if (size > limits.maxHeaderBytes || size > limits.maxUrlLength) {
    if (s < HS_LINE_START) {
      // Still inside the request line: the target is what is too long (RFC 9112 §3). Below
      // maxHeaderBytes, say so only once the target that arrived exceeds maxUrlLength, as parseHead
      // would when the line ends, whatever the method's length.
      if (size > limits.maxHeaderBytes || targetLengthSoFar(buf, start, end) > limits.maxUrlLength)
        return -414;
    } else if (size > limits.maxHeaderBytes) {
      return -431;
    }
  }
  return -1;
}

/** The length of the request-target in an unfinished request line `buf[start..end)`, so far. */
function targetLengthSoFar(buf: Buffer, start: number, end: number): number {
  const sp = indexOfByte(buf, SP, start, end);
  if (sp === -1) return 0;
  const sp2 = indexOfByte(buf, SP, sp + 1, end);
  return (sp2 === -1 ? end : sp2) - (sp + 1);
}

/** Ranges up to this long are searched with a loop; longer ones natively, through a view. */
const SHORT_SEARCH = 64;

/**
 * The first `byte` in `buf[from..to)`, or -1. Not Buffer#indexOf on `buf`: that searches to the end
 * of the buffer, and a shared read buffer is 64 KiB long however short the part being parsed. Short
 * ranges (a target, a header value) take a loop, cheaper than a call into native code; a long one (an
 * unfinished head past the limits, searched again on every read) a native search of a view of it.
 */
function indexOfByte(buf: Buffer, byte: number, from: number, to: number): number {
  if (to - from > SHORT_SEARCH) {
    const at = buf.subarray(from, to).indexOf(byte);
    return at === -1 ? -1 : from + at;
  }
  for (let i = from; i < to; i++) if (buf[i] === byte) return i;
  return -1;
}

/** Skips the empty lines a client may send before a request line (RFC 9112 §2.2). */
export function skipLeadingEmptyLines(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i + 1 < end && buf[i] === CR && buf[i + 1] === LF) i += 2;
  return i;
}

function fail(head: ParsedHead, status: number, why: string): number {
  head.error = why;
  return -status;
}

/** Case-insensitive comparison of `buf[start..start+name.length)` against a lower-case ASCII name. */
export function bytesEqualLower(buf: Buffer, start: number, length: number, lowerName: string): boolean {
  if (length !== lowerName.length) return false;
  for (let k = 0; k < length; k++) {
    if (LOWER[buf[start + k]!] !== lowerName.charCodeAt(k)) return false;
  }
  return true;
}

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

/** The method as a string, interned for the common methods so that parsing allocates nothing. */
export function methodString(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  for (let m = 0; m < METHODS.length; m++) {
    const name = METHODS[m]!;
    if (name.length !== length) continue;
    let k = 0;
    while (k < length && buf[start + k] === name.charCodeAt(k)) k++;
    if (k === length) return name;
  }
  return buf.toString('latin1', start, end);
}

/**
 * Parses a complete head `buf[start..headEnd)` (as found by `findHeadEnd`) into `head`.
 * Returns `headEnd` on success or a negative HTTP status on error (`head.error` says why).
 */
export function parseHead(
  buf: Buffer,
  start: number,
  headEnd: number,
  head: ParsedHead,
  limits: HeadLimits,
): number {
  head.reset();
  head.buf = buf;
  head.start = start;
  head.end = headEnd;

  // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3)
  let i = start;
  while (TOKEN[buf[i]!] === 1) i++;
  if (i === start) return fail(head, 400, 'invalid method');
  if (buf[i] !== SP) return fail(head, 400, 'expected a single space after the method');
  head.methodEnd = i;
  const methodLength = i - start;
  i++;
  head.targetStart = i;
  while (TARGET[buf[i]!] === 1) i++;
  head.targetEnd = i;
  if (i === head.targetStart) return fail(head, 400, 'invalid request-target');
  if (buf[i] !== SP) return fail(head, 400, 'invalid character in request-target');
  if (i - head.targetStart > limits.maxUrlLength)
    return fail(head, 414, 'request-target longer than maxUrlLength');
  i++;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  if (
    buf[i] !== 0x48 ||
    buf[i + 1] !== 0x54 ||
    buf[i + 2] !== 0x54 ||
    buf[i + 3] !== 0x50 ||
    buf[i + 4] !== 0x2f ||
    !isDigit(buf[i + 5]!) ||
    buf[i + 6] !== 0x2e ||
    !isDigit(buf[i + 7]!) ||
    buf[i + 8] !== CR ||
    buf[i + 9] !== LF
  ) {
    return fail(head, 400, 'invalid HTTP version');
  }
  if (buf[i + 5] !== 0x31 || (buf[i + 7] !== 0x30 && buf[i + 7] !== 0x31)) {
    return fail(head, 505, 'unsupported HTTP version');
  }
  head.minorVersion = buf[i + 7]! - 0x30;
  i += 10; // version, CR, LF
  // After the request line, so that a long target is 414 whether the head arrived whole or in pieces
  // (findHeadEnd reports it before the head is complete).
  if (headEnd - start > limits.maxHeaderBytes) return fail(head, 431, 'head larger than maxHeaderBytes');

  const status = parseFields(buf, i, head, limits);
  if (status < 0) return status;

  const targetStatus = classifyTarget(buf, head, methodLength);
  if (targetStatus < 0) return targetStatus;
  return headEnd;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

// Per-head framing state while the fields are parsed.
let hostCount = 0;
let teSeen = false;
let teChunkedCount = 0;
let teLastChunked = false;
let teOtherCoding = false;
let expectUnsupported = false;

function parseFields(buf: Buffer, from: number, head: ParsedHead, limits: HeadLimits): number {
  hostCount = 0;
  teSeen = false;
  teChunkedCount = 0;
  teLastChunked = false;
  teOtherCoding = false;
  expectUnsupported = false;
  let i = from;
  let count = 0;
  for (;;) {
    const c = buf[i]!;
    if (c === CR) {
      // The blank line; anything else here is a bare CR that findHeadEnd could not see.
      if (buf[i + 1] !== LF || i + 2 !== head.end) return fail(head, 400, 'bare CR in head');
      break;
    }
    if (c === SP || c === HTAB) return fail(head, 400, 'obsolete line folding is not accepted');
    const nameStart = i;
    while (TOKEN[buf[i]!] === 1) i++;
    if (i === nameStart) return fail(head, 400, 'invalid header field name');
    if (buf[i] !== COLON) return fail(head, 400, 'invalid character in header field name');
    const nameEnd = i;
    i++;
    while (buf[i] === SP || buf[i] === HTAB) i++;
    const valueStart = i;
    while (FIELD_VALUE[buf[i]!] === 1) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) return fail(head, 400, 'invalid character in header field value');
    let valueEnd = i;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    i += 2;

    if (count === limits.maxHeaderCount) return fail(head, 431, 'more header fields than maxHeaderCount');
    let fields = head.fields;
    if (count * 4 + 4 > fields.length) {
      const grown = new Int32Array(fields.length * 2);
      grown.set(fields);
      head.fields = fields = grown;
    }
    const f = count * 4;
    fields[f] = nameStart;
    fields[f + 1] = nameEnd;
    fields[f + 2] = valueStart;
    fields[f + 3] = valueEnd;
    count++;
    const status = noteSpecialField(buf, nameStart, nameEnd - nameStart, valueStart, valueEnd, head);
    if (status < 0) return status;
  }
  head.fieldCount = count;

  // Framing (RFC 9112 §6.1, §6.3): anything ambiguous is a smuggling vector, so reject it and close.
  if (teSeen) {
    if (head.minorVersion === 0) return fail(head, 400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (head.contentLength !== -1) return fail(head, 400, 'both Transfer-Encoding and Content-Length');
    if (!teLastChunked || teChunkedCount !== 1)
      return fail(head, 400, 'Transfer-Encoding must end in a single chunked');
    if (teOtherCoding) return fail(head, 501, 'unsupported transfer coding');
    head.chunked = true;
  }
  if (head.minorVersion === 1 ? hostCount !== 1 : hostCount > 1) {
    return fail(head, 400, hostCount === 0 ? 'missing Host header' : 'more than one Host header');
  }
  if (expectUnsupported) return fail(head, 417, 'unsupported expectation');
  return 0;
}

/** Records the fields that decide framing and connection handling. Returns a negative status on error. */
function noteSpecialField(
  buf: Buffer,
  nameStart: number,
  nameLength: number,
  valueStart: number,
  valueEnd: number,
  head: ParsedHead,
): number {
  switch (nameLength) {
    case 4:
      if (bytesEqualLower(buf, nameStart, 4, 'host')) {
        hostCount++;
        for (let k = valueStart; k < valueEnd; k++) {
          if (HOST[buf[k]!] !== 1) return fail(head, 400, 'invalid Host header');
        }
      }
      return 0;
    case 6:
      if (bytesEqualLower(buf, nameStart, 6, 'expect')) {
        if (bytesEqualLower(buf, valueStart, valueEnd - valueStart, '100-continue'))
          head.expectContinue = true;
        else expectUnsupported = true;
      }
      return 0;
    case 7:
      if (bytesEqualLower(buf, nameStart, 7, 'upgrade')) head.hasUpgrade = true;
      return 0;
    case 10:
      if (bytesEqualLower(buf, nameStart, 10, 'connection'))
        noteConnectionTokens(buf, valueStart, valueEnd, head);
      return 0;
    case 14:
      if (bytesEqualLower(buf, nameStart, 14, 'content-length'))
        return noteContentLength(buf, valueStart, valueEnd, head);
      return 0;
    case 17:
      if (bytesEqualLower(buf, nameStart, 17, 'transfer-encoding'))
        return noteTransferCodings(buf, valueStart, valueEnd, head);
      return 0;
    default:
      return 0;
  }
}

function noteContentLength(buf: Buffer, start: number, end: number, head: ParsedHead): number {
  // Content-Length = 1*DIGIT (RFC 9110 §8.6); no sign, no list, no whitespace inside.
  if (start === end) return fail(head, 400, 'empty Content-Length');
  let value = 0;
  for (let k = start; k < end; k++) {
    const c = buf[k]!;
    if (c < 0x30 || c > 0x39) return fail(head, 400, 'invalid Content-Length');
    value = value * 10 + (c - 0x30);
    if (value > Number.MAX_SAFE_INTEGER) return fail(head, 400, 'Content-Length too large');
  }
  if (head.contentLength !== -1 && head.contentLength !== value)
    return fail(head, 400, 'conflicting Content-Length');
  head.contentLength = value;
  return 0;
}

/** Walks a comma-separated list, calling `visit` with each non-empty element's trimmed bounds. */
function forEachListElement(
  buf: Buffer,
  start: number,
  end: number,
  head: ParsedHead,
  visit: (buf: Buffer, s: number, e: number, head: ParsedHead) => number,
): number {
  let s = start;
  while (s <= end) {
    let e = indexOfByte(buf, 0x2c, s, end);
    if (e === -1) e = end;
    let a = s;
    let b = e;
    while (a < b && (buf[a] === SP || buf[a] === HTAB)) a++;
    while (b > a && (buf[b - 1] === SP || buf[b - 1] === HTAB)) b--;
    if (a < b) {
      const status = visit(buf, a, b, head);
      if (status < 0) return status;
    }
    s = e + 1;
  }
  return 0;
}

function visitTransferCoding(buf: Buffer, s: number, e: number, _head: ParsedHead): number {
  if (bytesEqualLower(buf, s, e - s, 'chunked')) {
    teChunkedCount++;
    teLastChunked = true;
  } else {
    teOtherCoding = true;
    teLastChunked = false;
  }
  return 0;
}

function noteTransferCodings(buf: Buffer, start: number, end: number, head: ParsedHead): number {
  teSeen = true;
  // An empty or all-comma value leaves no final coding, which the framing check rejects.
  teLastChunked = false;
  return forEachListElement(buf, start, end, head, visitTransferCoding);
}

function visitConnectionToken(buf: Buffer, s: number, e: number, head: ParsedHead): number {
  const n = e - s;
  if (bytesEqualLower(buf, s, n, 'close')) head.connectionClose = true;
  else if (bytesEqualLower(buf, s, n, 'keep-alive')) head.connectionKeepAlive = true;
  return 0;
}

function noteConnectionTokens(buf: Buffer, start: number, end: number, head: ParsedHead): number {
  return forEachListElement(buf, start, end, head, visitConnectionToken);
}

/** RFC 9112 §3.2: which form the request-target takes, and where its path and query are. */
function classifyTarget(buf: Buffer, head: ParsedHead, methodLength: number): number {
  const ts = head.targetStart;
  const te = head.targetEnd;
  const isConnect = methodLength === 7 && buf.toString('latin1', head.start, head.methodEnd) === 'CONNECT';
  if (isConnect) {
    // authority-form: host ":" port, nothing else.
    for (let k = ts; k < te; k++) {
      if (HOST[buf[k]!] !== 1) return fail(head, 400, 'CONNECT needs an authority-form target');
    }
    head.targetForm = TargetForm.authority;
    head.pathStart = head.pathEnd = te;
    return 0;
  }
  const first = buf[ts];
  if (first === 0x2f) {
    head.targetForm = TargetForm.origin;
    setPathAndQuery(buf, head, ts, te);
    return 0;
  }
  if (first === 0x2a && te - ts === 1) {
    if (methodLength !== 7 || buf.toString('latin1', head.start, head.methodEnd) !== 'OPTIONS') {
      return fail(head, 400, 'asterisk-form is only for OPTIONS');
    }
    head.targetForm = TargetForm.asterisk;
    head.pathStart = ts;
    head.pathEnd = te;
    return 0;
  }
  // absolute-form: scheme "://" authority path-abempty [ "?" query ]
  let k = ts;
  const c0 = buf[k]!;
  if (!((c0 >= 0x41 && c0 <= 0x5a) || (c0 >= 0x61 && c0 <= 0x7a)))
    return fail(head, 400, 'invalid request-target');
  while (k < te && isSchemeChar(buf[k]!)) k++;
  if (k + 3 > te || buf[k] !== COLON || buf[k + 1] !== 0x2f || buf[k + 2] !== 0x2f) {
    return fail(head, 400, 'invalid request-target');
  }
  k += 3;
  const authorityStart = k;
  while (k < te && buf[k] !== 0x2f && buf[k] !== 0x3f) k++;
  if (k === authorityStart) return fail(head, 400, 'absolute-form target without authority');
  head.targetForm = TargetForm.absolute;
  setPathAndQuery(buf, head, k, te);
  return 0;
}

function isSchemeChar(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e
  );
}

function setPathAndQuery(buf: Buffer, head: ParsedHead, from: number, to: number): void {
  head.pathStart = from;
  const q = indexOfByte(buf, 0x3f, from, to);
  head.queryStart = q;
  head.pathEnd = q === -1 ? to : q;
}
