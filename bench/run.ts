/**
 * Side-by-side benchmark of Peregrine and node:http, driven by wrk (`npm run bench`).
 *
 * Every run starts a fresh server pinned to CPU 0, checks one response, warms it up for a second, then
 * loads it with wrk pinned to CPU 1 while measuring the server's CPU time from /proc. The two servers
 * alternate run by run so that slow drifts in machine speed affect both alike.
 *
 * A second section ("scaling") compares Peregrine with 1 and 2 workers against node:cluster running
 * node:http with the same worker counts; servers with 2 workers are pinned to CPUs 0 and 1, and their CPU
 * time includes every thread and child process.
 * A third section ("websocket") compares Peregrine's WebSocket echo server with the `ws` package's, loaded
 * by bench/ws-load.ts (raw node:net WebSocket clients keeping a window of messages in flight) on CPU 1.
 * A fourth section ("static") serves two files from a temp directory (6150 bytes and 1 MiB) with Peregrine's
 * DirServer, with nginx (one worker, if /usr/sbin/nginx is installed) and with the `sirv` package.
 * See bench/README.md for the options (environment variables only) and how to read the results.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type ChartGroup, renderChart } from './chart.ts';
import { JSON_BODY, LARGE_BODY, SMALL_BODY, UPLOAD_BYTES } from './servers/bodies.ts';
import { checkTargets, type TargetFigures, targetsTable } from './targets.ts';

const BENCH_DIR = import.meta.dirname;
const ROOT_DIR = join(BENCH_DIR, '..');
const RESULTS_FILE = join(BENCH_DIR, 'RESULTS.md');
const CHART_FILE = join(BENCH_DIR, 'results.svg');
const PIPELINE_SCRIPT = join(BENCH_DIR, 'pipeline.lua');
const POST_SCRIPT = join(BENCH_DIR, 'post.lua');
const WS_LOAD_SCRIPT = join(BENCH_DIR, 'ws-load.ts');
const IDLE_LOAD_SCRIPT = join(BENCH_DIR, 'idle-load.ts');
/**
 * uWebSockets.js: the npm builds for Node 24 need a newer glibc than Debian 12 has, while this unofficial
 * build's binaries run on Node 20. It is installed on first use into bench/.tmp (not a devDependency:
 * it is over 100 MB) and run with a Node 20 found on the machine.
 */
const UWS_PACKAGE = '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';
const UWS_DIR = join(BENCH_DIR, '.tmp', 'uws');
const UWS_MODULE = join(UWS_DIR, 'node_modules', '@trufflesuite', 'uws-js-unofficial');
const NODE_20_CANDIDATES = ['/usr/bin/node', '/usr/local/bin/node', '/usr/bin/nodejs'];
/** Keep-alive timeout given to the servers of the idle section, so its connections stay open. */
const IDLE_KEEP_ALIVE_MS = 120_000;
/** How long the server's memory is left to settle before each reading. */
const IDLE_SETTLE_MS = 1_000;

const SERVER_CPU = '0';
/** CPU of the load generator: wrk, or ws-load.ts in the websocket section. */
const LOAD_CPU = '1';
/** CPUs of a server with more than one worker (scaling section); wrk stays on LOAD_CPU. */
const MULTI_WORKER_CPUS = '0,1';
const WARMUP_SECONDS = 1;
const STARTUP_TIMEOUT_MS = 15_000;
const CHECK_TIMEOUT_MS = 5_000;
const KILL_GRACE_MS = 3_000;
/** How much longer than its warm-up and measured window ws-load.ts may take before it is killed. */
const WS_LOAD_SLACK_MS = 30_000;
const NGINX = '/usr/sbin/nginx';
/** A `--trace-gc` line for a young-generation collection (V8's Scavenger, or its minor mark-sweep). */
const MINOR_GC_LINE = /: (?:Scavenge|Minor Mark-Sweep|Minor Mark-Compact)\b/;
/** wrk connections for the 1 MiB static file: fewer, so that the run is not just memory bandwidth. */
const LARGE_FILE_CONNECTIONS = 20;

// ---------------------------------------------------------------------------------------------------------
// What is benchmarked

/** An HTTP workload, loaded by wrk. */
interface HttpWorkload {
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
}

