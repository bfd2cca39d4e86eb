// What a benchmark produces: one result per run, grouped by workload and section.
import type { SelectedSection } from './config.ts';
import type { Workload } from './sections.ts';

/** The figures of one successful run. */
export interface Measurement {
  readonly ok: true;
  /** Requests (HTTP) or echoed messages (WebSocket) per second. */
  readonly perSecond: number;
  /** Requests completed or messages echoed during the measured window. */
  readonly count: number;
  /** Server CPU time (user + system) per request or message, in microseconds. */
  readonly cpuMicrosPerUnit: number;
  /** Server CPU time over wall time during the measured window; about 1 when the server is saturated. */
  readonly cpuShare: number;
  /** The load generator's CPU time over wall time; about 1 when it, not the server, is the limit. */
  readonly loadCpuShare: number;
  /** Latency percentiles in milliseconds (wrk's; null for WebSocket runs). */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Young-generation collections during the measured window; null for a server that is not Node. */
  readonly minorGcs: number | null;
  /** Peak resident memory of the server (every process of it), in bytes. */
  readonly peakRssBytes: number;
  /** Idle section: resident memory before the connections opened and with all of them open, in bytes. */
  readonly idleRss?: { readonly before: number; readonly after: number };
}

export interface Failure {
  readonly ok: false;
  readonly error: string;
}

export type RunResult = Measurement | Failure;

/** Results of one workload: runs[serverId][i] is run i of that server. */
export interface WorkloadResults {
  readonly workload: Workload;
  readonly runs: Map<string, RunResult[]>;
}

/** Results of one section, one entry per selected workload. */
export interface SectionResults {
  readonly selected: SelectedSection;
  readonly results: readonly WorkloadResults[];
}
