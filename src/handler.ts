import type { Response as HttpResponse, Request } from './http/exchange.ts';
import type { WebSocket, WebSocketHooks } from './ws/socket.ts';
import type { UpgradeOptions } from './ws/upgrade.ts';

export type { Request } from './http/exchange.ts';

/**
 * The response a handler writes (see the HTTP layer's Response interface for its members), whose
 * `upgrade()` makes a WebSocket: `T` is the type of its `ws.data`.
 */
export type Response<T = unknown> = HttpResponse<WebSocket<T>, UpgradeOptions<T>>;

/**
 * Your server's logic. One handler instance serves every request of a worker.
 *
 * Lifecycle: `init()` runs (and is awaited) before the first request is accepted; `handleRequest()` runs
 * for each request; `deinit()` runs after shutdown, when every connection is closed.
 *
 * `T` is the type of `ws.data` in the WebSocket hooks (what `res.upgrade({ data })` is given):
 * `const chat: Handler<{ name: string }> = { … }` makes `ws.data.name` a string in every hook.
 */
export interface Handler<T = unknown> extends WebSocketHooks<T> {
  /**
   * Handles one request. End the response with `res.end()` (or `res.json()`); it may happen later, from
   * a callback. An `async` handler whose promise resolves without having started the response gets an
   * empty response with the status it set. A handler that throws or rejects gets a 500 (or the status
   * of the `HttpError` it threw); the server keeps serving.
   */
  handleRequest(req: Request, res: Response<T>): void | Promise<void>;
  init?(): void | Promise<void>;
  // WebSocket hooks (see WebSocketHooks): handleWSOpen, handleWSMessage, handleWSFrame, handleWSDrain,
  // handleWSClose. A request becomes a WebSocket when handleRequest calls `res.upgrade()`.
  deinit?(): void | Promise<void>;
}
