import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { WsError } from '../../src/ws/errors.ts';
import { Receiver, type ReceiverOptions } from '../../src/ws/receiver.ts';
import { UTF8_ACCEPT, UTF8_REJECT, validateUtf8 } from '../../src/ws/utf8.ts';
import { mutate, mutation } from '../mutate.ts';

// Client frames are built here, independently of src/ws/sender.ts, and decoded into a list of event
// strings. Unless a test says otherwise every input is decoded several ways that must agree exactly:
// in one piece, one byte per write, and split in two at every point. The receiver unmasks in place,
// so every write gets a fresh copy of its bytes.

const RFC_MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const OPTIONS: ReceiverOptions = { maxMessageBytes: 1 << 20, perMessageDeflate: false };
const DEFLATE: ReceiverOptions = { maxMessageBytes: 1 << 20, perMessageDeflate: true };

interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** The masking key; null sends the frame unmasked. */
  mask?: Buffer | null;
  /** Force the 16- or 64-bit length form even for short payloads. */
  lengthForm?: 7 | 16 | 64;
}

/** Encodes a client frame (masked with RFC_MASK unless told otherwise). */
function clientFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask === undefined ? RFC_MASK : spec.mask;
  const n = payload.length;
  const form = spec.lengthForm ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const head: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) |
      (spec.rsv1 ? 0x40 : 0) |
      (spec.rsv2 ? 0x20 : 0) |
      (spec.rsv3 ? 0x10 : 0) |
      spec.opcode,
  ];
  const maskBit = mask ? 0x80 : 0;
  if (form === 7) head.push(maskBit | n);
  else if (form === 16) head.push(maskBit | 126, n >> 8, n & 0xff);
  else {
    const high = Math.floor(n / 2 ** 32);
    head.push(maskBit | 127, high >>> 24, (high >> 16) & 0xff, (high >> 8) & 0xff, high & 0xff);
    head.push(n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

/** A frame header (masked with a zero key) announcing `length` bytes, written as a 64-bit length. */
function header64(opcode: number, high: number, low: number): Buffer {
  const b = Buffer.alloc(14);
  b[0] = 0x80 | opcode;
  b[1] = 0x80 | 127;
  b.writeUInt32BE(high, 2);
  b.writeUInt32BE(low, 6);
  return b;
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Feeds `pieces` (copied) to a fresh receiver; returns its events as strings. */
function decodePieces(pieces: Buffer[], options: ReceiverOptions = OPTIONS, frames = false): string[] {
  const events: string[] = [];
  let ended = false;
  const record = (event: string) => {
    assert.equal(ended, false, `no event after an error or a Close frame (got ${event})`);
    events.push(event);
  };
  const receiver = new Receiver(
    {
      onMessage(data, isBinary, compressed) {
        assert.ok(Buffer.isBuffer(data));
        const kind = (isBinary ? 'binary' : 'text') + (compressed ? '(deflate)' : '');
        record(`${kind}:${isBinary || compressed ? data.toString('hex') : data.toString('utf8')}`);
      },
      onPing: (data) => record(`ping:${data.toString('hex')}`),
      onPong: (data) => record(`pong:${data.toString('hex')}`),
      onClose(code, reason) {
        record(`close:${code}:${reason}`);
        ended = true;
      },
      onError(error: WsError) {
        assert.equal(error.name, 'WsError');
        record(`error:${error.code}:${error.closeCode}`);
        ended = true;
      },
      ...(frames
        ? {
            onFrame(fin: boolean, opcode: number, payload: Buffer) {
              record(`frame:${fin ? 1 : 0}:${opcode}:${payload.toString('hex')}`);
            },
          }
        : {}),
    },
    options,
  );
  for (const piece of pieces) receiver.write(Buffer.from(piece));
  assert.equal(receiver.stopped, ended);
  return events;
}

/** Splits `bytes` into pieces of the given sizes, cycling through them. */
function split(bytes: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes.length === 0 ? bytes.length : Math.max(1, sizes[i % sizes.length]!);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** Decodes `bytes` whole, byte by byte and split at every point (or at some, when long); all must agree. */
function decode(bytes: Buffer, options: ReceiverOptions = OPTIONS, frames = false): string[] {
  const whole = decodePieces([bytes], options, frames);
  assert.deepEqual(decodePieces(split(bytes, [1]), options, frames), whole, 'byte by byte');
  const step = bytes.length <= 1500 ? 1 : Math.ceil(bytes.length / 300);
  for (let at = 1; at < bytes.length; at += step) {
    const pieces = [bytes.subarray(0, at), bytes.subarray(at)];
    assert.deepEqual(decodePieces(pieces, options, frames), whole, `split at ${at}`);
  }
  assert.deepEqual(decodePieces(split(bytes, [3, 1, 7, 2]), options, frames), whole, 'uneven pieces');
  return whole;
}

const frames = (...specs: FrameSpec[]) => Buffer.concat(specs.map(clientFrame));

/** `payload` as one message (opcode 1 or 2) in masked fragments of `fragment` bytes. */
function fragmented(payload: Buffer, opcode: number, fragment: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < payload.length; at += fragment) {
    parts.push(
      clientFrame({
        opcode: at === 0 ? opcode : 0,
        payload: payload.subarray(at, at + fragment),
        fin: at + fragment >= payload.length,
      }),
    );
  }
  return Buffer.concat(parts);
}

/** A receiver that hands each whole message to `onMessage` and fails the test on any error. */
function messageReceiver(maxMessageBytes: number, onMessage: (data: Buffer) => void): Receiver {
  return new Receiver(
    {
      onMessage: (data) => onMessage(data as Buffer),
      onPing() {},
      onPong() {},
      onClose() {},
      onError: (e) => assert.fail(e),
    },
    { maxMessageBytes, perMessageDeflate: false },
  );
}

describe('RFC 6455 §5.7 examples', () => {
  test('a single-frame masked text message ("Hello")', () => {
    assert.deepEqual(decode(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')), ['text:Hello']);
    assert.deepEqual(clientFrame({ opcode: 1, payload: 'Hello' }), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  test('the unmasked single-frame example is refused: client frames must be masked', () => {
    assert.deepEqual(decode(hex('81 05 48 65 6c 6c 6f')), ['error:ERR_PEREGRINE_WS_UNMASKED_FRAME:1002']);
  });

  test('a fragmented text message ("Hel" + "lo"), masked', () => {
    const bytes = frames({ opcode: 1, payload: 'Hel', fin: false }, { opcode: 0, payload: 'lo' });
    assert.deepEqual(decode(bytes), ['text:Hello']);
    assert.deepEqual(decode(bytes, OPTIONS, true), ['frame:0:1:48656c', 'frame:1:0:6c6f', 'text:Hello']);
  });

  test('a Ping with a body of "Hello", and the masked Pong of the example', () => {
    assert.deepEqual(decode(clientFrame({ opcode: 9, payload: 'Hello' })), ['ping:48656c6c6f']);
    assert.deepEqual(decode(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58')), ['pong:48656c6c6f']);
  });

  test('256 bytes of binary in one frame (16-bit length)', () => {
    const payload = Buffer.alloc(256, 0xab);
    const bytes = clientFrame({ opcode: 2, payload });
    assert.deepEqual(bytes.subarray(0, 4), hex('82 fe 01 00'));
    assert.deepEqual(decode(bytes), [`binary:${payload.toString('hex')}`]);
  });

  test('64 KiB of binary in one frame (64-bit length)', () => {
    const payload = Buffer.alloc(65536);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const bytes = clientFrame({ opcode: 2, payload });
    assert.deepEqual(bytes.subarray(0, 10), hex('82 ff 00 00 00 00 00 01 00 00'));
    assert.deepEqual(decode(bytes), [`binary:${payload.toString('hex')}`]);
  });
});

describe('frames and messages', () => {
  test('a payload wholly inside the chunk is unmasked in place and handed out without copying', () => {
    const chunk = frames({ opcode: 2, payload: 'abc' }, { opcode: 1, payload: 'xyz' });
    const got: Buffer[] = [];
    const r = new Receiver(
      {
        onMessage: (d) => got.push(d),
        onPing() {},
        onPong() {},
        onClose() {},
        onError: (e) => assert.fail(e),
      },
      OPTIONS,
    );
    r.write(chunk);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.buffer, chunk.buffer);
    assert.equal(got[0]!.byteOffset, chunk.byteOffset + 6);
    assert.equal(got[1]!.buffer, chunk.buffer);
    assert.equal(chunk.subarray(6, 9).toString(), 'abc');
  });

  test('a payload spanning chunks is copied; the chunks are not modified', () => {
    const bytes = clientFrame({ opcode: 1, payload: 'spanning chunks' });
    const a = Buffer.from(bytes.subarray(0, 9));
    const b = Buffer.from(bytes.subarray(9));
    const got: string[] = [];
    const r = new Receiver(
      {
        onMessage: (d) => got.push(d.toString()),
        onPing() {},
        onPong() {},
        onClose() {},
        onError: (e) => assert.fail(e),
      },
      OPTIONS,
    );
    r.write(a);
    r.write(b);
    assert.deepEqual(got, ['spanning chunks']);
    assert.deepEqual(Buffer.concat([a, b]), bytes);
  });

  test('several messages in one chunk, with every length form', () => {
    const bytes = frames(
      { opcode: 1, payload: 'short' },
      { opcode: 1, payload: 'x'.repeat(126) },
      { opcode: 2, payload: Buffer.alloc(300, 1) },
      { opcode: 1, payload: 'forced 16', lengthForm: 16 },
      { opcode: 1, payload: 'forced 64', lengthForm: 64 },
    );
    assert.deepEqual(decode(bytes), [
      'text:short',
      `text:${'x'.repeat(126)}`,
      `binary:${'01'.repeat(300)}`,
      'text:forced 16',
      'text:forced 64',
    ]);
  });

  test('random masking keys, including zero', () => {
    for (const mask of [hex('00000000'), hex('ffffffff'), hex('01020304')]) {
      assert.deepEqual(decode(clientFrame({ opcode: 1, payload: 'masked text!', mask })), [
        'text:masked text!',
      ]);
    }
  });

  test('0-byte messages and control frames', () => {
    const bytes = frames(
      { opcode: 1 },
      { opcode: 2 },
      { opcode: 1, fin: false },
      { opcode: 0, fin: false },
      { opcode: 0 },
      { opcode: 2, fin: false },
      { opcode: 0, payload: 'ab' },
      { opcode: 1, fin: false, payload: 'cd' },
      { opcode: 0 },
      { opcode: 9 },
      { opcode: 10 },
      { opcode: 8 },
    );
    assert.deepEqual(decode(bytes), [
      'text:',
      'binary:',
      'text:',
      'binary:6162',
      'text:cd',
      'ping:',
      'pong:',
      'close:1005:',
    ]);
  });

  test('control frames interleaved between the fragments of a message', () => {
    const bytes = frames(
      { opcode: 1, payload: 'one ', fin: false },
      { opcode: 9, payload: 'p1' },
      { opcode: 0, payload: 'two ', fin: false },
      { opcode: 10, payload: 'p2' },
      { opcode: 9 },
      { opcode: 0, payload: 'three' },
      { opcode: 2, payload: 'after' },
    );
    assert.deepEqual(decode(bytes), [
      'ping:7031',
      'pong:7032',
      'ping:',
      'text:one two three',
      'binary:6166746572',
    ]);
    assert.deepEqual(decode(bytes, OPTIONS, true), [
      'frame:0:1:6f6e6520',
      'frame:1:9:7031',
      'ping:7031',
      'frame:0:0:74776f20',
      'frame:1:10:7032',
      'pong:7032',
      'frame:1:9:',
      'ping:',
      'frame:1:0:7468726565',
      'text:one two three',
      'frame:1:2:6166746572',
      'binary:6166746572',
    ]);
  });

  test('a Close frame between fragments ends everything: the message is never delivered', () => {
    const bytes = frames(
      { opcode: 1, payload: 'part', fin: false },
      { opcode: 8, payload: hex('03e8') },
      { opcode: 0, payload: 'rest' },
    );
    assert.deepEqual(decode(bytes), ['close:1000:']);
  });

  test('a large fragmented message arriving in small pieces', () => {
    const parts = [Buffer.alloc(5000, 1), Buffer.alloc(70000, 2), Buffer.alloc(1, 3), Buffer.alloc(20000, 4)];
    const bytes = frames(
      { opcode: 2, payload: parts[0], fin: false },
      { opcode: 0, payload: parts[1], fin: false },
      { opcode: 9, payload: 'mid' },
      { opcode: 0, payload: parts[2], fin: false },
      { opcode: 0, payload: parts[3] },
    );
    const expected = ['ping:6d6964', `binary:${Buffer.concat(parts).toString('hex')}`];
    assert.deepEqual(decodePieces([bytes]), expected);
    assert.deepEqual(decodePieces(split(bytes, [1])), expected);
    assert.deepEqual(decodePieces(split(bytes, [1000, 1, 4096, 13])), expected);
  });

  test('the buffer for a message that spans chunks grows with the bytes received, not the length announced', () => {
    const r = new Receiver(
      { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError: (e) => assert.fail(e) },
      { maxMessageBytes: 64 << 20, perMessageDeflate: false },
    );
    const bytes = clientFrame({ opcode: 2, payload: Buffer.alloc(32 << 20) });
    r.write(bytes.subarray(0, 14 + 10));
    const internal = r as unknown as { buffer: Buffer };
    assert.ok(internal.buffer.length <= 4096, `buffer is ${internal.buffer.length} bytes after 10 received`);
    r.write(bytes.subarray(24, 24 + 100000));
    assert.ok(internal.buffer.length <= 2 * 100010, `buffer is ${internal.buffer.length} bytes`);
  });

  test('a message in many small fragments is assembled with O(log n) buffer growths, not one per fragment', () => {
    const size = 4 << 20;
    const fragment = 64;
    const text = Buffer.alloc(size);
    for (let i = 0; i < size; i++) text[i] = 0x20 + ((i * 7) % 95);
    // 65,536 text fragments, masked, then written in 64 KiB reads as they would arrive.
    const wire = fragmented(text, 1, fragment);
    let message: Buffer | undefined;
    const r = messageReceiver(64 << 20, (data) => {
      message = data;
    });
    const internal = r as unknown as { buffer: Buffer; bufferLength: number };
    let largest = 0;
    for (let at = 0; at < wire.length; at += 65536) {
      r.write(Buffer.from(wire.subarray(at, at + 65536)));
      // Never more than twice what has arrived (or the 4 KiB minimum).
      if (message === undefined) {
        assert.ok(internal.buffer.length <= Math.max(4096, 2 * internal.bufferLength));
        largest = Math.max(largest, internal.buffer.length);
      }
    }
    assert.ok(message?.equals(text), 'the message is intact');
    // 4 KiB doubled up to 4 MiB: 11 allocations, against 65,536 with exact-size growth.
    const bound = Math.ceil(Math.log2(size / 4096)) + 1;
    assert.ok(r.bufferGrowths <= bound, `${r.bufferGrowths} growths for 65,536 fragments (bound ${bound})`);
    assert.ok(largest <= 2 * size);

    // A second message on the same receiver costs as few again.
    const before = r.bufferGrowths;
    message = undefined;
    r.write(Buffer.from(wire));
    assert.ok(message !== undefined && (message as Buffer).equals(text));
    assert.ok(r.bufferGrowths - before <= bound);
  });

  test('growths are logarithmic in the message size, whatever the fragment size', () => {
    for (const [size, fragment] of [
      [100_000, 1],
      [1 << 20, 7],
      [1 << 20, 4097],
      [3 << 20, 1000],
    ] as const) {
      const payload = Buffer.alloc(size, 0x61);
      let length = -1;
      const r = messageReceiver(size, (data) => {
        length = data.length;
      });
      r.write(fragmented(payload, 2, fragment));
      assert.equal(length, size);
      const bound = Math.ceil(Math.log2(Math.max(1, size / 4096))) + 1;
      assert.ok(r.bufferGrowths <= bound, `${size} B in ${fragment} B fragments: ${r.bufferGrowths} growths`);
    }
  });

  test('a single frame spanning chunks still ends in a buffer of exactly its length', () => {
    let message: Buffer | undefined;
    const r = messageReceiver(64 << 20, (data) => {
      message = data;
    });
    const payload = Buffer.alloc(1_000_003, 0x5a);
    const wire = clientFrame({ opcode: 2, payload });
    for (let at = 0; at < wire.length; at += 65536) r.write(Buffer.from(wire.subarray(at, at + 65536)));
    assert.ok(message?.equals(payload));
    assert.equal(message?.buffer.byteLength, payload.length, 'no spare capacity');
    assert.equal((r as unknown as { buffer: Buffer }).buffer.length, 0, 'released to the caller');
    assert.ok(r.bufferGrowths <= 10, `${r.bufferGrowths} growths`);
  });
});

describe('protocol errors', () => {
  const cases: [string, Buffer, string, ReceiverOptions?][] = [
    [
      'an unmasked frame',
      clientFrame({ opcode: 1, payload: 'hi', mask: null }),
      'ERR_PEREGRINE_WS_UNMASKED_FRAME:1002',
    ],
    [
      'an unmasked control frame',
      clientFrame({ opcode: 9, mask: null }),
      'ERR_PEREGRINE_WS_UNMASKED_FRAME:1002',
    ],
    ['RSV2', clientFrame({ opcode: 1, rsv2: true }), 'ERR_PEREGRINE_WS_UNEXPECTED_RSV_2_3:1002'],
    ['RSV3', clientFrame({ opcode: 2, rsv3: true }), 'ERR_PEREGRINE_WS_UNEXPECTED_RSV_2_3:1002'],
    [
      'RSV2 even with deflate',
      clientFrame({ opcode: 1, rsv2: true }),
      'ERR_PEREGRINE_WS_UNEXPECTED_RSV_2_3:1002',
      DEFLATE,
    ],
    [
      'RSV1 without permessage-deflate',
      clientFrame({ opcode: 1, rsv1: true }),
      'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1:1002',
    ],
    [
      'RSV1 on a ping',
      clientFrame({ opcode: 9, rsv1: true }),
      'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1:1002',
      DEFLATE,
    ],
    [
      'RSV1 on a close',
      clientFrame({ opcode: 8, rsv1: true }),
      'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1:1002',
      DEFLATE,
    ],
    [
      'RSV1 on a continuation frame',
      frames({ opcode: 1, rsv1: true, fin: false }, { opcode: 0, rsv1: true }),
      'ERR_PEREGRINE_WS_UNEXPECTED_RSV_1:1002',
      DEFLATE,
    ],
    [
      'a ping with FIN clear',
      clientFrame({ opcode: 9, fin: false }),
      'ERR_PEREGRINE_WS_FRAGMENTED_CONTROL_FRAME:1002',
    ],
    [
      'a close with FIN clear',
      clientFrame({ opcode: 8, fin: false }),
      'ERR_PEREGRINE_WS_FRAGMENTED_CONTROL_FRAME:1002',
    ],
    [
      'a ping of 126 bytes',
      clientFrame({ opcode: 9, payload: Buffer.alloc(126) }),
      'ERR_PEREGRINE_WS_CONTROL_FRAME_TOO_LONG:1002',
    ],
    [
      'a pong with a 16-bit length form',
      clientFrame({ opcode: 10, payload: 'x', lengthForm: 16 }),
      'ERR_PEREGRINE_WS_CONTROL_FRAME_TOO_LONG:1002',
    ],
    [
      'a continuation without a message',
      clientFrame({ opcode: 0, payload: 'x' }),
      'ERR_PEREGRINE_WS_UNEXPECTED_CONTINUATION:1002',
    ],
    [
      'a continuation after a finished message',
      frames({ opcode: 1, payload: 'done' }, { opcode: 0, payload: 'x' }),
      'ERR_PEREGRINE_WS_UNEXPECTED_CONTINUATION:1002',
    ],
    [
      'a new text frame during a fragmented message',
      frames({ opcode: 1, payload: 'a', fin: false }, { opcode: 1, payload: 'b' }),
      'ERR_PEREGRINE_WS_EXPECTED_CONTINUATION:1002',
    ],
    [
      'a new binary frame during a fragmented message',
      frames({ opcode: 2, payload: 'a', fin: false }, { opcode: 9 }, { opcode: 2, payload: 'b' }),
      'ERR_PEREGRINE_WS_EXPECTED_CONTINUATION:1002',
    ],
    [
      'a 64-bit length with its top bit set',
      header64(2, 0x80000000, 0),
      'ERR_PEREGRINE_WS_INVALID_LENGTH:1002',
    ],
    [
      'a 64-bit length of 2^64 - 1',
      header64(2, 0xffffffff, 0xffffffff),
      'ERR_PEREGRINE_WS_INVALID_LENGTH:1002',
    ],
    [
      'a 64-bit length of 2^53',
      header64(2, 0x200000, 0),
      'ERR_PEREGRINE_WS_UNSUPPORTED_LENGTH:1009',
      { maxMessageBytes: Number.MAX_SAFE_INTEGER, perMessageDeflate: false },
    ],
    [
      'a 64-bit length of 2^63 - 1',
      header64(1, 0x7fffffff, 0xffffffff),
      'ERR_PEREGRINE_WS_UNSUPPORTED_LENGTH:1009',
      { maxMessageBytes: Number.MAX_SAFE_INTEGER, perMessageDeflate: false },
    ],
    [
      'a close with a 1-byte payload',
      clientFrame({ opcode: 8, payload: hex('03') }),
      'ERR_PEREGRINE_WS_INVALID_CLOSE_PAYLOAD:1002',
    ],
    [
      'a close reason that is not UTF-8',
      clientFrame({ opcode: 8, payload: hex('03e8 ff') }),
      'ERR_PEREGRINE_WS_INVALID_CLOSE_REASON:1007',
    ],
    [
      'a close reason with a surrogate',
      clientFrame({ opcode: 8, payload: hex('03e8 6f6b eda080') }),
      'ERR_PEREGRINE_WS_INVALID_CLOSE_REASON:1007',
    ],
  ];
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    cases.push([`opcode ${opcode}`, clientFrame({ opcode }), 'ERR_PEREGRINE_WS_INVALID_OPCODE:1002']);
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    cases.push([
      `close code ${code}`,
      clientFrame({ opcode: 8, payload }),
      'ERR_PEREGRINE_WS_INVALID_CLOSE_CODE:1002',
    ]);
  }

  for (const [name, bytes, expected, options] of cases) {
    test(name, () => {
      // A valid message afterwards must be ignored.
      const input = Buffer.concat([bytes, clientFrame({ opcode: 1, payload: 'ignored' })]);
      const events = decode(input, options ?? OPTIONS);
      assert.equal(events.at(-1), `error:${expected}`);
      assert.ok(events.slice(0, -1).every((e) => !e.startsWith('error')));
    });
  }

  test('valid close codes', () => {
    for (const code of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
    ]) {
      const payload = Buffer.concat([Buffer.alloc(2), Buffer.from('bye ✓')]);
      payload.writeUInt16BE(code);
      assert.deepEqual(decode(clientFrame({ opcode: 8, payload })), [`close:${code}:bye ✓`]);
    }
  });

  test('input after a Close frame is ignored', () => {
    const bytes = frames({ opcode: 8, payload: hex('03e9') }, { opcode: 1, payload: 'late' }, { opcode: 3 });
    assert.deepEqual(decode(bytes), ['close:1001:']);
  });

  test('errors are reported from the header alone, before the payload arrives', () => {
    const bytes = clientFrame({ opcode: 9, payload: Buffer.alloc(126) });
    assert.deepEqual(decodePieces([bytes.subarray(0, 2)]), [
      'error:ERR_PEREGRINE_WS_CONTROL_FRAME_TOO_LONG:1002',
    ]);
    assert.deepEqual(decodePieces([header64(2, 0x80000000, 0).subarray(0, 10)]), [
      'error:ERR_PEREGRINE_WS_INVALID_LENGTH:1002',
    ]);
  });

  test('the error is a WsError with a message', () => {
    let error: WsError | undefined;
    const r = new Receiver(
      {
        onMessage() {},
        onPing() {},
        onPong() {},
        onClose() {},
        onError(e) {
          error = e;
        },
      },
      OPTIONS,
    );
    r.write(clientFrame({ opcode: 1, mask: null }));
    assert.ok(error);
    assert.equal(error.code, 'ERR_PEREGRINE_WS_UNMASKED_FRAME');
    assert.equal(error.closeCode, 1002);
    assert.match(error.message, /masked/);
    assert.equal(r.stopped, true);
  });
});

describe('maxMessageBytes', () => {
  const limit = (maxMessageBytes: number): ReceiverOptions => ({ maxMessageBytes, perMessageDeflate: false });

  test('a message of exactly the limit is accepted; one byte more fails with 1009', () => {
    for (const max of [0, 1, 125, 126, 200, 65535, 65536]) {
      const at = Buffer.alloc(max, 0x61);
      const over = Buffer.alloc(max + 1, 0x61);
      assert.deepEqual(decodePieces([clientFrame({ opcode: 1, payload: at })], limit(max)), [`text:${at}`]);
      assert.deepEqual(decodePieces([clientFrame({ opcode: 1, payload: over })], limit(max)), [
        'error:ERR_PEREGRINE_WS_MESSAGE_TOO_BIG:1009',
      ]);
    }
    assert.deepEqual(decode(clientFrame({ opcode: 2, payload: 'abcd' }), limit(4)), ['binary:61626364']);
    assert.deepEqual(decode(clientFrame({ opcode: 2, payload: 'abcde' }), limit(4)), [
      'error:ERR_PEREGRINE_WS_MESSAGE_TOO_BIG:1009',
    ]);
  });

  test('the limit applies to all fragments together', () => {
    const ok = frames(
      { opcode: 1, payload: 'abc', fin: false },
      { opcode: 9, payload: 'control frames do not count' },
      { opcode: 0, payload: 'def', fin: false },
      { opcode: 0, payload: 'gh' },
      { opcode: 1, payload: '12345678' },
    );
    assert.deepEqual(decode(ok, limit(8)), [
      `ping:${Buffer.from('control frames do not count').toString('hex')}`,
      'text:abcdefgh',
      'text:12345678',
    ]);
    const over = frames(
      { opcode: 1, payload: 'abc', fin: false },
      { opcode: 0, payload: 'def', fin: false },
      { opcode: 0, payload: 'ghi' },
    );
    assert.deepEqual(decode(over, limit(8)), ['error:ERR_PEREGRINE_WS_MESSAGE_TOO_BIG:1009']);
  });

  test('exceeding is reported from the frame header, before any payload is buffered', () => {
    const third = clientFrame({ opcode: 0, payload: Buffer.alloc(1000) });
    const bytes = Buffer.concat([frames({ opcode: 2, payload: 'abc', fin: false }), third.subarray(0, 4)]);
    assert.deepEqual(decode(bytes, limit(1002)), ['error:ERR_PEREGRINE_WS_MESSAGE_TOO_BIG:1009']);
    assert.deepEqual(decodePieces([header64(2, 0, 2 ** 31)], limit(1 << 20)), [
      'error:ERR_PEREGRINE_WS_MESSAGE_TOO_BIG:1009',
    ]);
    assert.deepEqual(decodePieces([header64(2, 0x1fffff, 0xffffffff)], limit(1 << 20)), [
      'error:ERR_PEREGRINE_WS_MESSAGE_TOO_BIG:1009',
    ]);
  });

  test('a length of exactly 2^53 - 1 is accepted when the limit allows it (nothing arrives yet)', () => {
    const max = { maxMessageBytes: Number.MAX_SAFE_INTEGER, perMessageDeflate: false };
    assert.deepEqual(decodePieces([header64(2, 0x1fffff, 0xffffffff), Buffer.from('abc')], max), []);
  });

  test('invalid options are refused', () => {
    const events = { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError() {} };
    for (const maxMessageBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => new Receiver(events, { maxMessageBytes, perMessageDeflate: false }), RangeError);
    }
  });
});

describe('UTF-8', () => {
  const text = (payload: Buffer | string, fin = true, opcode = 1): FrameSpec => ({ opcode, payload, fin });

  test('multi-byte sequences split across fragments are accepted', () => {
    const s = 'aé€😀z';
    const bytes = Buffer.from(s);
    // Split at every byte position into two fragments, and into one fragment per byte.
    for (let at = 0; at <= bytes.length; at++) {
      const input = frames(text(bytes.subarray(0, at), false), text(bytes.subarray(at), true, 0));
      assert.deepEqual(decode(input), [`text:${s}`]);
    }
    const perByte = [...bytes].map((b, i) => text(Buffer.from([b]), i === bytes.length - 1, i === 0 ? 1 : 0));
    assert.deepEqual(decode(frames(...perByte)), [`text:${s}`]);
  });

  test('long text with multi-byte characters, fragmented at odd places', () => {
    const s = 'ĉu vi parolas Esperanton? 日本語のテキスト 🎉🎊 '.repeat(200);
    const bytes = Buffer.from(s);
    const specs: FrameSpec[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = [1, 77, 1000, 3, 2][i % 5]!;
      specs.push(text(bytes.subarray(at, at + size), at + size >= bytes.length, at === 0 ? 1 : 0));
      at += size;
    }
    const input = frames(...specs);
    const expected = [`text:${s}`];
    assert.deepEqual(decodePieces([input]), expected);
    assert.deepEqual(decodePieces(split(input, [1])), expected);
    assert.deepEqual(decodePieces(split(input, [500, 7, 64, 65])), expected);
  });

  const invalid: [string, string][] = [
    ['a stray continuation byte', '61 80 62'],
    ['FF', 'ff'],
    ['an overlong 2-byte NUL', 'c0 80'],
    ['C1', 'c1 bf'],
    ['an overlong 3-byte form', 'e0 9f bf'],
    ['a surrogate', 'ed a0 80'],
    ['a low surrogate', 'ed bf bf'],
    ['an overlong 4-byte form', 'f0 8f bf bf'],
    ['above U+10FFFF', 'f4 90 80 80'],
    ['F5', 'f5 80 80 80'],
    ['a lead byte followed by ASCII', 'e2 82 41'],
  ];
  for (const [name, bytes] of invalid) {
    test(`invalid: ${name} (1007), in one frame and split across fragments`, () => {
      const payload = Buffer.concat([Buffer.from('ok '), hex(bytes), Buffer.from(' tail')]);
      assert.deepEqual(decode(clientFrame(text(payload))), ['error:ERR_PEREGRINE_WS_INVALID_UTF8:1007']);
      for (let at = 1; at < payload.length; at++) {
        const input = frames(text(payload.subarray(0, at), false), text(payload.subarray(at), true, 0));
        assert.deepEqual(decode(input), ['error:ERR_PEREGRINE_WS_INVALID_UTF8:1007'], `split at ${at}`);
      }
    });
  }

  test('a sequence cut at the end of the message fails with 1007', () => {
    for (const cut of ['e2 82', 'f0 9f 98', 'c3', 'f0']) {
      assert.deepEqual(decode(clientFrame(text(Buffer.concat([Buffer.from('abc'), hex(cut)])))), [
        'error:ERR_PEREGRINE_WS_INVALID_UTF8:1007',
      ]);
      const input = frames(text('abc', false), text(hex(cut), false, 0), text('', true, 0));
      assert.deepEqual(decode(input), ['error:ERR_PEREGRINE_WS_INVALID_UTF8:1007']);
    }
  });

  test('an invalid sequence fails at its fragment, before the message ends', () => {
    const first = clientFrame(text(Buffer.concat([Buffer.from('valid '), hex('ff')]), false));
    assert.deepEqual(decodePieces([first]), ['error:ERR_PEREGRINE_WS_INVALID_UTF8:1007']);
    // A sequence made invalid by the next fragment fails at that fragment.
    const two = frames(text(hex('61 e2'), false), text(hex('41'), false, 0));
    assert.deepEqual(decode(two), ['error:ERR_PEREGRINE_WS_INVALID_UTF8:1007']);
    // A valid cut sequence is not an error while the message goes on.
    assert.deepEqual(decode(frames(text(hex('61 e2'), false), text(hex('82'), false, 0))), []);
  });

  test('an invalid sequence fails in the middle of a frame, before the rest of the frame arrives', () => {
    const payload = Buffer.concat([Buffer.alloc(1000, 0x61), hex('c0 80'), Buffer.alloc(100000, 0x62)]);
    const bytes = clientFrame(text(payload));
    // The header (14 bytes) and the first 1010 payload bytes only.
    assert.deepEqual(decodePieces([bytes.subarray(0, 14 + 600), bytes.subarray(14 + 600, 14 + 1010)]), [
      'error:ERR_PEREGRINE_WS_INVALID_UTF8:1007',
    ]);
    assert.deepEqual(decodePieces(split(bytes.subarray(0, 14 + 1002), [1])), [
      'error:ERR_PEREGRINE_WS_INVALID_UTF8:1007',
    ]);
  });

  test('binary messages are not checked', () => {
    assert.deepEqual(decode(clientFrame({ opcode: 2, payload: hex('ff c0 80') })), ['binary:ffc080']);
  });

  test('compressed (RSV1) messages are delivered as they are, flagged, not checked', () => {
    const bytes = frames(
      { opcode: 1, rsv1: true, payload: hex('ff c0'), fin: false },
      { opcode: 9 },
      { opcode: 0, payload: hex('80') },
      { opcode: 2, rsv1: true, payload: hex('0102') },
      { opcode: 1, payload: 'plain' },
    );
    assert.deepEqual(decode(bytes, DEFLATE), [
      'ping:',
      'text(deflate):ffc080',
      'binary(deflate):0102',
      'text:plain',
    ]);
  });
});

describe('validateUtf8', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const isValid = (b: Uint8Array) => {
    try {
      fatal.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  /** Validates `bytes` in pieces; true when every piece passed and the end state is ACCEPT. */
  const pieces = (bytes: Buffer, sizes: number[]) => {
    let state = UTF8_ACCEPT;
    for (const p of split(bytes, sizes)) {
      state = validateUtf8(p, 0, p.length, state);
      if (state === UTF8_REJECT) return false;
    }
    return state === UTF8_ACCEPT;
  };

  test('agrees with a fatal TextDecoder on random bytes, whatever the pieces', () => {
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff),
    );
    fc.assert(
      fc.property(
        fc.array(byte, { maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 8 }),
        (bytes, sizes) => {
          const buf = Buffer.from(bytes);
          assert.equal(pieces(buf, sizes), isValid(buf));
          assert.equal(pieces(buf, []), isValid(buf));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('accepts any well-formed string in any pieces', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 90 })),
        (s, sizes) => {
          assert.equal(pieces(Buffer.from(s), sizes), true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('works on a range of a larger buffer', () => {
    const buf = Buffer.concat([hex('ff ff'), Buffer.from('é'.repeat(50)), hex('ff')]);
    assert.equal(validateUtf8(buf, 2, buf.length - 1, UTF8_ACCEPT), UTF8_ACCEPT);
    assert.equal(validateUtf8(buf, 2, buf.length - 2, UTF8_ACCEPT) > 0, true);
    assert.equal(validateUtf8(buf, 0, 10, UTF8_ACCEPT), UTF8_REJECT);
    assert.equal(validateUtf8(buf, 2, 12, UTF8_REJECT), UTF8_REJECT);
  });
});

describe('event handlers', () => {
  test('a throwing handler stops the receiver and the exception propagates', () => {
    const got: string[] = [];
    const r = new Receiver(
      {
        onMessage(d) {
          got.push(d.toString());
          throw new Error('boom');
        },
        onPing() {},
        onPong() {},
        onClose() {},
        onError: (e) => assert.fail(e),
      },
      OPTIONS,
    );
    assert.throws(() => r.write(frames({ opcode: 1, payload: 'a' }, { opcode: 1, payload: 'b' })), /boom/);
    assert.equal(r.stopped, true);
    r.write(clientFrame({ opcode: 1, payload: 'c' }));
    assert.deepEqual(got, ['a']);
  });

  test('stop() from a handler ignores the rest of the chunk', () => {
    const got: string[] = [];
    const r: Receiver = new Receiver(
      {
        onMessage(d) {
          got.push(d.toString());
          r.stop();
        },
        onPing() {},
        onPong() {},
        onClose() {},
        onError: (e) => assert.fail(e),
      },
      OPTIONS,
    );
    r.write(frames({ opcode: 1, payload: 'a' }, { opcode: 1, payload: 'b' }));
    assert.deepEqual(got, ['a']);
  });

  test('stop() from onFrame: the message or ping of that frame is not delivered', () => {
    for (const last of [
      { opcode: 1, payload: 'msg' },
      { opcode: 9, payload: 'ping' },
    ]) {
      const got: string[] = [];
      const r: Receiver = new Receiver(
        {
          onFrame(_fin, opcode) {
            got.push(`frame:${opcode}`);
            r.stop();
          },
          onMessage: () => got.push('message'),
          onPing: () => got.push('ping'),
          onPong() {},
          onClose() {},
          onError: (e) => assert.fail(e),
        },
        OPTIONS,
      );
      r.write(clientFrame(last));
      assert.deepEqual(got, [`frame:${last.opcode}`]);
    }
  });

  test('write from inside a handler is refused', () => {
    const r: Receiver = new Receiver(
      {
        onMessage() {
          r.write(clientFrame({ opcode: 1, payload: 'nested' }));
        },
        onPing() {},
        onPong() {},
        onClose() {},
        onError: (e) => assert.fail(e),
      },
      OPTIONS,
    );
    assert.throws(() => r.write(clientFrame({ opcode: 1, payload: 'a' })), /own event handlers/);
  });
});

describe('properties', () => {
  interface Message {
    binary: boolean;
    data: Buffer;
  }
  const message: fc.Arbitrary<Message> = fc.oneof(
    fc.record({
      binary: fc.constant(false),
      data: fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s)),
    }),
    fc.record({
      binary: fc.constant(true),
      data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    }),
    fc.record({
      binary: fc.boolean(),
      data: fc.integer({ min: 0, max: 70000 }).map((n) => Buffer.alloc(n, 0x41)),
    }),
  );
  const key = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => Buffer.from(a));

  /** Encodes messages, each fragmented at the given cuts, with pings between frames; returns bytes and expected events. */
  function encode(
    items: { message: Message; cuts: number[]; pings: boolean[]; keys: Buffer[]; forms: (7 | 16 | 64)[] }[],
  ): { bytes: Buffer; expected: string[] } {
    const out: Buffer[] = [];
    const expected: string[] = [];
    let k = 0;
    for (const { message: m, cuts, pings, keys, forms } of items) {
      const points = [...new Set(cuts.map((c) => (m.data.length === 0 ? 0 : c % (m.data.length + 1))))].sort(
        (a, b) => a - b,
      );
      const bounds = [0, ...points.filter((p) => p > 0 && p < m.data.length), m.data.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const payload = m.data.subarray(bounds[i], bounds[i + 1]);
        const mask = keys[k++ % keys.length]!;
        let form = forms[i % forms.length]!;
        if ((form === 7 && payload.length > 125) || (form === 16 && payload.length > 65535)) form = 64;
        out.push(
          clientFrame({
            opcode: i === 0 ? (m.binary ? 2 : 1) : 0,
            payload,
            fin: i + 2 === bounds.length,
            mask,
            lengthForm: form,
          }),
        );
        if (i + 2 === bounds.length) {
          expected.push(m.binary ? `binary:${m.data.toString('hex')}` : `text:${m.data.toString('utf8')}`);
        }
        if (pings[i % Math.max(1, pings.length)]) {
          const body = Buffer.from(`p${i}`);
          out.push(clientFrame({ opcode: 9, payload: body, mask }));
          expected.push(`ping:${body.toString('hex')}`);
        }
      }
    }
    return { bytes: Buffer.concat(out), expected };
  }

  test('random messages, fragmented at random, fed at random split points, decode to the same messages', () => {
    const item = fc.record({
      message,
      cuts: fc.array(fc.nat(), { maxLength: 6 }),
      pings: fc.array(fc.boolean(), { maxLength: 4 }),
      keys: fc.array(key, { minLength: 1, maxLength: 3 }),
      forms: fc.array(fc.constantFrom<7 | 16 | 64>(7, 7, 16, 64), { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(item, { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 10 }),
        (items, sizes, smallSizes) => {
          const { bytes, expected } = encode(items);
          assert.deepEqual(decodePieces([bytes]), expected);
          assert.deepEqual(decodePieces(split(bytes, sizes)), expected);
          if (bytes.length < 20000) assert.deepEqual(decodePieces(split(bytes, smallSizes)), expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  /** Splitting never changes the events, except that invalid UTF-8 in an unfinished frame may be seen early. */
  function checkSplitsAgree(bytes: Buffer, sizes: number[], options: ReceiverOptions): void {
    const whole = decodePieces([bytes], options, true);
    const pieces = decodePieces(split(bytes, sizes), options, true);
    const last = whole.at(-1) ?? '';
    if (last.startsWith('error:') || last.startsWith('close:')) assert.deepEqual(pieces, whole);
    else if (pieces.length === whole.length + 1) {
      assert.deepEqual(pieces, [...whole, 'error:ERR_PEREGRINE_WS_INVALID_UTF8:1007']);
    } else assert.deepEqual(pieces, whole);
  }

  const anyFrame = fc.record({
    // Mostly plausible first bytes (data, continuation, control, compressed), sometimes anything.
    b0: fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 },
      {
        arbitrary: fc.constantFrom(0x81, 0x82, 0x01, 0x02, 0x00, 0x80, 0x89, 0x8a, 0x88, 0xc1, 0xc2, 0x41),
        weight: 5,
      },
    ),
    masked: fc.constantFrom(true, true, true, true, false),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s)),
    ),
    mask: key,
    form: fc.constantFrom<7 | 16 | 64>(7, 16, 64),
  });
  const frameBytes = (f: {
    b0: number;
    masked: boolean;
    payload: Uint8Array;
    mask: Buffer;
    form: 7 | 16 | 64;
  }) =>
    clientFrame({
      opcode: f.b0 & 0x0f,
      fin: (f.b0 & 0x80) !== 0,
      rsv1: (f.b0 & 0x40) !== 0,
      rsv2: (f.b0 & 0x20) !== 0,
      rsv3: (f.b0 & 0x10) !== 0,
      payload: Buffer.from(f.payload),
      mask: f.masked ? f.mask : null,
      lengthForm: f.form,
    });

  test('random bytes and random frames never throw: only onError, once, last', () => {
    const input: fc.Arbitrary<Buffer> = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a): Buffer => Buffer.from(a)),
      fc.array(anyFrame, { maxLength: 8 }).map((fs): Buffer => Buffer.concat(fs.map(frameBytes))),
      fc
        .tuple(
          fc.array(anyFrame, { maxLength: 8 }),
          fc.array(mutation(fc.integer({ min: 0, max: 255 }), 8, 8), { maxLength: 3 }),
        )
        .map(([fs, ms]) => ms.reduce((b: Buffer, m) => mutate(b, m), Buffer.concat(fs.map(frameBytes)))),
    );
    fc.assert(
      fc.property(
        input,
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 300 }),
        (bytes, sizes, deflate, maxMessageBytes) => {
          checkSplitsAgree(bytes, sizes, { maxMessageBytes, perMessageDeflate: deflate });
          checkSplitsAgree(bytes, [1], { maxMessageBytes, perMessageDeflate: deflate });
        },
      ),
      { numRuns: 3000 },
    );
  });
});
