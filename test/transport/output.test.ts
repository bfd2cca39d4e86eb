import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { COPY_LIMIT, Output } from '../../src/transport/output.ts';

/** A stand-in socket that records what is written, copying each write as the kernel would later. */
class RecordingSocket {
  chunks: Buffer[] = [];
  writes = 0;
  corks = 0;
  /** What a real socket reports after write(): 0 when the kernel took everything at once. */
  writableLength = 1;
  /** Where each Buffer write pointed, to see whether memory was reused. */
  addresses: { buffer: ArrayBufferLike; offset: number }[] = [];
  /** Views handed over but not yet "sent": checked for corruption when finally copied. */
  private held: { view: Buffer; copy: Buffer }[] = [];

  write(data: string | Uint8Array): boolean {
    this.writes++;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.chunks.push(bytes);
    if (typeof data !== 'string') {
      this.addresses.push({ buffer: data.buffer, offset: data.byteOffset });
      // A write the kernel took at once holds nothing; only held views must stay intact.
      if (this.writableLength !== 0) {
        this.held.push({ view: Buffer.from(data.buffer, data.byteOffset, data.byteLength), copy: bytes });
      }
    }
    return true;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {}
  /** Every view handed to write() still holds the bytes it held then (the slab never rewrites them). */
  assertViewsIntact(): void {
    for (const { view, copy } of this.held) assert.deepEqual(view, copy);
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function output(): { out: Output; socket: RecordingSocket } {
  const socket = new RecordingSocket();
  return { out: new Output(socket as unknown as Socket), socket };
}

test('text only goes out as one write', () => {
  const { out, socket } = output();
  out.append('a');
  out.append('b');
  out.flush();
  assert.equal(socket.writes, 1);
  assert.equal(socket.text, 'ab');
  assert.ok(out.empty);
});

test('text, encoded strings and bytes keep their order in one contiguous write', () => {
  const { out, socket } = output();
  out.append('head1 ');
  assert.equal(out.utf8('héllo '), 7);
  out.append('head2 ');
  out.bytes(Buffer.from('bytes '));
  out.append('tail');
  out.flush();
  assert.equal(socket.writes, 1);
  assert.equal(socket.text, 'head1 héllo head2 bytes tail');
});

test('a connection that writes after another keeps both streams intact', () => {
  const a = output();
  const b = output();
  a.out.utf8('A1 ');
  b.out.utf8('B1 ');
  a.out.utf8('A2 ');
  b.out.utf8('B2 ');
  a.out.flush();
  b.out.flush();
  assert.equal(a.socket.text, 'A1 A2 ');
  assert.equal(b.socket.text, 'B1 B2 ');
  a.socket.assertViewsIntact();
  b.socket.assertViewsIntact();
});

test('slab rollover never rewrites bytes already handed to a socket', () => {
  const { out, socket } = output();
  const piece = 'x'.repeat(10_000);
  let expected = '';
  for (let i = 0; i < 200; i++) {
    const line = `${i}:${piece.slice(0, 1000 + i * 37)}\n`;
    out.utf8(line);
    expected += line;
    if (i % 7 === 0) out.flush();
  }
  out.flush();
  assert.equal(socket.text, expected);
  socket.assertViewsIntact();
});

test('large bodies pass through by reference, corked, in order', () => {
  const { out, socket } = output();
  const big = Buffer.alloc(COPY_LIMIT + 1, 0x61);
  out.append('head ');
  out.bytes(big);
  out.append(' after');
  out.flush();
  assert.equal(socket.corks, 1);
  assert.equal(socket.text, `head ${'a'.repeat(COPY_LIMIT + 1)} after`);
});

test('a large string passes through and reports its UTF-8 size', () => {
  const { out, socket } = output();
  const big = 'é'.repeat(COPY_LIMIT);
  assert.equal(out.utf8(big), COPY_LIMIT * 2);
  out.flush();
  assert.equal(socket.text, big);
});

test('rewind takes back what was appended after mark()', () => {
  const { out, socket } = output();
  out.append('keep ');
  const at = out.mark(100);
  out.append('HEAD ');
  out.utf8('body');
  out.rewind(at);
  out.append('NEWHEAD ');
  out.utf8('body');
  out.flush();
  assert.equal(socket.text, 'keep NEWHEAD body');
});

test('discard drops what is queued', () => {
  const { out, socket } = output();
  out.append('x');
  out.utf8('y');
  out.discard();
  out.flush();
  assert.equal(socket.writes, 0);
  assert.ok(out.empty);
});

test('a region the socket wrote at once is reused; one it still holds is not', () => {
  const fast = output();
  fast.socket.writableLength = 0;
  fast.out.utf8('x'.repeat(2000));
  fast.out.flush();
  fast.out.utf8('y'.repeat(2000));
  fast.out.flush();
  const [first, second] = fast.socket.addresses;
  assert.equal(second!.buffer, first!.buffer);
  assert.equal(second!.offset, first!.offset, 'the second response reuses the cache-hot region');
  assert.equal(fast.socket.text, 'x'.repeat(2000) + 'y'.repeat(2000));

  const slow = output();
  slow.out.utf8('a'.repeat(2000));
  slow.out.flush();
  slow.out.utf8('b'.repeat(2000));
  slow.out.flush();
  const [held, next] = slow.socket.addresses;
  assert.ok(
    next!.buffer !== held!.buffer || next!.offset >= held!.offset + 2000,
    'a held region is never overwritten',
  );
  slow.socket.assertViewsIntact();
});
