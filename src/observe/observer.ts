import type { Request, Response } from '../http/exchange.ts';
import type { ExchangeObserver } from '../http/observer.ts';
import type { AccessEntry, AccessLog } from './access-log.ts';
import type { WorkerMetrics } from './metrics.ts';

/**
 * The metrics and the access log of one worker, as the protocols see them. With them on, a response
 * costs a clock read and a few array increments (plus a line for the log); with both off the
 * protocols hold null instead.
 */
export class Observer implements ExchangeObserver {
  readonly metrics: WorkerMetrics | null;
  readonly accessLog: AccessLog | null;
  /** Built-in formats read the entry at once: one object serves every line. */
  private readonly entry: AccessEntry | null;

  constructor(metrics: WorkerMetrics | null, accessLog: AccessLog | null, reuseEntry: boolean) {
    this.metrics = metrics;
    this.accessLog = accessLog;
    this.entry = reuseEntry ? newEntry() : null;
  }

  /** A response ended; `startedAt` is the `performance.now()` of its dispatch. */
  responded(req: Request, res: Response, startedAt: number): void {
    const ms = performance.now() - startedAt;
    const metrics = this.metrics;
    if (metrics !== null) metrics.requestEnded(req.method, res.status, ms / 1000);
    const log = this.accessLog;
    if (log === null) return;
    const entry = this.entry ?? newEntry();
    entry.time = Date.now();
    // The client as trusted proxies report it, as nginx's realip changes what it logs.
    entry.client = req.clientAddress || undefined;
    entry.method = req.method;
    entry.target = req.target;
    entry.version = req.version;
    entry.status = res.status;
    entry.bytes = res.bodyBytes;
    entry.durationMs = ms;
    log.log(entry);
  }

  /** A request refused before it could be parsed (or arrive): answered with `status`, then closed. */
  refused(status: number, client: string | undefined, version: string, startedAt: number): void {
    this.metrics?.parseError(status);
    const log = this.accessLog;
    if (log === null) return;
    const entry = this.entry ?? newEntry();
    entry.time = Date.now();
    entry.client = client;
    entry.method = '-';
    entry.target = '-';
    entry.version = version;
    entry.status = status;
    entry.bytes = 0;
    entry.durationMs = startedAt === 0 ? 0 : performance.now() - startedAt;
    log.log(entry);
  }

  /** A deadline ran out (see TIMEOUT_KINDS). */
  timedOut(kind: number): void {
    this.metrics?.timedOut(kind);
  }
}

function newEntry(): AccessEntry {
  return {
    time: 0,
    client: undefined,
    method: '',
    target: '',
    version: '',
    status: 0,
    bytes: 0,
    durationMs: 0,
  };
}
