// One measured run: start a fresh server, check it answers right, load it with the workload's driver
// while sampling its CPU time and memory from /proc, and stop it.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type Config, WARMUP_SECONDS } from './config.ts';
import { openIdleConnections } from './idle-load-driver.ts';
import { errorMessage } from './log.ts';
import { freePort } from './net.ts';
import { readCpuTicks, readExitedChildrenCpuTicks, readPeakRss, readRss } from './proc.ts';
import type { RunResult } from './results.ts';
import type { HttpWorkload, IdleWorkload, ServerSpec, Workload, WsWorkload } from './sections.ts';
import { type RunningServer, type ServerSetup, startServer, withStderr } from './server-process.ts';
import { SMALL_BODY } from './servers/bodies.ts';
import { newConnectionsProblem, readTcpPassiveOpens, tlsFiles } from './tls.ts';
import { runWrk, wrkProblems } from './wrk.ts';
import { runWsLoad } from './ws-load-driver.ts';

const CHECK_TIMEOUT_MS = 5_000;
/** How long the server's memory is left to settle before each reading (idle section). */
export const IDLE_SETTLE_MS = 1_000;

/**
 * One request with a fresh connection (a GET, or the workload's POST with its body), to check status,
 * Content-Type and body before loading the server. Over TLS the certificate must be `ca`, the run's.
 */
function checkResponse(port: number, workload: HttpWorkload, ca?: Buffer): Promise<void> {
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
    const send = workload.tls ? httpsRequest : request;
    const sent = send(workload.tls ? { ...options, ca } : options, (response) => {
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

/** Checks one response, warms the server up with wrk, then measures one wrk run. */
async function loadHttpServer(
  server: RunningServer,
  workload: HttpWorkload,
  config: Config,
  setup: ServerSetup,
): Promise<RunResult> {
  const connections = workload.connections ?? config.connections;
  const files = tlsFiles(setup.tempDir);
  await checkResponse(server.port, workload, workload.tls ? readFileSync(files.cert) : undefined);
  const preload = workload.newConnections ? files.shim : undefined;
  await runWrk(workload, server.port, WARMUP_SECONDS, connections, preload);

  const ticksBefore = readCpuTicks(server.pid);
  const wrkTicksBefore = readExitedChildrenCpuTicks();
  const gcsBefore = server.minorGcs();
  const acceptedBefore = workload.newConnections ? readTcpPassiveOpens() : 0;
  const startedAt = performance.now();
  const report = await runWrk(workload, server.port, config.seconds, connections, preload);
  const wallSeconds = (performance.now() - startedAt) / 1000;
  const accepted = workload.newConnections ? readTcpPassiveOpens() - acceptedBefore : 0;
  if (!server.isAlive()) throw new Error('server exited during the run');
  const cpuSeconds = (readCpuTicks(server.pid) - ticksBefore) / config.clockTicks;
  const wrkCpuSeconds = (readExitedChildrenCpuTicks() - wrkTicksBefore) / config.clockTicks;
  const peakRssBytes = readPeakRss(server.pid);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the last --trace-gc lines are on their way
  const gcsAfter = server.minorGcs();

  const problems = wrkProblems(report);
  const handshakes = workload.newConnections
    ? newConnectionsProblem(report.requests, accepted, report.stderr)
    : undefined;
  if (handshakes !== undefined) problems.push(handshakes);
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

/** One ws-load run, with the server's CPU time over its measured window. */
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
  const idle = await openIdleConnections(server.port, workload.connections);
  try {
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    if (!server.isAlive()) throw new Error('server exited during the run');
    const lost = idle.lost();
    if (lost !== undefined) throw new Error(lost);
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
    await idle.close();
  }
}

function loadServer(
  server: RunningServer,
  workload: Workload,
  config: Config,
  setup: ServerSetup,
): Promise<RunResult> {
  if (workload.kind === 'idle') return loadIdleServer(server, workload);
  return workload.kind === 'http'
    ? loadHttpServer(server, workload, config, setup)
    : loadWsServer(server, workload, config);
}

/** One run of `spec` on `workload` on a fresh server; a failure is a result, not an exception. */
export async function measureRun(
  spec: ServerSpec,
  workload: Workload,
  config: Config,
  setup: ServerSetup,
): Promise<RunResult> {
  let server: RunningServer | undefined;
  try {
    server = await startServer(spec, workload, await freePort(), setup);
    return await loadServer(server, workload, config, setup);
  } catch (error) {
    const message = errorMessage(error);
    return { ok: false, error: server ? withStderr(message, server) : message };
  } finally {
    await server?.stop();
  }
}
