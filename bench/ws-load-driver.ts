// Drives ws-load.ts, the websocket section's load generator, and reads the server's CPU time over exactly
// its measured window.
import { join } from 'node:path';
import { type Config, WARMUP_SECONDS } from './config.ts';
import { readCpuTicks } from './proc.ts';
import { runLoadGenerator } from './processes.ts';
import type { WsWorkload } from './sections.ts';
import type { RunningServer } from './server-process.ts';

const WS_LOAD_SCRIPT = join(import.meta.dirname, 'ws-load.ts');
/** How much longer than its warm-up and measured window ws-load.ts may take before it is killed. */
const WS_LOAD_SLACK_MS = 30_000;

/** What ws-load.ts prints at the end of its measured window (one JSON line). */
export interface WsLoadReport {
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** ws-load.ts's own CPU time (user + system) within the window. */
  readonly cpuSeconds: number;
}

/** A ws-load.ts run, with the server's CPU time over the same window. */
interface WsLoadRun {
  readonly report: WsLoadReport;
  readonly serverCpuSeconds: number;
  /** Wall time between the runner's two CPU readings (≈ report.seconds). */
  readonly wallSeconds: number;
}

/** Node's arguments to run ws-load.ts against 127.0.0.1:`port`. */
function wsLoadArgs(workload: WsWorkload, port: number, config: Config): string[] {
  const args = [
    WS_LOAD_SCRIPT,
    '--port',
    String(port),
    '--bytes',
    String(workload.messageBytes),
    '--window',
    String(workload.window),
    '--connections',
    String(workload.connections ?? config.wsConnections),
    '--seconds',
    String(config.seconds),
    '--warmup',
    String(WARMUP_SECONDS),
  ];
  if (workload.fragmentBytes !== undefined) args.push('--fragment', String(workload.fragmentBytes));
  if (workload.text === true) args.push('--text');
  return args;
}

/** ws-load.ts's report line; throws unless it has every figure. */
export function parseWsLoadReport(line: string): WsLoadReport {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`unexpected ws-load output: ${line}`);
  }
  const report = value as Partial<WsLoadReport> | null;
  const fields = ['messages', 'seconds', 'messagesPerSecond', 'cpuSeconds'] as const;
  if (report === null || fields.some((field) => typeof report[field] !== 'number')) {
    throw new Error(`unexpected ws-load output: ${line}`);
  }
  return report as WsLoadReport;
}

/**
 * Runs ws-load.ts against `server` (it warms up for WARMUP_SECONDS itself) and reads the server's CPU time
 * when ws-load prints `measuring` and again when it prints its report, so that the server CPU time covers
 * exactly the measured window.
 */
export function runWsLoad(server: RunningServer, workload: WsWorkload, config: Config): Promise<WsLoadRun> {
  let before: { ticks: number; at: number } | undefined;
  return runLoadGenerator(
    'ws-load',
    wsLoadArgs(workload, server.port, config),
    (WARMUP_SECONDS + config.seconds) * 1000 + WS_LOAD_SLACK_MS,
    (line): WsLoadRun | undefined => {
      if (line === 'measuring') {
        before = { ticks: readCpuTicks(server.pid), at: performance.now() };
      } else if (line.startsWith('{') && before !== undefined) {
        const ticks = readCpuTicks(server.pid);
        const wallSeconds = (performance.now() - before.at) / 1000;
        const report = parseWsLoadReport(line);
        return { report, serverCpuSeconds: (ticks - before.ticks) / config.clockTicks, wallSeconds };
      }
      return undefined;
    },
  );
}
