// Hand-made runs and sections for the tests of the bench's statistics and tables.
import type { Failure, Measurement, SectionResults } from '../../bench/results.ts';
import type { HttpWorkload, Section, ServerSpec } from '../../bench/sections.ts';

export const OURS: ServerSpec = { id: 'ours', label: 'Ours', script: 'ours.ts' };
export const PEER: ServerSpec = { id: 'peer', label: 'Peer', script: 'peer.ts' };

export function workload(name: string, workers = 1): HttpWorkload {
  return { kind: 'http', name, path: '/', body: 'x', pipeline: 1, workers };
}

/** A successful run at `perSecond`, other figures plausible unless given. */
export function run(perSecond: number, figures: Partial<Measurement> = {}): Measurement {
  return {
    ok: true,
    perSecond,
    count: 100_000,
    cpuMicrosPerUnit: 10,
    cpuShare: 1,
    loadCpuShare: 0.8,
    p50Ms: 1,
    p99Ms: 3,
    minorGcs: 20,
    peakRssBytes: 64 * 1024 * 1024,
    ...figures,
  };
}

export function failure(error = 'wrk exited with code 1: boom\n    server stderr:\n      trace'): Failure {
  return { ok: false, error };
}

/** A section of OURS against PEER; `runs[workload name][server id]` are the runs of each server. */
export function section(
  id: Section['id'],
  runs: Record<string, Record<string, (Measurement | Failure)[]>>,
  unit: Section['unit'] = 'req',
  workers: (name: string) => number = () => 1,
): SectionResults {
  const workloads = Object.keys(runs).map((name) => workload(name, workers(name)));
  const definition: Section = { id, peregrine: OURS, peers: [PEER], unit, workloads };
  return {
    selected: { section: definition, workloads, servers: [OURS, PEER] },
    results: workloads.map((w) => ({ workload: w, runs: new Map(Object.entries(runs[w.name]!)) })),
  };
}
