// What is benchmarked: the workloads, the servers (bench/servers/) and the sections that pit Peregrine
// against its peers on them.
import { join } from 'node:path';
import { MULTI_WORKER_CPUS, ROOT_DIR, SERVER_CPU } from './processes.ts';
import { JSON_BODY, LARGE_BODY, SMALL_BODY, UPLOAD_BYTES } from './servers/bodies.ts';

/** wrk connections for the 1 MiB static file: fewer, so that the run is not just memory bandwidth. */
const LARGE_FILE_CONNECTIONS = 20;

/** An HTTP workload, loaded by wrk. */
export interface HttpWorkload {
  readonly kind: 'http';
  readonly name: string;
  readonly path: string;
  /** The exact body the servers must send for `path`. */
  readonly body: string;
  /** Requests per write; 1 means no pipelining. */
  readonly pipeline: number;
  /** Workers per server ($WORKERS); 1 in the comparison section. */
  readonly workers: number;
  /** What the Content-Type must start with; `text/plain` if not given. */
  readonly contentType?: string;
  /** wrk connections; BENCH_CONNECTIONS if not given. */
  readonly connections?: number;
  /** For a POST: the size of every request body (bench/post.lua); GET if not given. */
  readonly uploadBytes?: number;
  /** Over TLS (https://), with the run's certificate (tls.ts). */
  readonly tls?: boolean;
  /**
   * Every request on a new connection (`Connection: close`), each a full TLS handshake: wrk is
   * preloaded with tls.ts's no-resume library, and the run checks that the machine accepted at least
   * as many TCP connections as wrk completed requests.
   */
  readonly newConnections?: boolean;
  /**
   * Report wrk's latency percentiles although requests are pipelined: each is then the time from the
   * write that carried a batch of requests to each of its responses (as TechEmpower reports them).
   */
  readonly batchLatency?: boolean;
  /**
   * HTTP/2 over TLS (ALPN h2), loaded by h2load instead of wrk: `connections` connections, each with
   * `streams` concurrent streams (requests in flight).
   */
  readonly http2?: { readonly streams: number };
  /**
   * Every request says `Accept-Encoding: gzip`, and the response must be gzipped: the check requires
   * `Content-Encoding: gzip` and a body that gunzips to `body`, and the run fails if wrk read as
   * many bytes per response as `body` has.
   */
  readonly acceptEncoding?: 'gzip';
}

/** A WebSocket echo workload, loaded by ws-load.ts. */
export interface WsWorkload {
  readonly kind: 'ws';
  readonly name: string;
  /** Size of every message, in bytes. */
  readonly messageBytes: number;
  /** Messages kept in flight on each connection. */
  readonly window: number;
  readonly workers: 1;
  /** Text messages (printable ASCII) instead of binary. */
  readonly text?: boolean;
  /** Payload bytes per fragment when every message is sent fragmented; one frame if not given. */
  readonly fragmentBytes?: number;
  /** WebSocket connections; BENCH_WS_CONNECTIONS if not given. */
  readonly connections?: number;
  /** The servers' message size limit ($WS_MAX_MESSAGE_BYTES); their 1 MiB default if not given. */
  readonly maxMessageBytes?: number;
}

/** Idle keep-alive connections held open by idle-load.ts while the server's memory is read. */
export interface IdleWorkload {
  readonly kind: 'idle';
  readonly name: string;
  readonly connections: number;
  readonly workers: 1;
  /**
   * WebSockets instead of HTTP keep-alive connections: each one a `GET /` upgraded by the server,
   * which subscribes it to a topic on open, then quiet. Run by the section's Peregrine only
   * ($IDLE_WEBSOCKET=1): the peers' HTTP servers speak no WebSocket.
   */
  readonly websocket?: true;
}

/**
 * Pub/sub fan-out, loaded by pubsub-load.ts: one publisher, `subscribers` WebSockets spread evenly over
 * `instances` server processes (with 2, the servers relay through the run's Redis), 32-byte messages.
 */
export interface PubSubWorkload {
  readonly kind: 'pubsub';
  readonly name: string;
  readonly subscribers: number;
  /** Server processes: 1 (local fan-out) or 2 (cross-instance through Redis, $REDIS_URL). */
  readonly instances: 1 | 2;
  /** Publications in flight: each completes when every subscriber has received it. */
  readonly window: number;
  /** The ids of the servers that run this workload (a row compares Peregrine with one peer). */
  readonly servers: readonly string[];
  readonly workers: 1;
}

