// One measured run: start a fresh server, check it answers right, load it with the workload's driver
// while sampling its CPU time and memory from /proc, and stop it.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { type Config, WARMUP_SECONDS } from './config.ts';

/** Workloads with at least this many connections pause SETTLE_MS between the warm-up and the measured run. */
const SETTLE_CONNECTIONS = 256;
const SETTLE_MS = 1000;

import { h2loadArgs, h2loadProblems, runH2load } from './h2load.ts';
import { openIdleConnections } from './idle-load-driver.ts';
import { errorMessage } from './log.ts';
import { freePort } from './net.ts';
import { readCpuTicks, readExitedChildrenCpuTicks, readPeakRss, readRss } from './proc.ts';
import { measurePubSubRun } from './pubsub-measure.ts';
import type { RunResult } from './results.ts';
import type {
  HttpWorkload,
  IdleWorkload,
  PubSubWorkload,
  ServerSpec,
  Workload,
  WsWorkload,
} from './sections.ts';
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
 * With `acceptEncoding` the request says so, and the response must carry that Content-Encoding and a
 * body that decodes to the expected one.
 */
function checkResponse(port: number, workload: HttpWorkload, ca?: Buffer): Promise<void> {
  const upload = workload.uploadBytes === undefined ? undefined : Buffer.alloc(workload.uploadBytes, 'x');
  const options = {
    host: '127.0.0.1',
    port,
    path: workload.path,
    agent: false,
    method: upload === undefined ? 'GET' : 'POST',
    headers: {
      ...(upload === undefined ? {} : { 'Content-Type': 'application/octet-stream' }),
      ...(workload.acceptEncoding === undefined ? {} : { 'Accept-Encoding': workload.acceptEncoding }),
    },
  };
  return new Promise((resolve, reject) => {
    const send = workload.tls ? httpsRequest : request;
    const sent = send(workload.tls ? { ...options, ca } : options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const type = response.headers['content-type'] ?? '';
        const encoding = response.headers['content-encoding'];
        let problem: string | undefined;
        let body = Buffer.concat(chunks);
        if (workload.acceptEncoding !== undefined) {
          if (encoding !== workload.acceptEncoding)
            problem = `${options.method} ${workload.path}: Content-Encoding "${encoding ?? ''}", not ${workload.acceptEncoding}`;
          else {
            try {
              body = gunzipSync(body);
            } catch (error) {
              problem = `${options.method} ${workload.path}: the body does not gunzip: ${errorMessage(error)}`;
            }
          }
        }
        problem ??= responseProblem(
          workload,
          options.method,
          response.statusCode,
          type,
          body.toString('latin1'),
        );
        if (problem === undefined) resolve();
        else reject(new Error(problem));
      });
    });
    sent.setTimeout(CHECK_TIMEOUT_MS, () =>
      sent.destroy(new Error(`${options.method} ${workload.path}: timed out`)),
    );
    sent.on('error', reject);
    sent.end(upload);
  });
}

/** Why a response is not the one `workload` expects (status, Content-Type, body); undefined if it is. */
function responseProblem(
  workload: HttpWorkload,
  method: string,
  status: number | undefined,
  type: string,
  body: string,
): string | undefined {
  if (status !== 200) return `${method} ${workload.path}: status ${status}`;
  if (!type.startsWith(workload.contentType ?? 'text/plain'))
    return `${method} ${workload.path}: Content-Type "${type}"`;
  if (body !== workload.body) return `${method} ${workload.path}: unexpected ${body.length}-byte body`;
  return undefined;
}

/**
 * One `GET` over a new HTTP/2 connection (the certificate must be `ca`, the run's), to check that the
 * server negotiates h2 by ALPN and answers status, Content-Type and body as expected.
 */
function checkH2Response(port: number, workload: HttpWorkload, ca: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca, ALPNProtocols: ['h2'] });
    const done = (error?: Error): void => {
      session.close();
      if (error) reject(error);
      else resolve();
    };
    session.setTimeout(CHECK_TIMEOUT_MS, () => {
      session.destroy();
      reject(new Error(`h2 GET ${workload.path}: timed out`));
    });
    session.on('error', done);
    const stream = session.request({ ':method': 'GET', ':path': workload.path });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let type = '';
    stream.on('response', (headers) => {
      status = headers[':status'];
      type = String(headers['content-type'] ?? '');
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', done);
    stream.on('end', () => {
      if (session.alpnProtocol !== 'h2') {
        done(new Error(`h2 GET ${workload.path}: ALPN chose ${session.alpnProtocol}, not h2`));
        return;
      }
      const body = Buffer.concat(chunks).toString('latin1');
      const problem = responseProblem(workload, 'h2 GET', status, type, body);
      done(problem === undefined ? undefined : new Error(problem));
    });
    stream.end();
  });
}

