import { write, writeSync } from 'node:fs';

/**
 * An access log: one line per response, batched so that logging costs about one write per turn of
 * the event loop rather than one per request, written off the event loop (a full pipe or a slow
 * disk never stalls serving), and bounded (a log nobody reads cannot grow memory: past
 * MAX_PENDING_BYTES lines are dropped and the drop is reported in the log).
 *
 * Each write holds whole lines and at most PIPE_BUF bytes, and lines are ASCII: writes that small
 * to a pipe are atomic (POSIX), so workers (threads or processes) sharing one stdout never cut
 * each other's lines.
 */

/** What one line says. */
export interface AccessEntry {
  /** When the response ended (ms since the epoch). */
  time: number;
  client: string | undefined;
  method: string;
  /** The request-target as sent. */
  target: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** From the request's dispatch to the response's end. */
  ms: number;
}

/**
 * `2026-12-04T02:05:00.123Z 127.0.0.1 GET /a.txt 200 7 0.4ms`. Bytes outside visible ASCII in the
 * target are percent-encoded, so a request cannot forge a line or a field, and lines stay ASCII.
 */
export function formatAccessLine(entry: AccessEntry): string {
  const when = new Date(entry.time).toISOString();
  return `${when} ${entry.client ?? '-'} ${entry.method} ${safeTarget(entry.target)} ${entry.status} ${entry.bytes} ${entry.ms.toFixed(1)}ms\n`;
}

const UNSAFE = /[^\x21-\x7e]/g;

function safeTarget(target: string): string {
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(target)) return target;
  return target.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    // Targets from the parser are bytes (latin1); a handler's may hold any UTF-16 unit.
    return code < 0x100
      ? `%${code.toString(16).padStart(2, '0').toUpperCase()}`
      : `%u${code.toString(16).padStart(4, '0').toUpperCase()}`;
  });
}

/** Where the log goes: an asynchronous write (off the event loop) and a synchronous one for exit. */
export interface LogWriter {
  write(data: Buffer, done: (error: NodeJS.ErrnoException | null) => void): void;
  writeSync(data: Buffer): void;
}

/** A LogWriter for a file descriptor (1 for stdout): writes run on libuv's thread pool. */
export function fdWriter(fd: number): LogWriter {
  return {
    write: (data, done) => write(fd, data, (error) => done(error)),
    writeSync: (data) => {
      let at = 0;
      while (at < data.length) at += writeSync(fd, data, at);
    },
  };
}

/** Bytes one write may hold to stay atomic on a pipe (Linux's PIPE_BUF). */
export const ATOMIC_WRITE_BYTES = 4096;
/** Log bytes waiting to be written beyond which new lines are dropped (and counted). */
export const MAX_PENDING_BYTES = 1024 * 1024;
/** Wait before writing again when the output is a full non-blocking pipe. */
const RETRY_MS = 20;

export class AccessLog {
  private readonly writer: LogWriter;
  private readonly maxPending: number;
  /** Lines not yet handed to a write. */
  private batch = '';
  /** The chunk being written, until its write completes. */
  private inFlight: Buffer | null = null;
  private scheduled = false;
  private droppedLines = 0;
  private closed = false;
  private idle: (() => void) | null = null;

  constructor(writer: LogWriter = fdWriter(1), maxPending = MAX_PENDING_BYTES) {
    this.writer = writer;
    this.maxPending = maxPending;
  }

  /** Log bytes queued or being written. */
  get pendingBytes(): number {
    return this.batch.length + (this.inFlight?.length ?? 0);
  }

  /** Lines dropped since the last report because the output did not keep up. */
  get dropped(): number {
    return this.droppedLines;
  }

  /** Queues one line; it is written soon, with the other lines of this turn of the event loop. */
  log(entry: AccessEntry): void {
    if (this.closed) return;
    if (this.pendingBytes > this.maxPending) {
      this.droppedLines++;
      return;
    }
    if (this.droppedLines > 0) {
      this.batch += `${new Date(entry.time).toISOString()} access log: ${this.droppedLines} lines dropped, the output did not keep up\n`;
      this.droppedLines = 0;
    }
    this.batch += formatAccessLine(entry);
    if (!this.scheduled && this.inFlight === null) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.writeNext();
      });
    }
  }

  /**
   * Writes everything still queued, then stops taking lines: waits for the write in progress and
   * writes the rest synchronously, so a graceful shutdown loses nothing.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight !== null) await new Promise<void>((resolve) => (this.idle = resolve));
    let text = this.batch;
    this.batch = '';
    if (this.droppedLines > 0)
      text += `access log: ${this.droppedLines} lines dropped, the output did not keep up\n`;
    this.droppedLines = 0;
    while (text.length > 0) {
      const end = chunkEnd(text);
      try {
        this.writer.writeSync(Buffer.from(text.slice(0, end), 'latin1'));
      } catch {
        return; // the output is gone (EPIPE…): nothing more can be said
      }
      text = text.slice(end);
    }
  }

  private writeNext(): void {
    if (this.inFlight !== null || this.batch.length === 0) return;
    const end = chunkEnd(this.batch);
    this.send(Buffer.from(this.batch.slice(0, end), 'latin1'));
    this.batch = this.batch.slice(end);
  }

  private send(chunk: Buffer): void {
    this.inFlight = chunk;
    this.writer.write(chunk, (error) => {
      if (error !== null && error.code === 'EAGAIN') {
        // A non-blocking pipe that is full: the same bytes again shortly.
        setTimeout(() => this.send(chunk), RETRY_MS).unref();
        return;
      }
      // Any other error (EPIPE: nobody reads) loses this chunk, never the process.
      this.inFlight = null;
      if (this.idle !== null) {
        const idle = this.idle;
        this.idle = null;
        idle();
        return;
      }
      this.writeNext();
    });
  }
}

/** Where the first write of `text` ends: whole lines, at most ATOMIC_WRITE_BYTES (unless one line is longer). */
function chunkEnd(text: string): number {
  if (text.length <= ATOMIC_WRITE_BYTES) return text.length;
  const cut = text.lastIndexOf('\n', ATOMIC_WRITE_BYTES - 1);
  if (cut !== -1) return cut + 1;
  const next = text.indexOf('\n');
  return next === -1 ? text.length : next + 1;
}
