// Drives pubsub-load.ts, the pubsub section's load generator, and reads the servers' CPU time and minor
// GCs over exactly its measured window.
import { join } from 'node:path';
import { type Config, WARMUP_SECONDS } from './config.ts';
import { runLoadGenerator } from './processes.ts';
import type { PubSubWorkload } from './sections.ts';

const PUBSUB_LOAD_SCRIPT = join(import.meta.dirname, 'pubsub-load.ts');
/**
 * How much longer than its warm-up and measured window pubsub-load.ts may take before it is killed:
 * opening 10,000 WebSockets, its sync (up to 15 s) and its stall detection (5 s) come on top.
 */
const PUBSUB_LOAD_SLACK_MS = 90_000;

/** What pubsub-load.ts prints at the end of its measured window (one JSON line). */
export interface PubSubLoadReport {
  /** Messages received by all subscribers together within the window. */
  readonly deliveries: number;
  readonly seconds: number;
  readonly deliveriesPerSecond: number;
  /** Publications that reached every subscriber within the window. */
  readonly publications: number;
  /** Publish-to-receive latency percentiles over every delivery in the window (null if none). */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** pubsub-load.ts's own CPU time (user + system) within the window. */
  readonly cpuSeconds: number;
}

/** pubsub-load.ts's report line; throws unless it has every figure. */
export function parsePubSubLoadReport(line: string): PubSubLoadReport {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`unexpected pubsub-load output: ${line}`);
  }
  const report = value as Record<string, unknown> | null;
  const numbers = ['deliveries', 'seconds', 'deliveriesPerSecond', 'publications', 'cpuSeconds'];
  const optional = ['p50Ms', 'p99Ms'];
  if (
    report === null ||
    typeof report !== 'object' ||
    numbers.some((field) => typeof report[field] !== 'number') ||
    optional.some((field) => typeof report[field] !== 'number' && report[field] !== null)
  ) {
    throw new Error(`unexpected pubsub-load output: ${line}`);
  }
  return report as unknown as PubSubLoadReport;
}

/** Node's arguments to run pubsub-load.ts against the instances on `ports`. */
export function pubSubLoadArgs(
  workload: PubSubWorkload,
  protocol: 'ws' | 'socketio',
  ports: readonly number[],
  config: Config,
): string[] {
  return [
    PUBSUB_LOAD_SCRIPT,
    '--ports',
    ports.join(','),
    '--protocol',
    protocol,
    '--subscribers',
    String(workload.subscribers),
    '--window',
    String(config.pubSubWindow ?? workload.window),
    '--seconds',
    String(config.seconds),
    '--warmup',
    String(WARMUP_SECONDS),
  ];
}

/**
 * Runs pubsub-load.ts on LOAD_CPU; `measuring()` is called when its measured window opens and
 * `over()` when it closes (before the report is parsed), so the caller reads the servers there.
 */
export function runPubSubLoad(
  args: readonly string[],
  config: Config,
  at: { readonly measuring: () => void; readonly over: () => void },
): Promise<PubSubLoadReport> {
  let measuring = false;
  return runLoadGenerator(
    'pubsub-load',
    args,
    (WARMUP_SECONDS + config.seconds) * 1000 + PUBSUB_LOAD_SLACK_MS,
    (line): PubSubLoadReport | undefined => {
      if (line === 'measuring') {
        measuring = true;
        at.measuring();
      } else if (line.startsWith('{') && measuring) {
        at.over();
        return parsePubSubLoadReport(line);
      }
      return undefined;
    },
  );
}
