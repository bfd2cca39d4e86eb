// wrk, the HTTP load generator: its command line for a workload, and what its output says.
import { join } from 'node:path';
import { LOAD_CPU, runPinned } from './processes.ts';
import type { HttpWorkload } from './sections.ts';

const PIPELINE_SCRIPT = join(import.meta.dirname, 'pipeline.lua');
const POST_SCRIPT = join(import.meta.dirname, 'post.lua');

export interface WrkReport {
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** wrk's "Socket errors" line, if any. */
  readonly socketErrors: string | undefined;
  /** wrk's "Non-2xx or 3xx responses" count (wrk counts statuses above 399). */
  readonly badResponses: number;
  /** Latency percentiles from `--latency`, in milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** `… requests in 1.10s, 7.11MB read`: the bytes wrk read (heads and bodies), as precise as wrk prints them. */
  readonly bytesRead: number;
}

/** A wrk size (`812B`, `7.11MB`, `1.02GB`; wrk's units are powers of 1024) in bytes. */
export function wrkBytes(text: string): number {
  const match = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk size "${text}"`);
  const power = ['B', 'KB', 'MB', 'GB', 'TB'].indexOf(match[2]!);
  return Number(match[1]) * 1024 ** power;
}

/** A wrk duration (`812.00us`, `1.23ms`, `2.00s`, `1.50m`) in milliseconds. */
export function wrkMillis(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk duration "${text}"`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

/** wrk's arguments (after `wrk`) for one run of `workload` against 127.0.0.1:`port`. */
export function wrkArgs(
  workload: HttpWorkload,
  port: number,
  seconds: number,
  connections: number,
): string[] {
  // wrk's default 2 s request timeout counts a slow pipelined batch as a socket error; a server that is
  // merely slow should be measured as slow, so allow 10 s (errors still fail the run).
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency'];
  if (workload.pipeline > 1) args.push('--script', PIPELINE_SCRIPT);
  else if (workload.uploadBytes !== undefined) args.push('--script', POST_SCRIPT);
  // The server closes each connection after its response; wrk then opens a new one.
  if (workload.newConnections) args.push('-H', 'Connection: close');
  if (workload.acceptEncoding !== undefined) args.push('-H', `Accept-Encoding: ${workload.acceptEncoding}`);
  args.push(`${workload.tls ? 'https' : 'http'}://127.0.0.1:${port}${workload.path}`);
  if (workload.pipeline > 1) args.push('--', String(workload.pipeline));
  else if (workload.uploadBytes !== undefined) args.push('--', String(workload.uploadBytes));
  return args;
}

/** The figures of wrk's report; throws on output it does not recognise. */
export function parseWrkOutput(output: string): WrkReport {
  const requests = /^\s*(\d+) requests in [^,]+, (\S+) read$/m.exec(output);
  const perSecond = /^Requests\/sec:\s*([\d.]+)/m.exec(output);
  if (!requests || !perSecond) throw new Error(`unexpected wrk output:\n${output.trim()}`);
  const socketErrors = /^\s*Socket errors: (.*)$/m.exec(output);
  const badResponses = /^\s*Non-2xx or 3xx responses: (\d+)/m.exec(output);
  const p50 = /^\s*50%\s+(\S+)/m.exec(output);
  const p99 = /^\s*99%\s+(\S+)/m.exec(output);
  if (!p50 || !p99) throw new Error(`no latency distribution in wrk output:\n${output.trim()}`);
  return {
    p50Ms: wrkMillis(p50[1]!),
    p99Ms: wrkMillis(p99[1]!),
    requests: Number(requests[1]),
    bytesRead: wrkBytes(requests[2]!),
    requestsPerSecond: Number(perSecond[1]),
    socketErrors: socketErrors?.[1],
    badResponses: badResponses ? Number(badResponses[1]) : 0,
  };
}

/**
 * Runs wrk on LOAD_CPU; throws if it fails or prints no report. `preload`: a library to preload into
 * wrk (LD_PRELOAD), whose stderr then comes back with the report.
 */
export async function runWrk(
  workload: HttpWorkload,
  port: number,
  seconds: number,
  connections: number,
  preload?: string,
): Promise<WrkReport & { readonly stderr: string }> {
  const env = preload === undefined ? undefined : { ...process.env, LD_PRELOAD: preload };
  const result = await runPinned(LOAD_CPU, 'wrk', wrkArgs(workload, port, seconds, connections), env);
  if (result.code !== 0) {
    throw new Error(`wrk exited with code ${result.code}: ${(result.stderr || result.stdout).trim()}`);
  }
  return { ...parseWrkOutput(result.stdout), stderr: result.stderr };
}

/**
 * Why a wrk report makes the run a failure; empty if it does not. `uncompressedBytes`: for a workload
 * whose responses must be compressed, the uncompressed body's size, which a response must stay under.
 */
export function wrkProblems(report: WrkReport, uncompressedBytes?: number): string[] {
  const problems: string[] = [];
  if (uncompressedBytes !== undefined && report.requests > 0) {
    const perResponse = report.bytesRead / report.requests;
    if (perResponse >= uncompressedBytes)
      problems.push(
        `${Math.round(perResponse)} bytes read per response, not under the ${uncompressedBytes} of the uncompressed body`,
      );
  }
  if (report.requests === 0) problems.push('no request completed');
  if (report.badResponses > 0) problems.push(`${report.badResponses} non-2xx/3xx responses`);
  if (report.socketErrors !== undefined) problems.push(`socket errors: ${report.socketErrors}`);
  return problems;
}