export type Workload = HttpWorkload | WsWorkload | IdleWorkload | PubSubWorkload;

export interface ServerSpec {
  /** Name used in BENCH_SERVERS. */
  readonly id: string;
  /** Name shown in the table. */
  readonly label: string;
  /** Entry point, relative to bench/servers/; '' for nginx, which is started from a generated config. */
  readonly script: string;
}

const PEREGRINE: ServerSpec = { id: 'peregrine', label: 'Peregrine', script: 'peregrine.ts' };
const NODE_HTTP: ServerSpec = { id: 'node-http', label: 'node:http', script: 'node-http.ts' };
const NODE_CLUSTER: ServerSpec = {
  id: 'node-cluster',
  label: 'node:cluster',
  script: 'node-http-cluster.ts',
};
const PEREGRINE_WS: ServerSpec = { id: 'peregrine-ws', label: 'Peregrine', script: 'peregrine-ws.ts' };
export const WS_ECHO: ServerSpec = { id: 'ws-echo', label: 'ws', script: 'ws-echo.ts' };
const PEREGRINE_STATIC: ServerSpec = {
  id: 'peregrine-static',
  label: 'Peregrine',
  script: 'peregrine-static.ts',
};
export const NGINX_STATIC: ServerSpec = { id: 'nginx', label: 'nginx', script: '' };
/** nginx answering the comparison section's two routes from its config (`return 200 …`). */
const NGINX_HTTP: ServerSpec = { id: 'nginx-http', label: 'nginx', script: '' };
export const FASTIFY: ServerSpec = { id: 'fastify', label: 'Fastify', script: 'fastify.ts' };
/** The ceiling for any Node server: canned responses over `node:net`, no HTTP parsing. */
const RAW_NET: ServerSpec = { id: 'raw-net', label: 'raw node:net', script: 'raw-net.ts' };
/** uWebSockets.js, native, run on Node 20 (see prepareUws). */
export const UWS: ServerSpec = { id: 'uws', label: 'uWebSockets.js', script: 'uws.mjs' };
export const SIRV_STATIC: ServerSpec = { id: 'sirv', label: 'sirv', script: 'sirv-static.ts' };
/** Peregrine in fetch mode: a Bun.serve-style `fetch` returning `new Response(…)` (fetch-app.ts). */
const PEREGRINE_FETCH: ServerSpec = {
  id: 'peregrine-fetch',
  label: 'Peregrine fetch',
  script: 'peregrine-fetch.ts',
};
/** Bun 1.4's own Bun.serve with the same `fetch` (the `bun` binary of @oven/bun-linux-x64). */
export const BUN: ServerSpec = { id: 'bun', label: 'Bun.serve', script: 'bun-serve.ts' };
/** One Hono app (hono-app.ts) on Peregrine, on @hono/node-server and on srvx. */
export const HONO_PEREGRINE: ServerSpec = {
  id: 'hono-peregrine',
  label: 'Hono on Peregrine',
  script: 'hono-peregrine.ts',
};
export const HONO_NODE: ServerSpec = {
  id: 'hono-node',
  label: '@hono/node-server',
  script: 'hono-node-server.ts',
};
export const HONO_SRVX: ServerSpec = { id: 'hono-srvx', label: 'srvx', script: 'hono-srvx.ts' };
/** The https section: Peregrine's `tls` option, node:https and nginx's ssl module, one certificate. */
const PEREGRINE_HTTPS: ServerSpec = {
  id: 'peregrine-https',
  label: 'Peregrine',
  script: 'peregrine-https.ts',
};
const NODE_HTTPS: ServerSpec = { id: 'node-https', label: 'node:https', script: 'node-https.ts' };
/** The ceiling for any Node HTTPS server: canned responses over `node:tls`, no HTTP parsing. */
const RAW_TLS: ServerSpec = { id: 'raw-tls', label: 'raw node:tls', script: 'raw-tls.ts' };
export const NGINX_HTTPS: ServerSpec = { id: 'nginx-https', label: 'nginx', script: '' };
/**
 * The http2 section: Peregrine's `tls` option (HTTP/2 on by default, chosen by ALPN) — the same server
 * as peregrine-https —, node:http2's compatibility API and nginx's http2 module, one certificate.
 */
