import { PeregrineError } from '../errors.ts';

/**
 * An error that maps to an HTTP status. Throw one from a handler (or let one propagate from
 * `req.json()`, a body limit, …) and Peregrine answers with its status instead of a 500. Without a
 * `code`, its code is `ERR_PEREGRINE_HTTP`.
 */
export class HttpError extends PeregrineError {
  readonly status: number;
  /** Whether the connection must close after the error response (framing can no longer be trusted). */
  readonly closeConnection: boolean;

  constructor(
    status: number,
    message?: string,
    options?: { code?: string; close?: boolean; cause?: unknown },
  ) {
    super(options?.code ?? 'ERR_PEREGRINE_HTTP', message ?? `HTTP ${status}`, options);
    this.name = 'HttpError';
    this.status = status;
    this.closeConnection = options?.close ?? false;
  }
}
