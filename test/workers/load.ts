import { Agent } from 'node:http';
import { httpGet } from '../helpers.ts';

// Keep-alive HTTP clients sending requests back to back, as a load balancer's pool or a busy client
// would, for the zero-downtime tests: every answer is counted by the worker that gave it.

export interface LoadResult {
  ok: number;
  failures: string[];
  /** Answers per worker id (the body of a fixture's answer). */
  workers: Map<string, number>;
}

export interface Load {
  /** Answers so far. */
  readonly ok: number;
  /** Workers that answered since the last call (then starts a new tally). */
  takeWorkers(): Set<string>;
  stop(): Promise<LoadResult>;
}

export function startLoad(port: number, clients = 8, path = '/'): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  const result: LoadResult = { ok: 0, failures: [], workers: new Map() };
  let recent = new Set<string>();
  const loop = async () => {
    while (running) {
      try {
        const response = await httpGet(port, path, agent);
        if (response.status !== 200) result.failures.push(`status ${response.status}`);
        else {
          result.ok++;
          recent.add(response.body);
          result.workers.set(response.body, (result.workers.get(response.body) ?? 0) + 1);
        }
      } catch (error) {
        result.failures.push(String(error));
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    get ok() {
      return result.ok;
    },
    takeWorkers() {
      const taken = recent;
      recent = new Set();
      return taken;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

/** Waits until `check()` holds, polling; throws after `ms`. */
export async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const limit = Date.now() + ms;
  while (!check()) {
    if (Date.now() > limit) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
