/**
 * The errors Peregrine throws, rejects with or hands to `onError`. Every one is a `PeregrineError` with
 * a stable `code`, and every code Peregrine gives starts with `ERR_PEREGRINE_`, except a ListenError's:
 * that is the system's own (`EADDRINUSE`, …), as Node's listen errors have. The HTTP and WebSocket
 * errors (`HttpError`, `WsError`) live with their protocols and extend this class.
 *
 * Where Peregrine implements a Web standard (fetch mode's Request and body, a WebSocket message's
 * type), it throws the standard's TypeError instead, so code written for the standard catches it.
 */
export class PeregrineError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PeregrineError';
    this.code = code;
  }
}

/** Raised for a bad option at configuration time, with the exact rule that was broken. */
export class ConfigError extends PeregrineError {
  declare readonly code: 'ERR_PEREGRINE_INVALID_OPTION';

  constructor(message: string) {
    super('ERR_PEREGRINE_INVALID_OPTION', `peregrine: ${message}`);
    this.name = 'ConfigError';
  }
}

/**
 * A call the API doesn't allow at that moment or with those arguments: writing after `res.end()`, an
 * invalid header, a body that is neither text nor bytes, … Its `code` names the rule.
 */
export class UsageError extends PeregrineError {
  constructor(code: `ERR_PEREGRINE_${string}`, message: string) {
    super(code, message);
    this.name = 'UsageError';
  }
}

/** The system codes a ListenError has: the address is taken, not allowed, or not this machine's. */
export type ListenErrorCode = 'EADDRINUSE' | 'EACCES' | 'EADDRNOTAVAIL';

const LISTEN_PROBLEMS: Readonly<Record<ListenErrorCode, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such local address',
};

/** `serve()` could not listen on the address it was given. `code` is the system's (e.g. `EADDRINUSE`). */
export class ListenError extends PeregrineError {
  declare readonly code: ListenErrorCode;

  constructor(code: ListenErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ListenError';
  }

  /** Whether a system error code is one a ListenError is made for. */
  static isListenCode(code: string | undefined): code is ListenErrorCode {
    return code !== undefined && Object.hasOwn(LISTEN_PROBLEMS, code);
  }
}

/** @internal A listen error as a ListenError with a clear message; other errors are returned as they are. */
export function listenError(error: NodeJS.ErrnoException, port: number, host: string | undefined): Error {
  if (!ListenError.isListenCode(error.code)) return error;
  const where = `${host ?? '*'}:${port}`;
  return new ListenError(error.code, `peregrine: cannot listen on ${where}: ${LISTEN_PROBLEMS[error.code]}`, {
    cause: error,
  });
}
