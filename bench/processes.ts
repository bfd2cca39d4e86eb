// Child processes of the runner: where they run (pinned with taskset), tracking them so that an
// interrupted benchmark leaves none behind, and stopping them.
import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The repository root: every child runs there. */
export const ROOT_DIR = join(import.meta.dirname, '..');

export const SERVER_CPU = '0';
/** CPU of the load generator: wrk, or ws-load.ts in the websocket section. */
export const LOAD_CPU = '1';
/** CPUs of a server with more than one worker (scaling section); wrk stays on LOAD_CPU. */
export const MULTI_WORKER_CPUS = '0,1';
/** How long a child has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 3_000;

/** Children still running, killed if the benchmark itself is interrupted. */
const liveChildren = new Set<ChildProcess>();

/** Resolves when `child` has closed (or failed to spawn); until then killLiveChildren() kills it. */
export function track(child: ChildProcess): Promise<void> {
  liveChildren.add(child);
  return new Promise((resolve) => {
    child.once('close', () => {
      liveChildren.delete(child);
      resolve();
    });
    child.once('error', () => {
      liveChildren.delete(child);
      resolve();
    });
  });
}

export function killLiveChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, then SIGKILL if `child` has not exited after KILL_GRACE_MS; resolves once it has exited. */
export async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  child.kill('SIGTERM');
  if (!(await settlesWithin(exited, KILL_GRACE_MS))) {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Spawns `command` under `taskset -c <cpus>` in the repository root, stdout and stderr piped. taskset
 * execs the command, so the child's pid is the command's own (what /proc is read for).
 */
export function spawnPinned(
  cpus: string,
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly stdin?: 'ignore' | 'pipe' } = {},
): ChildProcessByStdio<Writable | null, Readable, Readable> {
  const pinned = ['-c', cpus, command, ...args];
  const where = { cwd: ROOT_DIR, env: options.env };
  return options.stdin === 'pipe'
    ? spawn('taskset', pinned, { ...where, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn('taskset', pinned, { ...where, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command` pinned to `cpus` to completion and collects its output; rejects if it can't spawn. */
export async function runPinned(
  cpus: string,
  command: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  const child = spawnPinned(cpus, command, args, env === undefined ? {} : { env });
  let stdout = '';
  let stderr = '';
  let spawnError: Error | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.once('error', (error) => {
    spawnError = error;
  });
  await track(child);
  if (spawnError) throw spawnError;
  return { code: child.exitCode, stdout, stderr };
}

/**
 * Runs a load generator (`node script args…`) on LOAD_CPU and hands each line it prints to `onLine`,
 * which returns the run's result once it has it (and may throw: that fails the run). Resolves with that
 * result when the child exits cleanly; rejects if it fails, prints no result, or outlives `timeoutMs`.
 */
export function runLoadGenerator<T>(
  name: string,
  args: readonly string[],
  timeoutMs: number,
  onLine: (line: string) => T | undefined,
): Promise<T> {
  const child = spawnPinned(LOAD_CPU, process.execPath, args);
  const exited = track(child);
  return new Promise<T>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let spawnError: Error | undefined;
    let result: T | undefined;
    let problem: Error | undefined;
    const timer = setTimeout(() => {
      problem ??= new Error(`${name} did not finish in time`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const lines = stdout.split('\n');
      stdout = lines.pop() ?? '';
      for (const line of lines) {
        try {
          result ??= onLine(line.trim());
        } catch (error) {
          // E.g. a server exited, so its /proc entry is gone.
          problem ??= error instanceof Error ? error : new Error(String(error));
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.once('error', (error) => {
      spawnError = error;
    });
    exited.then(() => {
      clearTimeout(timer);
      if (spawnError) reject(spawnError);
      else if (problem) reject(problem);
      else if (child.exitCode !== 0) {
        const output = stderr.trim() || `code ${child.exitCode}, signal ${child.signalCode}`;
        reject(new Error(`${name} failed: ${output}`));
      } else if (result === undefined) reject(new Error(`${name} printed no report`));
      else resolve(result);
    });
  });
}
