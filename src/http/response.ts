import type { Clock } from '../transport/clock.ts';
import { COPY_LIMIT, type Output } from '../transport/output.ts';
import { CompressingBody, prepareCompression } from './compressing-body.ts';
import { compressWhole, type ResolvedCompression } from './compression.ts';
import type { Request, Response, Takeover } from './exchange.ts';
import type { PrebuiltResponse } from './prebuilt.ts';
import {
  asksToClose,
  checkedHeader,
  checkedStatus,
  declaredLength,
  invalidBody,
  lengthMismatch,
  notOpen,
  transferEncodingIsManaged,
  writeAfterEnd,
} from './response-rules.ts';
import { statusHasNoBody, statusLine } from './status.ts';

/** @internal What a response needs from the connection that sends it. */
export interface ResponseSink {
  readonly clock: Clock;
  /** Where the response's bytes go; the connection writes everything queued in one go. */
  readonly output: Output;
  /** Writes what is queued now, unless the connection is in the middle of a batch of requests. */
  flushSoon(): void;
  /** Decided as the head is built: whether the connection closes after this response. */
  closesAfterResponse(requested: boolean): boolean;
  /** The response is complete. */
  responseEnded(): void;
  /** The framing of a started response can't be completed (e.g. fewer bytes than Content-Length). */
  abortConnection(): void;
  readonly writeCongested: boolean;
  waitForDrain(): Promise<void>;
  /**
   * `res.upgrade(options)`: passed on to whoever the server set to take connections over (today a
   * WebSocket handshake), which answers the request itself or calls `switchProtocols`.
   */
  upgrade(res: Http1Response, options: unknown): unknown;
  /** Sends `head` (a whole response head, e.g. a 101), then gives up the connection: see Takeover. */
  switchProtocols(head: string): Takeover;
  /** The `compression` option, or null when responses are sent as they are. */
  readonly compression: ResolvedCompression | null;
  /** The request this response answers (for the compression decision). */
  readonly request: Pick<Request, 'method' | 'header'> | null;
}

/** Strings shorter than this are joined with the head; longer ones are encoded into the output slab. */
const SHORT_TEXT = 1024;
const EMPTY = Buffer.alloc(0);

/** @internal For headers prepared ahead (prebuilt responses): the same rules as setHeader's. */
export { isValidHeaderName, isValidHeaderValue } from './response-rules.ts';

/** `Content-Length: n\r\n` for the small sizes most bodies have, made on first use. */
const LENGTH_LINES = 4096;
const lengthLines: string[] = new Array<string>(LENGTH_LINES).fill('');

/**
 * The head of the last response built on this thread with at most two headers of the handler's own and
 * nothing else special, and what it was built from: a server answering alike over and over builds it
 * once per second (the Date line changes).
 */
const lastHead = {
  text: '',
  length: -2,
  status: 0,
  dateLine: '',
  count: -1,
  name0: '',
  value0: '',
  name1: '',
  value1: '',
};

function contentLengthLine(length: number): string {
  if (length >= LENGTH_LINES) return 'Content-Length: ' + length + '\r\n';
  let line = lengthLines[length]!;
  if (line === '') line = lengthLines[length] = 'Content-Length: ' + length + '\r\n';
  return line;
}

/**
 * The UTF-8 size of a string: its length when it is ASCII, found with a loop for short strings (cheaper
 * than a call into Buffer.byteLength), else Buffer.byteLength.
 */
function utf8Length(text: string): number {
  if (text.length < SHORT_TEXT) {
    let i = 0;
    while (i < text.length && text.charCodeAt(i) < 0x80) i++;
    if (i === text.length) return i;
  }
  return Buffer.byteLength(text);
}

const STATE_OPEN = 0;
const STATE_STREAMING = 1;
const STATE_ENDED = 2;

/** Header arrays given back by responses whose connection went idle, for the thread's next new ones (bounded). */
const spareHeaderArrays: string[][] = [];
const MAX_SPARE_ARRAYS = 2048;
/** What a parked response holds instead: frozen, so a write to it would throw rather than be lost. */
const PARKED_HEADERS: string[] = Object.freeze([] as string[]) as string[];