const PEREGRINE_H2: ServerSpec = { id: 'peregrine-h2', label: 'Peregrine', script: 'peregrine-https.ts' };
const NODE_HTTP2: ServerSpec = { id: 'node-http2', label: 'node:http2', script: 'node-http2.ts' };
/** The ceiling for any server on node:http2: its core stream API answering every stream, nothing else. */
const RAW_HTTP2: ServerSpec = { id: 'raw-http2', label: 'raw node:http2', script: 'raw-http2.ts' };
export const NGINX_H2: ServerSpec = { id: 'nginx-h2', label: 'nginx', script: '' };
/** The compression section: gzip level 1 by Peregrine's `compression` option and by @fastify/compress. */
const PEREGRINE_GZIP: ServerSpec = { id: 'peregrine-gzip', label: 'Peregrine', script: 'peregrine-gzip.ts' };
export const FASTIFY_GZIP: ServerSpec = {
  id: 'fastify-gzip',
  label: 'Fastify',
  script: 'fastify-gzip.ts',
};
/** The `bun` binary of the @oven/bun-linux-x64 devDependency, which runs bun-serve.ts. */
export const BUN_BINARY = join(ROOT_DIR, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
/** The pubsub section: Peregrine's topics, Socket.IO rooms (@socket.io/redis-adapter), uWS topics. */
const PEREGRINE_PUBSUB: ServerSpec = {
  id: 'peregrine-pubsub',
  label: 'Peregrine',
  script: 'peregrine-pubsub.ts',
};
export const SOCKETIO_PUBSUB: ServerSpec = {
  id: 'socketio',
  label: 'Socket.IO',
  script: 'socketio-pubsub.ts',
};
/** uWebSockets.js's pub/sub, run on Node 20 like UWS. */
export const UWS_PUBSUB: ServerSpec = { id: 'uws-pubsub', label: 'uWebSockets.js', script: 'uws-pubsub.mjs' };
/** The ceiling for fan-out on node:net: pre-framed bytes written to every subscriber, nothing else. */
const RAW_NET_PUBSUB: ServerSpec = {
  id: 'raw-net-pubsub',
  label: 'raw node:net',
  script: 'raw-net-pubsub.ts',
};
export const SERVERS: readonly ServerSpec[] = [
  PEREGRINE,
  NODE_HTTP,
  FASTIFY,
  RAW_NET,
  NGINX_HTTP,
  UWS,
  NODE_CLUSTER,
  PEREGRINE_WS,
  WS_ECHO,
  PEREGRINE_STATIC,
  NGINX_STATIC,
  SIRV_STATIC,
  PEREGRINE_FETCH,
  BUN,
  HONO_PEREGRINE,
  HONO_NODE,
  HONO_SRVX,
  PEREGRINE_HTTPS,
  NODE_HTTPS,
  RAW_TLS,
  NGINX_HTTPS,
  PEREGRINE_H2,
  NODE_HTTP2,
  RAW_HTTP2,
  NGINX_H2,
  PEREGRINE_GZIP,
  FASTIFY_GZIP,
  PEREGRINE_PUBSUB,
  SOCKETIO_PUBSUB,
  UWS_PUBSUB,
  RAW_NET_PUBSUB,
];

/** uWebSockets.js servers: run on Node 20 (uws.ts). */
export function isUws(spec: ServerSpec): boolean {
  return spec === UWS || spec === UWS_PUBSUB;
}

/** nginx servers: started from a generated config, not a bench/servers script. */
export function isNginx(spec: ServerSpec): boolean {
  return spec === NGINX_STATIC || spec === NGINX_HTTP || spec === NGINX_HTTPS || spec === NGINX_H2;
}

/** One results table: a Peregrine server against its peers on a list of workloads. */
export interface Section {
  readonly id:
    | 'comparison'
    | 'scaling'
    | 'websocket'
    | 'static'
    | 'idle'
    | 'fetch'
    | 'hono'
    | 'https'
    | 'http2'
    | 'compression'
    | 'observe'
    | 'pubsub';
  readonly peregrine: ServerSpec;
  /** The servers Peregrine is compared with, each with its own ratio column. */
  readonly peers: readonly ServerSpec[];
  /** What one unit of throughput is: a request (HTTP), an echoed message (WebSocket), an idle connection. */
  readonly unit: 'req' | 'msg' | 'conn';
  readonly workloads: readonly Workload[];
}

const COMPARISON: Section = {
  id: 'comparison',
  peregrine: PEREGRINE,
  peers: [NODE_HTTP, FASTIFY, RAW_NET, NGINX_HTTP, UWS],
  unit: 'req',
  workloads: [
    { kind: 'http', name: 'plain /', path: '/', body: SMALL_BODY, pipeline: 1, workers: 1 },
    { kind: 'http', name: 'plain /6150', path: '/6150', body: LARGE_BODY, pipeline: 1, workers: 1 },
    { kind: 'http', name: 'pipelined-16 /', path: '/', body: SMALL_BODY, pipeline: 16, workers: 1 },
    { kind: 'http', name: 'pipelined-16 /6150', path: '/6150', body: LARGE_BODY, pipeline: 16, workers: 1 },
    {
      kind: 'http',
      name: '1000 connections /',
      path: '/',
      body: SMALL_BODY,
      pipeline: 1,
      workers: 1,
      connections: 1000,
    },
    // TechEmpower's plaintext test: 16 requests per write on 256, 1024 and 4096 connections.
    ...[256, 1024, 4096].map((connections) => ({
      kind: 'http' as const,
      name: `plaintext ${connections} conn`,
      path: '/',
      body: SMALL_BODY,
      pipeline: 16,
      workers: 1,
      connections,
      batchLatency: true,
    })),
    {
      kind: 'http',
      name: 'json /json',
      path: '/json',
      body: JSON_BODY,
      pipeline: 1,
      workers: 1,
      contentType: 'application/json',
    },
    {
      kind: 'http',
      name: 'post 4 KiB /upload',
      path: '/upload',
      body: String(UPLOAD_BYTES),
      pipeline: 1,
      workers: 1,
      uploadBytes: UPLOAD_BYTES,
    },
  ],
};

const SCALING: Section = {
  id: 'scaling',
  peregrine: PEREGRINE,
  peers: [NODE_CLUSTER],
  unit: 'req',
  workloads: [1, 2].map((workers) => ({
    kind: 'http' as const,
    name: `workers-${workers} plain /`,
    path: '/',
    body: SMALL_BODY,
    pipeline: 1,
    workers,
  })),
};

export const WEBSOCKET: Section = {
  id: 'websocket',
  peregrine: PEREGRINE_WS,
  peers: [WS_ECHO],
  unit: 'msg',
  workloads: [
    { kind: 'ws', name: 'ws echo 32 B', messageBytes: 32, window: 16, workers: 1 },
    { kind: 'ws', name: 'ws echo 64 KiB', messageBytes: 64 * 1024, window: 4, workers: 1 },
    // Message assembly: 65,536 continuation frames per message, one message at a time on one
    // connection, so msg/s is the inverse of the time to receive and echo one message.
    {
      kind: 'ws',
      name: 'ws text 4 MiB in 64 B fragments',
      messageBytes: 4 * 1024 * 1024,
      window: 1,
      workers: 1,
      text: true,
      fragmentBytes: 64,
      connections: 1,
      maxMessageBytes: 8 * 1024 * 1024,
    },
  ],
};

/** Size of the small static file, the same as the comparison section's `/6150` body. */
export const SMALL_FILE_BYTES = 6150;
const LARGE_FILE_BYTES = 1 << 20;

/** The small static file: printable ASCII lines, so that any server sends it as text/plain. */
function smallFileContent(): Buffer {
  const line = 'Peregrine static benchmark file, 6150 bytes of plain text in 64-byte lines.';
  const text = Array.from({ length: Math.ceil(SMALL_FILE_BYTES / 64) }, (_, i) =>
    `${String(i).padStart(3, '0')} ${line}`.slice(0, 63).padEnd(63, '.'),
  ).join('\n');
  return Buffer.from(text.slice(0, SMALL_FILE_BYTES - 1).concat('\n'), 'latin1');
}

/** The large static file: 1 MiB of a fixed byte pattern. */
function largeFileContent(): Buffer {
  const bytes = Buffer.allocUnsafe(LARGE_FILE_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >>> 10) * 7) & 0xff;
  return bytes;
}

