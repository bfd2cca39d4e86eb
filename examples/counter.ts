// The original's example: counts the requests served — across every worker, exactly — and answers
// with the count. The count lives in memory shared by all worker threads and is bumped atomically.
import { type Request, type Response, serve, sharedMemory } from '../src/index.ts';

// Created once by the primary; each worker's call returns the same memory.
const count = new BigInt64Array(sharedMemory('count', 8));

class Counter {
  handleRequest(_req: Request, res: Response): void {
    const n = Atomics.add(count, 0, 1n) + 1n;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${n}\n`);
  }
}

await serve(new Counter(), {
  port: Number(process.env.PORT ?? 3000),
  // /livez and /readyz for a container's health check or a load balancer (docker/counter.Dockerfile).
  health: true,
  workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
});
