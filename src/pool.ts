import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { Worker } from 'node:worker_threads';
import type { ResolvedOptions } from './options.ts';
import {
  type BroadcastMessage,
  deliverBroadcast,
  isBroadcast,
  setClusterRelay,
  sharedRegistry,
  type WorkerContext,
  workerDataFor,
} from './shared.ts';

/**
 * The primary's side of a multi-worker server: it starts one worker per slot, waits until every worker
 * listens, restarts a worker that dies (backing off when one keeps dying), and shuts them all down.
 * Workers are threads (each listening with SO_REUSEPORT) or, in cluster mode, processes.
 */

/** Messages between the primary and its workers. */
export type PoolMessage =
  | { peregrine: 'listening' }
  | { peregrine: 'failed'; message: string; code?: string }
  | { peregrine: 'shutdown' }
  | { peregrine: 'stopped' }
  | BroadcastMessage;

export type PoolMode = 'threads' | 'cluster';

/** The first restart waits this long; each quick crash doubles it, up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before dying is not part of a crash loop. */
const STABLE_MS = 10_000;
/** Beyond shutdownTimeout, how long workers get to report and exit before they are killed. */
const EXIT_GRACE_MS = 2_000;

interface WorkerHandle {
  /** A short label for logs: "worker 2 (thread 7)". */
  readonly label: string;
  post(message: PoolMessage): void;
  kill(): void;
}

interface Slot {
  readonly index: number;
  handle: WorkerHandle | null;
  startedAt: number;
  listening: boolean;
  restartDelay: number;
  restartTimer: NodeJS.Timeout | null;
}

export class WorkerPool {
  /** Open connections per slot, written by the workers (threads mode). */
  readonly connectionCounts: Int32Array;
  private readonly options: ResolvedOptions;
  private readonly mode: PoolMode;
  private readonly script: string;
  private readonly port: number;
  private readonly slots: Slot[] = [];
  private stopping = false;
  private started = false;
  private startupSettled: ((error?: Error) => void) | null = null;
  private exited: (() => void) | null = null;

  constructor(options: ResolvedOptions, mode: PoolMode, script: string, port: number) {
    this.options = options;
    this.mode = mode;
    this.script = script;
    this.port = port;
    this.connectionCounts = new Int32Array(new SharedArrayBuffer(4 * options.workers));
    for (let index = 0; index < options.workers; index++) {
      this.slots.push({
        index,
        handle: null,
        startedAt: 0,
        listening: false,
        restartDelay: 0,
        restartTimer: null,
      });
    }
  }

  /** Starts every worker; resolves when all listen, rejects (and stops the others) if one can't. */
  start(): Promise<void> {
    if (this.mode === 'cluster') {
      cluster.schedulingPolicy = cluster.SCHED_RR;
      cluster.setupPrimary({ exec: this.script, args: process.argv.slice(2) });
      // Processes share no BroadcastChannel: the primary relays channel() messages between them.
      setClusterRelay((message, except) => this.relay(message, except));
    }
    return new Promise<void>((resolve, reject) => {
      this.startupSettled = (error) => {
        this.startupSettled = null;
        if (error === undefined) {
          this.started = true;
          resolve();
        } else {
          this.stopping = true;
          for (const slot of this.slots) slot.handle?.kill();
          reject(error);
        }
      };
      for (const slot of this.slots) this.spawn(slot);
    });
  }

  get connections(): number {
    let total = 0;
    for (let i = 0; i < this.connectionCounts.length; i++) total += Atomics.load(this.connectionCounts, i);
    return total;
  }

