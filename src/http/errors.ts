/**
 * An error that maps to an HTTP status. Throw one from a handler (or let one propagate from
 * `req.json()`, a body limit, …) and Peregrine answers with its status instead of a 500.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  /** Whether the connection must close after the error response (framing can no longer be trusted). */
  readonly closeConnection: boolean;

  constructor(
    status: number,
    message?: string,
    options?: { code?: string; close?: boolean; cause?: unknown },
  ) {
    super(message ?? `HTTP ${status}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = options?.code ?? 'ERR_HTTP';
    this.closeConnection = options?.close ?? false;
  }
}

/** Raised for a bad option at configuration time, with the exact rule that was broken. */
export class ConfigError extends TypeError {
  readonly code = 'ERR_PEREGRINE_INVALID_OPTION';
  constructor(message: string) {
    super(`peregrine: ${message}`);
    this.name = 'ConfigError';
  }
}
