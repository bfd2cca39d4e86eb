/**
 * Multi-process baseline for the benchmark: a node:cluster primary forks $WORKERS workers (default 2), each
 * running the same `node:http` handler as node-http.ts on 127.0.0.1:$PORT. node:cluster's default
 * scheduling is used (on Linux: round-robin, the primary accepts connections and hands them to workers).
 *
 * The primary prints `listening` once every worker accepts connections. SIGTERM to the primary stops the
 * workers (SIGTERM, then SIGKILL after a grace period) and exits once they have all exited. If a worker
 * dies on its own, the primary stops the others and exits with code 1, so the runner sees the server die.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { handleRequest } from './node-http-handler.ts';

const port = Number(process.env.PORT);
const WORKER_KILL_GRACE_MS = 2_000;

function workerCount(): number {
  const raw = process.env.WORKERS;
  if (raw === undefined || raw.trim() === '') return 2;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`node-http-cluster: WORKERS must be a positive integer, got "${raw}"`);
    process.exit(1);
  }
  return value;
}

function runPrimary(count: number): void {
  const live = new Set<Worker>();
  let listening = 0;
  let stopping = false;
  let exitCode = 0;

  const stop = (code: number): void => {
    exitCode = Math.max(exitCode, code);
    if (stopping) return;
    stopping = true;
    if (live.size === 0) process.exit(exitCode);
    for (const worker of live) worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of live) worker.process.kill('SIGKILL');
    }, WORKER_KILL_GRACE_MS).unref();
  };

  cluster.on('listening', () => {
    listening++;
    if (listening === count) console.log('listening');
  });
  cluster.on('exit', (worker, code, signal) => {
    live.delete(worker);
    if (!stopping) {
      console.error(
        `node-http-cluster: worker ${worker.process.pid} exited (code ${code}, signal ${signal})`,
      );
      stop(1);
    }
    if (live.size === 0) process.exit(exitCode);
  });
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));

  for (let i = 0; i < count; i++) live.add(cluster.fork());
}

if (cluster.isPrimary) runPrimary(workerCount());
else createServer(handleRequest).listen(port, '127.0.0.1');
