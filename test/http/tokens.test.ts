import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorBody, reasonPhrase, statusLine } from '../../src/http/status.ts';
import { isCacheControlValue, isSendableValue, isToken, TOKEN } from '../../src/http/tokens.ts';

test('isToken is the TOKEN table over a string', () => {
  for (let c = 0; c < 256; c++) assert.equal(isToken(String.fromCharCode(c)), TOKEN[c] === 1, `byte ${c}`);
  for (const ok of ['Content-Type', 'x', "!#$%&'*+-.^_`|~09AZaz"]) assert.ok(isToken(ok), ok);
  for (const bad of ['', 'a b', 'a:b', 'a\r\nb', 'é', 'a\u0100', '(x)', '"q"']) assert.ok(!isToken(bad), bad);
});

test('a sendable field value is HTAB, SP and VCHAR; a Cache-Control value is one that is not blank', () => {
  assert.ok(isSendableValue(''));
  assert.ok(isSendableValue('text/plain; charset=utf-8\t~'));
  for (const bad of ['a\r\nb', 'a\nb', 'a\0', 'caf\u00e9', '\x7f']) assert.ok(!isSendableValue(bad), bad);
  assert.ok(isCacheControlValue('max-age=0'));
  for (const bad of ['', ' \t', 'no-cache\r\n', 'caf\u00e9']) assert.ok(!isCacheControlValue(bad), bad);
});

test('reason phrases come from one table', () => {
  assert.equal(reasonPhrase(404), 'Not Found');
  assert.equal(reasonPhrase(599), 'Unknown');
  assert.equal(reasonPhrase(599, 'Error'), 'Error');
  assert.equal(statusLine(404), 'HTTP/1.1 404 Not Found\r\n');
  assert.equal(errorBody(413), '413 Content Too Large\n');
  assert.equal(errorBody(499), '499 Error\n');
});
