import { HttpError } from './errors.ts';
import type { Request, RequestHandler, Response } from './exchange.ts';

/**
 * Handing a request to the handler, and answering in its place when it fails: a 500 (or the status
 * of the HttpError it threw) while the head has not gone out; once it has, the exchange is cut (the
 * HTTP/1 connection closed, the HTTP/2 stream reset). The same for every protocol.
 */

/** @internal What dispatch needs from the protocol a request arrived on. */
export interface DispatchHost<Req extends Request = Request, Res extends Response = Response> {
  readonly handler: RequestHandler;
  /** True while the handler's synchronous part runs. */
  dispatching: boolean;
  /** Whether `res` still answers a current request on an open connection or stream. */
  isCurrent(res: Res): boolean;
  /** The connection closes after this response (HTTP/1; nothing to do on HTTP/2). */
  closeAfterResponse(): void;
  reportError(error: unknown, req: Req): void;
  /** The response can't be completed: cut it (HTTP/1 closes the connection, HTTP/2 resets the stream). */
  abortExchange(res: Res): void;
  /** Answers `status` in the handler's place; what the handler still calls on `res` is ignored. */
  answerFor(req: Req, res: Res, status: number): void;
}

/** Whether a handler returned a promise (or any thenable) rather than finishing at once. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Calls the handler. Returns true when it returned at once without throwing (no promise). */
export function dispatch<Req extends Request, Res extends Response>(
  host: DispatchHost<Req, Res>,
  req: Req,
  res: Res,
): boolean {
  host.dispatching = true;
  let result: unknown;
  try {
    result = host.handler.handleRequest(req, res as unknown as Response<unknown, never>);
  } catch (error) {
    host.dispatching = false;
    handlerFailed(host, req, res, error);
    return false;
  }
  host.dispatching = false;
  if (isThenable(result)) {
    result.then(
      () => handlerSettled(host, req, res),
      (error: unknown) => handlerFailed(host, req, res, error),
    );
    return false;
  }
  return true;
}

/** An async handler resolved. If it never started the response, end it for the handler. */
function handlerSettled<Req extends Request, Res extends Response>(
  host: DispatchHost<Req, Res>,
  req: Req,
  res: Res,
): void {
  if (!res.headersSent && host.isCurrent(res)) {
    try {
      res.end();
    } catch (error) {
      handlerFailed(host, req, res, error);
    }
  }
}

/** A handler threw or rejected: answer with 500 (or the HttpError's status) if the head hasn't gone out. */
export function handlerFailed<Req extends Request, Res extends Response>(
  host: DispatchHost<Req, Res>,
  req: Req,
  res: Res,
  error: unknown,
): void {
  const isHttpError = error instanceof HttpError;
  // A handler's own failure is reported even when nobody is left to answer, except the abort that
  // the client's disconnect caused through req.signal.
  if ((!isHttpError || error.status >= 500) && !req.abortedWith(error)) host.reportError(error, req);
  // The connection closed, or this request is long finished.
  if (!host.isCurrent(res) || res.finished) return;
  if (res.headersSent || req.abortedWith(error)) {
    // The status line is gone, or the handler gave up because the client left (its signal's
    // reason): the only way to signal failure is to cut the exchange.
    host.abortExchange(res);
    return;
  }
  const status = isHttpError && error.status >= 400 && error.status <= 599 ? error.status : 500;
  if (isHttpError && error.closeConnection) host.closeAfterResponse();
  host.answerFor(req, res, status);
}
