import {
  WS_CLOSED,
  WS_COUNTERS,
  WS_MESSAGES_IN,
  WS_MESSAGES_OUT,
  WS_OPENED,
  WS_SENDS_DROPPED,
} from '../ws/counters.ts';

/**
 * A worker's own counters, kept in typed arrays indexed by constants: counting a request is a few
 * array increments, with no allocation and no closure. A scrape copies them into a WorkerSnapshot,
 * which travels to the primary (a structured clone) and is summed there with the other workers'.
 */

/** Request methods with their own label (OpenTelemetry's `http.request.method`); the rest are `_OTHER`. */
export const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  '_OTHER',
] as const;
const OTHER_METHOD = METHODS.length - 1;

/** Status classes 1xx–9xx by their first digit (statuses run 100–999); index 0 is unused. */
export const STATUS_CLASSES = 10;

/** `http_server_request_duration_seconds` bucket boundaries: OpenTelemetry's for HTTP servers. */
export const DURATION_BOUNDARIES: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);
/** Buckets per series: one per boundary and the last for everything above (`+Inf`). */
const BUCKETS = DURATION_BOUNDARIES.length + 1;
const CELLS = METHODS.length * STATUS_CLASSES;

/** Which deadline ran out. */
export const TIMEOUT_KINDS = ['headers', 'request', 'handler', 'send', 'keepalive', 'ws_idle'] as const;
export type TimeoutKind = (typeof TIMEOUT_KINDS)[number];
export {
  TIMEOUT_HANDLER,
  TIMEOUT_HEADERS,
  TIMEOUT_KEEPALIVE,
  TIMEOUT_REQUEST,
  TIMEOUT_SEND,
  TIMEOUT_WS_IDLE,
} from '../http/observer.ts';

/** Plain counters, by index into WorkerMetrics.counts: the WebSockets' first (src/ws/counters.ts). */
export const LOG_LINES_DROPPED = WS_COUNTERS;
/** Publications sent to Redis (`pubsub.redis`), received from it, and lost: not sent, Redis being away. */
export const PUBSUB_REMOTE_SENT = WS_COUNTERS + 1;
export const PUBSUB_REMOTE_RECEIVED = WS_COUNTERS + 2;
export const PUBSUB_REMOTE_LOST = WS_COUNTERS + 3;
/** Connections to Redis made again after one was lost. */
export const PUBSUB_REMOTE_RECONNECTS = WS_COUNTERS + 4;
const COUNTERS = WS_COUNTERS + 5;

/** Statuses a parse error can answer with are all below this (400–505). */
const PARSE_STATUSES = 600;

/** The index of a method's label. Method strings from the parsers are interned, so this is a few compares. */
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'CONNECT':
      return 5;
    case 'OPTIONS':
      return 6;
    case 'TRACE':
      return 7;
    case 'PATCH':
      return 8;
    default:
      return OTHER_METHOD;
  }
}

/** What one worker reports at a scrape: counters since it started, gauges as they are now. */
export interface WorkerSnapshot extends WorkerGauges {
  /** The worker's number (its slot + 1), or 0 for a server in one thread. */
  worker: number;
  /** Requests by `method * STATUS_CLASSES + class`. */
  requests: Float64Array;
  /** Duration bucket counts (not cumulative) by `cell * BUCKETS + bucket`. */
  buckets: Float64Array;
  /** Duration sums in seconds by cell. */
  sums: Float64Array;
  /** Parse errors by status code. */
  parseErrors: Float64Array;
  timeouts: Float64Array;
  counters: Float64Array;
  heapUsedBytes: number;
  /** Event-loop delay in seconds since the previous snapshot (NaN when nothing was sampled). */
  eventLoopDelay: EventLoopDelay;
}

/** Event-loop delay statistics, in seconds. */
export interface EventLoopDelay {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The live gauges and transport totals a snapshot needs from the worker. */
export interface WorkerGauges {
  connectionsTotal: number;
  /** Idle connections closed to make room, and connections refused, at maxConnections or ulimit -n. */
  connectionsEvicted: number;
  connectionsRefused: number;
  receivedBytes: number;
  sentBytes: number;
  openConnections: number;
  activeRequests: number;
  openWebSockets: number;
  /** 1 when this worker's pub/sub is connected to Redis, else 0 (also without `pubsub.redis`). */
  pubsubConnected: number;
}

export class WorkerMetrics {
  readonly requests = new Float64Array(CELLS);
  readonly buckets = new Float64Array(CELLS * BUCKETS);
  readonly sums = new Float64Array(CELLS);
  readonly parseErrors = new Float64Array(PARSE_STATUSES);
  readonly timeouts = new Float64Array(TIMEOUT_KINDS.length);
  readonly counts = new Float64Array(COUNTERS);

