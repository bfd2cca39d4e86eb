import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { UsageError } from '../errors.ts';
import { CompressingBody, prepareCompression } from '../http/compressing-body.ts';
import { compressWhole, type ResolvedCompression } from '../http/compression.ts';
import type { Request, Response, Takeover } from '../http/exchange.ts';
import type { PrebuiltResponse } from '../http/prebuilt.ts';
import {
  checkedHeader,
  checkedStatus,
  declaredLength,
  invalidBody,
  lengthMismatch,
  notOpen,
  transferEncodingIsManaged,
  writeAfterEnd,
} from '../http/response-rules.ts';
import { statusHasNoBody } from '../http/status.ts';

/** What an HTTP/2 response tells the stream it answers on. */
export interface StreamSink {
  /** The handler showed life (a write): its handlerTimeout counts from now. */
  active(): void;
  /** A write filled the stream's buffer: the client holds it back (sendTimeout watches). */
  blocked(): void;
  /** The response has ended (or failed). */
  responseEnded(): void;
  /** The `compression` option, or null when responses are sent as they are. */
  readonly compression: ResolvedCompression | null;
  /** The request this response answers (for the compression decision). */
  readonly req: Pick<Request, 'method' | 'header'>;
}

/**
 * Fields that describe an HTTP/1.1 connection and are malformed in HTTP/2 (RFC 9113 §8.2.2): what a
 * handler sets of them is dropped (Transfer-Encoding is refused, as on HTTP/1).
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade']);

const EMPTY = Buffer.alloc(0);
const OPEN = 0;
const STREAMING = 1;
const ENDED = 2;

/**
 * One HTTP/2 response (see the Response interface), sent as a HEADERS frame and DATA frames on its
 * stream. Field names go out in lower case (RFC 9113 §8.2); `Date` is added by node:http2.
 */
export class Http2Response implements Response {
  status = 200;
  private readonly stream: ServerHttp2Stream;
  private readonly sink: StreamSink;
  private readonly isHead: boolean;
  private readonly names: string[] = [];
  private readonly values: string[] = [];
  private state = OPEN;
  private declared = -1;
  private written = 0;
  /** The server answered on the handler's behalf: the handler's later calls are ignored. */
  private detached = false;
  private compressionDecided = false;
  /** A streamed body going through a compressor, or null. */
  private compressing: CompressingBody | null = null;
  /** end() was called on a compressed stream, which finishes once the compressor has. */
  private endRequested = false;

  /** @internal Body bytes sent so far (none for HEAD, 204 and 304), for the access log. */
  get bodyBytes(): number {
    return this.isHead || statusHasNoBody(this.status) ? 0 : this.written;
  }

  constructor(stream: ServerHttp2Stream, sink: StreamSink, isHead: boolean) {
    this.stream = stream;
    this.sink = sink;
    this.isHead = isHead;
  }

  get headersSent(): boolean {
    return this.state !== OPEN;
  }

  get finished(): boolean {
    return this.state === ENDED;
  }

  setHeader(name: string, value: string | number): this {
    if (this.detached) return this;
    this.assertOpen();
    const text = checkedHeader(name, value);
    const lower = name.toLowerCase();
    if (this.special(lower, text)) return this;
    this.remove(lower);
    this.names.push(lower);
    this.values.push(text);
    return this;
  }

  appendHeader(name: string, value: string | number): this {
    if (this.detached) return this;
    this.assertOpen();
    const text = checkedHeader(name, value);
    const lower = name.toLowerCase();
    if (this.special(lower, text)) return this;
    this.names.push(lower);
    this.values.push(text);
    return this;
  }

  getHeader(name: string): string | undefined {
    const i = this.names.indexOf(name.toLowerCase());
    return i === -1 ? undefined : this.values[i];
  }

  removeHeader(name: string): this {
    if (this.detached) return this;
    this.assertOpen();
    this.remove(name.toLowerCase());
    return this;
  }