  /** Asks every worker to shut down gracefully; kills those still running after the deadline. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    const running = this.slots.filter((slot) => slot.handle !== null);
    for (const slot of this.slots) {
      if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
    }
    if (running.length === 0) return;
    const allExited = new Promise<void>((resolve) => {
      this.exited = resolve;
    });
    for (const slot of running) slot.handle!.post({ peregrine: 'shutdown' });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.shutdownTimeout + EXIT_GRACE_MS);
    });
    await Promise.race([allExited, deadline]);
    clearTimeout(timer);
    for (const slot of this.slots) slot.handle?.kill();
  }

  private spawn(slot: Slot): void {
    slot.startedAt = Date.now();
    slot.listening = false;
    const events = {
      message: (message: unknown) => this.onMessage(slot, message),
      exit: (code: number, error: Error | undefined) => this.onExit(slot, code, error),
    };
    slot.handle = this.mode === 'threads' ? this.startThread(slot, events) : this.startProcess(slot, events);
  }

  private startThread(slot: Slot, events: WorkerEvents): WorkerHandle {
    const context: WorkerContext = {
      index: slot.index,
      port: this.port,
      shared: sharedRegistry(),
      connections: this.connectionCounts,
    };
    const heap = this.options.workerHeapMb;
    const worker = new Worker(this.script, {
      argv: process.argv.slice(2),
      workerData: workerDataFor(context),
      resourceLimits: heap === 0 ? undefined : { maxOldGenerationSizeMb: heap },
    });
    let failure: Error | undefined;
    worker.on('message', events.message);
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => events.exit(code, failure));
    return {
      label: `worker ${slot.index + 1} (thread ${worker.threadId})`,
      post: (message) => worker.postMessage(message),
      kill: () => void worker.terminate(),
    };
  }

  private startProcess(slot: Slot, events: WorkerEvents): WorkerHandle {
    const worker: ClusterWorker = cluster.fork({
      PEREGRINE_WORKER: String(slot.index),
      PEREGRINE_PORT: String(this.port),
    });
    worker.on('message', events.message);
    worker.on('exit', (code, signal) => {
      events.exit(code ?? 1, signal === null ? undefined : new Error(`killed by ${signal}`));
    });
    worker.on('error', () => {}); // IPC errors: the exit event follows
    return {
      label: `worker ${slot.index + 1} (pid ${worker.process.pid})`,
      post: (message) => {
        if (worker.isConnected()) worker.send(message);
      },
      kill: () => worker.process.kill('SIGKILL'),
    };
  }

  private relay(message: BroadcastMessage, except: number | null): void {
    for (const slot of this.slots) if (slot.index !== except && slot.listening) slot.handle?.post(message);
  }

  private onMessage(slot: Slot, message: unknown): void {
    if (isBroadcast(message)) {
      deliverBroadcast(message);
      this.relay(message, slot.index);
      return;
    }
    const kind = (message as { peregrine?: unknown } | null)?.peregrine;
    if (kind === 'listening') {
      slot.listening = true;
      if (this.started) this.log(`peregrine: ${slot.handle?.label} is back and listening`);
      else if (this.slots.every((s) => s.listening)) this.startupSettled?.();
    } else if (kind === 'failed') {
      const { message: text, code } = message as { message: string; code?: string };
      const error = Object.assign(new Error(text), code === undefined ? {} : { code });
      if (this.startupSettled !== null) this.startupSettled(error);
      else this.log(`peregrine: ${slot.handle?.label} could not start: ${text}`);
    }
  }

  private onExit(slot: Slot, code: number, error: Error | undefined): void {
    const label = slot.handle?.label ?? `worker ${slot.index + 1}`;
    slot.handle = null;
    if (this.stopping) {
      if (this.slots.every((s) => s.handle === null)) this.exited?.();
      return;
    }
    const why = error === undefined ? `exit code ${code}` : (error.stack ?? String(error));
    if (this.startupSettled !== null && !slot.listening) {
      // Dying before the first listen is a broken program, not bad luck: fail fast instead of looping.
      this.startupSettled(error ?? new Error(`${label} exited before it was listening (${why})`));
      return;
    }
    const ranFor = Date.now() - slot.startedAt;
    slot.restartDelay =
      ranFor >= STABLE_MS
        ? RESTART_MIN_MS
        : Math.min(Math.max(slot.restartDelay * 2, RESTART_MIN_MS), RESTART_MAX_MS);
    this.log(`peregrine: ${label} died (${why}); restarting in ${slot.restartDelay} ms`);
    Atomics.store(this.connectionCounts, slot.index, 0);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (!this.stopping) this.spawn(slot);
    }, slot.restartDelay);
  }

  /** Supervision events go to stderr, beside the errors they are about. */
  private log(line: string): void {
    if (this.options.log) console.error(line);
  }
}

interface WorkerEvents {
  message(message: unknown): void;
  exit(code: number, error: Error | undefined): void;
}
