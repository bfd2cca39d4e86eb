import { closeSync, openSync, write, writeSync } from 'node:fs';

/**
 * An access log: one line per response, batched so that logging costs about one write per turn of
 * the event loop rather than one per request, written off the event loop (a full pipe or a slow
 * disk never stalls serving), and bounded (a log nobody reads cannot grow memory: past
 * MAX_PENDING_BYTES lines are dropped and the drop is reported in the log).
 *
 * Each write holds whole lines and at most PIPE_BUF bytes, and the built-in formats are ASCII:
 * writes that small to a pipe are atomic (POSIX), as are appends to a file opened with O_APPEND, so
 * workers (threads or processes) sharing one stdout or file never cut each other's lines. Worker
 * threads write to the file descriptor themselves, not through the main thread's process.stdout.
 */

/** What one line says: the entry a custom `accessLog` function gets. */
export interface AccessEntry {
  /** When the response ended (ms since the epoch). */
  time: number;
  /** The client's address, or undefined when the socket no longer knows it. */
  client: string | undefined;
  /** `-` for a request refused before it could be parsed. */
  method: string;
  /** The request-target as sent (`-` for a request refused before it could be parsed). */
  target: string;
  /** `'1.1'`, `'1.0'` or `'2.0'`. */
  version: string;
  status: number;
  /** Body bytes sent (0 for HEAD, 204, 304). */
  bytes: number;
  /** From the request's dispatch to the response's end, in milliseconds. */
  durationMs: number;
}

/** Makes one line from an entry; returning nothing skips it (a function may log the entry itself). */
// biome-ignore lint/suspicious/noConfusingVoidType: a function that returns nothing must type-check
export type AccessLineMaker = (entry: AccessEntry) => string | undefined | void;

/** What the `accessLog` option takes: a built-in format, or a function making the line. */
export type AccessLogFormat = boolean | 'common' | 'json' | AccessLineMaker;

/** The line maker for an `accessLog` option, or null when off. */
export function accessLogFormatter(format: AccessLogFormat): AccessLineMaker | null {
  if (format === false) return null;
  if (format === true) return formatAccessLine;
  if (format === 'common') return formatCommonLine;
  if (format === 'json') return formatJsonLine;
  return format;
}

/**
 * The default: `2026-12-04T02:05:00.123Z 127.0.0.1 GET /a.txt 200 7 0.4ms`. Bytes outside visible
 * ASCII in the target are percent-encoded, so a request cannot forge a line or a field, and lines
 * stay ASCII.
 */
export function formatAccessLine(entry: AccessEntry): string {
  return `${isoTime(entry.time)} ${entry.client ?? '-'} ${entry.method} ${safeTarget(entry.target)} ${entry.status} ${entry.bytes} ${entry.durationMs.toFixed(1)}ms\n`;
}

/**
 * NCSA Common Log Format: `127.0.0.1 - - [04/Dec/2026:02:05:00 +0000] "GET /a.txt HTTP/1.1" 200 7`
 * (no identity or user; `-` for an empty body), in UTC.
 */
export function formatCommonLine(entry: AccessEntry): string {
  const request =
    entry.method === '-' ? '-' : `${entry.method} ${safeTarget(entry.target)} HTTP/${entry.version}`;
  const bytes = entry.bytes === 0 ? '-' : entry.bytes;
  return `${entry.client ?? '-'} - - [${clfTime(entry.time)}] "${request}" ${entry.status} ${bytes}\n`;
}

/** One JSON object per line, ASCII only (other characters as `\uXXXX`). */
export function formatJsonLine(entry: AccessEntry): string {
  const json = JSON.stringify({
    time: isoTime(entry.time),
    client: entry.client ?? null,
    method: entry.method,
    target: entry.target,
    version: entry.version,
    status: entry.status,
    bytes: entry.bytes,
    duration_ms: Math.round(entry.durationMs * 1000) / 1000,
  });
  return `${NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, asciiEscape) : json}\n`;
}

const NON_ASCII = /[^\x00-\x7e]/;
const NON_ASCII_ALL = /[^\x00-\x7e]/g;
const asciiEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

