import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePubSubLoadReport } from '../../bench/pubsub-driver.ts';
import {
  encodeMessage,
  FrameReader,
  isSocketIoMessage,
  LatencyHistogram,
  MESSAGE_BYTES,
  maskedFrame,
  messageSentMicros,
  messageSeq,
  parseEnginePacket,
  SequenceCheck,
  SOCKET_IO_EVENT_BYTES,
  socketIoEvent,
  socketIoMessageAt,
} from '../../bench/pubsub-protocol.ts';
import { PUBSUB, runsWorkload, SECTIONS } from '../../bench/sections.ts';

/** An unmasked server frame, as a server sends it. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const header =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, payload.length])
      : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

test('a message is 32 ASCII bytes carrying its sequence number and send time', () => {
  const text = encodeMessage(42, 123_456_789.7);
  assert.equal(text.length, MESSAGE_BYTES);
  assert.equal(text, '0000000042 000000123456789......');
  const bytes = Buffer.from(text, 'latin1');
  assert.equal(messageSeq(bytes, 0), 42);
  assert.equal(messageSentMicros(bytes, 0), 123_456_789);
  const shifted = Buffer.concat([Buffer.from('xyz'), bytes]);
  assert.equal(messageSeq(shifted, 3), 42);
  assert.equal(messageSeq(Buffer.from('x'.repeat(32)), 0), -1);
  assert.throws(() => encodeMessage(1e11, 0), /out of range/);
});

test('frames are read whole, across reads, from a reused buffer', () => {
  const frames: string[] = [];
  const reader = new FrameReader((opcode, data, start, end) =>
    frames.push(`${opcode}:${data.toString('latin1', start, end)}`),
  );
  const stream = Buffer.concat([
    serverFrame(1, Buffer.from('hello')),
    serverFrame(1, Buffer.from('a'.repeat(200))),
    serverFrame(9, Buffer.from('')),
  ]);
  // Byte by byte through one reused buffer: every split point, header and payload.
  const shared = Buffer.alloc(4);
  for (const byte of stream) {
    shared[0] = byte;
    reader.read(shared, 1);
    shared.fill(0xee); // what was read must not be needed later
  }
  assert.deepEqual(frames, ['1:hello', `1:${'a'.repeat(200)}`, '9:']);
  assert.equal(reader.pendingBytes, 0);
  frames.length = 0;
  reader.read(stream, stream.length);
  assert.equal(frames.length, 3);
});

test('masked, fragmented or compressed server frames are refused', () => {
  const reader = () => new FrameReader(() => {});
  assert.throws(() => reader().read(Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0]), 7), /masked/);
  assert.throws(() => reader().read(Buffer.from([0x01, 0x01, 0x41]), 3), /fragmented/);
  assert.throws(() => reader().read(Buffer.from([0xc1, 0x01, 0x41]), 3), /reserved bit/);
});

test('client frames are masked and unmask to the payload', () => {
  for (const size of [0, 41, 125, 126, 300]) {
    const payload = Buffer.alloc(size, 0x61);
    const frame = maskedFrame(1, payload);
    assert.equal(frame[0], 0x81);
    assert.equal(frame[1]! & 0x80, 0x80);
    const maskAt = size < 126 ? 2 : 4;
    const mask = frame.subarray(maskAt, maskAt + 4);
    const unmasked = Buffer.from(frame.subarray(maskAt + 4).map((byte, i) => byte ^ mask[i & 3]!));
    assert.deepEqual(unmasked, payload, `size ${size}`);
  }
});

test('Engine.IO packets: open, connect answer, ping, close, our event and the rest', () => {
  const packet = (text: string) => {
    const data = Buffer.from(`__${text}`, 'latin1');
    return parseEnginePacket(data, 2, data.length);
  };
  assert.deepEqual(packet('0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'), {
    kind: 'open',
    sid: 'abc',
    pingInterval: 25000,
  });
  assert.deepEqual(packet('40{"sid":"xyz"}'), { kind: 'connected' });
  assert.deepEqual(packet('2'), { kind: 'ping' });
  assert.deepEqual(packet('1'), { kind: 'close' });
  assert.deepEqual(packet('44{"message":"nope"}'), { kind: 'other', text: '44{"message":"nope"}' });
  assert.deepEqual(packet('0{broken'), { kind: 'other', text: '0{broken' });
  const message = encodeMessage(7, 99);
  const event = socketIoEvent('m', message);
  assert.equal(event.length, SOCKET_IO_EVENT_BYTES);
  assert.deepEqual(packet(event), { kind: 'message' });
  const data = Buffer.from(`__${event}`, 'latin1');
  assert.ok(isSocketIoMessage(data, 2, data.length));
  assert.equal(messageSeq(data, socketIoMessageAt(2)), 7);
  assert.ok(!isSocketIoMessage(Buffer.from(socketIoEvent('x', message)), 0, SOCKET_IO_EVENT_BYTES));
  assert.equal(socketIoEvent('p', 'ab"c'), '42["p","ab\\"c"]');
});

test('the sequence check counts gaps as lost and repeats as duplicates', () => {
  const check = new SequenceCheck(2);
  assert.ok(check.receive(0, 1));
  assert.ok(check.receive(0, 2));
  assert.ok(!check.receive(0, 2));
  assert.ok(check.receive(0, 5));
  assert.equal(check.lost, 2);
  assert.equal(check.duplicates, 1);
  assert.equal(check.lastReceived(0), 5);
  assert.equal(check.lastReceived(1), 0);
  // Subscriber 1 got nothing of 5 publications, subscriber 0 missed 3 and 4.
  assert.equal(check.missingAfter(5), 2 + 5);
});

test('latency percentiles are within the histogram resolution', () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.percentile(99), null);
  for (let micros = 1; micros <= 100_000; micros++) histogram.record(micros);
  const near = (value: number | null, expected: number) =>
    assert.ok(value !== null && Math.abs(value - expected) / expected < 0.02, `${value} vs ${expected}`);
  near(histogram.percentile(50), 50_000);
  near(histogram.percentile(99), 99_000);
  near(histogram.percentile(1), 1_000);
  histogram.reset();
  histogram.record(-5);
  histogram.record(3, 99);
  assert.equal(histogram.count, 100);
  assert.equal(histogram.percentile(1), 0);
  assert.equal(histogram.percentile(99), 3);
  histogram.record(1e12);
  assert.ok(histogram.percentile(100)! > 2e9);
});

test("pubsub-load's report line is read whole; latencies may be null", () => {
  const report = {
    deliveries: 10_000,
    seconds: 2,
    deliveriesPerSecond: 5000,
    publications: 2,
    p50Ms: 1.5,
    p99Ms: null,
    cpuSeconds: 0.5,
  };
  assert.deepEqual(parsePubSubLoadReport(JSON.stringify(report)), report);
  assert.throws(() => parsePubSubLoadReport(JSON.stringify({ ...report, deliveries: '1' })), /unexpected/);
  assert.throws(() => parsePubSubLoadReport(JSON.stringify({ ...report, p99Ms: 'x' })), /unexpected/);
  assert.throws(() => parsePubSubLoadReport('measuring'), /unexpected pubsub-load output/);
});

test('each pubsub row runs Peregrine and its own peers: Socket.IO through Redis, uWS and the raw ceiling locally', () => {
  assert.ok(SECTIONS.includes(PUBSUB));
  const ids = (name: string) =>
    [PUBSUB.peregrine, ...PUBSUB.peers]
      .filter((spec) => runsWorkload(PUBSUB.workloads.find((w) => w.name === name)!, spec))
      .map((spec) => spec.id);
  assert.deepEqual(ids('pubsub redis 5k subscribers'), ['peregrine-pubsub', 'socketio']);
  assert.deepEqual(ids('pubsub local 10k subscribers'), ['peregrine-pubsub', 'uws-pubsub', 'raw-net-pubsub']);
});
