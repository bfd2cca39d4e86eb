import type { Request as NativeRequest, Response as NativeResponse } from '../http/exchange.ts';

/**
 * Sends a Web `Response` through a native response: status, every header (each `Set-Cookie` on its
 * own line), and the body. A body that comes in one chunk (a string, bytes, JSON…) is sent with its
 * Content-Length in one write with the head; a longer stream is sent as it is read, chunked unless
 * the response declares its length, waiting whenever the client lags (backpressure). When the client
 * goes away mid-stream the stream is cancelled and the connection cut (a truncated body must never
 * look complete). Returns undefined when it finished at once (no body).
 */
export function sendWebResponse(
  req: NativeRequest,
  res: NativeResponse,
  response: Response,
): Promise<void> | undefined {
  res.status = response.status;
  for (const [name, value] of response.headers) {
    // The framing is ours to choose (a proxied response may carry its upstream's).
    if (name === 'transfer-encoding') continue;
    // Headers iterates each Set-Cookie separately and joins the rest, as a response needs.
    res.appendHeader(name, value);
  }
  const body = response.body;
  if (body === null) {
    res.end();
    return undefined;
  }
  return sendBody(req, res, body.getReader());
}

async function sendBody(
  req: NativeRequest,
  res: NativeResponse,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<void> {
  if (req.gone !== null) {
    void reader.cancel(req.gone).catch(() => {});
    throw req.gone;
  }
  // Not the request's signal: an AbortController per response would cost more than the rest.
  req.onGone = (reason) => void reader.cancel(reason).catch(() => {});
  try {
    const first = await reader.read();
    if (first.done) {
      res.end();
      return;
    }
    const second = await reader.read();
    if (second.done) {
      res.end(first.value); // the common case: one chunk, sent whole with its length
      return;
    }
    let chunk: Uint8Array | undefined = first.value;
    let next: Awaited<ReturnType<typeof reader.read>> = second;
    while (chunk !== undefined) {
      if (req.gone !== null) throw req.gone;
      if (!res.write(chunk)) await res.waitForDrain();
      if (next.done) break;
      chunk = next.value;
      next = await reader.read();
    }
    if (req.gone !== null) throw req.gone;
    res.end();
  } finally {
    req.onGone = null;
    reader.releaseLock();
  }
}