/**
 * The response to one request: status, headers and a body, serialised into one socket write where
 * possible. `Date`, `Content-Length`, `Connection` and `Transfer-Encoding` are managed for you.
 */
export class Http1Response implements Response {
  /** The status code, 200 unless set. Must be 200–999 (1xx are sent by Peregrine itself). */
  status = 200;
  /**
   * Header names and values, `count` of them: the arrays are reused across responses and only
   * overwritten, never truncated (setting an array's length is a call into the runtime).
   */
  private names: string[] = PARKED_HEADERS; // the thread's spares are taken by init()
  private values: string[] = PARKED_HEADERS;
  private count = 0;
  /** Header lines built and checked ahead of time by Peregrine itself (a cached file's validators). */
  private prepared = '';
  private sink: ResponseSink | null = null;
  private state = STATE_ENDED;
  private isHead = false;
  private http10 = false;
  /** A Content-Length the handler set itself, for a streamed body of known size; -1 when unset. */
  private declaredLength = -1;
  private written = 0;
  private chunked = false;
  private closeRequested = false;
  private customDate = false;
  /** The server answered on the handler's behalf: the handler's later calls are ignored. */
  private detached = false;
  /** Whether the compression decision has been made for this response. */
  private compressionDecided = false;
  /** A streamed body going through a compressor, or null. */
  private compressing: CompressingBody | null = null;
  /** end() was called on a compressed stream, which finishes once the compressor has. */
  private endRequested = false;

  /** @internal Called by the connection for each new request. */
  init(sink: ResponseSink, isHead: boolean, http10: boolean): void {
    if (this.names === PARKED_HEADERS) {
      this.names = spareHeaderArrays.pop() ?? [];
      this.values = spareHeaderArrays.pop() ?? [];
    }
    this.sink = sink;
    this.status = 200;
    this.count = 0;
    this.prepared = '';
    this.state = STATE_OPEN;
    this.isHead = isHead;
    this.http10 = http10;
    this.declaredLength = -1;
    this.written = 0;
    this.chunked = false;
    this.closeRequested = false;
    this.customDate = false;
    this.detached = false;
    this.compressionDecided = false;
    this.compressing = null;
    this.endRequested = false;
  }

