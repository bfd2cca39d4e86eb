import { ConfigError, UsageError } from '../errors.ts';
import type { Handler } from '../handler.ts';
import { isThenable } from '../http/dispatch.ts';
import { HttpError } from '../http/errors.ts';
import type { Request as NativeRequest, Response as NativeResponse } from '../http/exchange.ts';
import type { Server } from '../server.ts';
import type { WebSocket as NativeWebSocket } from '../ws/socket.ts';
import { checkUpgrade, offeredProtocols } from '../ws/upgrade.ts';
import {
  checkRoutes,
  fixRoutes,
  isFixed,
  type RouteHandler,
  Router,
  type Routes,
  readRoutes,
} from './routes.ts';
import { WebRequest } from './web-request.ts';
import { sendWebResponse } from './web-response.ts';
import {
  type FetchUpgradeOptions,
  ServerWebSocket,
  type WebSocketHandler,
  webSocketHooks,
} from './websocket.ts';

/**
 * The Web-standard half of `serve()`'s options, named as Bun.serve names them. `WebSocketData` is the
 * type of `ws.data` (what `server.upgrade(request, { data })` gives); `Paths` types each route's
 * `request.params`.
 */
export interface FetchOptions<WebSocketData = undefined, Paths extends string = string> {
  /**
   * Answers a request no route takes: a `Response`, or a promise of one; `undefined` after a
   * successful `server.upgrade(request)`. Without it, those requests get 404.
   */
  fetch?(
    this: Server<WebSocketData>,
    request: Request,
    server: Server<WebSocketData>,
  ): Response | undefined | Promise<Response | undefined>;
  /**
   * Paths to responses, as Bun.serve takes them: `'/users/:id'` (`request.params.id`), `'/files/*'`,
   * exact paths; the value a `Response` (sent as the same bytes every time), a handler, or
   * `{ GET, POST, … }`. The most specific route wins.
   */
  routes?: Routes<WebSocketData, Paths>;
  /** Turns what `fetch` or a route threw or rejected with into a response; without it, a 500. */
  error?(this: Server<WebSocketData>, error: unknown): Response | Promise<Response>;
  /** The handlers (and limits) of the WebSockets that `server.upgrade()` accepts. */
  websocket?: WebSocketHandler<WebSocketData>;
}

/** Whether `value` is fetch-mode options (a `fetch` function or `routes`) rather than a native handler. */
export function isFetchOptions(value: unknown): value is FetchOptions<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const { fetch, routes, handleRequest } = value as {
    fetch?: unknown;
    routes?: unknown;
    handleRequest?: unknown;
  };
  return typeof handleRequest !== 'function' && (typeof fetch === 'function' || routes !== undefined);
}

/** @internal The native handler that runs a fetch-mode app, with what `Server` needs from it. */
export interface FetchModeHandler extends Handler<ServerWebSocket<unknown>> {
  /** The server `fetch` is given; set once it exists (before any request can arrive). */
  attach(server: Server<unknown>): void;
  /** `server.upgrade()`: whether `request` became a WebSocket. */
  upgrade(request: Request, options: FetchUpgradeOptions<unknown>): boolean;
  /** `server.reload()`: new handlers for the requests and messages that come next. */
  reload(options: FetchOptions<unknown>): void;
}

/** What answers requests right now (`reload()` swaps it whole). */
interface Current {
  fetch: FetchOptions<unknown>['fetch'];
  error: FetchOptions<unknown>['error'];
  router: Router | null;
  websocket: WebSocketHandler<unknown> | undefined;
}

