import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ListenError, UsageError } from './errors.ts';
import type { MetricsAnswer, MetricsRequest } from './observe/client.ts';
import { MetricsGatherer, type Reporter } from './observe/gather.ts';
import type { ServerMetrics, WorkerSnapshot } from './observe/metrics.ts';
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
 * listens, replaces a worker that dies, and shuts them all down. Workers are threads (each listening
 * with SO_REUSEPORT) or, in cluster mode, processes.
 *
 * Something always holds the port. A worker with an uncaught error reports it and keeps serving; if no
 * other worker serves, its replacement starts at once, and the dying worker retires (stops accepting,
 * finishes what is in flight, exits) only once another worker listens. Only a worker that dies while
 * others serve is restarted after a delay, which grows while it keeps dying.
 *
 * A rolling restart (`restartWorkers()`, SIGHUP) replaces the workers one slot at a time: the new
 * worker listens before the old one retires, gracefully, so the port is served throughout.
 */

/** Messages between the primary and its workers. */
export type PoolMessage =
  | { peregrine: 'listening' }
  | { peregrine: 'failed'; message: string; code?: string }
  /** A worker had an uncaught error: it keeps serving until the primary tells it to retire. */
  | { peregrine: 'crashed'; message: string }
  /**
   * Primary → worker: stop serving and exit. A crashed worker retires within RETIRE_GRACE_MS; one
   * replaced by a rolling restart (`graceful`) gets the whole shutdownTimeout.
   */
  | { peregrine: 'retire'; graceful?: boolean }
  /** Primary → worker: shutdown is coming (shutdownDelay): readiness answers 503 from now on. */
  | { peregrine: 'draining' }
  /** Worker → primary: the program called `server.restartWorkers()` in a worker. */
  | { peregrine: 'restart' }
  /** Primary → worker: stop gracefully; `timeout` in ms, the server's shutdownTimeout unless given. */
  | { peregrine: 'shutdown'; timeout?: number }
  /** Primary → worker: read the TLS certificate files again (SIGHUP). */
  | { peregrine: 'reload-certificates' }
  /** Worker → primary: the program called `server.stop()` in a worker; stop the whole server. */
  | { peregrine: 'stop'; closeActiveConnections: boolean }
  | { peregrine: 'stopped' }
  /** Worker → primary: a scrape; the primary answers with the sums over every worker. */
  | MetricsRequest
  | MetricsAnswer
  /** Primary → worker: send your snapshot for gathering round `id`. */
  | { peregrine: 'metrics-snapshot-request'; id: number }
  | { peregrine: 'metrics-snapshot'; id: number; snapshot: WorkerSnapshot | null }
  | BroadcastMessage;

export type PoolMode = 'threads' | 'cluster';

/** A backed-off restart first waits this long; each quick death while others serve doubles it, up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before dying is not part of a crash loop. */
const STABLE_MS = 10_000;
/** Beyond shutdownTimeout, how long workers get to report and exit before they are killed. */
const EXIT_GRACE_MS = 2_000;
/**
 * How long a retiring worker gets to finish the requests in flight before it exits anyway. Its state
 * is suspect after an uncaught error, so it is short.
 */
export const RETIRE_GRACE_MS = 1_000;
/** How long a rolling restart waits for a new worker to listen before it gives up (and keeps the old one). */
const RESTART_LISTEN_TIMEOUT_MS = 30_000;
/**
 * How long a worker replaced by a rolling restart, no longer accepting, gives its keep-alive
 * connections to bring one more request (answered with Connection: close) before closing idle ones.
 */
export const RESTART_LAST_CALL_MS = 1_000;

interface WorkerHandle {
  /** A short label for logs: "worker 2 (thread 7)". */
  readonly label: string;
  post(message: PoolMessage): void;
  kill(): void;
}