/** A WebSocket echo workload, loaded by ws-load.ts. */
interface WsWorkload {
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
interface IdleWorkload {
  readonly kind: 'idle';
  readonly name: string;
  readonly connections: number;
  readonly workers: 1;
}

type Workload = HttpWorkload | WsWorkload | IdleWorkload;

interface ServerSpec {
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
const WS_ECHO: ServerSpec = { id: 'ws-echo', label: 'ws', script: 'ws-echo.ts' };
const PEREGRINE_STATIC: ServerSpec = {
  id: 'peregrine-static',
  label: 'Peregrine',
  script: 'peregrine-static.ts',
};
const NGINX_STATIC: ServerSpec = { id: 'nginx', label: 'nginx', script: '' };
/** nginx answering the comparison section's two routes from its config (`return 200 …`). */
const NGINX_HTTP: ServerSpec = { id: 'nginx-http', label: 'nginx', script: '' };
const FASTIFY: ServerSpec = { id: 'fastify', label: 'Fastify', script: 'fastify.ts' };
/** The ceiling for any Node server: canned responses over `node:net`, no HTTP parsing. */
const RAW_NET: ServerSpec = { id: 'raw-net', label: 'raw node:net', script: 'raw-net.ts' };
/** uWebSockets.js, native, run on Node 20 (see prepareUws). */
const UWS: ServerSpec = { id: 'uws', label: 'uWebSockets.js', script: 'uws.mjs' };
const SIRV_STATIC: ServerSpec = { id: 'sirv', label: 'sirv', script: 'sirv-static.ts' };
/** Peregrine in fetch mode: a Bun.serve-style `fetch` returning `new Response(…)` (fetch-app.ts). */
const PEREGRINE_FETCH: ServerSpec = {
  id: 'peregrine-fetch',
  label: 'Peregrine fetch',
  script: 'peregrine-fetch.ts',
};
/** Bun 1.4's own Bun.serve with the same `fetch` (the `bun` binary of @oven/bun-linux-x64). */
const BUN: ServerSpec = { id: 'bun', label: 'Bun.serve', script: 'bun-serve.ts' };
/** One Hono app (hono-app.ts) on Peregrine, on @hono/node-server and on srvx. */
const HONO_PEREGRINE: ServerSpec = {
  id: 'hono-peregrine',
  label: 'Hono on Peregrine',
  script: 'hono-peregrine.ts',
};
const HONO_NODE: ServerSpec = { id: 'hono-node', label: '@hono/node-server', script: 'hono-node-server.ts' };
const HONO_SRVX: ServerSpec = { id: 'hono-srvx', label: 'srvx', script: 'hono-srvx.ts' };
const BUN_BINARY = join(ROOT_DIR, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
const SERVERS: readonly ServerSpec[] = [
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
];

/** nginx servers: started from a generated config, not a bench/servers script. */
function isNginx(spec: ServerSpec): boolean {
  return spec === NGINX_STATIC || spec === NGINX_HTTP;
}

/** One results table: a Peregrine server against its peers on a list of workloads. */
interface Section {
  readonly id: 'comparison' | 'scaling' | 'websocket' | 'static' | 'idle' | 'fetch' | 'hono';
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

const WEBSOCKET: Section = {
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
const SMALL_FILE_BYTES = 6150;
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

const SMALL_FILE = smallFileContent();
const LARGE_FILE = largeFileContent();

const STATIC: Section = {
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

/** Memory per idle keep-alive connection, 10,000 of them. */
const IDLE: Section = {
  id: 'idle',
  peregrine: PEREGRINE,
  peers: [NODE_HTTP, FASTIFY, RAW_NET, NGINX_HTTP, UWS],
  unit: 'conn',
  workloads: [{ kind: 'idle', name: 'idle 10k connections', connections: 10_000, workers: 1 }],
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

const SECTIONS: readonly Section[] = [COMPARISON, SCALING, WEBSOCKET, STATIC, IDLE, FETCH, HONO];

/** The own servers of a section: Peregrine, then its peers. */
function sectionServers(section: Section): ServerSpec[] {
  return [section.peregrine, ...section.peers];
}

/** The CPUs a server is pinned to: CPU 0 for one worker, CPUs 0 and 1 for more. */
function serverCpus(workload: Workload): string {
  return workload.workers > 1 ? MULTI_WORKER_CPUS : SERVER_CPU;
}

// ---------------------------------------------------------------------------------------------------------
// Configuration (environment variables only)

/** A section as selected by BENCH_FILTER and BENCH_SERVERS. */
interface SelectedSection {
  readonly section: Section;
  readonly workloads: readonly Workload[];
  /** Peregrine and/or the section's peers, in BENCH_SERVERS order. */
  readonly servers: readonly ServerSpec[];
}

interface Config {
  readonly runs: number;
  readonly seconds: number;
  readonly connections: number;
  /** WebSocket connections opened by ws-load.ts. */
  readonly wsConnections: number;
  /** Sections with at least one selected workload and server, in SECTIONS order. */
  readonly sections: readonly SelectedSection[];
  /** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
  readonly clockTicks: number;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

function positiveIntFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) fail(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function listFromEnv(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function selectSections(): SelectedSection[] {
  const filters = listFromEnv('BENCH_FILTER');
  const allWorkloads = SECTIONS.flatMap((section) => section.workloads);
  if (filters.length > 0 && !allWorkloads.some((w) => filters.some((f) => w.name.includes(f)))) {
    fail(
      `BENCH_FILTER matches no workload; workloads are: ${allWorkloads.map((w) => `"${w.name}"`).join(', ')}`,
    );
  }
  const ids = listFromEnv('BENCH_SERVERS');
  const chosen = ids.map(
    (id) =>
      SERVERS.find((s) => s.id === id) ??
      fail(`unknown server "${id}" in BENCH_SERVERS; servers are: ${SERVERS.map((s) => s.id).join(', ')}`),
  );
  const selected = SECTIONS.map((section): SelectedSection => {
    const own = sectionServers(section);
    return {
      section,
      workloads:
        filters.length === 0
          ? section.workloads
          : section.workloads.filter((w) => filters.some((f) => w.name.includes(f))),
      servers: chosen.length === 0 ? own : chosen.filter((spec) => own.includes(spec)),
    };
  }).filter((s) => s.workloads.length > 0 && s.servers.length > 0);
  if (selected.length === 0) {
    fail(
      'BENCH_FILTER and BENCH_SERVERS select nothing to run: peregrine runs in the comparison, scaling ' +
        'and idle sections; node-http, fastify, raw-net, nginx-http and uws only in the comparison ' +
        '("plain /", …, "post 4 KiB /upload") and idle ("idle 10k connections") sections; node-cluster ' +
        'only in the scaling section ("workers-1 plain /", "workers-2 plain /"); peregrine-ws and ws-echo ' +
        'only in the websocket section ("ws echo 32 B", "ws echo 64 KiB", "ws text 4 MiB in 64 B ' +
        'fragments"); peregrine-static, nginx and sirv ' +
        'only in the static section ("static /6150.txt", "static /1mib.bin"); peregrine-fetch and bun only ' +
        'in the fetch section ("fetch plain /", "fetch json /json", with peregrine); hono-peregrine, ' +
        'hono-node and hono-srvx only in the hono section ("hono plain /", "hono json /json")',
    );
  }
  return selected;
}

function readConfig(): Config {
  return {
    runs: positiveIntFromEnv('BENCH_RUNS', 3),
    seconds: positiveIntFromEnv('BENCH_SECONDS', 5),
    connections: positiveIntFromEnv('BENCH_CONNECTIONS', 100),
    wsConnections: positiveIntFromEnv('BENCH_WS_CONNECTIONS', 50),
    sections: selectSections(),
    clockTicks: clockTicksPerSecond(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Machine checks

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isOnPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => isExecutable(join(dir, command)));
}

function commandOutput(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** CPUs available to this process, as `nproc` reports them. */
function cpuCount(): number {
  const reported = Number(commandOutput('nproc', []));
  return Number.isInteger(reported) && reported > 0 ? reported : availableParallelism();
}

/** `getconf CLK_TCK`, normally 100. */
function clockTicksPerSecond(): number {
  const reported = Number(commandOutput('getconf', ['CLK_TCK']));
  return Number.isInteger(reported) && reported > 0 ? reported : 100;
}

/** True if `specifier` resolves from the bench directory (e.g. an installed devDependency). */
function canResolve(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

function checkPrerequisites(config: Config): void {
  if (process.platform !== 'linux') fail('the benchmark needs Linux (it uses taskset and /proc).');
  const usesWrk = config.sections.some((s) => s.workloads.some((w) => w.kind === 'http'));
  const usesNginx = config.sections.some((s) => s.servers.some(isNginx));
  const tools = [
    ...(usesWrk ? [{ command: 'wrk', install: 'apt-get install wrk' }] : []),
    { command: 'taskset', install: 'apt-get install util-linux' },
  ];
  const missing = tools.filter((tool) => !isOnPath(tool.command));
  // No report without the peers it promises: nginx is a peer, not an extra.
  if (usesNginx && !isExecutable(NGINX)) {
    missing.push({
      command: NGINX,
      install: 'apt-get install nginx-light (or leave nginx out with BENCH_SERVERS)',
    });
  }
  if (missing.length > 0) {
    const hints = missing.map((tool) => `  ${tool.command}: ${tool.install}`).join('\n');
    fail(`missing required tools; install them with:\n${hints}`);
  }
  if (config.sections.some((s) => s.servers.includes(WS_ECHO)) && !canResolve('ws')) {
    fail('the ws-echo server needs the `ws` package (a devDependency): run `npm install` first.');
  }
  if (config.sections.some((s) => s.servers.includes(SIRV_STATIC)) && !canResolve('sirv')) {
    fail('the sirv server needs the `sirv` package (a devDependency): run `npm install` first.');
  }
  if (config.sections.some((s) => s.servers.includes(FASTIFY)) && !canResolve('fastify')) {
    fail('the fastify server needs the `fastify` package (a devDependency): run `npm install` first.');
  }
  for (const [spec, name] of [
    [HONO_PEREGRINE, 'hono'],
    [HONO_NODE, '@hono/node-server'],
    [HONO_SRVX, 'srvx'],
  ] as const) {
    if (config.sections.some((s) => s.servers.includes(spec)) && !canResolve(name))
      fail(
        `the ${spec.id} server needs the \`${name}\` package (a devDependency): run \`npm install\` first.`,
      );
  }
  if (config.sections.some((s) => s.servers.includes(BUN)) && !isExecutable(BUN_BINARY)) {
    fail(
      `Bun.serve needs ${BUN_BINARY} (the @oven/bun-linux-x64 devDependency, Linux x64): run \`npm install\` first.`,
    );
  }
  if (cpuCount() < 2) {
    fail(`needs at least 2 CPUs (server on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU}).`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

/** Children still running, killed if the benchmark itself is interrupted. */
const liveChildren = new Set<ChildProcess>();

function track(child: ChildProcess): Promise<void> {
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

function killLiveChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

function hasExited(child: ChildProcess): boolean {
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

interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function runCommand(command: string, args: string[]): Promise<CommandResult> {
  const child = spawn(command, args, { cwd: ROOT_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
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

// ---------------------------------------------------------------------------------------------------------
// Servers under test

interface RunningServer {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
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

/**
 * The benchmark's temp directory, created once by main() and removed on exit: `static/` holds the files
 * of the static section, `nginx/` nginx's generated config, logs and temp paths.
 */
let benchTempDir: string | undefined;

function staticDir(): string {
  if (benchTempDir === undefined) throw new Error('the temp directory was not created');
  return join(benchTempDir, 'static');
}

/** Where nginx finds the comparison section's 6150-byte body, inside the temp directory. */
const COMPARISON_LARGE_FILE = 'lorem-6150.txt';

/** Makes the temp directory, with the static section's files, and returns its path. */
function createTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-bench-'));
  mkdirSync(join(dir, 'static'));
  mkdirSync(join(dir, 'nginx'));
  writeFileSync(join(dir, COMPARISON_LARGE_FILE), LARGE_BODY, 'latin1');
  writeFileSync(join(dir, 'static', '6150.txt'), SMALL_FILE);
  writeFileSync(join(dir, 'static', '1mib.bin'), LARGE_FILE);
  return dir;
}

/** An nginx config string: the body between single quotes, which must hold nothing nginx would interpret. */
function nginxQuoted(text: string): string {
  if (/['\\$]/.test(text)) throw new Error('a body for nginx must not contain quotes, backslashes or $');
  return `'${text}'`;
}

/**
 * The `server` block: for the static section, the files of staticDir(); for the comparison section, the
 * two routes with the same bytes as the other servers. `/` is answered from the config (`return 200`);
 * the 6150-byte body is longer than an nginx config string may be (4 KiB), so `/6150` is a file, its
 * descriptor kept open between requests (`open_file_cache`): the cheapest way nginx has to send it.
 */
function nginxServerBlock(spec: ServerSpec, port: number): string {
  if (spec === NGINX_STATIC) return `listen 127.0.0.1:${port};\n    root ${staticDir()};`;
  return (
    `listen 127.0.0.1:${port};\n    default_type text/plain;\n` +
    `    open_file_cache max=16 inactive=60s;\n    open_file_cache_valid 60s;\n` +
    `    location = /6150 { alias ${join(benchTempDir ?? '', COMPARISON_LARGE_FILE)}; }\n` +
    `    location = /json { default_type application/json; return 200 ${nginxQuoted(JSON_BODY)}; }\n` +
    // `return` reads and discards the request body; the length answered is the declared one.
    `    location = /upload { return 200 $content_length; }\n` +
    `    location / { return 200 ${nginxQuoted(SMALL_BODY)}; }`
  );
}

/** nginx.conf for one worker on 127.0.0.1:`port` (see nginxServerBlock), everything else in `prefix`. */
function nginxConfig(spec: ServerSpec, prefix: string, port: number): string {
  const temp = (name: string): string => join(prefix, `${name}_temp`);
  return `# Generated by bench/run.ts.
worker_processes 1;
# The idle section holds 10,000 connections open at once.
worker_rlimit_nofile 20000;
master_process off;
daemon off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;

events {
  worker_connections 16384;
}

http {
  types {
    text/plain txt;
    application/octet-stream bin;
  }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 65s;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};

  server {
    ${nginxServerBlock(spec, port)}
  }
}
`;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects if `exited` first or too slow. */
async function waitForPort(port: number, exited: Promise<void>): Promise<void> {
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (gone) throw new Error('exited before accepting connections');
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted && !gone) return;
    if (performance.now() > deadline)
      throw new Error(`no connection accepted within ${STARTUP_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The Node 20 that runs uWebSockets.js, once prepareUws() has found it. */
let uwsNode: string | undefined;

/**
 * Finds a Node 20 and installs the uWebSockets.js package if needed; returns why it can't run, or
 * undefined when it can.
 */
function prepareUws(): string | undefined {
  uwsNode = NODE_20_CANDIDATES.find((candidate) =>
    /^v20\./.test(commandOutput(candidate, ['--version']) ?? ''),
  );
  if (uwsNode === undefined) {
    return (
      'uWebSockets.js not run: its build for this Debian needs Node 20 (Debian 12 has it: apt-get install ' +
      'nodejs) and none was found'
    );
  }
  if (!existsSync(join(UWS_MODULE, 'package.json'))) {
    progress(`bench: installing ${UWS_PACKAGE} into ${UWS_DIR} (once)`);
    try {
      mkdirSync(UWS_DIR, { recursive: true });
      const args = [
        'install',
        '--prefix',
        UWS_DIR,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
      ];
      execFileSync('npm', [...args, UWS_PACKAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (error) {
      return `uWebSockets.js not run: npm install ${UWS_PACKAGE} failed (${errorMessage(error)})`;
    }
  }
  return undefined;
}

/** Spawns the server under taskset: a bench/servers script on Node, or nginx from a generated config. */
function spawnServer(spec: ServerSpec, workload: Workload, port: number): ChildProcess {
  const cpus = serverCpus(workload);
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  if (isNginx(spec)) {
    const prefix = join(benchTempDir ?? '', 'nginx');
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConfig(spec, prefix, port));
    return spawn('taskset', ['-c', cpus, NGINX, '-c', conf, '-p', prefix], { cwd: ROOT_DIR, stdio });
  }
  const script = join(BENCH_DIR, 'servers', spec.script);
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), WORKERS: String(workload.workers) };
  env.STATIC_DIR = staticDir();
  if (workload.kind === 'idle') env.KEEP_ALIVE_MS = String(IDLE_KEEP_ALIVE_MS);
  if (workload.kind === 'ws' && workload.maxMessageBytes !== undefined)
    env.WS_MAX_MESSAGE_BYTES = String(workload.maxMessageBytes);
  // --trace-gc prints a line per collection (worker threads' and cluster workers' too): counted below.
  if (spec === BUN) return spawn('taskset', ['-c', cpus, BUN_BINARY, script], { cwd: ROOT_DIR, env, stdio });
  if (spec === UWS) {
    env.UWS_MODULE = UWS_MODULE;
    env.LARGE_BODY_FILE = join(benchTempDir ?? '', COMPARISON_LARGE_FILE);
    return spawn('taskset', ['-c', cpus, uwsNode ?? 'node', '--trace-gc', script], {
      cwd: ROOT_DIR,
      env,
      stdio,
    });
  }
  return spawn('taskset', ['-c', cpus, process.execPath, '--trace-gc', script], {
    cwd: ROOT_DIR,
    env,
    stdio,
  });
}

async function startServer(spec: ServerSpec, workload: Workload, port: number): Promise<RunningServer> {
  const child = spawnServer(spec, workload, port);
  const exited = track(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  let scavenges = 0;
  let partialLine = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
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
    stop: async () => {
      if (hasExited(child) || child.pid === undefined) return;
      child.kill('SIGTERM');
      if (!(await settlesWithin(exited, KILL_GRACE_MS))) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  try {
    // nginx prints nothing: wait until its port accepts connections.
    if (isNginx(spec)) await waitForPort(port, exited);
    else await waitForListening(child, exited);
  } catch (error) {
    await server.stop();
    throw new Error(withStderr(`${spec.label} did not start: ${errorMessage(error)}`, server));
  }
  return server;
}

/**
 * One request with a fresh connection (a GET, or the workload's POST with its body), to check status,
 * Content-Type and body before loading the server.
 */
function checkResponse(port: number, workload: HttpWorkload): Promise<void> {
  const upload = workload.uploadBytes === undefined ? undefined : Buffer.alloc(workload.uploadBytes, 'x');
  const options = {
    host: '127.0.0.1',
    port,
    path: workload.path,
    agent: false,
    method: upload === undefined ? 'GET' : 'POST',
    headers: upload === undefined ? {} : { 'Content-Type': 'application/octet-stream' },
  };
  return new Promise((resolve, reject) => {
    const sent = request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('latin1');
        const type = response.headers['content-type'] ?? '';
        if (response.statusCode !== 200)
          reject(new Error(`${options.method} ${workload.path}: status ${response.statusCode}`));
        else if (!type.startsWith(workload.contentType ?? 'text/plain'))
          reject(new Error(`${options.method} ${workload.path}: Content-Type "${type}"`));
        else if (body !== workload.body)
          reject(new Error(`${options.method} ${workload.path}: unexpected ${body.length}-byte body`));
        else resolve();
      });
    });
    sent.setTimeout(CHECK_TIMEOUT_MS, () =>
      sent.destroy(new Error(`${options.method} ${workload.path}: timed out`)),
    );
    sent.on('error', reject);
    sent.end(upload);
  });
}

/** Fields 3 and up of /proc/<pid>/stat: fields[0] is field 3 (state), so field n is fields[n - 3]. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 is the command name in parentheses, which may contain spaces: split after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Pids of the direct children of `pid`, from /proc/<pid>/task/<tid>/children (one file per thread). */
function childrenFromTasks(pid: number): number[] {
  const children: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    for (const child of list.split(' ')) if (child.trim() !== '') children.push(Number(child));
  }
  return children;
}

/** Pids of the direct children of `pid`, by their parent pid (field 4 of /proc/<n>/stat), like `pgrep -P`. */
function childrenFromParentPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[4 - 3]) === pid) children.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return children;
}

/** Pids of the direct children of `pid`; [] if it exited meanwhile. */
function childrenOf(pid: number): number[] {
  try {
    return childrenFromTasks(pid);
  } catch (error) {
    // Kernels built without CONFIG_PROC_CHILDREN have no children files: look at every process instead.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(`/proc/${pid}`)) {
      return childrenFromParentPids(pid);
    }
    return [];
  }
}

/** utime + stime of all the process's threads, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function processCpuTicks(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

/**
 * CPU time of the server in clock ticks: utime + stime of its process (all threads, e.g. Peregrine's
 * worker threads) and of all its descendant processes (e.g. node:cluster workers). Throws if the server
 * process itself is gone; a descendant that exits while it is read counts as 0.
 */
function readCpuTicks(pid: number): number {
  return sumOverTree(pid, processCpuTicks);
}

/**
 * `measure` summed over the process `pid` (which must exist) and all its descendants; a descendant
 * that exits while it is read counts as 0.
 */
function sumOverTree(pid: number, measure: (pid: number) => number): number {
  let sum = measure(pid);
  const pending = childrenOf(pid);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    try {
      sum += measure(next);
    } catch {
      continue;
    }
    pending.push(...childrenOf(next));
  }
  return sum;
}

/** A `kB` field of /proc/<pid>/status (`VmRSS`, `VmHWM`), in bytes. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Peak resident set (VmHWM) of the server's process and all its descendants, in bytes. */
function readPeakRss(pid: number): number {
  return sumOverTree(pid, (id) => statusBytes(id, 'VmHWM'));
}

/**
 * CPU time of this process's children that have exited and been waited for, in clock ticks (cutime +
 * cstime, fields 16 and 17 of /proc/self/stat). Taskset execs wrk, so a finished wrk run adds its CPU here.
 */
function readExitedChildrenCpuTicks(): number {
  const fields = statFields(process.pid);
  return Number(fields[16 - 3]) + Number(fields[17 - 3]);
}

// ---------------------------------------------------------------------------------------------------------
// wrk

interface WrkReport {
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** wrk's "Socket errors" line, if any. */
  readonly socketErrors: string | undefined;
  /** wrk's "Non-2xx or 3xx responses" count (wrk counts statuses above 399). */
  readonly badResponses: number;
  /** Latency percentiles from `--latency`, in milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** A wrk duration (`812.00us`, `1.23ms`, `2.00s`, `1.50m`) in milliseconds. */
function wrkMillis(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk duration "${text}"`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

function wrkArgs(workload: HttpWorkload, port: number, seconds: number, connections: number): string[] {
  // wrk's default 2 s request timeout counts a slow pipelined batch as a socket error; a server that is
  // merely slow should be measured as slow, so allow 10 s (errors still fail the run).
  const args = [
    '-c',
    LOAD_CPU,
    'wrk',
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    '--latency',
  ];
  if (workload.pipeline > 1) args.push('--script', PIPELINE_SCRIPT);
  else if (workload.uploadBytes !== undefined) args.push('--script', POST_SCRIPT);
  args.push(`http://127.0.0.1:${port}${workload.path}`);
  if (workload.pipeline > 1) args.push('--', String(workload.pipeline));
  else if (workload.uploadBytes !== undefined) args.push('--', String(workload.uploadBytes));
  return args;
}

function parseWrkOutput(output: string): WrkReport {
  const requests = /^\s*(\d+) requests in /m.exec(output);
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
    requestsPerSecond: Number(perSecond[1]),
    socketErrors: socketErrors?.[1],
    badResponses: badResponses ? Number(badResponses[1]) : 0,
  };
}

async function runWrk(
  workload: HttpWorkload,
  port: number,
  seconds: number,
  connections: number,
): Promise<WrkReport> {
  const result = await runCommand('taskset', wrkArgs(workload, port, seconds, connections));
  if (result.code !== 0) {
    throw new Error(`wrk exited with code ${result.code}: ${(result.stderr || result.stdout).trim()}`);
  }
  return parseWrkOutput(result.stdout);
}

/** Why a wrk report makes the run a failure; empty if it does not. */
function wrkProblems(report: WrkReport): string[] {
  const problems: string[] = [];
  if (report.requests === 0) problems.push('no request completed');
  if (report.badResponses > 0) problems.push(`${report.badResponses} non-2xx/3xx responses`);
  if (report.socketErrors !== undefined) problems.push(`socket errors: ${report.socketErrors}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// ws-load.ts

/** What ws-load.ts prints at the end of its measured window (one JSON line). */
interface WsLoadReport {
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

function wsLoadArgs(workload: WsWorkload, port: number, config: Config): string[] {
  const args = [
    '-c',
    LOAD_CPU,
    process.execPath,
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

function parseWsLoadReport(line: string): WsLoadReport {
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
function runWsLoad(server: RunningServer, workload: WsWorkload, config: Config): Promise<WsLoadRun> {
  const child = spawn('taskset', wsLoadArgs(workload, server.port, config), {
    cwd: ROOT_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = track(child);
  return new Promise<WsLoadRun>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let spawnError: Error | undefined;
    let before: { ticks: number; at: number } | undefined;
    let result: WsLoadRun | undefined;
    let problem: Error | undefined;
    const timer = setTimeout(
      () => {
        problem ??= new Error('ws-load did not finish in time');
        child.kill('SIGKILL');
      },
      (WARMUP_SECONDS + config.seconds) * 1000 + WS_LOAD_SLACK_MS,
    );
    const onLine = (line: string): void => {
      if (line === 'measuring') {
        before = { ticks: readCpuTicks(server.pid), at: performance.now() };
      } else if (line.startsWith('{') && before !== undefined && result === undefined) {
        const ticks = readCpuTicks(server.pid);
        const wallSeconds = (performance.now() - before.at) / 1000;
        const report = parseWsLoadReport(line);
        result = { report, serverCpuSeconds: (ticks - before.ticks) / config.clockTicks, wallSeconds };
      }
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const lines = stdout.split('\n');
      stdout = lines.pop() ?? '';
      for (const line of lines) {
        try {
          onLine(line.trim());
        } catch (error) {
          // E.g. the server exited, so its /proc entry is gone.
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
        reject(new Error(`ws-load failed: ${output}`));
      } else if (result === undefined) reject(new Error('ws-load printed no report'));
      else resolve(result);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// One measured run

interface Measurement {
  readonly ok: true;
  /** Requests (HTTP) or echoed messages (WebSocket) per second. */
  readonly perSecond: number;
  /** Requests completed or messages echoed during the measured window. */
  readonly count: number;
  /** Server CPU time (user + system) per request or message, in microseconds. */
  readonly cpuMicrosPerUnit: number;
  /** Server CPU time over wall time during the measured window; about 1 when the server is saturated. */
  readonly cpuShare: number;
  /** The load generator's CPU time over wall time; about 1 when it, not the server, is the limit. */
  readonly loadCpuShare: number;
  /** Latency percentiles in milliseconds (wrk's; null for WebSocket runs). */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Young-generation collections during the measured window; null for a server that is not Node. */
  readonly minorGcs: number | null;
  /** Peak resident memory of the server (every process of it), in bytes. */
  readonly peakRssBytes: number;
  /** Idle section: resident memory before the connections opened and with all of them open, in bytes. */
  readonly idleRss?: { readonly before: number; readonly after: number };
}

interface Failure {
  readonly ok: false;
  readonly error: string;
}

type RunResult = Measurement | Failure;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withStderr(message: string, server: RunningServer): string {
  const tail = server.stderrTail();
  return tail === '' ? message : `${message}\n    server stderr:\n${tail.replace(/^/gm, '      ')}`;
}

async function loadHttpServer(
  server: RunningServer,
  workload: HttpWorkload,
  config: Config,
): Promise<RunResult> {
  const connections = workload.connections ?? config.connections;
  await checkResponse(server.port, workload);
  await runWrk(workload, server.port, WARMUP_SECONDS, connections);

  const ticksBefore = readCpuTicks(server.pid);
  const wrkTicksBefore = readExitedChildrenCpuTicks();
  const gcsBefore = server.minorGcs();
  const startedAt = performance.now();
  const report = await runWrk(workload, server.port, config.seconds, connections);
  const wallSeconds = (performance.now() - startedAt) / 1000;
  if (!server.isAlive()) throw new Error('server exited during the run');
  const cpuSeconds = (readCpuTicks(server.pid) - ticksBefore) / config.clockTicks;
  const wrkCpuSeconds = (readExitedChildrenCpuTicks() - wrkTicksBefore) / config.clockTicks;
  const peakRssBytes = readPeakRss(server.pid);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the last --trace-gc lines are on their way
  const gcsAfter = server.minorGcs();

  const problems = wrkProblems(report);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return {
    ok: true,
    perSecond: report.requestsPerSecond,
    count: report.requests,
    cpuMicrosPerUnit: (cpuSeconds * 1e6) / report.requests,
    cpuShare: cpuSeconds / wallSeconds,
    loadCpuShare: wrkCpuSeconds / wallSeconds,
    // wrk times a response from the write that carried its request: with 16 requests per write the
    // figures are not per-request latencies, so they are not reported.
    p50Ms: workload.pipeline > 1 ? null : report.p50Ms,
    p99Ms: workload.pipeline > 1 ? null : report.p99Ms,
    minorGcs: gcsBefore === null || gcsAfter === null ? null : gcsAfter - gcsBefore,
    peakRssBytes,
  };
}

async function loadWsServer(server: RunningServer, workload: WsWorkload, config: Config): Promise<RunResult> {
  // ws-load checks the handshake and one echoed message itself, then warms up before measuring.
  const { report, serverCpuSeconds, wallSeconds } = await runWsLoad(server, workload, config);
  if (!server.isAlive()) throw new Error('server exited during the run');
  const peakRssBytes = readPeakRss(server.pid);
  if (report.messages === 0) return { ok: false, error: 'no message echoed' };
  return {
    ok: true,
    perSecond: report.messagesPerSecond,
    count: report.messages,
    cpuMicrosPerUnit: (serverCpuSeconds * 1e6) / report.messages,
    cpuShare: serverCpuSeconds / wallSeconds,
    loadCpuShare: report.cpuSeconds / report.seconds,
    p50Ms: null,
    p99Ms: null,
    // ws-load warms up inside its own run, so a count here would include the warm-up: not reported.
    minorGcs: null,
    peakRssBytes,
  };
}

/** Resident memory (VmRSS) of the server's process and all its descendants, in bytes. */
function readRss(pid: number): number {
  return sumOverTree(pid, (id) => statusBytes(id, 'VmRSS'));
}

/**
 * The idle section: the server's resident memory once it has answered a request, then with
 * `connections` keep-alive connections open (each has sent one request and got its response) and
 * quiet, both after IDLE_SETTLE_MS. The difference over the count is what an idle connection costs.
 */
async function loadIdleServer(server: RunningServer, workload: IdleWorkload): Promise<RunResult> {
  await checkResponse(server.port, {
    kind: 'http',
    name: '',
    path: '/',
    body: SMALL_BODY,
    pipeline: 1,
    workers: 1,
  });
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  const before = readRss(server.pid);
  const client = spawn(
    'taskset',
    [
      '-c',
      LOAD_CPU,
      process.execPath,
      IDLE_LOAD_SCRIPT,
      '--port',
      String(server.port),
      '--connections',
      String(workload.connections),
    ],
    { cwd: ROOT_DIR, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = track(client);
  let stderr = '';
  client.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('idle-load did not open its connections within 60 s')),
        60_000,
      );
      client.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`idle-load exited: ${stderr.trim() || `code ${client.exitCode}`}`));
      });
    });
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    if (!server.isAlive()) throw new Error('server exited during the run');
    if (hasExited(client)) throw new Error(`idle-load exited: ${stderr.trim()}`);
    const after = readRss(server.pid);
    return {
      ok: true,
      perSecond: 0,
      count: workload.connections,
      cpuMicrosPerUnit: 0,
      cpuShare: 0,
      loadCpuShare: 0,
      p50Ms: null,
      p99Ms: null,
      minorGcs: null,
      peakRssBytes: readPeakRss(server.pid),
      idleRss: { before, after },
    };
  } finally {
    client.kill('SIGTERM');
    if (!(await settlesWithin(exited, KILL_GRACE_MS))) client.kill('SIGKILL');
  }
}

function loadServer(server: RunningServer, workload: Workload, config: Config): Promise<RunResult> {
  if (workload.kind === 'idle') return loadIdleServer(server, workload);
  return workload.kind === 'http'
    ? loadHttpServer(server, workload, config)
    : loadWsServer(server, workload, config);
}

async function measureRun(spec: ServerSpec, workload: Workload, config: Config): Promise<RunResult> {
  let server: RunningServer | undefined;
  try {
    server = await startServer(spec, workload, await freePort());
    return await loadServer(server, workload, config);
  } catch (error) {
    const message = errorMessage(error);
    return { ok: false, error: server ? withStderr(message, server) : message };
  } finally {
    await server?.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Statistics and report

/** Results of one workload: runs[serverId][i] is run i of that server. */
interface WorkloadResults {
  readonly workload: Workload;
  readonly runs: Map<string, RunResult[]>;
}

/** Results of one section, one entry per selected workload. */
interface SectionResults {
  readonly selected: SelectedSection;
  readonly results: readonly WorkloadResults[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function measurements(runs: readonly RunResult[]): Measurement[] {
  return runs.filter((run): run is Measurement => run.ok);
}

/** The median of a figure over the successful runs that have it, or undefined if none has. */
function medianOf(
  runs: readonly RunResult[] | undefined,
  pick: (m: Measurement) => number | null,
): number | undefined {
  const values = runs === undefined ? [] : measurements(runs).flatMap((m) => pick(m) ?? []);
  return values.length === 0 ? undefined : median(values);
}

/** Peregrine/baseline throughput of each run pair in which both runs succeeded. */
function pairRatios(peregrine: readonly RunResult[], baseline: readonly RunResult[]): number[] {
  const ratios: number[] = [];
  peregrine.forEach((run, i) => {
    const other = baseline[i];
    if (run.ok && other?.ok) ratios.push(run.perSecond / other.perSecond);
  });
  return ratios;
}

const formatInteger = (value: number): string => Math.round(value).toLocaleString('en-US');
const formatRatio = (value: number): string => value.toFixed(2);
const formatMicros = (value: number): string => value.toFixed(2);

/** A per-server median cell: `—` if the server was not run, `failed` if no run succeeded. */
function medianCell(
  runs: readonly RunResult[] | undefined,
  pick: (m: Measurement) => number,
  format: (value: number) => string,
): string {
  if (runs === undefined) return '—';
  const ok = measurements(runs);
  if (ok.length === 0) return 'failed';
  const cell = format(median(ok.map(pick)));
  return ok.length === runs.length ? cell : `${cell} (${ok.length}/${runs.length} ok)`;
}

/** The first column: the workload in the comparison section, the worker count in the scaling section. */
function rowLabel(section: Section, workload: Workload): string {
  return section.id === 'scaling' ? String(workload.workers) : workload.name;
}

/** Median of the Peregrine/`peer` run-pair ratios with their spread (`2.21 (2.04–3.40)`), or `—`. */
function ratioCell(results: WorkloadResults, peregrine: ServerSpec, peer: ServerSpec): string {
  const ours = results.runs.get(peregrine.id);
  const theirs = results.runs.get(peer.id);
  const ratios = ours && theirs ? pairRatios(ours, theirs) : [];
  if (ratios.length === 0) return '—';
  const spread = `${formatRatio(Math.min(...ratios))}–${formatRatio(Math.max(...ratios))}`;
  return ratios.length === 1 ? formatRatio(ratios[0]!) : `${formatRatio(median(ratios))} (${spread})`;
}

/** A section's main table: each server's median rate, and Peregrine's ratio to each peer (with spread). */
function resultsTable({ selected, results }: SectionResults): string {
  const { peregrine, unit } = selected.section;
  const peers = selected.section.peers.filter((peer) => selected.servers.includes(peer));
  const header = [
    selected.section.id === 'scaling' ? 'Workers' : 'Workload',
    `${peregrine.label} ${unit}/s`,
    ...peers.flatMap((peer) => [`${peer.label} ${unit}/s`, `${peregrine.label}/${peer.label}`]),
  ];
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  const rows = results.map((r) => {
    const cells = [
      rowLabel(selected.section, r.workload),
      medianCell(r.runs.get(peregrine.id), (m) => m.perSecond, formatInteger),
      ...peers.flatMap((peer) => [
        medianCell(r.runs.get(peer.id), (m) => m.perSecond, formatInteger),
        ratioCell(r, peregrine, peer),
      ]),
    ];
    return `| ${cells.join(' | ')} |`;
  });
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
}

const formatMillis = (value: number): string => value.toFixed(2);
const formatMiB = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** A median over the runs that have the figure, or `—` where none has it (a figure nginx has no way to give). */
function optionalMedianCell(
  runs: readonly RunResult[] | undefined,
  pick: (m: Measurement) => number | null,
  format: (value: number) => string,
): string {
  const value = medianOf(runs, pick);
  return value === undefined ? '—' : format(value);
}

/**
 * The figures behind each rate, one row per workload and server: CPU time per request, latency
 * percentiles, young-generation collections per 100k requests and peak resident memory (medians).
 */
function detailsTable({ selected, results }: SectionResults): string {
  const unit = selected.section.unit;
  const header = [
    selected.section.id === 'scaling' ? 'Workers' : 'Workload',
    'Server',
    `CPU µs/${unit}`,
    'p50 ms',
    'p99 ms',
    `minor GCs per 100k ${unit}`,
    'peak RSS MiB',
  ];
  const align = header.map((_, i) => (i < 2 ? '---' : '---:'));
  const rows: string[] = [];
  for (const r of results) {
    for (const spec of selected.servers) {
      const runs = r.runs.get(spec.id);
      const cells = [
        rowLabel(selected.section, r.workload),
        spec.label,
        medianCell(runs, (m) => m.cpuMicrosPerUnit, formatMicros),
        optionalMedianCell(runs, (m) => m.p50Ms, formatMillis),
        optionalMedianCell(runs, (m) => m.p99Ms, formatMillis),
        optionalMedianCell(
          runs,
          (m) => (m.minorGcs === null ? null : (m.minorGcs * 100_000) / m.count),
          (v) => v.toFixed(0),
        ),
        medianCell(runs, (m) => m.peakRssBytes, formatMiB),
      ];
      rows.push(`| ${cells.join(' | ')} |`);
    }
  }
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
}

/** Median req/s with `workers` workers over median req/s with 1 worker, for one server; undefined if unknown. */
function scalingRatio(
  results: readonly WorkloadResults[],
  spec: ServerSpec,
  workers: number,
): number | undefined {
  const medianRate = (count: number): number | undefined => {
    const runs = results.find((r) => r.workload.workers === count)?.runs.get(spec.id);
    const ok = runs ? measurements(runs) : [];
    return ok.length > 0 ? median(ok.map((m) => m.perSecond)) : undefined;
  };
  const one = medianRate(1);
  const more = medianRate(workers);
  return one === undefined || more === undefined ? undefined : more / one;
}

/** The line quoting how each server scales from 1 to 2 workers; '' unless both worker counts were run. */
function scalingLine({ selected, results }: SectionResults): string {
  if (!results.some((r) => r.workload.workers === 1) || !results.some((r) => r.workload.workers === 2))
    return '';
  const parts = selected.servers.map((spec) => {
    const ratio = scalingRatio(results, spec, 2);
    return `${spec.label} ${ratio === undefined ? '—' : `${formatRatio(ratio)}×`}`;
  });
  return `Scaling, 2 workers over 1 worker (median req/s over median req/s): ${parts.join(', ')}.\n`;
}

function failureList({ selected, results }: SectionResults): string {
  const lines: string[] = [];
  for (const { workload, runs } of results) {
    for (const spec of selected.servers) {
      runs.get(spec.id)?.forEach((run, i) => {
        if (!run.ok)
          lines.push(`- ${workload.name} · ${spec.label} · run ${i + 1}: ${run.error.split('\n')[0]}`);
      });
    }
  }
  return lines.length === 0
    ? ''
    : `Failed runs (left out of the medians and ratios):\n\n${lines.join('\n')}\n`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** The load generator of a section, as named in the progress output. */
function loadName(section: Section): string {
  return section.unit === 'msg' ? 'ws-load' : 'wrk';
}

function summaryLine(config: Config): string {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const http = config.sections.some((s) => s.section.unit === 'req');
  return [
    date,
    `Node ${process.version}`,
    `nproc ${cpuCount()}`,
    `${plural(config.runs, 'run')} × ${config.seconds} s`,
    // The websocket section states its own connections and load generator above its table.
    ...(http
      ? [plural(config.connections, 'connection'), `server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}`]
      : [
          `server on CPU ${SERVER_CPU}, ${config.sections.some((s) => s.section.unit === 'msg') ? 'ws-load' : 'idle-load'} on CPU ${LOAD_CPU}`,
        ]),
  ].join(' · ');
}

/** Why uWebSockets.js was not run, if it was selected and could not be. */
let uwsNote: string | undefined;

/** Who the comparison section's peers are, printed above its table. */
function comparisonIntro(): string {
  const note = uwsNote === undefined ? '' : ` **${uwsNote}.**`;
  return (
    `Comparison: one server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}, every server answering the same ` +
    `routes with the same bytes: \`GET /\` (13 bytes) and \`GET /6150\` as \`text/plain\`, \`GET /json\` ` +
    `(an object serialized per request) and \`POST /upload\` (a ${formatBytes(UPLOAD_BYTES)} body read whole, ` +
    `answered with its length). The servers: Peregrine (one worker), node:http, ` +
    `Fastify, raw node:net (canned responses, no parsing: the ceiling for any Node server), nginx ` +
    `(one worker; \`return 200\` from its config, which for the upload reads and discards the body and ` +
    `answers the declared length; a file with open_file_cache for \`/6150\`) and ` +
    `uWebSockets.js (native; the \`@trufflesuite/uws-js-unofficial\` build, on Node 20). Ratios are ` +
    `Peregrine's req/s over the peer's, the median of run pairs (min–max in brackets). Targets: ≥ 2× ` +
    `node:http plain, ≥ 10× pipelined, ≥ 2× on the 6150-byte body, ≥ 0.9× raw node:net plain, with CPU ` +
    `µs/req and minor GCs ≤ 1.15× raw node:net's, ≥ 1.0× uWebSockets.js plain and pipelined.${note}`
  );
}

/** What the scaling table measures and how it is pinned, printed above it. */
function scalingIntro(): string {
  return (
    `Scaling: keep-alive \`GET /\` (13-byte body), Peregrine (worker threads) and node:cluster ` +
    `(processes running node:http) with 1 worker on CPU ${SERVER_CPU} and 2 workers on CPUs ` +
    `${MULTI_WORKER_CPUS}, wrk on CPU ${LOAD_CPU}. With 2 workers on a 2-core machine the load generator ` +
    `shares a core with one worker, so the scaling is bounded by the machine, not the server. CPU µs/req ` +
    `counts every thread and process of the server.`
  );
}

/** 32 → `32 B`, 65536 → `64 KiB`. */
function formatBytes(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** What the websocket table measures and how it is loaded, printed above it. */
function websocketIntro(config: Config): string {
  const plain = WEBSOCKET.workloads.filter((w) => w.kind === 'ws' && w.fragmentBytes === undefined);
  const windows = plain
    .flatMap((w) => (w.kind === 'ws' ? [`${w.window} for ${formatBytes(w.messageBytes)}`] : []))
    .join(', ');
  return (
    `WebSocket echo: binary messages sent back by Peregrine (\`res.upgrade()\`, \`ws.send()\`) and by the ` +
    `\`ws\` package's WebSocketServer, permessage-deflate off, server on CPU ${SERVER_CPU}; load from ` +
    `\`ws-load.ts\` on CPU ${LOAD_CPU}: ${plural(config.wsConnections, 'connection')}, each keeping a ` +
    `window of messages in flight (${windows}). msg/s counts echoed messages; CPU µs/msg is the server's ` +
    `CPU time per echoed message. The fragments row sends one 4 MiB text message at a time, as 65,536 ` +
    `masked 64-byte fragments, on one connection (both servers allow 8 MiB messages and any number of ` +
    `fragments), so its msg/s is the inverse of the time to assemble, check and echo one message.`
  );
}

/** What the fetch table measures, printed above it. */
function fetchIntro(): string {
  return (
    `Fetch mode: one worker on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}. Peregrine fetch runs a Bun.serve-style ` +
    `\`fetch(request)\` (bench/servers/fetch-app.ts: \`new URL(request.url)\`, then \`new Response(body)\` or ` +
    `\`Response.json(…)\`); Peregrine is its own handler API on the same routes; Bun.serve is Bun 1.4 running ` +
    `the same fetch. Targets: ≥ 0.8× Peregrine's handler API, and the ratio to Bun.serve reported (goal ≥ 1.0×). ` +
    `Bun is not Node: it has no minor-GC count. Where the time goes: bench/README.md.`
  );
}

/** What the Hono table measures, printed above it. */
function honoIntro(): string {
  return (
    `Hono: one app (bench/servers/hono-app.ts: \`c.text()\` on \`/\`, \`c.json()\` on \`/json\`) on Peregrine ` +
    `(one worker), on @hono/node-server (set up as its README says, which replaces the global Request and ` +
    `Response with lighter classes) and on srvx, on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}. Targets: ≥ 2× ` +
    `@hono/node-server, ≥ 1.5× srvx.`
  );
}

/** What the static table measures, printed above it (with the reason if nginx was not run). */
function staticIntro(config: Config): string {
  const connections = STATIC.workloads
    .flatMap((w) =>
      w.kind === 'http' ? [`${w.connections ?? config.connections} for ${w.path.slice(1)}`] : [],
    )
    .join(', ');
  const intro =
    `Static files: keep-alive \`GET\` of a ${SMALL_FILE_BYTES}-byte text file and a 1 MiB binary file ` +
    `written once per run to a temp directory, served by Peregrine's \`DirServer\`, by nginx ` +
    `(${NGINX}, one worker, master_process off, sendfile on, access_log off) and by the \`sirv\` package ` +
    `on node:http; every server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU} (connections: ${connections}). ` +
    `Ratios are Peregrine's req/s over the other server's (median of run pairs). ` +
    `Targets: ≥ 0.9× nginx on 6150.txt, ≥ 3× sirv.`;
  return intro;
}

/** Bytes per idle connection of one run: resident memory with the connections over the count. */
function idleBytes(m: Measurement): number {
  return m.idleRss === undefined ? 0 : (m.idleRss.after - m.idleRss.before) / m.count;
}

/** The idle section's table: memory before, with the connections, and per connection; ratios to Peregrine. */
function idleTable({ selected, results }: SectionResults): string {
  const header = [
    'Server',
    'RSS before MiB',
    'RSS with the connections MiB',
    'KB per idle connection',
    'Peregrine/server',
  ];
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  const rows: string[] = [];
  for (const r of results) {
    const oursPer = medianOf(r.runs.get(selected.section.peregrine.id), idleBytes);
    for (const spec of selected.servers) {
      const runs = r.runs.get(spec.id);
      const per = medianOf(runs, idleBytes);
      rows.push(
        `| ${[
          spec.label,
          medianCell(runs, (m) => m.idleRss?.before ?? 0, formatMiB),
          medianCell(runs, (m) => m.idleRss?.after ?? 0, formatMiB),
          medianCell(runs, idleBytes, (v) => (v / 1000).toFixed(1)),
          oursPer !== undefined && per !== undefined && per > 0 ? formatRatio(oursPer / per) : '—',
        ].join(' | ')} |`,
      );
    }
  }
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows].join('\n');
}

/** What the idle table measures, printed above it. */
function idleIntro(): string {
  const connections = IDLE.workloads[0]?.kind === 'idle' ? IDLE.workloads[0].connections : 0;
  return (
    `Idle keep-alive connections: the server's resident memory (VmRSS, every process of it) once it has ` +
    `answered one request, then with ${connections.toLocaleString('en-US')} connections from ` +
    `\`idle-load.ts\` open, each having sent one \`GET /\` and read its response, both after ` +
    `${IDLE_SETTLE_MS / 1000} s to settle. KB per connection is the difference over the count; the ratio is ` +
    `Peregrine's KB per connection over the server's (below 1: Peregrine uses less). Target: ≤ 1.15× raw node:net.`
  );
}

function sectionReport(section: SectionResults, config: Config): string {
  const failures = failureList(section);
  if (section.selected.section.id === 'idle') {
    return `${idleIntro()}\n\n${idleTable(section)}\n${failures === '' ? '' : `\n${failures}`}`;
  }
  const parts = [resultsTable(section), '\n\n', detailsTable(section), '\n'];
  if (section.selected.section.id === 'static') parts.unshift(`${staticIntro(config)}\n\n`);
  if (section.selected.section.id === 'comparison') parts.unshift(`${comparisonIntro()}\n\n`);
  if (section.selected.section.id === 'scaling') parts.unshift(`${scalingIntro()}\n\n`);
  if (section.selected.section.id === 'websocket') parts.unshift(`${websocketIntro(config)}\n\n`);
  if (section.selected.section.id === 'fetch') parts.unshift(`${fetchIntro()}\n\n`);
  if (section.selected.section.id === 'hono') parts.unshift(`${honoIntro()}\n\n`);
  const scaling = scalingLine(section);
  if (scaling !== '') parts.push(`\n${scaling}`);
  if (failures !== '') parts.push(`\n${failures}`);
  return parts.join('');
}

/** The chart's groups: every workload of the comparison and static sections, one bar per server run. */
function chartGroups(all: readonly SectionResults[]): ChartGroup[] {
  const charted = all.filter(
    (s) => s.selected.section.id === 'comparison' || s.selected.section.id === 'static',
  );
  return charted.flatMap(({ selected, results }) =>
    results.map((r) => ({
      title: r.workload.name,
      bars: selected.servers.map((spec) => {
        const ok = measurements(r.runs.get(spec.id) ?? []);
        return {
          label: spec.label,
          value: ok.length === 0 ? undefined : median(ok.map((m) => m.perSecond)),
          highlight: spec === selected.section.peregrine,
        };
      }),
    })),
  );
}

/** The figures the targets are stated in, read from this run's results (undefined where not run). */
function targetFigures(all: readonly SectionResults[]): TargetFigures {
  const find = (workload: string) => {
    for (const { selected, results } of all) {
      if (selected.section.id === 'idle' || selected.section.id === 'scaling') continue;
      const found = results.find((r) => r.workload.name === workload);
      if (found) return { peregrine: selected.section.peregrine, results: found };
    }
    return undefined;
  };
  return {
    rateRatio(workload, peer) {
      const found = find(workload);
      const ours = found?.results.runs.get(found.peregrine.id);
      const theirs = found?.results.runs.get(peer);
      const ratios = ours && theirs ? pairRatios(ours, theirs) : [];
      return ratios.length === 0 ? undefined : median(ratios);
    },
    costRatio(workload, peer, cost) {
      const found = find(workload);
      if (found === undefined) return undefined;
      const pick = (m: Measurement) =>
        cost === 'cpu' ? m.cpuMicrosPerUnit : m.minorGcs === null ? null : m.minorGcs / m.count;
      const ours = medianOf(found.results.runs.get(found.peregrine.id), pick);
      const theirs = medianOf(found.results.runs.get(peer), pick);
      return ours === undefined || theirs === undefined || theirs === 0 ? undefined : ours / theirs;
    },
    idleRatio(peer) {
      const idle = all.find((s) => s.selected.section.id === 'idle');
      const results = idle?.results[0];
      if (idle === undefined || results === undefined) return undefined;
      const ours = medianOf(results.runs.get(idle.selected.section.peregrine.id), idleBytes);
      const theirs = medianOf(results.runs.get(peer), idleBytes);
      return ours === undefined || theirs === undefined || theirs <= 0 ? undefined : ours / theirs;
    },
  };
}

function report(config: Config, all: readonly SectionResults[]): string {
  const sections = all.map((section) => sectionReport(section, config)).join('\n');
  const targets = targetsTable(checkTargets(targetFigures(all)));
  return `${summaryLine(config)}\n\n${sections}${targets === '' ? '' : `\n${targets}\n`}`;
}

// ---------------------------------------------------------------------------------------------------------
// Main

function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

function describe(result: RunResult, section: Section): string {
  if (!result.ok) return `FAILED: ${result.error}`;
  if (result.idleRss !== undefined) {
    const { before, after } = result.idleRss;
    return `${formatMiB(before)} → ${formatMiB(after)} MiB, ${(idleBytes(result) / 1000).toFixed(1)} KB per idle connection`;
  }
  const unit = section.unit;
  const rate = `${formatInteger(result.perSecond)} ${unit}/s`;
  const cpu = `${formatMicros(result.cpuMicrosPerUnit)} µs CPU/${unit}`;
  const server = `server CPU ${Math.round(result.cpuShare * 100)}%`;
  const load = `${loadName(section)} CPU ${Math.round(result.loadCpuShare * 100)}%`;
  return `${rate}, ${cpu}, ${server}, ${load}`;
}

/** Runs every given server `config.runs` times on one workload, alternating servers run by run. */
async function benchmarkWorkload(
  section: Section,
  workload: Workload,
  servers: readonly ServerSpec[],
  config: Config,
  counter: { done: number; total: number },
): Promise<WorkloadResults> {
  const runs = new Map<string, RunResult[]>(servers.map((spec) => [spec.id, []]));
  for (let run = 0; run < config.runs; run++) {
    // Swap the order every other run (A B, B A, A B …) so neither server always goes first.
    const order = run % 2 === 0 ? servers : [...servers].reverse();
    for (const spec of order) {
      counter.done++;
      const label = `[${counter.done}/${counter.total}] ${workload.name} · ${spec.label} · run ${run + 1}/${config.runs}`;
      const result = await measureRun(spec, workload, config);
      progress(`${label}: ${describe(result, section)}`);
      runs.get(spec.id)!.push(result);
    }
  }
  return { workload, runs };
}

async function main(): Promise<void> {
  let config = readConfig();
  checkPrerequisites(config);
  if (config.sections.some((s) => s.servers.includes(UWS))) {
    uwsNote = prepareUws();
    if (uwsNote !== undefined) {
      progress(`bench: ${uwsNote}`);
      const sections = config.sections
        .map((s) => ({ ...s, servers: s.servers.filter((spec) => spec !== UWS) }))
        .filter((s) => s.servers.length > 0);
      config = { ...config, sections };
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killLiveChildren();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }

  const total =
    config.sections.reduce((sum, s) => sum + s.workloads.length * s.servers.length, 0) * config.runs;
  const perRun = config.seconds + WARMUP_SECONDS + 1;
  for (const { section, workloads, servers } of config.sections) {
    progress(
      `bench: ${section.id}: ${servers.map((s) => s.label).join(' vs ')}, ${plural(workloads.length, 'workload')}`,
    );
  }
  const connections = [
    ...(config.sections.some((s) => s.section.unit === 'req')
      ? [`${plural(config.connections, 'connection')} (HTTP)`]
      : []),
    ...(config.sections.some((s) => s.section.unit === 'msg')
      ? [`${plural(config.wsConnections, 'connection')} (WebSocket)`]
      : []),
  ];
  progress(
    `bench: ${plural(config.runs, 'run')} × ${config.seconds} s, ${connections.join(', ')} ` +
      `(about ${Math.ceil((total * perRun) / 60)} min)`,
  );

  benchTempDir = createTempDir();
  const dir = benchTempDir;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const counter = { done: 0, total };
  const all: SectionResults[] = [];
  for (const selected of config.sections) {
    const results: WorkloadResults[] = [];
    for (const workload of selected.workloads) {
      results.push(await benchmarkWorkload(selected.section, workload, selected.servers, config, counter));
    }
    all.push({ selected, results });
  }

  const markdown = report(config, all);
  process.stdout.write(`\n${markdown}`);
  const these = all.length === 1 ? 'this table' : 'these tables';
  writeFileSync(
    RESULTS_FILE,
    `# Benchmark results\n\n${markdown}\nSee [README.md](README.md) for how to read ${these}.\n`,
  );
  progress(`\nbench: results written to ${RESULTS_FILE}`);
  const groups = chartGroups(all);
  if (groups.length > 0) {
    const heading =
      `Requests/s on one server core (median of ${plural(config.runs, 'run')}, ` +
      `${new Date().toISOString().slice(0, 10)})`;
    writeFileSync(CHART_FILE, renderChart(heading, groups, 'req/s'));
    progress(`bench: chart written to ${CHART_FILE}`);
  }

  const failed = all.some(({ results }) =>
    results.some(({ runs }) => [...runs.values()].some((list) => list.some((run) => !run.ok))),
  );
  if (failed) process.exitCode = 1;
}

await main();