export const SMALL_FILE = smallFileContent();
export const LARGE_FILE = largeFileContent();

export const STATIC: Section = {
  id: 'static',
  peregrine: PEREGRINE_STATIC,
  peers: [NGINX_STATIC, SIRV_STATIC],
  unit: 'req',
  workloads: [
    {
      kind: 'http',
      name: 'static /6150.txt',
      path: '/6150.txt',
      body: SMALL_FILE.toString('latin1'),
      pipeline: 1,
      workers: 1,
    },
    {
      kind: 'http',
      name: 'static /1mib.bin',
      path: '/1mib.bin',
      body: LARGE_FILE.toString('latin1'),
      pipeline: 1,
      workers: 1,
      contentType: 'application/octet-stream',
      connections: LARGE_FILE_CONNECTIONS,
    },
  ],
};

/**
 * Memory per idle keep-alive connection, 10,000 of them; and per idle WebSocket, 10,000 of them
 * subscribed to a topic, Peregrine only.
 */
export const IDLE: Section = {
  id: 'idle',
  peregrine: PEREGRINE,
  peers: [NODE_HTTP, FASTIFY, RAW_NET, NGINX_HTTP, UWS],
  unit: 'conn',
  workloads: [
    { kind: 'idle', name: 'idle 10k connections', connections: 10_000, workers: 1 },
    { kind: 'idle', name: 'idle 10k websockets', connections: 10_000, workers: 1, websocket: true },
  ],
};

