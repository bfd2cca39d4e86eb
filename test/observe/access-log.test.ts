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
  accessLogFormatter,
  fdWriter,
  formatAccessLine,
  formatCommonLine,
  formatJsonLine,
  type LogWriter,
} from '../../src/observe/access-log.ts';
import { exchange, httpGet, start } from '../helpers.ts';

const ENTRY: AccessEntry = {
  time: Date.UTC(2026, 11, 4, 2, 5, 0, 123),
  client: '127.0.0.1',
  method: 'GET',
  target: '/a.txt?x=1',
  status: 200,
  version: '1.1',
  bytes: 7,
  durationMs: 0.44,
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

describe('formats', () => {
  test("'common' is NCSA Common Log Format, in UTC, '-' for no body", () => {
    assert.equal(
      formatCommonLine(ENTRY),
      '127.0.0.1 - - [04/Dec/2026:02:05:00 +0000] "GET /a.txt?x=1 HTTP/1.1" 200 7\n',
    );
    assert.match(formatCommonLine({ ...ENTRY, bytes: 0, method: '-', target: '-' }), /"-" 200 -\n$/);
  });

  test("'json' is one ASCII JSON object per line", () => {
    const line = formatJsonLine({ ...ENTRY, target: '/caf\u00e9"\n' });
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.match(line, /^[\x20-\x7e]*\n$/);
    assert.deepEqual(JSON.parse(line), {
      time: '2026-12-04T02:05:00.123Z',
      client: '127.0.0.1',
      method: 'GET',
      target: '/caf\u00e9"\n',
      version: '1.1',
      status: 200,
      bytes: 7,
      duration_ms: 0.44,
    });
  });

  test('a function makes the line (a newline is added), or skips it; drops are counted for the metrics', async () => {
    const writer = new FakeWriter();
    const log = new AccessLog(writer, undefined, (e) =>
      e.status === 200 ? `${e.method} ${e.target}` : undefined,
    );
    log.log(ENTRY);
    log.log({ ...ENTRY, status: 404 });
    await log.close();
    assert.equal(writer.writes.join('') + writer.sync.join(''), 'GET /a.txt?x=1\n');
    const full = new AccessLog(new FakeWriter(), 10);
    for (let i = 0; i < 5; i++) full.log(ENTRY);
    assert.equal(full.droppedTotal, 4);
    assert.equal(accessLogFormatter(false), null);
  });
});

describe('the accessLog option', () => {
  test('one line per response, parse errors too, to a file', async (t) => {
    const file = join(tmpdir(), `peregrine-access-option-${process.pid}.log`);
    rmSync(file, { force: true });
    const server = await start((_req, res) => res.end('hello'), { accessLog: 'json', accessLogTo: file });
    t.after(() => rmSync(file, { force: true }));
    await httpGet(server.port, '/x?y=1');
    await exchange(server.port, `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`);
    await server.shutdown();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.target, '/x?y=1');
    assert.equal(lines[0]!.bytes, 5);
    assert.equal(lines[1]!.status, 431);
    assert.equal(lines[1]!.method, '-');
  });

  test('bad values are refused at start-up', async () => {
    await assert.rejects(
      start(() => {}, { accessLog: 'xml' as never }),
      /option 'accessLog' must be/,
    );
    await assert.rejects(
      start(() => {}, { accessLogTo: '' }),
      /option 'accessLogTo' must be/,
    );
    await assert.rejects(
      start(() => {}, { metrics: 'metrics' }),
      /option 'metrics' must be/,
    );
    await assert.rejects(
      start(() => {}, { accessLog: true, accessLogTo: '/nonexistent-dir/x.log' }),
      /option 'accessLogTo': cannot open it/,
    );
  });
});
