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
 * The "https" section compares Peregrine's `tls` option with node:https and nginx over TLS, one
 * certificate for all (made with openssl per run): keep-alive requests, and new full handshakes.
 * The "http2" section compares Peregrine's HTTP/2 (over TLS, ALPN) with node:http2's compatibility API
 * and nginx's http2 module, on the same certificate, loaded by h2load (bench/h2load.ts) instead of wrk.
 * See bench/README.md for the options (environment variables only) and how to read the results.
 *
 * This file only runs the sections in order; what is run is in sections.ts, one run in measure.ts, the
 * report in report.ts (bench/README.md lists every module).
 */
import { rmSync } from 'node:fs';
import { type Config, readConfig, WARMUP_SECONDS } from './config.ts';
import { plural } from './format.ts';
import { errorMessage, fail, progress } from './log.ts';
import { checkPrerequisites } from './machine.ts';
import { measureRun } from './measure.ts';
import { killLiveChildren } from './processes.ts';
import { startRedis } from './redis.ts';
import { describeRun, writeReport } from './report.ts';
import type { RunResult, SectionResults, WorkloadResults } from './results.ts';
import {
  H2_CONNECTIONS,
  H2_STREAMS,
  isUws,
  runsWorkload,
  type Section,
  type ServerSpec,
  type Workload,
  workloadServers,
} from './sections.ts';
import type { ServerSetup } from './server-process.ts';
import { createTempDir } from './temp-dir.ts';
import { prepareTls } from './tls.ts';
import { prepareUws } from './uws.ts';

/** Runs every given server `config.runs` times on one workload, alternating servers run by run. */
async function benchmarkWorkload(
  section: Section,
  workload: Workload,
  servers: readonly ServerSpec[],
  config: Config,
  setup: ServerSetup,
  counter: { done: number; total: number },
): Promise<WorkloadResults> {
  // A pubsub row runs only its own two servers of the section.
  const these = servers.filter((spec) => runsWorkload(workload, spec));
  const runs = new Map<string, RunResult[]>(these.map((spec) => [spec.id, []]));
  for (let run = 0; run < config.runs; run++) {
    // Swap the order every other run (A B, B A, A B …) so neither server always goes first.
    const order = run % 2 === 0 ? these : [...these].reverse();
    for (const spec of order) {
      counter.done++;
      const label = `[${counter.done}/${counter.total}] ${workload.name} · ${spec.label} · run ${run + 1}/${config.runs}`;
      const result = await measureRun(spec, workload, config, setup);
      progress(`${label}: ${describeRun(result, section)}`);
      runs.get(spec.id)!.push(result);
    }
  }
  return { workload, runs };
}

/** States what will run and roughly how long it will take. */
function announce(config: Config): number {
  const total =
    config.sections.reduce(
      (sum, s) => sum + s.workloads.reduce((n, w) => n + workloadServers(s.section, w, s.servers).length, 0),
      0,
    ) * config.runs;
  const perRun = config.seconds + WARMUP_SECONDS + 1;
  for (const { section, workloads, servers } of config.sections) {
    progress(
      `bench: ${section.id}: ${servers.map((s) => s.label).join(' vs ')}, ${plural(workloads.length, 'workload')}`,
    );
  }
  const connections = [
    ...(config.sections.some((s) => s.section.unit === 'req' && s.section.id !== 'http2')
      ? [`${plural(config.connections, 'connection')} (HTTP)`]
      : []),
    ...(config.sections.some((s) => s.section.id === 'http2')
      ? [`${H2_CONNECTIONS} connections × ${H2_STREAMS} streams (HTTP/2)`]
      : []),
    ...(config.sections.some((s) => s.section.id === 'websocket')
      ? [`${plural(config.wsConnections, 'connection')} (WebSocket)`]
      : []),
    ...(config.sections.some((s) => s.section.id === 'pubsub')
      ? ['5,000 or 10,000 subscribers (pubsub)']
      : []),
  ];
  progress(
    `bench: ${plural(config.runs, 'run')} × ${config.seconds} s, ${connections.join(', ')} ` +
      `(about ${Math.ceil((total * perRun) / 60)} min)`,
  );
  return total;
}

async function main(): Promise<void> {
  let config = readConfig();
  checkPrerequisites(config);
  let uwsNode: string | undefined;
  let uwsNote: string | undefined;
  let pubSubNote: string | undefined;
  let stopRedis: (() => Promise<void>) | undefined;
  if (config.sections.some((s) => s.servers.some(isUws))) {
    const uws = prepareUws();
    if ('note' in uws) {
      uwsNote = uws.note;
      progress(`bench: ${uwsNote}`);
      // Run the other servers and say in the report why uWebSockets.js is missing.
      const sections = config.sections
        .map((s) => ({ ...s, servers: s.servers.filter((spec) => !isUws(spec)) }))
        .filter((s) => s.servers.length > 0);
      config = { ...config, sections };
    } else uwsNode = uws.node;
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killLiveChildren();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }

  // The pubsub section's cross-instance row relays through a Redis of the run's own, if it can start.
  let redisUrl: string | undefined;
  const needsRedis = config.sections.some((s) =>
    s.workloads.some(
      (w) => w.kind === 'pubsub' && w.instances > 1 && s.servers.some((spec) => runsWorkload(w, spec)),
    ),
  );
  if (needsRedis) {
    const redis = await startRedis();
    if ('note' in redis) {
      pubSubNote = redis.note;
      progress(`bench: ${pubSubNote}`);
      const sections = config.sections
        .map((s) => ({
          ...s,
          workloads: s.workloads.filter((w) => w.kind !== 'pubsub' || w.instances === 1),
        }))
        .filter((s) => s.workloads.length > 0);
      config = { ...config, sections };
    } else {
      redisUrl = redis.url;
      stopRedis = redis.stop;
    }
  }
  const total = announce(config);
  const tempDir = createTempDir();
  process.once('exit', () => rmSync(tempDir, { recursive: true, force: true }));
  const http = config.sections.flatMap((s) => s.workloads.flatMap((w) => (w.kind === 'http' ? [w] : [])));
  if (http.some((w) => w.tls)) {
    try {
      prepareTls(tempDir, { certificate: true, shim: http.some((w) => w.newConnections) });
    } catch (error) {
      fail(`cannot prepare the https section: ${errorMessage(error)}`);
    }
  }
  const setup: ServerSetup = { tempDir, uwsNode, redisUrl };

  const counter = { done: 0, total };
  const all: SectionResults[] = [];
  for (const selected of config.sections) {
    const results: WorkloadResults[] = [];
    for (const workload of selected.workloads) {
      results.push(
        await benchmarkWorkload(
          selected.section,
          workload,
          workloadServers(selected.section, workload, selected.servers),
          config,
          setup,
          counter,
        ),
      );
    }
    all.push({ selected, results });
  }

  await stopRedis?.();
  writeReport(config, all, uwsNote, pubSubNote);
  const failed = all.some(({ results }) =>
    results.some(({ runs }) => [...runs.values()].some((list) => list.some((run) => !run.ok))),
  );
  if (failed) process.exitCode = 1;
}

await main();
