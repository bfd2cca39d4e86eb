import {
  addCounters,
  type CounterTotals,
  emptyCounters,
  type ServerMetrics,
  toServerMetrics,
  type WorkerSnapshot,
} from './metrics.ts';

/**
 * How long the primary waits for the workers' snapshots. A worker that misses it (stuck in a long
 * synchronous task) is reported in `peregrine_scrape_workers_missing`, with its last counters.
 */
export const GATHER_TIMEOUT_MS = 1_000;

/** One running worker, as the gatherer sees it. */
export interface Reporter {
  /** Asks the worker for a snapshot; it answers with `received(reporter, id, snapshot)`. */
  ask(id: number): void;
}

interface Round {
  readonly waiting: Set<Reporter>;
  readonly fresh: Map<Reporter, WorkerSnapshot>;
  finish(): void;
}

/**
 * The primary's side of a scrape: asks every worker for its snapshot, waits at most
 * GATHER_TIMEOUT_MS, and sums what came. Counters stay monotonic across the workers' lives: a
 * worker that does not answer counts with its last snapshot, and a worker that exits leaves its last
 * counters to `retired`, so a restart never makes a total go down.
 */
export class MetricsGatherer {
  /** Workers restarted after dying (counted by the pool). */
  restarts = 0;
  private readonly retired: CounterTotals = emptyCounters();
  private readonly last = new Map<Reporter, WorkerSnapshot>();
  private readonly rounds = new Map<number, Round>();
  private nextId = 1;

  gather(
    reporters: Iterable<Reporter>,
    workers: number,
    timeoutMs = GATHER_TIMEOUT_MS,
  ): Promise<ServerMetrics> {
    const id = this.nextId++;
    const waiting = new Set(reporters);
    return new Promise((resolve) => {
      const fresh = new Map<Reporter, WorkerSnapshot>();
      const timer = setTimeout(() => round.finish(), timeoutMs);
      const round: Round = {
        waiting,
        fresh,
        finish: () => {
          clearTimeout(timer);
          this.rounds.delete(id);
          resolve(this.sum(fresh, workers));
        },
      };
      this.rounds.set(id, round);
      if (waiting.size === 0) round.finish();
      for (const reporter of waiting) reporter.ask(id);
    });
  }

  /** A worker's answer to round `id`. */
  received(reporter: Reporter, id: number, snapshot: WorkerSnapshot | null): void {
    if (snapshot !== null) this.last.set(reporter, snapshot);
    const round = this.rounds.get(id);
    if (round === undefined || !round.waiting.has(reporter)) return;
    if (snapshot !== null) round.fresh.set(reporter, snapshot);
    round.waiting.delete(reporter);
    if (round.waiting.size === 0) round.finish();
  }

  /** A worker exited: its last counters join the retired ones; rounds stop waiting for it. */
  gone(reporter: Reporter): void {
    const last = this.last.get(reporter);
    if (last !== undefined) addCounters(this.retired, last);
    this.last.delete(reporter);
    for (const round of this.rounds.values()) {
      if (!round.waiting.delete(reporter)) continue;
      if (round.waiting.size === 0) round.finish();
    }
  }

  private sum(fresh: Map<Reporter, WorkerSnapshot>, workers: number): ServerMetrics {
    const counters = emptyCounters();
    addCounters(counters, this.retired);
    for (const snapshot of this.last.values()) addCounters(counters, snapshot);
    const answered = [...fresh.values()];
    const slots = new Set(answered.map((s) => s.worker));
    return toServerMetrics(counters, answered, workers, Math.max(0, workers - slots.size), this.restarts);
  }
}