/** One worker thread or process. A slot's dying worker and its replacement can run side by side. */
interface Member {
  readonly slot: Slot;
  handle: WorkerHandle;
  readonly startedAt: number;
  listening: boolean;
  /** 'dying': had an uncaught error, still serving; 'retiring': told to stop, draining. */
  state: 'running' | 'dying' | 'retiring';
  /** How the metrics gatherer reaches it. */
  readonly reporter: Reporter;
  /** Resolves when the worker has exited. */
  readonly exited: Promise<void>;
  /** Set while a rolling restart waits for this worker to listen: called when it does, or with why not. */
  onListening: ((error?: Error) => void) | null;
}

interface Slot {
  readonly index: number;
  /** The slot's worker, unless it is dying, dead, or waiting for its restart. */
  current: Member | null;
  restartDelay: number;
  restartTimer: NodeJS.Timeout | null;
  /** Workers started for this slot so far: all but the first are restarts. */
  spawns: number;
  /** A rolling restart's new worker for this slot, until it listens (then it becomes `current`). */
  incoming: Member | null;
}

export class WorkerPool {
  /** Open connections per slot, written by the workers (threads mode). */
  readonly connectionCounts: Int32Array;
  /** TLS session ticket keys, the same in every worker (replacements included): a session resumes on any. */
  private readonly ticketKeys = randomBytes(48);
  private readonly instanceId = randomBytes(8);
  private readonly options: ResolvedOptions;
  private readonly mode: PoolMode;
  private readonly script: string;
  private readonly port: number;
  private readonly slots: Slot[] = [];
  /** Every worker still running, the dying and retiring ones included. */
  private readonly members = new Set<Member>();
  private readonly gatherer = new MetricsGatherer();
  private stopping = false;
  /** Shutdown is announced (shutdownDelay): readiness is 503 in every worker, new ones included. */
  private draining = false;
  /** The rolling restart running, and the one more queued behind it. */
  private restarting: Promise<void> | null = null;
  private restartQueued: Promise<void> | null = null;
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
        current: null,
        restartDelay: 0,
        restartTimer: null,
        spawns: 0,
        incoming: null,
      });
    }
  }

  /** Starts every worker; resolves when all listen, rejects (and stops the others) if one can't. */
  start(): Promise<void> {
    if (this.mode === 'cluster') {
      cluster.schedulingPolicy = cluster.SCHED_RR;
      // 'advanced': IPC messages are structured clones, as between threads, so bytes stay bytes (with
      // JSON a published Uint8Array arrived as a plain object and crashed the worker delivering it).
      cluster.setupPrimary({ exec: this.script, args: process.argv.slice(2), serialization: 'advanced' });
      // Processes share no BroadcastChannel: the primary relays channel() messages between them.
      setClusterRelay((message) => this.relay(message, null));
    }
    return new Promise<void>((resolve, reject) => {
      this.startupSettled = (error) => {
        this.startupSettled = null;
        if (error === undefined) {
          this.started = true;
          resolve();
        } else {
          this.stopping = true;
          for (const member of this.members) member.handle.kill();
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

  /** Set by the Server: a worker asked for the whole server to stop (`server.stop()` in a worker). */
  onStopAsked: ((closeActiveConnections: boolean) => void) | null = null;

  /**
   * Asks every worker to shut down gracefully (within `timeout` ms, the server's shutdownTimeout
   * unless given); kills those still running after the deadline.
   */
  async shutdown(timeout = this.options.shutdownTimeout): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) {
      if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
    }
    if (this.members.size === 0) return;
    const allExited = new Promise<void>((resolve) => {
      this.exited = resolve;
    });
    for (const member of this.members) member.handle.post({ peregrine: 'shutdown', timeout });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout + EXIT_GRACE_MS);
    });
    await Promise.race([allExited, deadline]);
    clearTimeout(timer);
    for (const member of this.members) member.handle.kill();
  }

  /** The server's numbers, gathered from every listening worker (see MetricsGatherer). */
  collectMetrics(): Promise<ServerMetrics> {
    const reporters: Reporter[] = [];
    for (const member of this.members) if (member.listening) reporters.push(member.reporter);
    return this.gatherer.gather(reporters, this.options.workers);
  }

  /** Starts a worker for `slot`: its current one, or (`incoming`) a rolling restart's replacement. */
  private spawn(slot: Slot, incoming = false): Member {
    if (slot.spawns++ > 0) this.gatherer.restarts++;
    let exited!: () => void;
    const member: Member = {
      slot,
      handle: null as unknown as WorkerHandle, // set just below, before any event can arrive
      startedAt: Date.now(),
      listening: false,
      state: 'running',
      reporter: { ask: (id) => member.handle.post({ peregrine: 'metrics-snapshot-request', id }) },
      exited: new Promise<void>((resolve) => {
        exited = resolve;
      }),
      onListening: null,
    };
    const events = {
      message: (message: unknown) => this.onMessage(member, message),
      exit: (code: number, error: Error | undefined) => {
        this.onExit(member, code, error);
        exited();
      },
    };
    member.handle =
      this.mode === 'threads' ? this.startThread(slot, events) : this.startProcess(slot, events);
    if (incoming) slot.incoming = member;
    else slot.current = member;
    this.members.add(member);
    return member;
  }

  private startThread(slot: Slot, events: WorkerEvents): WorkerHandle {
    const context: WorkerContext = {
      index: slot.index,
      port: this.port,
      shared: sharedRegistry(),
      connections: this.connectionCounts,
      ticketKeys: this.ticketKeys,
      instanceId: this.instanceId,
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
      PEREGRINE_TICKET_KEYS: this.ticketKeys.toString('hex'),
      PEREGRINE_INSTANCE: this.instanceId.toString('hex'),
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

  /** Shutdown is coming: every worker's readiness answers 503 from now on (see shutdownDelay). */
  drain(): void {
    this.draining = true;
    for (const member of this.members) member.handle.post({ peregrine: 'draining' });
  }

  /**
   * Replaces every worker, one slot at a time: starts the new worker, waits until it listens, then
   * retires the old one gracefully (it stops accepting, answers what is in flight with Connection:
   * close, closes its WebSockets with 1001, within shutdownTimeout) and waits for it to exit before
   * the next slot. If a new worker fails to start, the old one stays and the restart stops (rejects).
   * Asked while one runs, one more restart follows it (the workers it already replaced started
   * before the request); further requests meanwhile join that one.
   */
  restartWorkers(): Promise<void> {
    if (this.stopping || this.draining)
      return Promise.reject(new UsageError('ERR_PEREGRINE_SHUTTING_DOWN', 'the server is shutting down'));
    if (this.restarting === null) return this.runRestart();
    this.restartQueued ??= this.restarting
      .catch(() => {})
      .then(() => {
        this.restartQueued = null;
        return this.runRestart();
      });
    return this.restartQueued;
  }

  private runRestart(): Promise<void> {
    const run: Promise<void> = this.rollSlots().finally(() => {
      if (this.restarting === run) this.restarting = null;
    });
    this.restarting = run;
    return run;
  }

  private async rollSlots(): Promise<void> {
    this.log(`peregrine: restarting ${this.slots.length} workers, one at a time`);
    try {
      for (const slot of this.slots) {
        if (this.stopping) throw new UsageError('ERR_PEREGRINE_SHUTTING_DOWN', 'the server is shutting down');
        await this.replace(slot);
      }
    } catch (error) {
      this.log(`peregrine: restart stopped: ${(error as Error).message}`);
      throw error;
    }
    this.log('peregrine: restart done, every worker replaced');
  }

  /** One slot of a rolling restart. */
  private async replace(slot: Slot): Promise<void> {
    const old = slot.current;
    // A slot waiting for its crash restart gets a new worker anyway.
    if (old === null || old.state !== 'running') return;
    const incoming = this.spawn(slot, true);
    await this.listeningOf(incoming);
    if (this.stopping) return;
    if (old.state === 'running') {
      this.log(`peregrine: ${incoming.handle.label} listens; ${old.handle.label} retires`);
      old.state = 'retiring';
      old.handle.post({ peregrine: 'retire', graceful: true });
    }
    // One that can't finish in time (a hung deinit, a busy loop) is ended for it.
    const kill = setTimeout(() => {
      if (this.members.has(old)) old.handle.kill();
    }, this.options.shutdownTimeout + EXIT_GRACE_MS);
    await old.exited;
    clearTimeout(kill);
  }

  /** Resolves when a rolling restart's new worker listens; rejects (and ends it) if it can't. */
  private listeningOf(member: Member): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        member.onListening?.(
          new Error(`${member.handle.label} did not listen within ${RESTART_LISTEN_TIMEOUT_MS} ms`),
        );
        member.handle.kill();
      }, RESTART_LISTEN_TIMEOUT_MS);
      member.onListening = (error) => {
        member.onListening = null;
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
    });
  }

  /** Every worker reads its TLS certificate files again. */
  reloadCertificates(): void {
    for (const member of this.members) member.handle.post({ peregrine: 'reload-certificates' });
  }

  private relay(message: BroadcastMessage, except: Member | null): void {
    for (const member of this.members) if (member !== except && member.listening) member.handle.post(message);
  }

  /** Whether a healthy worker other than `except` is listening. */
  private othersServe(except: Member | null): boolean {
    for (const member of this.members)
      if (member !== except && member.listening && member.state === 'running') return true;
    return false;
  }

  private onMessage(member: Member, message: unknown): void {
    if (isBroadcast(message)) {
      deliverBroadcast(message);
      this.relay(message, member);
      return;
    }
    const kind = (message as { peregrine?: unknown } | null)?.peregrine;
    if (kind === 'listening') {
      member.listening = true;
      if (this.draining) member.handle.post({ peregrine: 'draining' });
      const slot = member.slot;
      if (slot.incoming === member) {
        // A rolling restart's new worker: it is the slot's worker now.
        slot.incoming = null;
        if (slot.current === null || slot.current.state !== 'running') {
          if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
          slot.restartTimer = null;
        }
        slot.current = member;
        member.onListening?.();
      } else if (this.started) this.log(`peregrine: ${member.handle.label} is back and listening`);
      else if (this.slots.every((s) => s.current?.listening === true)) this.startupSettled?.();
      // Another worker listens now: the dying ones can go.
      this.retireDying();
    } else if (kind === 'failed') {
      const { message: text, code } = message as { message: string; code?: string };
      const error = ListenError.isListenCode(code)
        ? new ListenError(code, text)
        : Object.assign(new Error(text), code === undefined ? {} : { code });
      if (this.startupSettled !== null) this.startupSettled(error);
      else this.log(`peregrine: ${member.handle.label} could not start: ${text}`);
    } else if (kind === 'crashed') {
      this.onCrash(member, (message as { message: string }).message);
    } else if (kind === 'metrics-snapshot') {
      const { id, snapshot } = message as { id: number; snapshot: WorkerSnapshot | null };
      this.gatherer.received(member.reporter, id, snapshot);
    } else if (kind === 'metrics-request') {
      const { id } = message as MetricsRequest;
      void this.collectMetrics().then((metrics) => member.handle.post({ peregrine: 'metrics', id, metrics }));
    } else if (kind === 'stop') {
      this.onStopAsked?.((message as { closeActiveConnections: boolean }).closeActiveConnections === true);
    } else if (kind === 'restart') {
      this.restartWorkers().catch(() => {}); // logged by the restart itself
    }
  }

  /**
   * A worker had an uncaught error. It goes on serving until another worker listens: now, if another
   * serves (then its own restart is backed off), else once its replacement, started at once, listens.
   */
  private onCrash(member: Member, why: string): void {
    if (member.state !== 'running' || this.stopping) return;
    if (member.slot.incoming === member) {
      // A rolling restart's new worker that fails before it listens: the old one serves on.
      this.log(`peregrine: ${member.handle.label} died before listening (${why})`);
      member.handle.kill();
      return;
    }
    member.state = 'dying';
    const slot = member.slot;
    if (slot.current === member) slot.current = null;
    if (this.othersServe(member)) {
      this.scheduleRestart(slot, member, why);
      this.retireDying();
    } else {
      this.log(`peregrine: ${member.handle.label} died (${why}); restarting now, it serves until then`);
      this.restartNow(slot);
    }
  }

  /** Tells every dying worker to retire, if another worker listens to take its place. */
  private retireDying(): void {
    if (!this.othersServe(null)) return;
    for (const member of this.members) {
      if (member.state !== 'dying') continue;
      member.state = 'retiring';
      member.handle.post({ peregrine: 'retire' });
      // A worker that can't finish retiring (a hung deinit, a busy loop) is ended for it.
      setTimeout(() => {
        if (this.members.has(member)) member.handle.kill();
      }, RETIRE_GRACE_MS + EXIT_GRACE_MS).unref();
    }
  }

  private onExit(member: Member, code: number, error: Error | undefined): void {
    const label = member.handle.label;
    const slot = member.slot;
    this.members.delete(member);
    this.gatherer.gone(member.reporter);
    if (slot.incoming === member) {
      // A rolling restart's new worker exited before it listened: the restart fails, the old worker
      // stays (or, had it died meanwhile, the slot is restarted as after any crash).
      slot.incoming = null;
      const why = error === undefined ? `exit code ${code}` : (error.stack ?? String(error));
      member.onListening?.(new Error(`${label} exited before it was listening (${why})`));
      if (this.stopping) {
        if (this.members.size === 0) this.exited?.();
      } else if (slot.current === null && slot.restartTimer === null) this.scheduleRestart(slot, member, why);
      return;
    }
    const wasCurrent = slot.current === member;
    if (wasCurrent) slot.current = null;
    if (slot.current === null) Atomics.store(this.connectionCounts, slot.index, 0);
    if (this.stopping) {
      if (this.members.size === 0) this.exited?.();
      return;
    }
    const why = error === undefined ? `exit code ${code}` : (error.stack ?? String(error));
    if (this.startupSettled !== null && !member.listening && member.state === 'running') {
      // Dying before the first listen is a broken program, not bad luck: fail fast instead of looping.
      this.startupSettled(error ?? new Error(`${label} exited before it was listening (${why})`));
      return;
    }
    if (member.state === 'running') {
      // Died without reporting first (out of memory, process.exit(), a signal), or before it listened
      // (then at once again would be a tight loop: back off while anything at all holds the port).
      if (this.othersServe(null) || !member.listening) this.scheduleRestart(slot, member, why);
      else {
        this.log(`peregrine: ${label} died (${why}); restarting now`);
        this.restartNow(slot);
      }
    }
    // No worker listens any more (a dying one exited before its replacement listened): restart now
    // every slot that waits.
    if (!this.anyListening()) for (const s of this.slots) if (s.restartTimer !== null) this.restartNow(s);
  }

  private anyListening(): boolean {
    for (const member of this.members) if (member.listening && member.state !== 'retiring') return true;
    return false;
  }

  /** Restarts the slot after a delay that grows while it keeps dying; others serve meanwhile. */
  private scheduleRestart(slot: Slot, member: Member, why: string): void {
    const ranFor = Date.now() - member.startedAt;
    slot.restartDelay =
      ranFor >= STABLE_MS
        ? RESTART_MIN_MS
        : Math.min(Math.max(slot.restartDelay * 2, RESTART_MIN_MS), RESTART_MAX_MS);
    this.log(`peregrine: ${member.handle.label} died (${why}); restarting in ${slot.restartDelay} ms`);
    if (slot.restartTimer !== null || slot.current !== null) return;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (!this.stopping && slot.current === null) this.spawn(slot);
    }, slot.restartDelay);
  }

  private restartNow(slot: Slot): void {
    if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    if (!this.stopping && slot.current === null) this.spawn(slot);
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