  end(body?: string | Uint8Array): void {
    if (this.detached) return;
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array))
      throw invalidBody('body', body);
    if (this.state === STREAMING) {
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
    const compression = this.sink.compression;
    if (compression !== null && !this.compressionDecided && body !== undefined) {
      this.compressionDecided = true;
      const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      const coding = prepareCompression(this.sink.req, this, length, compression);
      if (coding !== null) {
        this.declared = -1;
        const input =
          typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        body = compressWhole(coding, input, compression, this.getHeader('content-type'));
      }
    }
    const noBody = statusHasNoBody(checkedStatus(this.status)) || this.isHead;
    const bytes =
      body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (this.declared !== -1 && this.declared !== bytes && !noBody) {
      throw lengthMismatch(`Content-Length was set to ${this.declared} but the body is ${bytes} bytes`);
    }
    const headers = this.headerObject();
    if (!statusHasNoBody(this.status))
      headers['content-length'] = this.declared !== -1 ? this.declared : bytes;
    this.written = bytes;
    this.state = ENDED;
    if (this.stream.destroyed || this.stream.closed) {
      this.sink.responseEnded();
      return;
    }
    if (noBody || bytes === 0) {
      this.stream.respond(headers, { endStream: true });
    } else {
      this.stream.respond(headers);
      this.stream.end(body);
    }
    this.sink.responseEnded();
  }

  json(value: unknown): void {
    if (this.getHeader('content-type') === undefined)
      this.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.end(JSON.stringify(value));
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.detached) return true;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw invalidBody('chunk', chunk);
    if (this.state === ENDED || this.endRequested) throw writeAfterEnd();
    const compression = this.sink.compression;
    if (this.state === OPEN && compression !== null && !this.compressionDecided)
      this.startCompressing(compression);
    if (this.compressing !== null) {
      if (this.state === OPEN) this.writeRaw(EMPTY);
      return this.compressing.write(chunk) && !this.stream.writableNeedDrain;
    }
    return this.writeRaw(chunk);
  }

  /** Decides on compression for a streamed body; with a coding, its chunks go through a compressor. */
  private startCompressing(compression: ResolvedCompression): void {
    this.compressionDecided = true;
    const declared = this.declared === -1 ? undefined : this.declared;
    const coding = prepareCompression(this.sink.req, this, declared, compression);
    if (coding === null) return;
    this.declared = -1;
    this.compressing = new CompressingBody(
      coding,
      compression,
      (bytes) => {
        if (this.state === STREAMING) this.writeRaw(bytes);
      },
      (error) => {
        if (this.state !== STREAMING) return;
        if (error !== null) {
          this.state = ENDED;
          if (!this.stream.closed) this.stream.close(0x2 /* INTERNAL_ERROR */);
          this.sink.responseEnded();
          return;
        }
        this.finishStream();
      },
    );
  }

  /** Writes a piece of the body as it is: the HEADERS frame first, if this starts the stream. */
  private writeRaw(chunk: string | Uint8Array): boolean {
    const stream = this.stream;
    if (this.state === OPEN) {
      const noBody = statusHasNoBody(checkedStatus(this.status)) || this.isHead;
      const headers = this.headerObject();
      if (this.declared !== -1 && !statusHasNoBody(this.status)) headers['content-length'] = this.declared;
      this.state = STREAMING;
      if (!stream.destroyed && !stream.closed) stream.respond(headers, { endStream: noBody });
    }
    const length = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    this.written += length;
    if (this.declared !== -1 && this.written > this.declared) {
      throw lengthMismatch(`wrote ${this.written} bytes, more than the Content-Length of ${this.declared}`);
    }
    this.sink.active();
    if (length === 0 || this.isHead || statusHasNoBody(this.status) || stream.destroyed || !stream.writable)
      return true;
    if (stream.write(chunk)) return true;
    this.sink.blocked();
    return false;
  }

  waitForDrain(): Promise<void> {
    const compressing = this.compressing;
    if (compressing !== null) return compressing.idle().then(() => this.streamDrained());
    return this.streamDrained();
  }

  private streamDrained(): Promise<void> {
    const stream = this.stream;
    if (!stream.writableNeedDrain || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }

  /** WebSockets over HTTP/2 (RFC 8441) are not supported: the request is answered 400. */
  upgrade(): null {
    if (this.detached || this.state !== OPEN) return null;
    this.status = 400;
    this.setHeader('Content-Type', 'text/plain; charset=utf-8');
    this.end('WebSockets are served over HTTP/1.1 only\n');
    return null;
  }

  hasAnyHeader(lowerNames: readonly string[]): boolean {
    for (const name of this.names) if (lowerNames.includes(name)) return true;
    return false;
  }

  /** Header lines built ahead (`Name: value\r\n` each): taken apart into fields. */
  addPreparedHeaders(lines: string): void {
    if (this.detached) return;
    this.assertOpen();
    for (const line of lines.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      this.names.push(line.slice(0, colon).toLowerCase());
      this.values.push(line.slice(colon + 1).trim());
    }
  }

  /** A prebuilt response is HTTP/1 bytes: never used here (the caller sends the response itself). */
  endPrebuilt(_prebuilt: PrebuiltResponse): boolean {
    return false;
  }

  headerLines(skip: ReadonlySet<string>): string {
    let lines = '';
    for (let i = 0; i < this.names.length; i++) {
      if (!skip.has(this.names[i]!)) lines += `${this.names[i]}: ${this.values[i]}\r\n`;
    }
    return lines;
  }

  switchProtocols(_head: string): Takeover {
    throw new UsageError('ERR_PEREGRINE_NOT_SUPPORTED', 'an HTTP/2 stream cannot switch protocols');
  }

  /** @internal The stream closed under this response: a compressor it had is freed now. */
  abandon(): void {
    this.compressing?.destroy();
  }

  /** @internal The server has answered for the handler: its later calls are ignored. */
  detach(): void {
    this.detached = true;
  }

  /**
   * @internal Answers `status` with a short text body in the handler's place (a failed handler, a
   * timeout), replacing whatever it had set. Only before the headers have gone out.
   */
  answer(status: number, body: string): void {
    this.names.length = this.values.length = 0;
    this.declared = -1;
    this.status = status;
    this.detached = false;
    this.setHeader('Content-Type', 'text/plain; charset=utf-8');
    this.end(body);
    this.detached = true;
  }

  private finishStream(): void {
    this.state = ENDED;
    const stream = this.stream;
    if (this.declared !== -1 && this.written !== this.declared && !this.isHead) {
      // The client was promised more bytes than exist: only a reset says the response failed.
      stream.close(0x2 /* INTERNAL_ERROR */);
      this.sink.responseEnded();
      throw lengthMismatch(
        `the body was ${this.written} bytes, less than the Content-Length of ${this.declared}`,
      );
    }
    if (!stream.destroyed && !stream.closed) stream.end();
    this.sink.responseEnded();
  }

  private headerObject(): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { ':status': this.status };
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const had = headers[name];
      if (had === undefined) headers[name] = values[i];
      else headers[name] = Array.isArray(had) ? [...had, values[i]!] : [String(had), values[i]!];
    }
    return headers;
  }

  private special(lower: string, value: string): boolean {
    if (lower === 'content-length') {
      this.declared = declaredLength(value);
      return true;
    }
    if (lower === 'transfer-encoding') throw transferEncodingIsManaged();
    return CONNECTION_SPECIFIC.has(lower);
  }

  private remove(lower: string): void {
    for (let i = this.names.indexOf(lower); i !== -1; i = this.names.indexOf(lower)) {
      this.names.splice(i, 1);
      this.values.splice(i, 1);
    }
  }

  private assertOpen(): void {
    if (this.state !== OPEN) throw notOpen(this.state === ENDED);
  }
}
