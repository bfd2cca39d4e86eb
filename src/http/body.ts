import { HttpError } from './errors.ts';

/**
 * A request body as it arrives: the connection pushes zero-copy views of the read buffers into it,
 * and the handler takes it whole (`bytes()`) or as a stream with backpressure (`stream()`).
 * The connection stops reading from the socket while a streaming consumer lags behind.
 */

/** How much body a connection buffers for a handler that is not (yet) reading, before it stops reading. */
export const BODY_HIGH_WATER = 64 * 1024;

const MODE_UNREAD = 0;
const MODE_BUFFER = 1;
const MODE_STREAM = 2;
const MODE_DISCARD = 3;

/** What the body needs from its connection. */
export interface BodySource {
  /** The consumer took buffered data: reading may resume. */
  resumeBody(): void;
  /** The consumer started reading: send `100 Continue` if the client waits for it. */
  bodyWanted(): void;
}

interface Waiter {
  resolve(value: IteratorResult<Buffer>): void;
  reject(error: unknown): void;
}

export class IncomingBody {
  /** Whether the request has a body at all (Content-Length > 0 or chunked). */
  present = false;
  complete = true;
  /** Bytes received so far. */
  received = 0;
  private source: BodySource | null = null;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private mode = MODE_UNREAD;
  private error: unknown = null;
  private waiter: Waiter | null = null;
  private whole: ((body: Buffer) => void) | null = null;
  private wholeFailed: ((error: unknown) => void) | null = null;
  private taken = false;

  /** Ready for a new request's body; `null` for a spare body, which then holds on to nothing. */
  reset(source: BodySource | null, present: boolean): void {
    this.source = source;
    this.present = present;
    this.complete = !present;
    this.received = 0;
    if (this.chunks.length !== 0) this.chunks.length = 0; // setting length is a runtime call
    this.buffered = 0;
    this.mode = MODE_UNREAD;
    this.error = null;
    this.waiter = null;
    this.whole = null;
    this.wholeFailed = null;
    this.taken = false;
  }

  /** Whether the consumer has fallen behind, so the connection should stop reading. */
  get congested(): boolean {
    return (this.mode === MODE_UNREAD || this.mode === MODE_STREAM) && this.buffered >= BODY_HIGH_WATER;
  }

  /** Whether a handler has asked for the body. */
  get wanted(): boolean {
    return this.taken;
  }

  /** Whether pushed chunks are thrown away (nobody will read them): no need to copy them first. */
  get discarding(): boolean {
    return this.mode === MODE_DISCARD;
  }

  push(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.mode === MODE_DISCARD) return;
    const waiter = this.waiter;
    if (waiter !== null && this.buffered === 0) {
      this.waiter = null;
      waiter.resolve({ value: chunk, done: false });
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  finish(): void {
    this.complete = true;
    const waiter = this.waiter;
    if (waiter !== null && this.buffered === 0) {
      this.waiter = null;
      waiter.resolve({ value: undefined, done: true });
    }
    const whole = this.whole;
    if (whole !== null) {
      this.whole = this.wholeFailed = null;
      whole(this.concat());
    }
  }

  fail(error: unknown): void {
    if (this.complete || this.error !== null) return;
    this.error = error;
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter.reject(error);
    }
    const wholeFailed = this.wholeFailed;
    if (wholeFailed !== null) {
      this.whole = this.wholeFailed = null;
      wholeFailed(error);
    }
  }

  /** The response is done without the handler reading the rest: drop what is left as it arrives. */
  discard(): void {
    this.mode = MODE_DISCARD;
    this.chunks.length = 0;
    this.buffered = 0;
  }

  /** The whole body. Rejects with an HttpError (400, 408, 413) when it cannot be read completely. */
  bytes(): Promise<Buffer> {
    const problem = this.take(MODE_BUFFER);
    if (problem !== null) return Promise.reject(problem);
    if (this.complete) return Promise.resolve(this.concat());
    return new Promise<Buffer>((resolve, reject) => {
      this.whole = resolve;
      this.wholeFailed = reject;
    });
  }

  /** The body as it arrives, one zero-copy chunk at a time; reading pauses while you don't pull. */
  stream(): AsyncIterableIterator<Buffer> {
    const problem = this.take(MODE_STREAM);
    const body = this;
    return {
      next(): Promise<IteratorResult<Buffer>> {
        if (problem !== null) return Promise.reject(problem);
        return body.pull();
      },
      return(): Promise<IteratorResult<Buffer>> {
        body.discard();
        body.source?.resumeBody();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  private take(mode: number): Error | null {
    if (this.taken) return new Error('the request body can be read only once');
    if (this.mode === MODE_DISCARD)
      return new Error('the request body is no longer available: the response has ended');
    this.taken = true;
    this.mode = mode;
    if (this.error !== null) return this.error as Error;
    if (!this.complete) this.source?.bodyWanted();
    return null;
  }

  private pull(): Promise<IteratorResult<Buffer>> {
    if (this.buffered > 0) {
      const chunk = this.chunks.shift()!;
      this.buffered -= chunk.length;
      if (this.buffered < BODY_HIGH_WATER) this.source?.resumeBody();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.error !== null) return Promise.reject(this.error);
    if (this.complete) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== null) return Promise.reject(new Error('one read of the request body at a time'));
    this.source?.resumeBody();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private concat(): Buffer {
    const chunks = this.chunks;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.buffered);
    chunks.length = 0;
    this.buffered = 0;
    return body;
  }
}

export function bodyTooLarge(limit: number): HttpError {
  return new HttpError(413, `request body larger than maxBodyBytes (${limit})`, {
    code: 'ERR_PEREGRINE_BODY_TOO_LARGE',
    close: true,
  });
}

/** A request body as JSON: invalid JSON is an HttpError 400 (every protocol's `req.json()`). */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'request body is not valid JSON', {
      code: 'ERR_PEREGRINE_INVALID_JSON',
      cause: error,
    });
  }
}

/**
 * Whether `error` is the abort that the client going away (`reason`, or null while it is there)
 * caused: the reason itself, or the AbortError of something its signal cancelled.
 */
export function isClientAbort(reason: Error | null, error: unknown): boolean {
  return reason !== null && (error === reason || (error instanceof Error && error.name === 'AbortError'));
}
