import { bodyTooLarge } from './body.ts';
import { BODY_DONE, ChunkedDecoder, DATA_READY, NEED_MORE } from './chunked.ts';
import { HttpError } from './errors.ts';
import type { InputBuffer } from './input.ts';
import type { Http1Request } from './request.ts';

/** `read()` took a piece of the body; there may be more in the input. */
export const BODY_PIECE = 0;
/** `read()` reached the end of the body. */
export const BODY_END = 1;

/**
 * Reads a request's body out of the connection's input and hands it to the request, framed by
 * Content-Length or by chunked transfer coding (RFC 9112 §6.3, §7.1). Made for a connection's first
 * body: most connections never see one.
 */
export class BodyReader {
  /** The request whose body is being read, or null between bodies. */
  request: Http1Request | null = null;
  private chunked = false;
  /** Content-Length bytes still to come. */
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private maxBodyBytes = 0;

  /** Starts on `req`'s body: `contentLength` bytes, or chunked when `chunked`. */
  start(
    req: Http1Request,
    chunked: boolean,
    contentLength: number,
    maxHeaderBytes: number,
    maxBodyBytes: number,
  ): void {
    this.request = req;
    this.chunked = chunked;
    this.maxBodyBytes = maxBodyBytes;
    if (chunked) {
      this.decoder ??= new ChunkedDecoder();
      this.decoder.reset(maxHeaderBytes, maxBodyBytes);
    } else {
      this.remaining = contentLength;
    }
  }

  /**
   * Takes the next piece of body from `input[pos..end)` (which must hold bytes) and pushes it to the
   * request: a view, or a copy when the bytes are in `shared`, the worker's read buffer. Returns
   * BODY_PIECE, BODY_END, or the HttpError that makes the body unreadable (a bad chunk, too large).
   */
  read(input: InputBuffer, shared: Buffer | null): number | HttpError {
    const req = this.request!;
    const buf = input.buf!;
    if (!this.chunked) {
      const take = Math.min(input.end - input.pos, this.remaining);
      const start = input.pos;
      input.pos += take;
      this.remaining -= take;
      push(req, buf, start, start + take, shared);
      return this.remaining === 0 ? BODY_END : BODY_PIECE;
    }
    const decoder = this.decoder!;
    const result = decoder.next(buf, input.pos, input.end);
    input.pos = decoder.offset;
    if (result === DATA_READY) {
      if (req.incoming.received + (decoder.dataEnd - decoder.dataStart) > this.maxBodyBytes) {
        return bodyTooLarge(this.maxBodyBytes);
      }
      push(req, buf, decoder.dataStart, decoder.dataEnd, shared);
      return BODY_PIECE;
    }
    if (result === BODY_DONE) return BODY_END;
    if (result === NEED_MORE) return BODY_PIECE;
    return result === -413
      ? bodyTooLarge(this.maxBodyBytes)
      : new HttpError(-result, decoder.error, { code: 'ERR_PEREGRINE_BAD_CHUNK', close: true });
  }
}

/** Hands body bytes to the request: a view, or a copy when they are in the shared read buffer. */
function push(req: Http1Request, buf: Buffer, start: number, end: number, shared: Buffer | null): void {
  const incoming = req.incoming;
  if (buf !== shared || incoming.discarding) incoming.push(buf.subarray(start, end));
  else incoming.push(Buffer.copyBytesFrom(buf, start, end - start));
}
