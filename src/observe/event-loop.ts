import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { EventLoopDelay } from './metrics.ts';

/** How often the event loop is sampled, in ms: a libuv timer, so about 50 wake-ups a second. */
const RESOLUTION_MS = 20;

/**
 * Samples this thread's event-loop delay (node:perf_hooks), and reads it as seconds since the last
 * read: a scrape sees the delay of its own interval, not an average over the worker's whole life.
 */
export class EventLoopMonitor {
  private readonly histogram: ReturnType<typeof monitorEventLoopDelay>;

  constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
  }

  read(): EventLoopDelay {
    const h = this.histogram;
    const empty = h.count === 0;
    // The histogram measures from one timer tick to the next, which includes the resolution itself.
    const seconds = (ns: number) =>
      empty ? Number.NaN : Math.round(Math.max(0, ns - RESOLUTION_MS * 1e6)) / 1e9;
    const delay = {
      min: seconds(h.min),
      mean: seconds(h.mean),
      p50: seconds(h.percentile(50)),
      p90: seconds(h.percentile(90)),
      p99: seconds(h.percentile(99)),
      max: seconds(h.max),
    };
    h.reset();
    return delay;
  }

  stop(): void {
    this.histogram.disable();
  }
}