// Formatting a date costs more than the rest of a line: the part that changes once a second is kept.
let isoSecond = -1;
let isoPrefix = '';
let clfSecond = -1;
let clfText = '';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `2026-12-04T02:05:00.123Z`. */
function isoTime(time: number): string {
  const second = Math.floor(time / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // up to the '.'
  }
  const ms = time - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${Math.floor(ms)}Z`;
}

/** `04/Dec/2026:02:05:00 +0000`. */
function clfTime(time: number): string {
  const second = Math.floor(time / 1000);
  if (second !== clfSecond) {
    clfSecond = second;
    const d = new Date(second * 1000);
    const two = (n: number) => String(n).padStart(2, '0');
    clfText = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  }
  return clfText;
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

/** The part of a Writable stream a LogWriter needs. */
export interface LogStream {
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
}

/**
 * A LogWriter for a stream: a write completes when the stream has taken it (its callback), so a
 * slow stream holds back the log, not memory. At close the rest is handed to the stream; it writes
 * it out as long as the process lives.
 */
export function streamWriter(stream: LogStream): LogWriter {
  return {
    write: (data, done) => {
      stream.write(data, (error) => done((error ?? null) as NodeJS.ErrnoException | null));
    },
    writeSync: (data) => void stream.write(data, () => {}),
  };
}

/** Where the `accessLogTo` option sends the log: a file path (appended to), a file descriptor, or a stream. */
export type AccessLogDestination = string | number | LogStream;

/** Opens the destination; `close()` gives back a file it opened. */
export function openDestination(to: AccessLogDestination): { writer: LogWriter; close(): void } {
  if (typeof to === 'number') return { writer: fdWriter(to), close() {} };
  if (typeof to === 'string') {
    // O_APPEND: every worker's writes land at the end, each whole.
    const fd = openSync(to, 'a');
    return { writer: fdWriter(fd), close: () => closeSync(fd) };
  }
  return { writer: streamWriter(to), close() {} };
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
  private readonly format: AccessLineMaker;
  /** Lines dropped since the log started (for the metrics). */
  droppedTotal = 0;
  /**
   * Lines not yet handed to a write, in chunks of whole lines of at most ATOMIC_WRITE_BYTES (a longer
   * line is a chunk of its own): `ready` are full, `filling` takes the next lines. Kept as chunks so
   * that taking one to write never copies the rest (one string sliced per write was quadratic).
   */
  private readonly ready: string[] = [];
  private filling = '';
  /** Characters in `ready` and `filling`. */
  private queued = 0;
  /** The chunk being written, until its write completes. */
  private inFlight: Buffer | null = null;
  private scheduled = false;
  private droppedLines = 0;
  private closed = false;
  private idle: (() => void) | null = null;

  constructor(
    writer: LogWriter = fdWriter(1),
    maxPending = MAX_PENDING_BYTES,
    format: AccessLineMaker = formatAccessLine,
  ) {
    this.writer = writer;
    this.maxPending = maxPending;
    this.format = format;
  }

  /** Log bytes queued or being written. */
  get pendingBytes(): number {
    return this.queued + (this.inFlight?.length ?? 0);
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
      this.droppedTotal++;
      return;
    }
    let line = this.format(entry);
    if (typeof line !== 'string' || line === '') return;
    if (line.charCodeAt(line.length - 1) !== 0x0a) line += '\n';
    if (this.droppedLines > 0) {
      this.append(
        `${isoTime(entry.time)} access log: ${this.droppedLines} lines dropped, the output did not keep up\n`,
      );
      this.droppedLines = 0;
    }
    this.append(line);
    if (!this.scheduled && this.inFlight === null) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.writeNext();
      });
    }
  }

  private append(line: string): void {
    if (this.filling.length > 0 && this.filling.length + line.length > ATOMIC_WRITE_BYTES) {
      this.ready.push(this.filling);
      this.filling = '';
    }
    this.filling += line;
    this.queued += line.length;
  }

  /** The next chunk to write, taken out of the queue, or '' when nothing waits. */
  private takeChunk(): string {
    let chunk: string;
    if (this.ready.length > 0) chunk = this.ready.shift()!;
    else {
      chunk = this.filling;
      this.filling = '';
    }
    this.queued -= chunk.length;
    return chunk;
  }

  /**
   * Writes everything still queued, then stops taking lines: waits for the write in progress and
   * writes the rest synchronously, so a graceful shutdown loses nothing.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight !== null) await new Promise<void>((resolve) => (this.idle = resolve));
    if (this.droppedLines > 0)
      this.append(`access log: ${this.droppedLines} lines dropped, the output did not keep up\n`);
    this.droppedLines = 0;
    for (let chunk = this.takeChunk(); chunk !== ''; chunk = this.takeChunk()) {
      try {
        this.writer.writeSync(Buffer.from(chunk, 'utf8'));
      } catch {
        return; // the output is gone (EPIPE…): nothing more can be said
      }
    }
  }

  private writeNext(): void {
    if (this.inFlight !== null || this.queued === 0) return;
    this.send(Buffer.from(this.takeChunk(), 'utf8'));
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
