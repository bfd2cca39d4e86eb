import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Receiver } from '../../src/ws/receiver.ts';
import {
  closePayload,
  frameHeader,
  MAX_CLOSE_REASON_BYTES,
  OPCODE,
  wholeFrame,
} from '../../src/ws/sender.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('frameHeader', () => {
  test('opcode constants', () => {
    assert.deepEqual(OPCODE, { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 });
  });

  test('header sizes at the 125/126/65535/65536 boundaries', () => {
    const cases: [number, string][] = [
      [0, '82 00'],
      [125, '82 7d'],
      [126, '82 7e 00 7e'],
      [127, '82 7e 00 7f'],
      [65535, '82 7e ff ff'],
      [65536, '82 7f 00 00 00 00 00 01 00 00'],
      [2 ** 32, '82 7f 00 00 00 01 00 00 00 00'],
      [2 ** 32 + 5, '82 7f 00 00 00 01 00 00 00 05'],
      [Number.MAX_SAFE_INTEGER, '82 7f 00 1f ff ff ff ff ff ff'],
    ];
    for (const [length, expected] of cases) {
      assert.deepEqual(frameHeader(OPCODE.binary, true, false, length), hex(expected), `length ${length}`);
    }
  });

  test('FIN, RSV1 and the opcode in the first byte; never masked', () => {
    assert.deepEqual(frameHeader(OPCODE.text, true, false, 5), hex('81 05'));
    assert.deepEqual(frameHeader(OPCODE.text, false, false, 5), hex('01 05'));
    assert.deepEqual(frameHeader(OPCODE.text, true, true, 5), hex('c1 05'));
    assert.deepEqual(frameHeader(OPCODE.binary, false, true, 300), hex('42 7e 01 2c'));
    assert.deepEqual(frameHeader(OPCODE.continuation, true, false, 1), hex('80 01'));
    assert.deepEqual(frameHeader(OPCODE.close, true, false, 2), hex('88 02'));
    assert.deepEqual(frameHeader(OPCODE.ping, true, false, 0), hex('89 00'));
    assert.deepEqual(frameHeader(OPCODE.pong, true, false, 125), hex('8a 7d'));
  });

  test('misuse throws RangeError', () => {
    const bad: [number, boolean, boolean, number][] = [
      [3, true, false, 0],
      [7, true, false, 0],
      [11, true, false, 0],
      [16, true, false, 0],
      [-1, true, false, 0],
      [OPCODE.text, true, false, -1],
      [OPCODE.text, true, false, 1.5],
      [OPCODE.text, true, false, Number.NaN],
      [OPCODE.text, true, false, 2 ** 53],
      [OPCODE.ping, false, false, 0],
      [OPCODE.close, true, true, 2],
      [OPCODE.pong, true, false, 126],
      [OPCODE.continuation, true, true, 1],
    ];
    for (const args of bad) assert.throws(() => frameHeader(...args), RangeError, JSON.stringify(args));
  });
});

describe('frameHeader and wholeFrame', () => {
  test('the header alone, and the header with the payload in one buffer', () => {
    assert.deepEqual(frameHeader(OPCODE.text, true, false, 5), hex('81 05'));
    assert.deepEqual(frameHeader(OPCODE.text, false, true, 5), hex('41 05'));
    assert.deepEqual(frameHeader(OPCODE.continuation, true, false, 5), hex('80 05'));
    assert.deepEqual(wholeFrame(OPCODE.binary, false, Buffer.alloc(0)), hex('82 00'));
    assert.deepEqual(wholeFrame(OPCODE.pong, false, Buffer.from('Hello')), hex('8a 05 48 65 6c 6c 6f'));
    const max = Buffer.alloc(125, 7);
    assert.deepEqual(wholeFrame(OPCODE.ping, false, max), Buffer.concat([hex('89 7d'), max]));
    assert.throws(() => wholeFrame(OPCODE.ping, false, Buffer.alloc(126)), RangeError);
  });
});

describe('close payloads', () => {
  test('code and reason', () => {
    assert.deepEqual(closePayload(1000), hex('03 e8'));
    assert.deepEqual(closePayload(1001, 'bye'), hex('03 e9 62 79 65'));
    assert.deepEqual(closePayload(4999, 'é'), hex('13 87 c3 a9'));
    assert.deepEqual(wholeFrame(OPCODE.close, false, closePayload(1000, 'ok')), hex('88 04 03 e8 6f 6b'));
  });

  test('a reason of exactly 123 bytes is allowed, 124 is not (counted in UTF-8 bytes)', () => {
    assert.equal(closePayload(1000, 'a'.repeat(MAX_CLOSE_REASON_BYTES)).length, 125);
    assert.equal(closePayload(1000, 'é'.repeat(61) + 'a').length, 125);
    assert.throws(() => closePayload(1000, 'a'.repeat(124)), { name: 'RangeError', message: /124 bytes/ });
    assert.throws(() => closePayload(1000, 'é'.repeat(62)), RangeError);
    assert.throws(() => closePayload(1000, '😀'.repeat(31)), RangeError);
  });

  test('codes that may not be sent throw RangeError', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, Number.NaN]) {
      assert.throws(() => closePayload(code), { name: 'RangeError', message: /close code/ }, String(code));
    }
    for (const code of [1000, 1003, 1007, 1011, 1014, 3000, 4999]) assert.equal(closePayload(code).length, 2);
  });

  test('a reason that is not a string or not well-formed Unicode throws TypeError', () => {
    assert.throws(() => closePayload(1000, 42 as unknown as string), TypeError);
    assert.throws(() => closePayload(1000, 'a\ud800b'), { name: 'TypeError', message: /surrogate/ });
    assert.throws(() => closePayload(1000, '\udc00'), TypeError);
    assert.throws(() => closePayload(1000, 'x\ud83d'), TypeError);
    assert.equal(closePayload(1000, '\ud83d\ude00').length, 6);
  });
});

describe('round trip through the receiver', () => {
  /** Masks a server frame as a client would, so the receiver accepts it. */
  function asClient(bytes: Buffer, headerLength: number): Buffer {
    const mask = Buffer.from([1, 2, 3, 4]);
    const out = Buffer.concat([bytes.subarray(0, headerLength), mask, bytes.subarray(headerLength)]);
    out[1] = out[1]! | 0x80;
    for (let i = headerLength + 4; i < out.length; i++) out[i] = out[i]! ^ mask[(i - headerLength - 4) & 3]!;
    return out;
  }

  test('any payload length and close payloads decode back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70000 }),
        fc.integer({ min: 1000, max: 4999 }).filter((c) => c < 1004 || (c > 1006 && c < 1015) || c >= 3000),
        fc.string({ unit: 'binary', maxLength: 30 }),
        (length, code, reason) => {
          const payload = Buffer.alloc(length, 0x5a);
          const header = frameHeader(OPCODE.binary, true, false, payload.length);
          const closeBytes = wholeFrame(OPCODE.close, false, closePayload(code, reason));
          const got: string[] = [];
          const r = new Receiver(
            {
              onMessage: (d) => got.push(`message:${d.length}:${d.equals(payload)}`),
              onPing() {},
              onPong() {},
              onClose: (c, why) => got.push(`close:${c}:${why}`),
              onError: (e) => assert.fail(e),
            },
            { maxMessageBytes: 1 << 20, perMessageDeflate: false },
          );
          r.write(asClient(Buffer.concat([header, payload]), header.length));
          r.write(asClient(closeBytes, 2));
          assert.deepEqual(got, [`message:${length}:true`, `close:${code}:${reason}`]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
