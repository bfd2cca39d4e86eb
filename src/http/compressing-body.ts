import {
  type Coding,
  type CompressionCandidate,
  compressStream,
  decideCompression,
  type ResolvedCompression,
  type StreamCompressor,
  varyWithAcceptEncoding,
  weakEtag,
} from './compression.ts';
import type { Request } from './exchange.ts';

/**
 * Compression as a response uses it, the same for HTTP/1 and HTTP/2: the decision from the request
 * and the headers set, the headers it changes, and a streamed body pushed through a compressor with
 * backpressure.
 */

/** Compressors of streamed bodies alive in this thread (see `maxStreams`). */
let liveStreams = 0;
/** A compressor dropped without finishing (its response abandoned) gives its place back when collected. */
const collected = new FinalizationRegistry<{ released: boolean }>((slot) => {
  if (!slot.released) liveStreams--;
});

/** The headers a response has, and can change, as compression needs them. */
export interface CompressibleHeaders {
  status: number;
  getHeader(name: string): string | undefined;
  setHeader(name: string, value: string): unknown;
}

/**
 * Decides for one response, and sets what the decision implies: `Vary: Accept-Encoding` whenever
 * the response could be compressed, and with a coding `Content-Encoding` and a weak ETag. Returns
 * the coding, or null to send the body as it is. `length`: the body's size when known up front.
 */
export function prepareCompression(
  req: Pick<Request, 'method' | 'header'>,
  res: CompressibleHeaders,
  length: number | undefined,
  compression: ResolvedCompression,
): Coding | null {
  const candidate: CompressionCandidate = {
    method: req.method,
    acceptEncoding: req.header('accept-encoding'),
    range: req.header('range'),
    status: res.status,
    contentType: res.getHeader('content-type'),
    contentEncoding: res.getHeader('content-encoding'),
    contentRange: res.getHeader('content-range'),
    cacheControl: res.getHeader('cache-control'),
    length,
  };
  let decision = decideCompression(candidate, compression);
  // A stream past maxStreams goes out as it is (it still varies on Accept-Encoding).
  if (decision.coding !== null && length === undefined && liveStreams >= compression.maxStreams) {
    decision = { coding: null, vary: true };
  }
  if (decision.vary) {
    const vary = varyWithAcceptEncoding(res.getHeader('vary'));
    if (vary !== undefined) res.setHeader('Vary', vary);
  }
  const coding = decision.coding;
  if (coding !== null) {
    res.setHeader('Content-Encoding', coding);
    const etag = res.getHeader('etag');
    if (etag !== undefined) res.setHeader('ETag', weakEtag(etag));
  }
  return coding;
}

/**
 * A streamed body on its way through a compressor. `write` and `end` take the handler's chunks in
 * order; the compressed output goes to `send` (the protocol's framing) as zlib produces it, flushed
 * after each push so that what was written can be decoded at once (SSE, progress). While a push is
 * in flight, later chunks wait here and `write` returns false: the handler's backpressure, as a
 * full socket gives. Chunks written in one go are compressed together.
 */
export class CompressingBody {
  private readonly compressor: StreamCompressor;
  private readonly send: (bytes: Buffer) => void;
  private readonly finished: (error: Error | null) => void;
  private waiting: (string | Uint8Array)[] = [];
  private ending = false;
  private done = false;
  private idleWaiters: (() => void)[] = [];
  private readonly slot = { released: false };

  /**
   * `send` writes compressed bytes; `finished` is called once, after the last bytes were sent (or
   * with the error that stopped the compressor).
   */
  constructor(
    coding: Coding,
    compression: ResolvedCompression,
    send: (bytes: Buffer) => void,
    finished: (error: Error | null) => void,
  ) {
    this.compressor = compressStream(coding, compression);
    this.send = send;
    this.finished = finished;
    liveStreams++;
    collected.register(this, this.slot);
  }

  /** How many streamed bodies are being compressed in this thread. */
  static get live(): number {
    return liveStreams;
  }

  private release(): void {
    if (this.slot.released) return;
    this.slot.released = true;
    liveStreams--;
  }

  /** Queues a chunk. False while the compressor has a backlog: wait for `idle()` before writing more. */
  write(chunk: string | Uint8Array): boolean {
    if (this.done) return true; // abandoned (the client left): dropped, as a closed connection drops writes
    if (chunk.length > 0) this.waiting.push(chunk);
    this.pump();
    return !this.compressor.busy && this.waiting.length === 0;
  }

  /** The last chunk, if any: the compressor finishes once everything before it is through. */
  end(chunk?: string | Uint8Array): void {
    if (this.done) return;
    if (chunk !== undefined && chunk.length > 0) this.waiting.push(chunk);
    this.ending = true;
    this.pump();
  }

  /** Resolves once every chunk written so far has been compressed and sent. */
  idle(): Promise<void> {
    if (this.done || (!this.compressor.busy && this.waiting.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The response is abandoned (the client went): zlib's memory is freed now. */
  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.waiting = [];
    this.compressor.destroy();
    this.release();
    this.wakeIdle();
  }

  private pump(): void {
    if (this.done || this.compressor.busy) return;
    const waiting = this.waiting;
    if (waiting.length > 0) {
      const chunk = waiting.length === 1 ? asInput(waiting[0]!) : Buffer.concat(waiting.map(toBuffer));
      this.waiting = [];
      if (this.ending) {
        this.compressor.end(chunk, (error, tail) => this.last(error, tail));
        return;
      }
      this.compressor.push(chunk, (error, output) => {
        if (error !== null) {
          this.last(error, output);
          return;
        }
        if (output.length > 0) this.send(output);
        this.pump();
        if (!this.compressor.busy && this.waiting.length === 0) this.wakeIdle();
      });
      return;
    }
    if (this.ending) this.compressor.end(undefined, (error, tail) => this.last(error, tail));
  }

  private last(error: Error | null, tail: Buffer): void {
    if (this.done) return;
    this.done = true;
    this.release();
    if (error === null && tail.length > 0) this.send(tail);
    this.wakeIdle();
    this.finished(error);
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

function toBuffer(chunk: string | Uint8Array): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** A chunk as the compressor takes it: a string, or a Buffer over the same bytes. */
function asInput(chunk: string | Uint8Array): string | Buffer {
  if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) return chunk;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