/** The fetch and hono sections' two routes, `GET /` as text and `GET /json`, named `<prefix> …`. */
function appWorkloads(prefix: string): HttpWorkload[] {
  const one = { kind: 'http', pipeline: 1, workers: 1 } as const;
  return [
    { ...one, name: `${prefix} plain /`, path: '/', body: SMALL_BODY },
    { ...one, name: `${prefix} json /json`, path: '/json', body: JSON_BODY, contentType: 'application/json' },
  ];
}

/** Fetch mode against Peregrine's own handler API and against Bun.serve, on the same two routes. */
const FETCH: Section = {
  id: 'fetch',
  peregrine: PEREGRINE_FETCH,
  peers: [PEREGRINE, BUN],
  unit: 'req',
  workloads: appWorkloads('fetch'),
};

/** One Hono app on Peregrine, @hono/node-server and srvx. */
const HONO: Section = {
  id: 'hono',
  peregrine: HONO_PEREGRINE,
  peers: [HONO_NODE, HONO_SRVX],
  unit: 'req',
  workloads: appWorkloads('hono'),
};

/**
 * HTTPS: keep-alive `GET /` over TLS, and new TLS connections per second (`Connection: close`, each
 * request on a new connection with a full handshake: its req/s are handshakes/s).
 */
export const HTTPS: Section = {
  id: 'https',
  peregrine: PEREGRINE_HTTPS,
  peers: [NODE_HTTPS, RAW_TLS, NGINX_HTTPS],
  unit: 'req',
  workloads: [
    { kind: 'http', name: 'https GET /', path: '/', body: SMALL_BODY, pipeline: 1, workers: 1, tls: true },
    {
      kind: 'http',
      name: 'https handshakes',
      path: '/',
      body: SMALL_BODY,
      pipeline: 1,
      workers: 1,
      tls: true,
      newConnections: true,
    },
  ],
};

/** Connections and streams per connection of the http2 section: 100 requests in flight, as over HTTP/1.1. */
export const H2_CONNECTIONS = 10;
export const H2_STREAMS = 10;

/** HTTP/2 over TLS: `GET /` on 10 connections with 10 streams each, loaded by h2load. */
export const HTTP2: Section = {
  id: 'http2',
  peregrine: PEREGRINE_H2,
  peers: [NODE_HTTP2, RAW_HTTP2, NGINX_H2],
  unit: 'req',
  workloads: [
    {
      kind: 'http',
      name: 'h2 GET /',
      path: '/',
      body: SMALL_BODY,
      pipeline: 1,
      workers: 1,
      tls: true,
      connections: H2_CONNECTIONS,
      http2: { streams: H2_STREAMS },
    },
  ],
};

/** Compression: the static section's 6150-byte text file, gzipped at level 1 on every response. */
export const COMPRESSION: Section = {
  id: 'compression',
  peregrine: PEREGRINE_GZIP,
  peers: [FASTIFY_GZIP],
  unit: 'req',
  workloads: [
    {
      kind: 'http',
      name: 'gzip /6150.txt',
      path: '/6150.txt',
      body: SMALL_FILE.toString('latin1'),
      pipeline: 1,
      workers: 1,
      acceptEncoding: 'gzip',
    },
  ],
};

