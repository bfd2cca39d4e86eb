import { ConfigError } from './errors.ts';
import type { Request, RequestHandler, Response } from './http/exchange.ts';

/**
 * Health endpoints answered by the server itself, before the application's handler: liveness (the
 * worker's event loop runs) and readiness (the worker takes new work: 503 from the moment shutdown
 * begins, so a load balancer or Kubernetes stops sending before the listener closes).
 */

/** The `health` option: `true` for `/livez` and `/readyz`, or the paths (false turns one off). */
export interface HealthOptions {
  /** Liveness path, 200 while the worker's event loop runs. Default '/livez'; false: none. */
  live?: string | false;
  /** Readiness path, 200 while serving and 503 once shutdown has begun. Default '/readyz'; false: none. */
  ready?: string | false;
}

/** The paths to answer; null for one that is off. */
export interface HealthPaths {
  live: string | null;
  ready: string | null;
}

export const DEFAULT_HEALTH: Readonly<HealthPaths> = Object.freeze({ live: '/livez', ready: '/readyz' });

/** @internal Checks the `health` option; null when it is off. Throws a ConfigError naming the problem. */
export function resolveHealth(name: string, value: unknown): HealthPaths | null {
  if (value === false) return null;
  if (value === true) return { ...DEFAULT_HEALTH };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`option '${name}' must be true, false or { live, ready }, got ${typeof value}`);
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(fields))
    if (key !== 'live' && key !== 'ready')
      throw new ConfigError(`option '${name}' has an unknown field '${key}' (live, ready)`);
  const path = (key: 'live' | 'ready'): string | null => {
    const v = fields[key];
    if (v === undefined) return DEFAULT_HEALTH[key];
    if (v === false) return null;
    if (typeof v !== 'string' || !/^\/[\x21-\x7e]*$/.test(v) || v.includes('?') || v.includes('#'))
      throw new ConfigError(
        `option '${name}.${key}' must be a path starting with '/' (no query, no spaces) or false, got ${JSON.stringify(v)}`,
      );
    return v;
  };
  const paths = { live: path('live'), ready: path('ready') };
  if (paths.live !== null && paths.live === paths.ready)
    throw new ConfigError(`options '${name}.live' and '${name}.ready' must differ, both are '${paths.live}'`);
  if (paths.live === null && paths.ready === null) return null;
  return paths;
}

/**
 * @internal The application's handler behind the health endpoints. `ready()` is asked only for a readiness
 * request; every other request costs one or two string comparisons of its (cached) path.
 */
export function withHealth(inner: RequestHandler, paths: HealthPaths, ready: () => boolean): RequestHandler {
  // A path that is off never matches: no request path is empty.
  const live = paths.live ?? '';
  const readiness = paths.ready ?? '';
  return {
    handleRequest(req: Request, res: Response<unknown, never>): unknown {
      const path = req.path;
      if (path === live) answer(req, res, 200, 'live\n');
      else if (path === readiness) {
        const ok = ready();
        answer(req, res, ok ? 200 : 503, ok ? 'ready\n' : 'shutting down\n');
      } else return inner.handleRequest(req, res);
      return undefined;
    },
  };
}

function answer(req: Request, res: Response<unknown, never>, status: number, body: string): void {
  // Never cached: a proxy that kept a 200 would hide the 503 that says to stop sending.
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.status = 405;
    res.setHeader('Allow', 'GET, HEAD');
    res.end('method not allowed\n');
    return;
  }
  res.status = status;
  res.end(body);
}
