// The statistics of a benchmark: medians over runs, Peregrine-over-peer ratios of run pairs, and the
// figures the targets are stated in.
import type { Measurement, RunResult, SectionResults, WorkloadResults } from './results.ts';
import type { ServerSpec, Workload } from './sections.ts';
import type { TargetFigures } from './targets.ts';

/** The middle value of `values` (not empty), or the mean of the two middle values. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The runs that succeeded. */
export function measurements(runs: readonly RunResult[]): Measurement[] {
  return runs.filter((run): run is Measurement => run.ok);
}

/** The median of a figure over the successful runs that have it, or undefined if none has. */
export function medianOf(
  runs: readonly RunResult[] | undefined,
  pick: (m: Measurement) => number | null,
): number | undefined {
  const values = runs === undefined ? [] : measurements(runs).flatMap((m) => pick(m) ?? []);
  return values.length === 0 ? undefined : median(values);
}

/** Peregrine/baseline throughput of each run pair in which both runs succeeded. */
export function pairRatios(peregrine: readonly RunResult[], baseline: readonly RunResult[]): number[] {
  const ratios: number[] = [];
  peregrine.forEach((run, i) => {
    const other = baseline[i];
    if (run.ok && other?.ok) ratios.push(run.perSecond / other.perSecond);
  });
  return ratios;
}

/** Median req/s with `workers` workers over median req/s with 1 worker, for one server; undefined if unknown. */
export function scalingRatio(
  results: readonly WorkloadResults[],
  spec: ServerSpec,
  workers: number,
): number | undefined {
  const medianRate = (count: number): number | undefined => {
    const runs = results.find((r) => r.workload.workers === count)?.runs.get(spec.id);
    const ok = runs ? measurements(runs) : [];
    return ok.length > 0 ? median(ok.map((m) => m.perSecond)) : undefined;
  };
  const one = medianRate(1);
  const more = medianRate(workers);
  return one === undefined || more === undefined ? undefined : more / one;
}

/** Bytes per idle connection of one run: resident memory with the connections over the count. */
export function idleBytes(m: Measurement): number {
  return m.idleRss === undefined ? 0 : (m.idleRss.after - m.idleRss.before) / m.count;
}

/** Whether a workload holds idle WebSockets (the idle section's second row) rather than HTTP connections. */
export function isIdleWebSocket(workload: Workload): boolean {
  return workload.kind === 'idle' && workload.websocket === true;
}

/**
 * Peregrine's median bytes per idle WebSocket over its median bytes per idle keep-alive connection,
 * from the idle section's two workloads; undefined unless both were run.
 */
export function idleWebSocketRatio(idle: SectionResults): number | undefined {
  const peregrine = idle.selected.section.peregrine.id;
  const perConnection = (websocket: boolean) =>
    medianOf(
      idle.results.find((r) => isIdleWebSocket(r.workload) === websocket)?.runs.get(peregrine),
      idleBytes,
    );
  const http = perConnection(false);
  const ws = perConnection(true);
  return http === undefined || ws === undefined || http <= 0 ? undefined : ws / http;
}

/** The figures the targets are stated in, read from this run's results (undefined where not run). */
export function targetFigures(all: readonly SectionResults[]): TargetFigures {
  const find = (workload: string) => {
    for (const { selected, results } of all) {
      if (selected.section.id === 'idle' || selected.section.id === 'scaling') continue;
      const found = results.find((r) => r.workload.name === workload);
      if (found) return { peregrine: selected.section.peregrine, results: found };
    }
    return undefined;
  };
  return {
    rateRatio(workload, peer) {
      const found = find(workload);
      const ours = found?.results.runs.get(found.peregrine.id);
      const theirs = found?.results.runs.get(peer);
      const ratios = ours && theirs ? pairRatios(ours, theirs) : [];
      return ratios.length === 0 ? undefined : median(ratios);
    },
    costRatio(workload, peer, cost) {
      const found = find(workload);
      if (found === undefined) return undefined;
      const pick = (m: Measurement) =>
        cost === 'cpu'
          ? m.cpuMicrosPerUnit
          : cost === 'p99'
            ? m.p99Ms
            : m.minorGcs === null
              ? null
              : m.minorGcs / m.count;
      const ours = medianOf(found.results.runs.get(found.peregrine.id), pick);
      const theirs = medianOf(found.results.runs.get(peer), pick);
      return ours === undefined || theirs === undefined || theirs === 0 ? undefined : ours / theirs;
    },
    idleRatio(peer) {
      const idle = all.find((s) => s.selected.section.id === 'idle');
      const results = idle?.results.find((r) => !isIdleWebSocket(r.workload));
      if (idle === undefined || results === undefined) return undefined;
      const ours = medianOf(results.runs.get(idle.selected.section.peregrine.id), idleBytes);
      const theirs = medianOf(results.runs.get(peer), idleBytes);
      return ours === undefined || theirs === undefined || theirs <= 0 ? undefined : ours / theirs;
    },
    idleWebSocketRatio() {
      const idle = all.find((s) => s.selected.section.id === 'idle');
      return idle === undefined ? undefined : idleWebSocketRatio(idle);
    },
  };
}
