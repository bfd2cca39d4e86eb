import type { Handler } from '../handler.ts';
import { HttpError } from '../http/errors.ts';
import type { Request as NativeRequest } from '../http/request.ts';
import type { Response as NativeResponse } from '../http/response.ts';
import { fixRoutes, isFixed, type RouteHandler, type RouteRequest, Router, type Routes } from './routes.ts';
import { WebRequest } from './web-request.ts';
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
  const server: FetchServer = {
    requestIP(request) {
      const req = WebRequest.nativeOf(request);
      const address = req?.remoteAddress;
      if (req === undefined || address === undefined) return null;
      return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port: req.remotePort ?? 0 };
    },
  };
  /**
   * Runs `app` for the Web request made from `req`, then sends what it (or error()) answered. Stays
   * synchronous as far as it can: a promise only where the app or the body makes one.
   */
  function answer(
    req: NativeRequest,
    res: NativeResponse,
    app: RouteHandler | NonNullable<FetchOptions['fetch']>,
    params: Record<string, string> | null,
  ): void | Promise<void> {
    const request = WebRequest.for(req, 'http');
    if (request === null)
      throw new HttpError(400, 'no valid URL can be made from the request target and Host');
    if (params !== null) request.params = params;
    let result: unknown;
    try {
      result = app(request as unknown as RouteRequest, server);
    } catch (failure) {
      return recover(req, res, failure);
    }
    return respond(req, res, result, 'fetch()');
  }

  /** Sends `result` (a Response, or a promise of one) or, for anything else, what error() makes of it. */
  function respond(
    req: NativeRequest,
    res: NativeResponse,
    result: unknown,
    from: string,
  ): void | Promise<void> {
    if (result instanceof Response) return sendWebResponse(req, res, result);
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => respond(req, res, value, from),
        (failure: unknown) => {
          if (from === 'error()') throw failure; // error() failed too: the server's 500
          return recover(req, res, failure);
        },
      );
    }
    const failure = new TypeError(`${from} must return a Response, got ${describe(result)}`);
    if (from === 'error()') throw failure;
    return recover(req, res, failure);
  }

  /** What fetch threw or rejected with goes to error(); without one (or for the client leaving), to the server's 500. */
  function recover(req: NativeRequest, res: NativeResponse, failure: unknown): void | Promise<void> {
    if (error === undefined || req.abortedWith(failure)) throw failure;
    return respond(req, res, error(failure), 'error()');
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
