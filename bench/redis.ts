// The pubsub section's Redis: a redis-server of the machine's (Debian's /usr/bin/redis-server), started
// once per benchmark on a free loopback port, without persistence, and stopped at the end.
import { existsSync } from 'node:fs';
import { errorMessage } from './log.ts';
import { freePort, waitForPort } from './net.ts';
import { hasExited, SERVER_CPU, spawnPinned, terminate, track } from './processes.ts';

export const REDIS_SERVER = '/usr/bin/redis-server';
const STARTUP_TIMEOUT_MS = 10_000;

/** A running redis-server: its URL for the servers, its pid, and how to stop it. */
export interface RunningRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts redis-server on CPU SERVER_CPU (with the servers it relays for: the load CPU is busy with the
 * load generator's thousands of sockets) with `--save '' --appendonly no`; or says why it can't.
 */
export async function startRedis(): Promise<RunningRedis | { readonly note: string }> {
  if (!existsSync(REDIS_SERVER)) {
    return {
      note: `the Redis rows were not run: ${REDIS_SERVER} is missing (apt-get install redis-server)`,
    };
  }
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  const child = spawnPinned(SERVER_CPU, REDIS_SERVER, args);
  const exited = track(child);
  let output = '';
  const keep = (chunk: string): void => {
    output = (output + chunk).slice(-2000);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const stop = (): Promise<void> => terminate(child, exited);
  // If the runner exits without stopping it (a fatal error), it must not outlive the runner.
  process.once('exit', () => {
    if (!hasExited(child)) child.kill('SIGKILL');
  });
  try {
    await waitForPort(port, exited, STARTUP_TIMEOUT_MS);
  } catch (error) {
    await stop();
    return {
      note: `the Redis rows were not run: redis-server did not start (${errorMessage(error)}) ${output}`,
    };
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid ?? -1, stop };
}
