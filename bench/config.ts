// The benchmark's configuration, from environment variables only (bench/README.md lists them).
import { fail } from './log.ts';
import { clockTicksPerSecond } from './machine.ts';
import {
  SECTIONS,
  SERVERS,
  type Section,
  type ServerSpec,
  sectionServers,
  type Workload,
} from './sections.ts';

/** Seconds of unmeasured load before each measured run, so that V8 has optimised the hot paths. */
export const WARMUP_SECONDS = 1;

/** A section as selected by BENCH_FILTER and BENCH_SERVERS. */
export interface SelectedSection {
  readonly section: Section;
  readonly workloads: readonly Workload[];
  /** Peregrine and/or the section's peers, in BENCH_SERVERS order. */
  readonly servers: readonly ServerSpec[];
}

export interface Config {
  readonly runs: number;
  readonly seconds: number;
  readonly connections: number;
  /** WebSocket connections opened by ws-load.ts. */
  readonly wsConnections: number;
  /** Publications in flight in the pubsub section (BENCH_PUBSUB_WINDOW); the workloads' own if unset. */
  readonly pubSubWindow?: number | undefined;
  /** Sections with at least one selected workload and server, in SECTIONS order. */
  readonly sections: readonly SelectedSection[];
  /** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
  readonly clockTicks: number;
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
        'and idle sections (the only server of "idle 10k websockets"); node-http, fastify, raw-net, nginx-http and uws only in the comparison ' +
        '("plain /", …, "post 4 KiB /upload") and idle ("idle 10k connections") sections; node-cluster ' +
        'only in the scaling section ("workers-1 plain /", "workers-2 plain /"); peregrine-ws and ws-echo ' +
        'only in the websocket section ("ws echo 32 B", "ws echo 64 KiB", "ws text 4 MiB in 64 B ' +
        'fragments"); peregrine-static, nginx and sirv ' +
        'only in the static section ("static /6150.txt", "static /1mib.bin"); peregrine-fetch and bun only ' +
        'in the fetch section ("fetch plain /", "fetch json /json", with peregrine); hono-peregrine, ' +
        'hono-node and hono-srvx only in the hono section ("hono plain /", "hono json /json"); ' +
        'peregrine-https, node-https, raw-tls and nginx-https only in the https section ("https GET /", ' +
        '"https handshakes"); peregrine-h2, node-http2, raw-http2 and nginx-h2 only in the http2 section ("h2 GET /"); ' +
        'peregrine-gzip and fastify-gzip only in the compression section ("gzip /6150.txt"); ' +
        'peregrine-pubsub, socketio, uws-pubsub and raw-net-pubsub only in the pubsub section ("pubsub ' +
        'redis 5k subscribers" with socketio, "pubsub local 10k subscribers" with uws-pubsub and raw-net-pubsub)',
    );
  }
  return selected;
}

export function readConfig(): Config {
  return {
    runs: positiveIntFromEnv('BENCH_RUNS', 3),
    seconds: positiveIntFromEnv('BENCH_SECONDS', 5),
    connections: positiveIntFromEnv('BENCH_CONNECTIONS', 100),
    wsConnections: positiveIntFromEnv('BENCH_WS_CONNECTIONS', 50),
    pubSubWindow: process.env.BENCH_PUBSUB_WINDOW ? positiveIntFromEnv('BENCH_PUBSUB_WINDOW', 1) : undefined,
    sections: selectSections(),
    clockTicks: clockTicksPerSecond(),
  };
}