/**
 * Checks one HTTP/2 response, then runs h2load: WARMUP_SECONDS of unmeasured load, then the measured
 * window, over which the server's CPU time, h2load's and the server's minor GCs are read (h2load says
 * when the window opens and closes).
 */
async function loadH2Server(
  server: RunningServer,
  workload: HttpWorkload,
  config: Config,
  setup: ServerSetup,
): Promise<RunResult> {
  await checkH2Response(server.port, workload, readFileSync(tlsFiles(setup.tempDir).cert));
  const connections = workload.connections ?? config.connections;
  const args = h2loadArgs(workload, server.port, config.seconds, WARMUP_SECONDS, connections);
  const read = (loadPid: number) => ({
    at: performance.now(),
    ticks: readCpuTicks(server.pid),
    loadTicks: readCpuTicks(loadPid),
    gcs: server.minorGcs(),
  });
  let before: ReturnType<typeof read> | undefined;
  let after: ReturnType<typeof read> | undefined;
  const report = await runH2load(args, {
    started: (pid) => {
      before = read(pid);
    },
    over: (pid) => {
      after = read(pid);
    },
  });
  if (!server.isAlive()) throw new Error('server exited during the run');
  if (before === undefined || after === undefined) throw new Error('h2load did not announce its window');
  const peakRssBytes = readPeakRss(server.pid);
  const problems = h2loadProblems(report);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  const wallSeconds = (after.at - before.at) / 1000;
  const cpuSeconds = (after.ticks - before.ticks) / config.clockTicks;
  return {
    ok: true,
    perSecond: report.requestsPerSecond,
    count: report.succeeded,
    cpuMicrosPerUnit: (cpuSeconds * 1e6) / report.succeeded,
    cpuShare: cpuSeconds / wallSeconds,
    loadCpuShare: (after.loadTicks - before.loadTicks) / config.clockTicks / wallSeconds,
    // h2load gives no latency percentiles (only min, max, mean and deviation).
    p50Ms: null,
    p99Ms: null,
    minorGcs: before.gcs === null || after.gcs === null ? null : after.gcs - before.gcs,
    peakRssBytes,
  };
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
  // wrk exits with a response in flight on most of its connections, so the kernel resets them all
  // at once; a measured run that opens its own hundreds of connections in that moment had some of
  // them set up a second late, which showed as p99s of 0.4–1.2 s for raw node:net as for Peregrine
  // (2 of 6 back-to-back runs each). A second's pause lets the teardown finish first.
  if (connections >= SETTLE_CONNECTIONS) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

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

  const problems = wrkProblems(
    report,
    workload.acceptEncoding === undefined ? undefined : Buffer.byteLength(workload.body, 'latin1'),
  );
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
    // figures are not per-request latencies, so they are reported only where a workload asks for
    // them as batch latencies (the plaintext rows, as TechEmpower reports them).
    p50Ms: workload.pipeline > 1 && workload.batchLatency !== true ? null : report.p50Ms,
    // Pipelined, wrk 4.1 prints a 99th percentile of 0, below its own median, which can't be: it is
    // left out as not measured.
    p99Ms:
      workload.pipeline > 1 && (workload.batchLatency !== true || report.p99Ms < report.p50Ms)
        ? null
        : report.p99Ms,
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
 * For the WebSocket workload the first reading follows one WebSocket opened and closed (a one-
 * connection idle-load.ts), and the connections are WebSockets, each subscribed to a topic.
 */
async function loadIdleServer(server: RunningServer, workload: IdleWorkload): Promise<RunResult> {
  const websocket = workload.websocket === true;
  if (websocket) {
    await (await openIdleConnections(server.port, 1, true)).close();
  } else {
    await checkResponse(server.port, {
      kind: 'http',
      name: '',
      path: '/',
      body: SMALL_BODY,
      pipeline: 1,
      workers: 1,
    });
  }
  await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
  const before = readRss(server.pid);
  const idle = await openIdleConnections(server.port, workload.connections, websocket);
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
  workload: Exclude<Workload, PubSubWorkload>,
  config: Config,
  setup: ServerSetup,
): Promise<RunResult> {
  if (workload.kind === 'idle') return loadIdleServer(server, workload);
  if (workload.kind === 'http' && workload.http2 !== undefined)
    return loadH2Server(server, workload, config, setup);
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
  // A pubsub run has one or two instances of the server: its own module starts and stops them.
  if (workload.kind === 'pubsub') return measurePubSubRun(spec, workload, config, setup);
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
