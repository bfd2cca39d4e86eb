// h2load (nghttp2's HTTP/2 load generator, Debian's nghttp2-client), which loads the http2 section: its
// command line for a workload, what its output says, and a run that reports when its measured window
// opens and closes, so that the server's CPU time is read over exactly that window.
import { LOAD_CPU, spawnPinned, track } from './processes.ts';
import type { HttpWorkload } from './sections.ts';

export const H2LOAD = 'h2load';

export interface H2loadReport {
  /** `requests: N total`: the requests of the measured window (the warm-up's are not counted). */
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  /** `finished in …, N req/s`: h2load's rate over the measured window. */
  readonly requestsPerSecond: number;
  /** Responses with a status of 300 or more (`status codes:` 3xx + 4xx + 5xx). */
  readonly badResponses: number;
  /** ALPN's outcome (`Application protocol:`), undefined if no connection got that far. */
  readonly protocol: string | undefined;
}

/**
 * h2load's arguments for one run of `workload` against 127.0.0.1:`port`: `connections` clients with
 * `streams` concurrent streams each for `seconds`, after `warmUpSeconds` of load that is not counted.
 */
export function h2loadArgs(
  workload: HttpWorkload,
  port: number,
  seconds: number,
  warmUpSeconds: number,
  connections: number,
): string[] {
  if (workload.http2 === undefined) throw new Error(`${workload.name} is not an HTTP/2 workload`);
  return [
    '-c',
    String(connections),
    '-m',
    String(workload.http2.streams),
    '-D',
    String(seconds),
    `--warm-up-time=${warmUpSeconds}`,
    `https://127.0.0.1:${port}${workload.path}`,
  ];
}

function count(output: string, pattern: RegExp, what: string): number {
  const match = pattern.exec(output);
  if (!match) throw new Error(`no ${what} in h2load output:\n${output.trim()}`);
  return Number(match[1]);
}

/** The figures of h2load's report; throws on output it does not recognise. */
export function parseH2loadOutput(output: string): H2loadReport {
  const requests =
    /^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout$/m.exec(
      output,
    );
  if (!requests) throw new Error(`unexpected h2load output:\n${output.trim()}`);
  const statuses = /^status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx$/m.exec(output);
  if (!statuses) throw new Error(`no status codes in h2load output:\n${output.trim()}`);
  return {
    requests: Number(requests[1]),
    succeeded: Number(requests[2]),
    failed: Number(requests[3]),
    errored: Number(requests[4]),
    timeout: Number(requests[5]),
    requestsPerSecond: count(output, /^finished in [\d.]+m?s, ([\d.]+) req\/s/m, 'rate'),
    badResponses: Number(statuses[1]) + Number(statuses[2]) + Number(statuses[3]),
    protocol: /^Application protocol: (\S+)$/m.exec(output)?.[1],
  };
}

/** Why an h2load report makes the run a failure; empty if it does not. */
export function h2loadProblems(report: H2loadReport): string[] {
  const problems: string[] = [];
  if (report.protocol !== 'h2')
    problems.push(
      report.protocol === undefined ? 'no protocol negotiated' : `ALPN chose ${report.protocol}, not h2`,
    );
  if (report.succeeded === 0) problems.push('no request succeeded');
  if (report.failed > 0 || report.errored > 0 || report.timeout > 0)
    problems.push(`${report.failed} failed, ${report.errored} errored, ${report.timeout} timed out`);
  else if (report.succeeded !== report.requests)
    problems.push(`${report.succeeded} of ${report.requests} requests succeeded`);
  if (report.badResponses > 0) problems.push(`${report.badResponses} responses with a status ≥ 300`);
  return problems;
}

/** h2load's lines that open and close the measured window (one thread: `-t` is left at 1). */
const MAIN_STARTED = /^Main benchmark duration is started for thread #0\.$/;
const MAIN_OVER = /^Main benchmark duration is over for thread #0\./;

/** Called when the measured window opens and when it closes, with h2load's pid (to read its CPU time). */
export interface H2loadWindow {
  started(pid: number): void;
  over(pid: number): void;
}

/**
 * Runs h2load on LOAD_CPU, calling `window` as h2load announces its measured window (it prints each
 * line as it happens); throws if it fails, prints no report or never opened and closed the window.
 */
export async function runH2load(args: readonly string[], window: H2loadWindow): Promise<H2loadReport> {
  const child = spawnPinned(LOAD_CPU, H2LOAD, args);
  const exited = track(child);
  let stdout = '';
  let stderr = '';
  let pending = '';
  let spawnError: Error | undefined;
  // What the window's callbacks throw (e.g. the server gone when its CPU time is read), after h2load exits.
  let windowError: unknown;
  const call = (callback: (pid: number) => void): void => {
    try {
      callback(child.pid ?? -1);
    } catch (error) {
      windowError ??= error;
    }
  };
  const seen = { started: false, over: false };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!seen.started && MAIN_STARTED.test(line)) {
        seen.started = true;
        call(window.started);
      } else if (seen.started && !seen.over && MAIN_OVER.test(line)) {
        seen.over = true;
        call(window.over);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.once('error', (error) => {
    spawnError = error;
  });
  await exited;
  if (spawnError) throw spawnError;
  if (windowError !== undefined) throw windowError;
  if (child.exitCode !== 0)
    throw new Error(`h2load exited with code ${child.exitCode}: ${(stderr || stdout).trim()}`);
  if (!seen.started || !seen.over)
    throw new Error(`h2load did not announce its measured window:\n${stdout.trim()}`);
  return parseH2loadOutput(stdout);
}