/** Peregrine with `metrics: true`, and with the access log on (to /dev/null). */
export const PEREGRINE_METRICS: ServerSpec = {
  id: 'peregrine-metrics',
  label: 'Peregrine + metrics',
  script: 'peregrine-metrics.ts',
};
const PEREGRINE_ACCESS_LOG: ServerSpec = {
  id: 'peregrine-access-log',
  label: 'Peregrine + access log',
  script: 'peregrine-access-log.ts',
};

/** What observing costs: metrics on, and the access log on, against plain Peregrine in the same run. */
export const OBSERVE: Section = {
  id: 'observe',
  peregrine: PEREGRINE_METRICS,
  peers: [PEREGRINE, PEREGRINE_ACCESS_LOG],
  unit: 'req',
  workloads: [
    { kind: 'http', name: 'observe plain /', path: '/', body: SMALL_BODY, pipeline: 1, workers: 1 },
  ],
};

/** Subscribers of the cross-instance row (over two instances) and of the local row (one instance). */
export const PUBSUB_REDIS_SUBSCRIBERS = 5_000;
export const PUBSUB_LOCAL_SUBSCRIBERS = 10_000;
/** Publications in flight (pubsub-load.ts): enough that every server has work queued, the same for all. */
export const PUBSUB_WINDOW = 16;

/**
 * Pub/sub fan-out: Peregrine against Socket.IO across two instances through Redis, and against
 * uWebSockets.js within one instance. Each row runs Peregrine and its one peer.
 */
export const PUBSUB: Section = {
  id: 'pubsub',
  peregrine: PEREGRINE_PUBSUB,
  peers: [SOCKETIO_PUBSUB, UWS_PUBSUB, RAW_NET_PUBSUB],
  unit: 'msg',
  workloads: [
    {
      kind: 'pubsub',
      name: 'pubsub redis 5k subscribers',
      subscribers: PUBSUB_REDIS_SUBSCRIBERS,
      instances: 2,
      window: PUBSUB_WINDOW,
      servers: [PEREGRINE_PUBSUB.id, SOCKETIO_PUBSUB.id],
      workers: 1,
    },
    {
      kind: 'pubsub',
      name: 'pubsub local 10k subscribers',
      subscribers: PUBSUB_LOCAL_SUBSCRIBERS,
      instances: 1,
      window: PUBSUB_WINDOW,
      servers: [PEREGRINE_PUBSUB.id, UWS_PUBSUB.id, RAW_NET_PUBSUB.id],
      workers: 1,
    },
  ],
};

/** Whether `spec` runs `workload`: every server of its section does, but a pubsub row names its two. */
export function runsWorkload(workload: Workload, spec: ServerSpec): boolean {
  return workload.kind !== 'pubsub' || workload.servers.includes(spec.id);
}

/** What pubsub-load.ts speaks to `spec`: Engine.IO/Socket.IO to Socket.IO, plain WebSockets otherwise. */
export function pubSubProtocol(spec: ServerSpec): 'ws' | 'socketio' {
  return spec === SOCKETIO_PUBSUB ? 'socketio' : 'ws';
}

export const SECTIONS: readonly Section[] = [
  COMPARISON,
  SCALING,
  WEBSOCKET,
  STATIC,
  IDLE,
  FETCH,
  HONO,
  HTTPS,
  HTTP2,
  COMPRESSION,
  OBSERVE,
  PUBSUB,
];

/** The own servers of a section: Peregrine, then its peers. */
export function sectionServers(section: Section): ServerSpec[] {
  return [section.peregrine, ...section.peers];
}

/** Of a section's selected `servers`, those that run `workload`: the idle WebSockets are Peregrine's only. */
export function workloadServers(
  section: Section,
  workload: Workload,
  servers: readonly ServerSpec[],
): readonly ServerSpec[] {
  if (workload.kind === 'idle' && workload.websocket === true)
    return servers.filter((spec) => spec === section.peregrine);
  return servers.filter((spec) => runsWorkload(workload, spec)); // a pubsub row names its two
}

/** The CPUs a server is pinned to: CPU 0 for one worker, CPUs 0 and 1 for more. */
export function serverCpus(workload: Workload): string {
  return workload.workers > 1 ? MULTI_WORKER_CPUS : SERVER_CPU;
}
