// One measured run of the pubsub section: start the server's instances (two on the run's Redis for the
// cross-instance row), run pubsub-load.ts against them, read their CPU time and GCs over its measured
// window, and stop them.
import type { Config } from './config.ts';
import { errorMessage } from './log.ts';
import { freePort } from './net.ts';
import { readCpuTicks, readPeakRss } from './proc.ts';
import { pubSubLoadArgs, runPubSubLoad } from './pubsub-driver.ts';
import type { RunResult } from './results.ts';
import { type PubSubWorkload, pubSubProtocol, type ServerSpec } from './sections.ts';
import { type RunningServer, type ServerSetup, startServer, withStderr } from './server-process.ts';

/** The servers' CPU ticks and minor GCs (summed over the instances) at one moment. */
interface Reading {
  readonly at: number;
  readonly ticks: number;
  readonly gcs: number | null;
}

function read(servers: readonly RunningServer[]): Reading {
  let ticks = 0;
  let gcs: number | null = 0;
  for (const server of servers) {
    ticks += readCpuTicks(server.pid);
    const count = server.minorGcs();
    gcs = gcs === null || count === null ? null : gcs + count;
  }
  return { at: performance.now(), ticks, gcs };
}

/** One run of `spec` on a pubsub workload; a failure is a result, not an exception. */
export async function measurePubSubRun(
  spec: ServerSpec,
  workload: PubSubWorkload,
  config: Config,
  setup: ServerSetup,
): Promise<RunResult> {
  const servers: RunningServer[] = [];
  try {
    if (workload.instances > 1 && setup.redisUrl === undefined)
      throw new Error('no Redis to relay between the instances');
    for (let i = 0; i < workload.instances; i++)
      servers.push(await startServer(spec, workload, await freePort(), setup));
    let before: Reading | undefined;
    let after: Reading | undefined;
    const args = pubSubLoadArgs(
      workload,
      pubSubProtocol(spec),
      servers.map((server) => server.port),
      config,
    );
    const report = await runPubSubLoad(args, config, {
      measuring: () => {
        before = read(servers);
      },
      over: () => {
        after = read(servers);
      },
    });
    if (servers.some((server) => !server.isAlive())) throw new Error('a server exited during the run');
    if (before === undefined || after === undefined)
      throw new Error('pubsub-load did not say when it measured');
    if (report.deliveries === 0) return { ok: false, error: 'no message delivered in the measured window' };
    const wallSeconds = (after.at - before.at) / 1000;
    const cpuSeconds = (after.ticks - before.ticks) / config.clockTicks;
    return {
      ok: true,
      perSecond: report.deliveriesPerSecond,
      count: report.deliveries,
      cpuMicrosPerUnit: (cpuSeconds * 1e6) / report.deliveries,
      cpuShare: cpuSeconds / wallSeconds,
      loadCpuShare: report.cpuSeconds / report.seconds,
      p50Ms: report.p50Ms,
      p99Ms: report.p99Ms,
      minorGcs: before.gcs === null || after.gcs === null ? null : after.gcs - before.gcs,
      peakRssBytes: servers.reduce((sum, server) => sum + readPeakRss(server.pid), 0),
    };
  } catch (error) {
    let message = errorMessage(error);
    for (const server of servers) message = withStderr(message, server);
    return { ok: false, error: message };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}
