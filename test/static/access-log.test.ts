import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AccessEntry,
  AccessLog,
  ATOMIC_WRITE_BYTES,
  fdWriter,
  formatAccessLine,
  type LogWriter,
} from '../../src/static/access-log.ts';

const ENTRY: AccessEntry = {
  time: Date.UTC(2026, 11, 4, 2, 5, 0, 123),
  client: '127.0.0.1',
  method: 'GET',
  target: '/a.txt?x=1',
  status: 200,
  bytes: 7,
  ms: 0.44,
};

/** A writer that records writes and completes them when told. */
class FakeWriter implements LogWriter {
  readonly writes: string[] = [];
  readonly sync: string[] = [];
  private pending: ((error: NodeJS.ErrnoException | null) => void)[] = [];
  autoComplete = true;
  failWith: string | null = null;

  write(data: Buffer, done: (error: NodeJS.ErrnoException | null) => void): void {
    this.writes.push(data.toString('latin1'));
    const complete = () => {
      const code = this.failWith;
      this.failWith = null;
      done(code === null ? null : Object.assign(new Error(code), { code }));
    };
    if (this.autoComplete) setImmediate(complete);
    else this.pending.push(complete);
  }

  writeSync(data: Buffer): void {
    this.sync.push(data.toString('latin1'));
  }

  completeAll(): void {
    const pending = this.pending;
    this.pending = [];
    for (const done of pending) (done as unknown as () => void)();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('formatAccessLine', () => {
  test('time client method target status bytes duration', () => {
    assert.equal(formatAccessLine(ENTRY), '2026-12-04T02:05:00.123Z 127.0.0.1 GET /a.txt?x=1 200 7 0.4ms\n');
    assert.equal(formatAccessLine({ ...ENTRY, client: undefined }).split(' ')[1], '-');
  });

  test('a target cannot forge a line or a field, and lines stay ASCII', () => {
    const line = formatAccessLine({ ...ENTRY, target: '/a b\r\n2026 evil\x00\x7f\u00e9' });
    assert.equal(
      line,
      '2026-12-04T02:05:00.123Z 127.0.0.1 GET /a%20b%0D%0A2026%20evil%00%7F%E9 200 7 0.4ms\n',
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (target) => {
        const text = formatAccessLine({ ...ENTRY, target });
        assert.equal(text.indexOf('\n'), text.length - 1);
        assert.equal(text.split(' ').length, 7);
        assert.match(text, /^[\x20-\x7e]*\n$/);
      }),
    );
  });
});

describe('AccessLog', () => {
  test('lines of one turn of the event loop go out in one write', async () => {
    const writer = new FakeWriter();
    const log = new AccessLog(writer);
    for (let i = 0; i < 20; i++) log.log({ ...ENTRY, target: `/${i}` });
    assert.equal(writer.writes.length, 0); // nothing written synchronously
    await tick();
    assert.equal(writer.writes.length, 1);
    assert.equal(writer.writes[0]!.split('\n').length - 1, 20);
  });

  test('writes hold whole lines and at most PIPE_BUF bytes, in order', async () => {
    const writer = new FakeWriter();
    const log = new AccessLog(writer);
    const expected: string[] = [];
    for (let i = 0; i < 500; i++) {
      const entry = { ...ENTRY, target: `/${'x'.repeat(i % 90)}/${i}` };
      expected.push(formatAccessLine(entry));
      log.log(entry);
    }
    while (writer.writes.join('').length < expected.join('').length) await tick();
    assert.ok(writer.writes.length > 1);
    for (const chunk of writer.writes) {
      assert.ok(chunk.length <= ATOMIC_WRITE_BYTES, `a write of ${chunk.length} bytes`);
      assert.ok(chunk.endsWith('\n'));
    }
    assert.equal(writer.writes.join(''), expected.join(''));
  });

  test('an output that does not keep up costs bounded memory; the drop is reported', async () => {
    const writer = new FakeWriter();
    writer.autoComplete = false;
    const log = new AccessLog(writer, 10_000);
    for (let i = 0; i < 10_000; i++) log.log(ENTRY);
    await tick();
    const line = formatAccessLine(ENTRY).length;
    assert.ok(log.pendingBytes <= 10_000 + line, `${log.pendingBytes} bytes pending`);
    assert.ok(log.dropped > 9_000);
    const dropped = log.dropped;
    // The output catches up: the next line brings the report of what was lost.
    while (writer.writes.length > 0 && log.pendingBytes > 0) {
      writer.completeAll();
      await tick();
      if (writer.writes.join('').length >= 10_000) break;
    }
    writer.autoComplete = true;
    writer.completeAll();
    await tick();
    log.log(ENTRY);
    await log.close();
    const all = writer.writes.join('') + writer.sync.join('');
    assert.match(all, new RegExp(`access log: ${dropped} lines dropped`));
  });

  test('a full non-blocking pipe (EAGAIN) loses nothing; a closed one (EPIPE) never throws', async () => {
    const writer = new FakeWriter();
    const log = new AccessLog(writer);
    writer.failWith = 'EAGAIN';
    log.log({ ...ENTRY, target: '/first' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(writer.writes.length, 2);
    assert.equal(writer.writes[0], writer.writes[1]); // the same bytes again
    writer.failWith = 'EPIPE';
    log.log({ ...ENTRY, target: '/second' });
    await tick();
    await tick();
    log.log({ ...ENTRY, target: '/third' });
    await tick();
    await tick();
    assert.match(writer.writes.at(-1)!, /\/third/);
  });

  test('close() waits for the write in progress, writes the rest synchronously, then takes no more', async () => {
    const writer = new FakeWriter();
    writer.autoComplete = false;
    const log = new AccessLog(writer);
    log.log({ ...ENTRY, target: '/one' });
    await tick(); // '/one' is being written
    log.log({ ...ENTRY, target: '/two' });
    const closed = log.close();
    await tick();
    assert.deepEqual(writer.sync, []); // not before '/one' is out
    writer.completeAll();
    await closed;
    assert.match(writer.writes.join(''), /\/one/);
    assert.match(writer.sync.join(''), /\/two/);
    log.log({ ...ENTRY, target: '/three' });
    await tick();
    assert.doesNotMatch(writer.writes.join('') + writer.sync.join(''), /\/three/);
  });

  test('fdWriter writes to a file descriptor, asynchronously and at close', async () => {
    const path = join(tmpdir(), `peregrine-access-${process.pid}.log`);
    const fd = openSync(path, 'w');
    try {
      const log = new AccessLog(fdWriter(fd));
      for (let i = 0; i < 300; i++) log.log({ ...ENTRY, target: `/${i}` });
      await log.close();
      const lines = readFileSync(path, 'latin1').split('\n').slice(0, -1);
      assert.equal(lines.length, 300);
      for (const [i, text] of lines.entries()) assert.ok(text.includes(` /${i} `), text);
    } finally {
      closeSync(fd);
      rmSync(path, { force: true });
    }
  });
});