  /**
   * @internal The connection went idle after this response: its header arrays go back to the thread's
   * spares, for a new response's `init`. Only an ended response is parked, and nothing writes to one.
   */
  park(): void {
    if (this.names === PARKED_HEADERS || this.state !== STATE_ENDED) return;
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < names.length; i++) names[i] = values[i] = ''; // hold no header text
    if (spareHeaderArrays.length < MAX_SPARE_ARRAYS) spareHeaderArrays.push(names, values);
    this.names = this.values = PARKED_HEADERS;
    this.count = 0;
    this.prepared = '';
  }

  /**
   * @internal The server has answered for the handler (a body that could not be read, a timeout):
   * whatever the handler still calls on this response is ignored instead of throwing, since a
   * callback that ends it later must not crash the process.
   */
  detach(): void {
    this.detached = true;
  }

  /** Whether the status line and headers have gone out (after the first `write()` or `end()`). */
  get headersSent(): boolean {
    return this.state !== STATE_OPEN;
  }

  /** Whether `end()` has been called. */
  get finished(): boolean {
    return this.state === STATE_ENDED;
  }

  /** @internal Body bytes sent so far (none for HEAD, 204 and 304), for the access log. */
  get bodyBytes(): number {
    return this.isHead || statusHasNoBody(this.status) ? 0 : this.written;
  }

  /**
   * Sets a header, replacing any of the same name (case-insensitive). `Content-Length` declares the size
   * of a streamed body; `Connection: close` closes the connection after this response;
   * `Transfer-Encoding` is managed by Peregrine and can't be set.
   */
  setHeader(name: string, value: string | number): this {
    if (this.detached) return this;
    const text = this.checkHeader(name, value);
    if (this.special(name, text)) return this;
    const i = this.indexOf(name);
    if (i === -1) {
      this.add(name, text);
    } else {
      this.names[i] = name;
      this.values[i] = text;
    }
    return this;
  }

  /** Adds a header line even if one of that name exists (e.g. several `Set-Cookie`). */
  appendHeader(name: string, value: string | number): this {
    if (this.detached) return this;
    const text = this.checkHeader(name, value);
    if (this.special(name, text)) return this;
    this.add(name, text);
    return this;
  }

  /** The value set for a header (the first one, for repeated names), or `undefined`. */
  getHeader(name: string): string | undefined {
    const i = this.indexOf(name);
    return i === -1 ? undefined : this.values[i];
  }

  /**
   * @internal Whether a header of any of these names (lower case) is set: prepared lines must not
   * repeat a header the handler set itself.
   */
  hasAnyHeader(lowerNames: readonly string[]): boolean {
    const names = this.names;
    for (let i = 0; i < this.count; i++) {
      if (lowerNames.includes(names[i]!.toLowerCase())) return true;
    }
    return false;
  }

  /**
   * @internal Adds header lines (`Name: value\r\n` each) that Peregrine built and checked itself
   * and reuses across responses, so that a response sent many times over (a cached file) skips
   * checking each header again. None may be a header Peregrine manages (Content-Length…).
   */
  addPreparedHeaders(lines: string): void {
    if (this.detached) return;
    this.assertOpen();
    if (this.sink!.compression !== null) {
      // Compression reads and changes these headers (Content-Type, ETag, Vary): keep them as fields.
      for (const line of lines.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) this.add(line.slice(0, colon), line.slice(colon + 1).trim());
      }
      return;
    }
    this.prepared += lines;
  }

  /**
   * @internal Ends the response with a prebuilt `200 OK` and returns true — when nothing set on
   * this response would be lost and the connection stays open: no status or headers of the
   * handler's own, not HEAD, HTTP/1.1, keep-alive. Otherwise returns false, having changed nothing.
   */
  endPrebuilt(prebuilt: PrebuiltResponse): boolean {
    if (
      this.detached ||
      this.state !== STATE_OPEN ||
      this.status !== 200 ||
      this.count !== 0 ||
      this.prepared !== '' ||
      this.isHead ||
      this.http10 ||
      this.declaredLength !== -1 ||
      this.closeRequested ||
      this.sink!.compression !== null // prebuilt bytes are the identity body: let end() decide
    ) {
      return false;
    }
    const sink = this.sink!;
    if (sink.closesAfterResponse(false)) return false;
    const bytes = prebuilt.dated(sink.clock.dateLine);
    if (bytes === null) return false;
    sink.output.bytes(bytes);
    this.written = prebuilt.body.length;
    this.state = STATE_ENDED;
    sink.responseEnded();
    return true;
  }

  /** Removes every header of that name. */
  removeHeader(name: string): this {
    if (this.detached) return this;
    this.assertOpen();
    for (let i = this.indexOf(name); i !== -1; i = this.indexOf(name)) {
      const names = this.names;
      const values = this.values;
      for (let k = i + 1; k < this.count; k++) {
        names[k - 1] = names[k]!;
        values[k - 1] = values[k]!;
      }
      this.count--;
    }
    return this;
  }

  /**
   * Ends the response, with an optional body (a string is sent as UTF-8). After streaming with
   * `write()`, the body given here is the last piece. `HEAD`, 204 and 304 responses never carry a body.
   */
  end(body?: string | Uint8Array): void {
    if (this.detached) return;
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array))
      throw invalidBody('body', body);
    if (this.state === STATE_STREAMING) {
      const compressing = this.compressing;
      if (compressing !== null) {
        if (this.endRequested) return; // it finishes once the compressor has
        this.endRequested = true;
        compressing.end(body);
        return;
      }
      if (body !== undefined) this.write(body);
      this.finishStream();
      return;
    }
    this.assertOpen();
    const sink = this.sink!;
    if (sink.compression !== null && !this.compressionDecided) body = this.compressWhole(sink, body);
    const noBody = statusHasNoBody(this.checkStatus()) || this.isHead;
    const out = sink.output;
    const declared = this.declaredLength;
    if (
      typeof body === 'string' &&
      body.length >= SHORT_TEXT &&
      !noBody &&
      declared === -1 &&
      body.length * 3 <= COPY_LIMIT
    ) {
      // Measuring a long string costs more than encoding it. Most bodies are ASCII, whose UTF-8 size is
      // their length: write the head for that, encode the body right after it, and rewrite the head
      // only in the rare case the guess was wrong.
      const head = this.head(body.length, false);
      const at = out.mark(head.length + body.length * 3);
      out.append(head);
      const written = out.utf8(body);
      if (written !== body.length) {
        out.rewind(at);
        out.append(this.head(written, false));
        out.utf8(body);
      }
      this.written = written;
    } else {
      let length = 0;
      if (body !== undefined) length = typeof body === 'string' ? utf8Length(body) : body.byteLength;
      // HEAD, 204 and 304 send no body, so a declared length describes what GET would send (RFC 9110 §8.6).
      if (declared !== -1 && declared !== length && !noBody) {
        throw lengthMismatch(`Content-Length was set to ${declared} but the body is ${length} bytes`);
      }
      const head = this.head(declared !== -1 ? declared : length, false);
      this.written = length;
      if (noBody || length === 0) out.append(head);
      else if (typeof body !== 'string') {
        out.append(head);
        out.bytes(body!);
      } else if (body.length < SHORT_TEXT) out.append(head + body);
      else {
        out.append(head);
        out.utf8(body);
      }
    }
    this.state = STATE_ENDED;
    sink.responseEnded();
  }

  /**
   * Accepts a WebSocket handshake: sends `101 Switching Protocols` and returns the WebSocket (whose
   * hooks on your handler then run), or answers 400 / 426 itself and returns null when the request is
   * not a valid handshake (RFC 6455 §4.2.1). Headers set on the response before (a `Set-Cookie`, say)
   * go out with the 101.
   */
  upgrade(options: object = {}): unknown {
    if (this.detached) return null;
    this.assertOpen();
    return this.sink!.upgrade(this, options);
  }

  /**
   * @internal The headers set so far as header lines (`Name: value\r\n` each), except those named in
   * `skip` (lower case): for a protocol handshake's response, which sets some itself.
   */
  headerLines(skip: ReadonlySet<string>): string {
    let lines = '';
    for (let i = 0; i < this.count; i++) {
      const name = this.names[i]!;
      if (skip.has(name.toLowerCase())) continue;
      lines += `${name}: ${this.values[i]}\r\n`;
    }
    return lines;
  }

  /**
   * @internal Answers with `head` (a whole response head, e.g. a 101) and gives the connection up: the
   * response is done, and whatever the handler still calls on it is ignored.
   */
  switchProtocols(head: string): Takeover {
    this.assertOpen();
    this.state = STATE_ENDED;
    this.detached = true;
    return this.sink!.switchProtocols(head);
  }

  /** Sends `value` as JSON with `Content-Type: application/json`. */
  json(value: unknown): void {
    if (this.indexOf('content-type') === -1)
      this.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.end(JSON.stringify(value));
  }

  /**
   * Streams a piece of the body. The head goes out with the first write: with `Transfer-Encoding: chunked`,
   * or with the `Content-Length` you set. Returns `false` when the socket's buffer is full: wait for
   * `waitForDrain()` before writing more.
   */
  write(chunk: string | Uint8Array): boolean {
    if (this.detached) return true;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw invalidBody('chunk', chunk);
    if (this.endRequested) throw writeAfterEnd();
    const sink = this.sink!;
    if (this.state === STATE_OPEN && sink.compression !== null && !this.compressionDecided)
      this.startCompressing(sink, sink.compression);
    if (this.compressing !== null) {
      if (this.state === STATE_OPEN) this.writeRaw(sink, EMPTY); // the head goes out now
      return this.compressing.write(chunk) && !sink.writeCongested;
    }
    return this.writeRaw(sink, chunk);
  }

  /** Decides on compression for a body known up front; returns the body to send. */
  private compressWhole(
    sink: ResponseSink,
    body: string | Uint8Array | undefined,
  ): string | Uint8Array | undefined {
    this.compressionDecided = true;
    if (body === undefined || sink.request === null) return body;
    const length = typeof body === 'string' ? utf8Length(body) : body.byteLength;
    const coding = prepareCompression(sink.request, this, length, sink.compression!);
    if (coding === null) return body;
    this.declaredLength = -1; // the handler's length was the identity body's
    return compressWhole(
      coding,
      typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
      sink.compression!,
      this.getHeader('content-type'),
    );
  }

  /** Decides on compression for a streamed body; with a coding, its chunks go through a compressor. */
  private startCompressing(sink: ResponseSink, compression: ResolvedCompression): void {
    this.compressionDecided = true;
    if (sink.request === null) return;
    const declared = this.declaredLength === -1 ? undefined : this.declaredLength;
    const coding = prepareCompression(sink.request, this, declared, compression);
    if (coding === null) return;
    this.declaredLength = -1;
    this.compressing = new CompressingBody(
      coding,
      compression,
      (bytes) => {
        if (this.state === STATE_STREAMING) this.writeRaw(sink, bytes);
      },
      (error) => {
        if (this.state !== STATE_STREAMING) return;
        if (error !== null) {
          this.state = STATE_ENDED;
          sink.abortConnection(); // the body can't be completed
          return;
        }
        this.finishStream();
      },
    );
  }

  /** Writes a piece of the body as it is: the head first, if this starts the stream. */
  private writeRaw(sink: ResponseSink, chunk: string | Uint8Array): boolean {
    if (this.state === STATE_OPEN) {
      const noBody = statusHasNoBody(this.checkStatus());
      // Without a declared length, HTTP/1.1 streams chunked; HTTP/1.0 can only mark the end by closing.
      this.chunked = this.declaredLength === -1 && !this.http10 && !noBody;
      if (this.declaredLength === -1 && this.http10) this.closeRequested = true;
      sink.output.append(this.head(this.declaredLength, true));
      this.state = STATE_STREAMING;
      if (noBody) this.isHead = true;
    } else if (this.state === STATE_ENDED) {
      throw writeAfterEnd();
    }
    const length = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    this.written += length;
    if (this.declaredLength !== -1 && this.written > this.declaredLength) {
      throw lengthMismatch(
        `wrote ${this.written} bytes, more than the Content-Length of ${this.declaredLength}`,
      );
    }
    if (length === 0 || this.isHead) {
      // Nothing to frame, but a head this write started must still go out now.
      sink.flushSoon();
      return !sink.writeCongested;
    }
    const out = sink.output;
    if (this.chunked) out.append(length.toString(16) + '\r\n');
    if (typeof chunk !== 'string') out.bytes(chunk);
    else if (chunk.length < SHORT_TEXT) out.append(chunk);
    else out.utf8(chunk);
    if (this.chunked) out.append('\r\n');
    sink.flushSoon();
    return !sink.writeCongested;
  }

  /** @internal The connection closed under this response: a compressor it had is freed now. */
  abandon(): void {
    this.compressing?.destroy();
  }

  /** Resolves when the socket can take more data (at once if it can now, or if the client has gone). */
  waitForDrain(): Promise<void> {
    const sink = this.sink;
    if (sink === null) return Promise.resolve();
    const compressing = this.compressing;
    return compressing === null ? sink.waitForDrain() : compressing.idle().then(() => sink.waitForDrain());
  }

  private finishStream(): void {
    const sink = this.sink!;
    this.state = STATE_ENDED;
    if (this.chunked && !this.isHead) sink.output.append('0\r\n\r\n');
    if (this.declaredLength !== -1 && this.written !== this.declaredLength && !this.isHead) {
      // The client was promised more bytes than exist: the only honest end is to close.
      sink.abortConnection();
      throw lengthMismatch(
        `the body was ${this.written} bytes, less than the Content-Length of ${this.declaredLength}`,
      );
    }
    sink.responseEnded();
  }

  /** Builds the status line and header section. `length` -1 means no Content-Length. */
  private head(length: number, streaming: boolean): string {
    const sink = this.sink!;
    const closes = sink.closesAfterResponse(this.closeRequested);
    // The same head as the last response's (same status, headers, length and Date): reuse its string.
    const last = lastHead;
    const count = this.count;
    const names = this.names;
    const values = this.values;
    const cacheable =
      !streaming && !this.customDate && this.prepared === '' && count <= 2 && !closes && !this.http10;
    if (
      cacheable &&
      last.length === length &&
      last.status === this.status &&
      last.dateLine === sink.clock.dateLine &&
      last.count === count &&
      (count === 0 || (last.name0 === names[0] && last.value0 === values[0])) &&
      (count < 2 || (last.name1 === names[1] && last.value1 === values[1]))
    ) {
      return last.text;
    }
    const text = this.buildHead(length, streaming, closes);
    if (cacheable) {
      last.text = text;
      last.length = length;
      last.status = this.status;
      last.dateLine = sink.clock.dateLine;
      last.count = count;
      last.name0 = count > 0 ? names[0]! : '';
      last.value0 = count > 0 ? values[0]! : '';
      last.name1 = count > 1 ? names[1]! : '';
      last.value1 = count > 1 ? values[1]! : '';
    }
    return text;
  }

  private buildHead(length: number, streaming: boolean, closes: boolean): string {
    const sink = this.sink!;
    let head = this.customDate ? statusLine(this.status) : statusLine(this.status) + sink.clock.dateLine;
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < this.count; i++) head += names[i] + ': ' + values[i] + '\r\n';
    if (this.prepared !== '') head += this.prepared;
    // RFC 9110 §8.6: no Content-Length in a 204 (or 1xx); a 304 would describe the selected representation.
    if (!statusHasNoBody(this.status)) {
      if (streaming ? length !== -1 : true) head += contentLengthLine(length);
      else if (this.chunked) head += 'Transfer-Encoding: chunked\r\n';
    }
    if (closes) head += 'Connection: close\r\n\r\n';
    else head += this.http10 ? 'Connection: keep-alive\r\n\r\n' : '\r\n';
    return head;
  }

  private checkStatus(): number {
    return checkedStatus(this.status);
  }

  private assertOpen(): void {
    if (this.state !== STATE_OPEN) throw notOpen(this.state === STATE_ENDED);
  }

  private checkHeader(name: string, value: string | number): string {
    this.assertOpen();
    return checkedHeader(name, value);
  }

  /** Headers Peregrine manages itself. Returns true when the header was consumed here. */
  private special(name: string, value: string): boolean {
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'date') this.customDate = true;
        return false;
      case 10:
        if (name.toLowerCase() !== 'connection') return false;
        if (asksToClose(value)) this.closeRequested = true;
        return true;
      case 14:
        if (name.toLowerCase() !== 'content-length') return false;
        this.declaredLength = declaredLength(value);
        return true;
      case 17:
        if (name.toLowerCase() !== 'transfer-encoding') return false;
        throw transferEncodingIsManaged();
      default:
        return false;
    }
  }

  private add(name: string, value: string): void {
    this.names[this.count] = name;
    this.values[this.count] = value;
    this.count++;
  }

  private indexOf(name: string): number {
    const names = this.names;
    for (let i = 0; i < this.count; i++) {
      const n = names[i]!;
      if (n.length === name.length && (n === name || n.toLowerCase() === name.toLowerCase())) return i;
    }
    return -1;
  }
}
