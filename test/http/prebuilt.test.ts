import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrebuiltResponse } from '../../src/http/prebuilt.ts';

test('a prebuilt response is the status line, the lines, Content-Length, Date last, then the body', () => {
  const body = Buffer.from('hello');
  const p = new PrebuiltResponse('ETag: "x"\r\nContent-Type: text/plain\r\n', body);
  const date = 'Date: Tue, 01 Dec 2026 23:00:00 GMT\r\n';
  assert.equal(
    p.dated(date)!.toString('latin1'),
    `HTTP/1.1 200 OK\r\nETag: "x"\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n${date}\r\nhello`,
  );
  assert.equal(p.body.toString(), 'hello');
  assert.equal(p.body.buffer, p.bytes.buffer, 'the body is a view of the whole response');
});

test('the Date is rewritten in place when the second changes; the rest never moves', () => {
  const p = new PrebuiltResponse('', Buffer.from('abc'));
  const first = p.dated('Date: Tue, 01 Dec 2026 23:00:00 GMT\r\n')!;
  const second = p.dated('Date: Tue, 01 Dec 2026 23:00:01 GMT\r\n')!;
  assert.equal(first, second, 'the same bytes, not a copy');
  assert.match(second.toString('latin1'), /23:00:01 GMT\r\n\r\nabc$/);
  assert.equal(p.dated('Date: short\r\n'), null, 'a line of another length is refused, not written');
  assert.match(p.bytes.toString('latin1'), /23:00:01 GMT\r\n\r\nabc$/);
});

test('only responses the output copies are kept whole', () => {
  assert.equal(PrebuiltResponse.fits('', PrebuiltResponse.MAX_BYTES - 200), true);
  assert.equal(PrebuiltResponse.fits('', PrebuiltResponse.MAX_BYTES), false);
  assert.throws(() => new PrebuiltResponse('', Buffer.alloc(PrebuiltResponse.MAX_BYTES)), RangeError);
});
