/**
 * The character rules of HTTP fields (RFC 9110 §5), stated once. The parser reads the byte tables
 * directly; the string checks, for what handlers and options give, are built on the same tables.
 */

/** RFC 9110 §5.6.2 tchar, by byte: 1 for a token character. */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

/** RFC 9110 §5.5 field-value bytes as received: HTAB, SP, VCHAR and obs-text. No CTL, so no CR, LF or NUL. */
export const FIELD_VALUE = new Uint8Array(256);
FIELD_VALUE[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD_VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = 1;

/** Whether `text` is a token (RFC 9110 §5.6.2): a header name, a method, a parameter name. */
export function isToken(text: string): boolean {
  const length = text.length;
  if (length === 0) return false;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** A character a field value Peregrine sends must not have: obs-text is never generated (RFC 9110 §5.5). */
const NOT_SENDABLE = /[^\t\x20-\x7e]/;

/**
 * Whether `text` may be sent as a field value: HTAB, SP and VCHAR only, so no CR/LF (no response
 * splitting) and no obs-text. FIELD_VALUE without its obs-text, as a regular expression because
 * values can be long.
 */
export function isSendableValue(text: string): boolean {
  return !NOT_SENDABLE.test(text);
}

/** Whether `text` is a Cache-Control value an option may set: a sendable field value that isn't blank. */
export function isCacheControlValue(text: string): boolean {
  return text.trim() !== '' && isSendableValue(text);
}
