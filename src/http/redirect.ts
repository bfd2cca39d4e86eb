import type { Request, RequestHandler, Response } from './exchange.ts';

/** A Host header: a name or an IPv4 address, or an IPv6 literal in brackets, with an optional port. */
const HOST =
  /^((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/i;

/**
 * The handler of the `redirectHttp` port: every request is sent to the same URL over HTTPS with a
 * 308, which keeps the method and body (RFC 9110 §15.4.9). `httpsPort()` is the TLS port (read when
 * asked: it may be chosen at start-up).
 */
export function redirectToHttps(httpsPort: () => number): RequestHandler {
  return {
    handleRequest(req: Request, res: Response<unknown, never>): void {
      const host = HOST.exec(req.header('host') ?? '');
      const path = req.path;
      if (host === null || !path.startsWith('/')) {
        res.status = 400;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('400 Bad Request: a Host header and a path are needed to redirect to HTTPS\n');
        return;
      }
      const port = httpsPort();
      const location = `https://${host[1]}${port === 443 ? '' : `:${port}`}${path}${req.queryString === '' ? '' : `?${req.queryString}`}`;
      res.status = 308;
      res.setHeader('Location', location);
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`Redirecting to ${location}\n`);
    },
  };
}