  /** One response ended: `seconds` from its dispatch. */
  requestEnded(method: string, status: number, seconds: number): void {
    let statusClass = (status / 100) | 0;
    if (statusClass < 1 || statusClass > 9) statusClass = 0;
    const cell = methodIndex(method) * STATUS_CLASSES + statusClass;
    this.requests[cell]!++;
    this.sums[cell]! += seconds;
    // `le` buckets: a duration equal to a boundary belongs to that boundary's bucket.
    let bucket = 0;
    while (bucket < BUCKETS - 1 && seconds > DURATION_BOUNDARIES[bucket]!) bucket++;
    this.buckets[cell * BUCKETS + bucket]!++;
  }

  parseError(status: number): void {
    if (status > 0 && status < PARSE_STATUSES) this.parseErrors[status]!++;
  }

  timedOut(kind: number): void {
    this.timeouts[kind]!++;
  }

  /** A copy of everything, with the gauges given and the event-loop delay measured since the last one. */
  snapshot(worker: number, gauges: WorkerGauges, eventLoopDelay: EventLoopDelay): WorkerSnapshot {
    return {
      worker,
      requests: this.requests.slice(),
      buckets: this.buckets.slice(),
      sums: this.sums.slice(),
      parseErrors: this.parseErrors.slice(),
      timeouts: this.timeouts.slice(),
      counters: this.counts.slice(),
      ...gauges,
      heapUsedBytes: process.memoryUsage().heapUsed,
      eventLoopDelay,
    };
  }
}

/** Snapshot fields that only grow, and are summed over a worker's whole life. */
const ARRAY_COUNTERS = ['requests', 'buckets', 'sums', 'parseErrors', 'timeouts', 'counters'] as const;
const NUMBER_COUNTERS = [
  'connectionsTotal',
  'connectionsEvicted',
  'connectionsRefused',
  'receivedBytes',
  'sentBytes',
] as const;
const GAUGES = ['openConnections', 'activeRequests', 'openWebSockets', 'pubsubConnected'] as const;

/** Counters that survive the workers that counted them (see `addCounters`). */
export type CounterTotals = Pick<
  WorkerSnapshot,
  (typeof ARRAY_COUNTERS)[number] | (typeof NUMBER_COUNTERS)[number]
>;

export function emptyCounters(): CounterTotals {
  const m = new WorkerMetrics();
  return {
    requests: m.requests,
    buckets: m.buckets,
    sums: m.sums,
    parseErrors: m.parseErrors,
    timeouts: m.timeouts,
    counters: m.counts,
    connectionsTotal: 0,
    connectionsEvicted: 0,
    connectionsRefused: 0,
    receivedBytes: 0,
    sentBytes: 0,
  };
}

/** Adds `from`'s counters into `into`. */
export function addCounters(into: CounterTotals, from: CounterTotals): void {
  for (const key of ARRAY_COUNTERS) {
    const target = into[key];
    const source = from[key];
    const n = Math.min(target.length, source.length);
    for (let i = 0; i < n; i++) target[i]! += source[i]!;
  }
  for (const key of NUMBER_COUNTERS) into[key] += from[key];
}

/** Per-worker numbers in the public shape. */
export interface WorkerMetricsView {
  /** The worker's number (1, 2, …), or 0 for a server in one thread. */
  worker: number;
  openConnections: number;
  activeRequests: number;
  openWebSockets: number;
  /** V8 heap in use in that worker's isolate. */
  heapUsedBytes: number;
  /** Event-loop delay since the previous scrape, in seconds. */
  eventLoopDelay: EventLoopDelay;
}

/**
 * The server's numbers, summed over every worker: what `server.metrics()` resolves with, and what
 * the metrics endpoint prints in Prometheus's text format.
 */
export interface ServerMetrics {
  /** Workers the server has, and how many of them did not answer this scrape in time. */
  workers: number;
  /** A missing worker's counters are its last reported ones; its gauges are left out. */
  workersMissing: number;
  /** Workers restarted after dying, since the server started. */
  workerRestarts: number;
  /** Responses, by method (`_OTHER` for unknown methods) and status class (`2xx`). */
  requests: { method: string; statusClass: string; count: number }[];
  /** `http_server_request_duration_seconds`: cumulative bucket counts per boundary, then `+Inf`. */
  requestDuration: {
    boundaries: readonly number[];
    series: { method: string; statusClass: string; buckets: number[]; count: number; sum: number }[];
  };
  /** Requests that could not be parsed (or arrived too slowly), answered with this status and closed. */
  parseErrors: { status: number; count: number }[];
  timeouts: Record<TimeoutKind, number>;
  connectionsTotal: number;
  /** Idle connections closed to make room for new ones (maxConnections, ulimit -n). */
  connectionsEvicted: number;
  /** Connections refused (503, or closed) with nothing idle to close. */
  connectionsRefused: number;
  openConnections: number;
  activeRequests: number;
  /** Bytes read from and written to client sockets. */
  receivedBytes: number;
  sentBytes: number;
  webSockets: {
    open: number;
    opened: number;
    closed: number;
    messagesReceived: number;
    messagesSent: number;
    /** `send()`s that returned 'dropped' (closing, or past wsMaxBufferedBytes). */
    sendsDropped: number;
  };
  /** Access log lines dropped because the output did not keep up. */
  accessLogDroppedLines: number;
  /** Pub/sub between instances through Redis (`pubsub.redis`); all 0 without it. */
  pubsub: {
    /** Workers connected to Redis now. */
    connectedWorkers: number;
    /** Publications sent to Redis, and received from it for this server's subscribers. */
    sent: number;
    received: number;
    /** Publications not sent to Redis because it was unreachable or not keeping up: other instances missed them. */
    lost: number;
    /** Connections to Redis made again after one was lost. */
    reconnects: number;
  };
  perWorker: WorkerMetricsView[];
  /** The process that answered (the primary's, or the only one's). */
  process: { cpuSecondsTotal: number; residentMemoryBytes: number; startTimeSeconds: number };
}

const startTimeSeconds = Math.round(Date.now() / 1000 - process.uptime());

/**
 * The public numbers from counters (every worker's, living or gone) and the snapshots of the workers
 * that answered now (for gauges).
 */
export function toServerMetrics(
  counters: CounterTotals,
  fresh: readonly WorkerSnapshot[],
  workers: number,
  workersMissing: number,
  workerRestarts: number,
): ServerMetrics {
  const requests: ServerMetrics['requests'] = [];
  const series: ServerMetrics['requestDuration']['series'] = [];
  for (let m = 0; m < METHODS.length; m++) {
    for (let c = 0; c < STATUS_CLASSES; c++) {
      const cell = m * STATUS_CLASSES + c;
      const count = counters.requests[cell]!;
      if (count === 0) continue;
      const method = METHODS[m]!;
      const statusClass = c === 0 ? 'other' : `${c}xx`;
      requests.push({ method, statusClass, count });
      const buckets: number[] = [];
      let total = 0;
      for (let b = 0; b < BUCKETS; b++) {
        total += counters.buckets[cell * BUCKETS + b]!;
        buckets.push(total);
      }
      series.push({ method, statusClass, buckets, count: total, sum: counters.sums[cell]! });
    }
  }
  const parseErrors: ServerMetrics['parseErrors'] = [];
  for (let status = 0; status < counters.parseErrors.length; status++) {
    const count = counters.parseErrors[status]!;
    if (count !== 0) parseErrors.push({ status, count });
  }
  const timeouts = {} as Record<TimeoutKind, number>;
  TIMEOUT_KINDS.forEach((kind, i) => {
    timeouts[kind] = counters.timeouts[i]!;
  });
  const gauge = (key: (typeof GAUGES)[number]) => fresh.reduce((sum, s) => sum + s[key], 0);
  const c = counters.counters;
  const cpu = process.cpuUsage();
  return {
    workers,
    workersMissing,
    workerRestarts,
    requests,
    requestDuration: { boundaries: DURATION_BOUNDARIES, series },
    parseErrors,
    timeouts,
    connectionsTotal: counters.connectionsTotal,
    connectionsEvicted: counters.connectionsEvicted,
    connectionsRefused: counters.connectionsRefused,
    openConnections: gauge('openConnections'),
    activeRequests: gauge('activeRequests'),
    receivedBytes: counters.receivedBytes,
    sentBytes: counters.sentBytes,
    webSockets: {
      open: gauge('openWebSockets'),
      opened: c[WS_OPENED]!,
      closed: c[WS_CLOSED]!,
      messagesReceived: c[WS_MESSAGES_IN]!,
      messagesSent: c[WS_MESSAGES_OUT]!,
      sendsDropped: c[WS_SENDS_DROPPED]!,
    },
    accessLogDroppedLines: c[LOG_LINES_DROPPED]!,
    pubsub: {
      connectedWorkers: gauge('pubsubConnected'),
      sent: c[PUBSUB_REMOTE_SENT]!,
      received: c[PUBSUB_REMOTE_RECEIVED]!,
      lost: c[PUBSUB_REMOTE_LOST]!,
      reconnects: c[PUBSUB_REMOTE_RECONNECTS]!,
    },
    perWorker: fresh
      // A slot's dying worker and its replacement may both answer: one series per worker number.
      .filter((s, i) => fresh.findIndex((other) => other.worker === s.worker) === i)
      .map((s) => ({
        worker: s.worker,
        openConnections: s.openConnections,
        activeRequests: s.activeRequests,
        openWebSockets: s.openWebSockets,
        heapUsedBytes: s.heapUsedBytes,
        eventLoopDelay: s.eventLoopDelay,
      }))
      .sort((a, b) => a.worker - b.worker),
    process: {
      cpuSecondsTotal: (cpu.user + cpu.system) / 1e6,
      residentMemoryBytes: process.memoryUsage.rss(),
      startTimeSeconds,
    },
  };
}
