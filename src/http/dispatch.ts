import { HttpError } from './errors.ts';
import type { RequestHandler } from './exchange.ts';
import type { Http1Request } from './request.ts';
import type { Http1Response, ResponseSink } from './response.ts';
import { errorBody } from './status.ts';

/**
 * Handing a request to the handler, and answering in its place when it fails: a 500 (or the status
 * of the HttpError it threw) while the head has not gone out, a cut connection once it has.
 */

/** @internal What dispatch needs from the connection a request arrived on. */
export interface DispatchHost extends ResponseSink {
  readonly handler: RequestHandler;
  /** True while the handler's synchronous part runs. */
  dispatching: boolean;
  /** Whether `res` still answers the connection's current request on an open connection. */
  isCurrent(res: Http1Response): boolean;
  /** The connection closes after this response. */
  closeAfterResponse(): void;
  reportError(error: unknown, req: Http1Request): void;
}

/** Whether a handler returned a promise (or any thenable) rather than finishing at once. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Calls the handler. Returns true when it finished synchronously and kept nothing, so that the
 * connection may reuse `req` and `res` for its next request.
 */
export function dispatch(host: DispatchHost, req: Http1Request, res: Http1Response): boolean {
  host.dispatching = true;
  let result: unknown;
  try {
    result = host.handler.handleRequest(req, res);
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
  return res.finished && !req.escaped;
}

/** An async handler resolved. If it never started the response, end it for the handler. */
function handlerSettled(host: DispatchHost, req: Http1Request, res: Http1Response): void {
  if (!res.headersSent && host.isCurrent(res)) {
    try {
      res.end();
    } catch (error) {
      handlerFailed(host, req, res, error);
    }
  }
}

/** A handler threw or rejected: answer with 500 (or the HttpError's status) if the head hasn't gone out. */
export function handlerFailed(
  host: DispatchHost,
  req: Http1Request,
  res: Http1Response,
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
    // reason): the only way to signal failure is to cut the connection.
    host.abortConnection();
    return;
  }
  const status = isHttpError && error.status >= 400 && error.status <= 599 ? error.status : 500;
  if (isHttpError && error.closeConnection) host.closeAfterResponse();
  answerFor(host, req, res, status);
}

/** Answers `status` in the handler's place; what the handler still calls on `res` is ignored. */
export function answerFor(host: DispatchHost, req: Http1Request, res: Http1Response, status: number): void {
  res.init(host, req.method === 'HEAD', req.version === '1.0');
  res.status = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(errorBody(status));
  res.detach();
}
