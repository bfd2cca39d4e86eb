import type { Request, Response } from './exchange.ts';

/**
 * What the protocols tell about each exchange, for metrics and an access log (src/observe/ fills
 * it in). A protocol holds null instead when neither is on, so the request path then costs one
 * comparison.
 */
export interface ExchangeObserver {
  /**
   * A response ended; `startedAt` is the `performance.now()` of its dispatch. The client's address is
   * read from `req` only by the access log (working it out costs more than the metrics do).
   */
  responded(req: Request, res: Response, startedAt: number): void;
  /** A request refused before it could be parsed (or arrive): answered with `status`, then closed. */
  refused(status: number, client: string | undefined, version: string, startedAt: number): void;
  /** A deadline ran out: one of the TIMEOUT_ kinds. */
  timedOut(kind: number): void;
}

/** Which deadline ran out, by index (TIMEOUT_KINDS in src/observe/metrics.ts names them). */
export const TIMEOUT_HEADERS = 0;
export const TIMEOUT_REQUEST = 1;
export const TIMEOUT_HANDLER = 2;
export const TIMEOUT_SEND = 3;
export const TIMEOUT_KEEPALIVE = 4;
export const TIMEOUT_WS_IDLE = 5;