/** @internal A native handler that runs a `fetch(request) → Response` app. */
export function fetchHandler(options: FetchOptions<unknown>): FetchModeHandler {
  checkHandlers(options);
  let current: Current = {
    fetch: options.fetch,
    error: options.error,
    router: null,
    websocket: options.websocket,
  };
  /** Routes being read for a reload(); the newest wins. */
  let pendingRoutes: Promise<unknown> | null = null;
  let server: Server<unknown> | null = null;
  const publishToSelf = options.websocket?.publishToSelf === true;

  /**
   * Runs `app` for the Web request made from `req`, then sends what it (or error()) answered. Stays
   * synchronous as far as it can: a promise only where the app or the body makes one.
   */
  function answer(
    req: NativeRequest,
    res: NativeResponse,
    app: RouteHandler<string, unknown> | NonNullable<Current['fetch']>,
    params: Record<string, string> | null,
    error: Current['error'],
  ): void | Promise<void> {
    const request = WebRequest.for(req, res, req.scheme);
    if (request === null)
      throw new HttpError(400, 'no valid URL can be made from the request target and Host');
    if (params !== null) request.params = params;
    let result: unknown;
    try {
      // `this` is the server too, as Bun calls it (`this.upgrade(request)` works).
      result = app.call(server!, request as unknown as Request & { params: Record<string, string> }, server!);
    } catch (failure) {
      return recover(req, res, failure, error);
    }
    return respond(req, res, result, 'fetch()', error);
  }

  /** Sends `result` (a Response, or a promise of one) or, for anything else, what error() makes of it. */
  function respond(
    req: NativeRequest,
    res: NativeResponse,
    result: unknown,
    from: string,
    error: Current['error'],
  ): void | Promise<void> {
    if (result instanceof Response) {
      // After a successful upgrade the socket speaks WebSocket: a Response has nowhere to go.
      if (res.finished) return;
      return sendWebResponse(req, res, result);
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => respond(req, res, value, from, error),
        (failure: unknown) => {
          if (from === 'error()') throw failure; // error() failed too: the server's 500
          return recover(req, res, failure, error);
        },
      );
    }
    if (result === undefined && res.finished) return; // upgraded: nothing to send
    const failure = new TypeError(
      result === undefined
        ? `${from} returned undefined without a successful server.upgrade(): it must return a Response`
        : `${from} must return a Response, got ${describe(result)}`,
    );
    if (from === 'error()') throw failure;
    return recover(req, res, failure, error);
  }

  /**
   * What fetch threw or rejected with goes to error(); without one, to the server's 500. The client
   * leaving, and an HttpError (a body past maxBodyBytes is a 413, a broken chunked body a 400, or one
   * the program throws to choose a status), skip error(): the server answers with that status.
   */
  function recover(
    req: NativeRequest,
    res: NativeResponse,
    failure: unknown,
    error: Current['error'],
  ): void | Promise<void> {
    if (error === undefined || req.abortedWith(failure) || failure instanceof HttpError) throw failure;
    return respond(req, res, error.call(server!, failure), 'error()', error);
  }

  const socketHooks = webSocketHooks<unknown>(
    {
      message: (ws, message) => current.websocket?.message(ws, message),
      open: (ws) => current.websocket?.open?.(ws),
      close: (ws, code, reason) => current.websocket?.close?.(ws, code, reason),
      drain: (ws) => current.websocket?.drain?.(ws),
      ping: (ws, data) => current.websocket?.ping?.(ws, data),
      pong: (ws, data) => current.websocket?.pong?.(ws, data),
    },
    (ws, error) => ws.hookFailed(error),
  );

  return {
    ...socketHooks,
    async init(): Promise<void> {
      // Response values are read once, before the first request.
      if (options.routes !== undefined) current.router = new Router(await fixRoutes(options.routes));
    },
    attach(attached) {
      server = attached;
    },
    handleRequest(req: NativeRequest, res: NativeResponse): void | Promise<void> {
      const { fetch, error, router } = current;
      const match = router === null ? null : router.match(req.method, req.path);
      if (match?.kind === 'found') {
        const target = match.target;
        if (!isFixed(target)) return answer(req, res, target, match.params, error);
        // A fixed Response: its bytes, with no Request made at all — built whole once where it can be.
        if (target.prebuilt !== null && res.endPrebuilt(target.prebuilt)) return;
        res.status = target.status;
        for (const [name, value] of target.headers) res.appendHeader(name, value);
        res.end(target.body);
        return;
      }
      if (fetch !== undefined) return answer(req, res, fetch, null, error);
      if (match?.kind === 'method') {
        res.status = 405;
        res.setHeader('Allow', match.allow);
        res.end();
        return;
      }
      res.status = 404;
      res.end();
    },
    upgrade(request, upgradeOptions) {
      if (current.websocket === undefined)
        throw new UsageError(
          'ERR_PEREGRINE_NO_WEBSOCKET_HANDLER',
          'server.upgrade() needs a websocket handler: serve({ fetch, websocket: { message } })',
        );
      const req = WebRequest.nativeOf(request);
      const res = WebRequest.responseOf(request);
      if (req === undefined || res === undefined || res.finished || res.headersSent) return false;
      if (checkUpgrade(req) !== null) return false; // not a valid handshake: the program answers
      let protocol = '';
      const extra: [string, string][] = [];
      if (upgradeOptions.headers !== undefined) {
        for (const [name, value] of new Headers(upgradeOptions.headers)) {
          if (name === 'sec-websocket-protocol') protocol = value;
          else extra.push([name, value]);
        }
      }
      // Checked before anything is set on the response, which the program may still answer with.
      if (protocol !== '' && !offeredProtocols(req).includes(protocol))
        throw new UsageError(
          'ERR_PEREGRINE_PROTOCOL_NOT_OFFERED',
          `Sec-WebSocket-Protocol ${JSON.stringify(protocol)} is not one the client offered`,
        );
      for (const [name, value] of extra) res.appendHeader(name, value);
      const socket = new ServerWebSocket<unknown>(upgradeOptions.data, publishToSelf);
      const native = res.upgrade({ protocol, data: socket }) as NativeWebSocket<
        ServerWebSocket<unknown>
      > | null;
      if (native === null) return false;
      socket.attach(native);
      return true;
    },
    reload(next) {
      checkHandlers(next);
      if (next.routes === undefined) {
        pendingRoutes = null;
        current = {
          fetch: next.fetch,
          error: next.error,
          router: null,
          websocket: next.websocket ?? current.websocket,
        };
        return;
      }
      const checked = checkRoutes(next.routes); // a bad route throws here, and nothing changes
      // Response values must be read before the new routes answer: until then the old ones do.
      const reading = readRoutes(checked).then((fixed) => new Router(fixed));
      pendingRoutes = reading;
      reading.then(
        (router) => {
          if (pendingRoutes !== reading) return; // a later reload() came first
          pendingRoutes = null;
          current = {
            fetch: next.fetch,
            error: next.error,
            router,
            websocket: next.websocket ?? current.websocket,
          };
        },
        (failure: unknown) => {
          if (pendingRoutes === reading) pendingRoutes = null;
          console.error('peregrine: reload() kept the old handlers:', failure);
        },
      );
    },
  };
}

/** The handlers are functions where given; something must answer requests. */
function checkHandlers(options: FetchOptions<unknown>): void {
  for (const name of ['fetch', 'error'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function')
      throw new ConfigError(`option '${name}' must be a function, got ${describe(value)}`);
  }
  if (options.fetch === undefined && options.routes === undefined)
    throw new ConfigError('fetch mode needs a fetch(request) function or routes');
  const websocket = options.websocket;
  if (websocket !== undefined && (websocket === null || typeof websocket.message !== 'function'))
    throw new ConfigError('websocket must be an object with a message(ws, message) function');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
