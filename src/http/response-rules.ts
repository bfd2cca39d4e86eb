import { UsageError } from '../errors.ts';
import { isSendableValue, isToken } from './tokens.ts';

/**
 * The rules every protocol's response applies to what a handler sets: header names and values,
 * the status, Content-Length, and the body's type. One statement of each, for HTTP/1 and HTTP/2.
 */

/**
 * Header names and values that passed their check, by length (a string stays valid: strings can't
 * change). Handlers set the same few headers on every response, so most checks end with one compare
 * instead of a scan.
 */
const CHECKED_SLOTS = 16;
const checkedNames: (string | undefined)[] = new Array<string | undefined>(CHECKED_SLOTS).fill(undefined);
const checkedValues: (string | undefined)[] = new Array<string | undefined>(CHECKED_SLOTS).fill(undefined);

/** Whether `name` is a token (RFC 9110 §5.1), remembering the last valid name of its length. */
export function isValidHeaderName(name: string): boolean {
  const slot = name.length & (CHECKED_SLOTS - 1);
  if (checkedNames[slot] === name) return true;
  if (!isToken(name)) return false;
  checkedNames[slot] = name;
  return true;
}

/** Whether `text` may be a field value, remembering the last valid short value of its length. */
export function isValidHeaderValue(text: string): boolean {
  const slot = text.length & (CHECKED_SLOTS - 1);
  if (checkedValues[slot] === text) return true;
  if (!isSendableValue(text)) return false;
  // Only short values are kept: a long one would stay alive here, and comparing it costs as much.
  if (text.length <= 256) checkedValues[slot] = text;
  return true;
}

/** A header as `setHeader` takes it: checked, its value as a string; throws a UsageError otherwise. */
export function checkedHeader(name: string, value: string | number): string {
  if (typeof name !== 'string' || !isValidHeaderName(name))
    throw new UsageError('ERR_PEREGRINE_INVALID_HEADER', `invalid header name: ${JSON.stringify(name)}`);
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !isValidHeaderValue(text)) {
    throw new UsageError(
      'ERR_PEREGRINE_INVALID_HEADER',
      `invalid value for header ${name}: ${JSON.stringify(value)}`,
    );
  }
  return text;
}

/** A response status a handler may set: 200 to 999 (1xx are Peregrine's own). */
export function checkedStatus(status: number): number {
  if (!Number.isInteger(status) || status < 200 || status > 999) {
    throw new UsageError(
      'ERR_PEREGRINE_INVALID_STATUS',
      `status must be an integer from 200 to 999, got ${String(status)}`,
    );
  }
  return status;
}

const DIGITS_RE = /^[0-9]+$/;

/** A Content-Length a handler set, as a number. */
export function declaredLength(value: string): number {
  if (!DIGITS_RE.test(value))
    throw new UsageError('ERR_PEREGRINE_INVALID_HEADER', `invalid Content-Length: ${JSON.stringify(value)}`);
  return Number(value);
}

/** Whether a Connection value a handler set asks to close. */
export function asksToClose(value: string): boolean {
  return /(?:^|,)\s*close\s*(?:,|$)/i.test(value);
}

export function transferEncodingIsManaged(): UsageError {
  return new UsageError(
    'ERR_PEREGRINE_MANAGED_HEADER',
    'Transfer-Encoding is managed by Peregrine: call write() to stream a chunked body',
  );
}

export function writeAfterEnd(): UsageError {
  return new UsageError('ERR_PEREGRINE_WRITE_AFTER_END', 'write after end: the response has already ended');
}

export function notOpen(ended: boolean): UsageError {
  return new UsageError(
    'ERR_PEREGRINE_HEADERS_SENT',
    ended ? 'the response has already ended' : 'the headers have already been sent',
  );
}

export function lengthMismatch(message: string): UsageError {
  return new UsageError('ERR_PEREGRINE_CONTENT_LENGTH_MISMATCH', message);
}

/**
 * The error for a body that is neither a string nor bytes (`res.end({ a: 1 })`, `res.end(42)`), thrown
 * at the call as node:http does, so the handler's mistake becomes a 500 and a logged error instead
 * of a malformed response.
 */
export function invalidBody(name: string, value: unknown): UsageError {
  let received: string;
  if (value === null) received = 'null';
  else if (typeof value === 'object' || typeof value === 'function')
    received = `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  else received = `type ${typeof value} (${String(value).slice(0, 32)})`;
  return new UsageError(
    'ERR_PEREGRINE_INVALID_BODY',
    `The "${name}" argument must be of type string or an instance of Uint8Array (Buffer). Received ${received}` +
      (typeof value === 'object' && value !== null ? '; to send JSON, use res.json(value)' : ''),
  );
}
