import type { Handler } from '../handler.ts';
import { HttpError } from '../http/errors.ts';
import type { Request as NativeRequest } from '../http/request.ts';
import type { Response as NativeResponse } from '../http/response.ts';
import { fixRoutes, isFixed, type RouteHandler, type RouteRequest, Router, type Routes } from './routes.ts';
import { toWebRequest } from './web-request.ts';
import { sendWebResponse } from './web-response.ts';

/** What fetch mode gives `fetch` as its second argument. */
export interface FetchServer {
  /** The client's address, as Bun's `server.requestIP(request)`; null for a request not from this server. */
  requestIP(request: Request): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null;
}

/** The Web-standard half of `serve()`'s options, named as Bun.serve names them. */
export interface FetchOptions {
  /** Answers a request no route takes: a `Response`, or a promise of one. Without it, those get 404. */
  fetch?(request: Request, server: FetchServer): Response | Promise<Response>;
  /**
   * Paths to responses, as Bun.serve takes them: `'/users/:id'` (`request.params.id`), `'/files/*'`,
   * exact paths; the value a `Response` (sent as the same bytes every time), a handler, or
   * `{ GET, POST, … }`. The most specific route wins.
   */
  routes?: Routes;
  /** Turns what `fetch` threw or rejected with into a response; without it, a 500. */
  error?(error: unknown): Response | Promise<Response>;
}

/** Whether `value` is fetch-mode options (a `fetch` function or `routes`) rather than a native handler. */
export function isFetchOptions(value: unknown): value is FetchOptions {
  if (value === null || typeof value !== 'object') return false;
  const { fetch, routes, handleRequest } = value as {
    fetch?: unknown;
    routes?: unknown;
    handleRequest?: unknown;
  };
  return typeof handleRequest !== 'function' && (typeof fetch === 'function' || routes !== undefined);
}

/** A native handler that runs a `fetch(request) → Response` app. */
export function fetchHandler(options: FetchOptions): Handler {
  const { fetch, error, routes } = options;
  let router: Router | null = null;
  const natives = new WeakMap<Request, NativeRequest>();
  const server: FetchServer = {
    requestIP(request) {
      const req = natives.get(request);
      const address = req?.remoteAddress;
      if (req === undefined || address === undefined) return null;
      return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port: req.remotePort ?? 0 };
    },
  };
  /** Runs `app` for the Web request made from `req`, then sends what it (or error()) answered. */
  async function answer(
    req: NativeRequest,
    res: NativeResponse,
    app: RouteHandler | NonNullable<FetchOptions['fetch']>,
    params: Record<string, string> | null,
  ): Promise<void> {
    const request = toWebRequest(req, 'http');
    if (request === null)
      throw new HttpError(400, 'no valid URL can be made from the request target and Host');
    natives.set(request, req);
    if (params !== null) (request as RouteRequest).params = params;
    let response: unknown;
    try {
      response = await app(request as RouteRequest, server);
      if (!(response instanceof Response)) {
        throw new TypeError(`fetch() must return a Response, got ${describe(response)}`);
      }
    } catch (failure) {
      if (error === undefined || req.abortedWith(failure)) throw failure;
      response = await error(failure);
      if (!(response instanceof Response)) {
        throw new TypeError(`error() must return a Response, got ${describe(response)}`);
      }
    }
    await sendWebResponse(req, res, response as Response);
  }

  return {
    async init(): Promise<void> {
      // Response values are read once, before the first request.
      if (routes !== undefined) router = new Router(await fixRoutes(routes));
    },
    handleRequest(req: NativeRequest, res: NativeResponse): void | Promise<void> {
      const match = router === null ? null : router.match(req.method, req.path);
      if (match?.kind === 'found') {
        const target = match.target;
        if (!isFixed(target)) return answer(req, res, target, match.params);
        // A fixed Response: its bytes, with no Request made at all.
        res.status = target.status;
        for (const [name, value] of target.headers)
          if (name !== 'transfer-encoding') res.appendHeader(name, value);
        res.end(target.body);
        return;
      }
      if (fetch !== undefined) return answer(req, res, fetch, null);
      if (match?.kind === 'method') {
        res.status = 405;
        res.setHeader('Allow', match.allow);
        res.end();
        return;
      }
      res.status = 404;
      res.end();
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
