import cluster from 'node:cluster';
import { BroadcastChannel, isMainThread, workerData } from 'node:worker_threads';
import { ConfigError } from './errors.ts';

/**
 * State that workers share on purpose. Workers share nothing by accident: each runs your program in
 * its own thread with its own handler instance; memory created here is the explicit exception.
 */

/** What the primary hands each worker thread when it starts it. */
export interface WorkerContext {
  /** The worker's slot, 0-based. */
  readonly index: number;
  /** The port every worker listens on (resolved by the primary when the option was 0). */
  readonly port: number;
  /** Shared memory the primary created, by name. */
  readonly shared: Map<string, SharedArrayBuffer>;
  /** Open connections per worker slot, for `server.connections` in the primary. */
  readonly connections: Int32Array;
  /** TLS session ticket keys shared by every worker. */
  readonly ticketKeys: Uint8Array;
  /** Names the server instance in pub/sub between instances (8 bytes), the same in every worker. */
  readonly instanceId: Uint8Array;
}

const WORKER_DATA_KEY = 'peregrine';

/** The context of this worker thread, or null in the main thread (or any thread Peregrine didn't start). */
export function workerContext(): WorkerContext | null {
  if (isMainThread) return null;
  const data = workerData as Record<string, unknown> | null;
  return (data?.[WORKER_DATA_KEY] as WorkerContext | undefined) ?? null;
}

/** Wraps a context for `new Worker(…, { workerData })`. */
export function workerDataFor(context: WorkerContext): Record<string, WorkerContext> {
  return { [WORKER_DATA_KEY]: context };
}

/** Whether this is the program's primary: not a worker thread or process that Peregrine started. */
export function isPrimary(): boolean {
  return workerContext() === null && !cluster.isWorker;
}

const registry = new Map<string, SharedArrayBuffer>();

/** @internal The memory created so far, handed to every worker the primary starts. */
export function sharedRegistry(): Map<string, SharedArrayBuffer> {
  return registry;
}

/**
 * Memory shared by every worker thread, by name: `new BigInt64Array(sharedMemory('hits', 8))`, then
 * `Atomics.add(…)`. Call it at the top level of your program, before `serve()`: the primary creates
 * the memory and hands it to each worker, where the same call returns the very same memory.
 *
 * In `'cluster'` mode workers are processes, which can't share memory: each gets its own copy.
 */
export function sharedMemory(name: string, byteLength: number): SharedArrayBuffer {
  if (typeof name !== 'string' || name.length === 0)
    throw new ConfigError('sharedMemory() needs a non-empty name');
  if (!Number.isInteger(byteLength) || byteLength <= 0) {
    throw new ConfigError(
      `sharedMemory('${name}') needs a byte length that is a positive integer, got ${byteLength}`,
    );
  }
  let memory = registry.get(name);
  if (memory === undefined) {
    const context = workerContext();
    if (context !== null) {
      memory = context.shared.get(name);
      if (memory === undefined) {
        throw new ConfigError(
          `sharedMemory('${name}') was not created by the primary: call it at the top level of your program, before serve()`,
        );
      }
    } else {
      memory = new SharedArrayBuffer(byteLength);
    }
    registry.set(name, memory);
  }
  if (memory.byteLength !== byteLength) {
    throw new ConfigError(
      `sharedMemory('${name}') already exists with ${memory.byteLength} bytes, not ${byteLength}`,
    );
  }
  return memory;
}

/** A message channel between workers: `postMessage()` reaches the `onmessage` of every other `channel()` of the same name. */
export interface Channel {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/**
 * A channel to every other worker (and the primary): `postMessage(message)` reaches the `onmessage`
 * of every other `channel(name)` with the same name, in any worker. Messages are structured-cloned.
 * It never keeps a worker alive at shutdown. Between threads it is a `BroadcastChannel`; between
 * cluster processes the primary relays the messages.
 */
export function channel(name: string): Channel {
  if (typeof name !== 'string' || name.length === 0)
    throw new ConfigError('channel() needs a non-empty name');
  if (cluster.isWorker || (cluster.isPrimary && clusterRelay !== null)) return new ClusterChannel(name);
  const ch = new BroadcastChannel(`peregrine:${name}`);
  ch.unref();
  return ch as unknown as Channel;
}

/** A broadcast as it travels between cluster processes. */
export interface BroadcastMessage {
  peregrine: 'broadcast';
  channel: string;
  data: unknown;
}

const clusterChannels = new Map<string, Set<ClusterChannel>>();
/** In a cluster primary: sends a broadcast to every worker process but `except`. */
let clusterRelay: ((message: BroadcastMessage, except: number | null) => void) | null = null;
let listeningToPrimary = false;

/** @internal The cluster primary registers how to reach its workers. */
export function setClusterRelay(relay: (message: BroadcastMessage, except: number | null) => void): void {
  clusterRelay = relay;
}

/** @internal Delivers a broadcast to this process's channels of that name, except `from`. */
export function deliverBroadcast(message: BroadcastMessage, from: ClusterChannel | null = null): void {
  const listeners = clusterChannels.get(message.channel);
  if (listeners === undefined) return;
  for (const ch of listeners) if (ch !== from) ch.onmessage?.({ data: structuredClone(message.data) });
}

export function isBroadcast(message: unknown): message is BroadcastMessage {
  return (message as { peregrine?: unknown } | null)?.peregrine === 'broadcast';
}

class ClusterChannel implements Channel {
  onmessage: ((event: { data: unknown }) => void) | null = null;
  private readonly name: string;

  constructor(name: string) {
    this.name = name;
    let set = clusterChannels.get(name);
    if (set === undefined) {
      set = new Set();
      clusterChannels.set(name, set);
    }
    set.add(this);
    if (cluster.isWorker && !listeningToPrimary) {
      listeningToPrimary = true;
      process.on('message', (message: unknown) => {
        if (isBroadcast(message)) deliverBroadcast(message);
      });
    }
  }

  postMessage(data: unknown): void {
    const message: BroadcastMessage = { peregrine: 'broadcast', channel: this.name, data };
    deliverBroadcast(message, this);
    if (cluster.isWorker) {
      if (process.connected) process.send?.(message);
    } else {
      clusterRelay?.(message, null);
    }
  }

  close(): void {
    clusterChannels.get(this.name)?.delete(this);
  }
}
