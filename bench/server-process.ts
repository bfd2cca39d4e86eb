// A server under test as a process: started pinned to its CPUs, waited for until it listens, its minor
// GCs counted from `--trace-gc`, and stopped.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { errorMessage } from './log.ts';
import { waitForPort } from './net.ts';
import { NGINX, nginxArgs } from './nginx.ts';
import { hasExited, spawnPinned, terminate, track } from './processes.ts';
import { BUN, BUN_BINARY, isNginx, isUws, type ServerSpec, serverCpus, type Workload } from './sections.ts';
import { comparisonLargeFile, staticDir } from './temp-dir.ts';
import { tlsFiles } from './tls.ts';
import { UWS_MODULE } from './uws.ts';

const SERVERS_DIR = join(import.meta.dirname, 'servers');
const STARTUP_TIMEOUT_MS = 15_000;
/** Keep-alive timeout given to the servers of the idle section, so its connections stay open. */
const IDLE_KEEP_ALIVE_MS = 120_000;
/** A `--trace-gc` line for a young-generation collection (V8's Scavenger, or its minor mark-sweep). */
const MINOR_GC_LINE = /: (?:Scavenge|Minor Mark-Sweep|Minor Mark-Compact)\b/;

/** What starting a server needs besides its spec and workload, the same for every run of a benchmark. */
export interface ServerSetup {
  /** The benchmark's temp directory (temp-dir.ts). */
  readonly tempDir: string;
  /** The Node 20 that runs uWebSockets.js, if it can run (uws.ts). */
  readonly uwsNode: string | undefined;
  /** The run's Redis (redis.ts), for the pubsub section's cross-instance row, if it runs. */
  readonly redisUrl?: string | undefined;
}

export interface RunningServer {
  /** Pid of the Node process itself (the primary, with workers): taskset execs it, so it keeps taskset's pid. */
  readonly pid: number;
  readonly port: number;
  isAlive(): boolean;
  /** The last few KB the server wrote to stderr. */
  stderrTail(): string;
  /** Young-generation collections so far (`--trace-gc` lines), or null for a server that is not Node. */
  minorGcs(): number | null;
  /** SIGTERM, then SIGKILL if it has not exited after KILL_GRACE_MS. */
  stop(): Promise<void>;
}

/** `message`, followed by the tail of the server's stderr if it wrote any. */
export function withStderr(message: string, server: RunningServer): string {
  const tail = server.stderrTail();
  return tail === '' ? message : `${message}\n    server stderr:\n${tail.replace(/^/gm, '      ')}`;
}

/** Resolves once the server prints `listening`; rejects if it exits, fails to spawn or takes too long. */
function waitForListening(child: ChildProcess, exited: Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(
      () => reject(new Error(`no "listening" within ${STARTUP_TIMEOUT_MS} ms`)),
      STARTUP_TIMEOUT_MS,
    );
    const onData = (chunk: string): void => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (lines.some((line) => line.trim() === 'listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before listening (code ${child.exitCode}, signal ${child.signalCode})`));
    });
  });
}

/** Spawns the server under taskset: a bench/servers script on Node, or nginx from a generated config. */
function spawnServer(spec: ServerSpec, workload: Workload, port: number, setup: ServerSetup) {
  const cpus = serverCpus(workload);
  if (isNginx(spec)) return spawnPinned(cpus, NGINX, nginxArgs(spec, setup.tempDir, port));
  const script = join(SERVERS_DIR, spec.script);
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), WORKERS: String(workload.workers) };
  env.STATIC_DIR = staticDir(setup.tempDir);
  if (workload.kind === 'http' && workload.tls) {
    env.TLS_CERT = tlsFiles(setup.tempDir).cert;
    env.TLS_KEY = tlsFiles(setup.tempDir).key;
  }
  if (workload.kind === 'idle') env.KEEP_ALIVE_MS = String(IDLE_KEEP_ALIVE_MS);
  if (workload.kind === 'pubsub' && workload.instances > 1 && setup.redisUrl !== undefined)
    env.REDIS_URL = setup.redisUrl;
  if (workload.kind === 'idle' && workload.websocket === true) env.IDLE_WEBSOCKET = '1';
  if (workload.kind === 'ws' && workload.maxMessageBytes !== undefined)
    env.WS_MAX_MESSAGE_BYTES = String(workload.maxMessageBytes);
  // --trace-gc prints a line per collection (worker threads' and cluster workers' too): counted below.
  if (spec === BUN) return spawnPinned(cpus, BUN_BINARY, [script], { env });
  if (isUws(spec)) {
    env.UWS_MODULE = UWS_MODULE;
    env.LARGE_BODY_FILE = comparisonLargeFile(setup.tempDir);
    return spawnPinned(cpus, setup.uwsNode ?? 'node', ['--trace-gc', script], { env });
  }
  return spawnPinned(cpus, process.execPath, ['--trace-gc', script], { env });
}

export async function startServer(
  spec: ServerSpec,
  workload: Workload,
  port: number,
  setup: ServerSetup,
): Promise<RunningServer> {
  const child = spawnServer(spec, workload, port, setup);
  const exited = track(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  let scavenges = 0;
  let partialLine = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partialLine + chunk).split('\n');
    partialLine = lines.pop() ?? '';
    for (const line of lines) if (MINOR_GC_LINE.test(line)) scavenges++;
  });
  const server: RunningServer = {
    pid: child.pid ?? -1,
    port,
    isAlive: () => !hasExited(child),
    stderrTail: () => stderr.trim(),
    minorGcs: () => (isNginx(spec) || spec === BUN ? null : scavenges),
    stop: () => terminate(child, exited),
  };
  try {
    // nginx prints nothing: wait until its port accepts connections.
    if (isNginx(spec)) await waitForPort(port, exited, STARTUP_TIMEOUT_MS);
    else await waitForListening(child, exited);
  } catch (error) {
    await server.stop();
    throw new Error(withStderr(`${spec.label} did not start: ${errorMessage(error)}`, server));
  }
  return server;
}
