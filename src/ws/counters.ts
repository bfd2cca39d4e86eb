/**
 * What a WebSocket counts, when metrics are on: increments into the worker's counters array at
 * these indices (src/observe/metrics.ts reads them), and its idle timeouts.
 */
export interface WsCounters {
  readonly counts: Float64Array;
  timedOut(kind: number): void;
}

export const WS_OPENED = 0;
export const WS_CLOSED = 1;
export const WS_MESSAGES_IN = 2;
export const WS_MESSAGES_OUT = 3;
export const WS_SENDS_DROPPED = 4;
/** How many indices WebSockets use; others may follow. */
export const WS_COUNTERS = 5;
