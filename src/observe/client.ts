import { GATHER_TIMEOUT_MS } from './gather.ts';
import type { ServerMetrics } from './metrics.ts';

/** A worker's question to the primary for the server's numbers, and the primary's answer. */
export type MetricsRequest = { peregrine: 'metrics-request'; id: number };
export type MetricsAnswer = { peregrine: 'metrics'; id: number; metrics: ServerMetrics };

/** How long a worker waits for the primary's answer: the gathering's own timeout, and some. */
const ANSWER_TIMEOUT_MS = GATHER_TIMEOUT_MS + 4_000;

/**
 * A worker's side of a scrape: the worker that gets the metrics request asks the primary, which
 * gathers every worker's snapshot (this one's included) and answers with the sums.
 */
export class MetricsClient {
  private readonly post: (message: MetricsRequest) => void;
  private readonly pending = new Map<
    number,
    { resolve(metrics: ServerMetrics): void; reject(error: Error): void; timer: NodeJS.Timeout }
  >();
  private nextId = 1;

  constructor(post: (message: MetricsRequest) => void) {
    this.post = post;
  }

  ask(): Promise<ServerMetrics> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('the primary did not answer'));
      }, ANSWER_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      this.post({ peregrine: 'metrics-request', id });
    });
  }

  answered(message: MetricsAnswer): void {
    const waiting = this.pending.get(message.id);
    if (waiting === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    waiting.resolve(message.metrics);
  }
}
