import type { Request as NativeRequest } from '../http/request.ts';

/**
 * The Web `Request` for a native request (fetch mode): method, absolute URL from `Host`, headers,
 * the client-gone signal, and the body as a stream read from the socket with backpressure.
 * Returns null when no valid URL can be made from the request's `Host` (the caller answers 400).
 */
export function toWebRequest(req: NativeRequest, scheme: 'http' | 'https'): Request | null {
  const target = req.target;
  let url: string;
  if (target.startsWith('/')) {
    const host = req.header('host');
    if (host === undefined || host === '' || !HOST.test(host)) return null;
    url = `${scheme}://${host}${target}`;
  } else if (/^https?:\/\//i.test(target)) {
    url = target; // absolute-form (RFC 9112 §3.2.2)
  } else {
    return null; // authority-form (CONNECT) and asterisk-form (OPTIONS *) have no URL to give
  }
  const headers = new Headers();
  for (const [name, value] of req.headers()) headers.append(name, value);
  const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers, signal: req.signal };
  if (req.hasBody && req.method !== 'GET' && req.method !== 'HEAD') {
    init.body = bodyStream(req);
    init.duplex = 'half';
  }
  try {
    return new Request(url, init);
  } catch {
    return null; // a URL the WHATWG parser refuses
  }
}

// RFC 9110 §7.2 Host: uri-host [ ":" port ], a reg-name or an IP literal; nothing that would change
// the URL's path or authority.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d{1,5})?$/;

/** The request body as a byte stream, pulled from the socket only as fast as it is read. */
function bodyStream(req: NativeRequest): ReadableStream<Uint8Array> {
  const chunks = req.stream();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value); // a copy already: the read buffer is not handed out
    },
    async cancel() {
      await chunks.return?.();
    },
  });
}
