import { ConfigError } from '../errors.ts';
import type { ServerOptions } from '../options.ts';

/**
 * Bun.serve's own server options, so that a Bun program's `serve({ … })` call runs unchanged. Each
 * stands for a Peregrine option, or is accepted with nothing to do, or (what Peregrine lacks) is
 * refused with a clear error at start-up rather than ignored.
 */
export interface BunServeOptions {
  /** Where to listen, as Bun names it (Peregrine's `host`). */
  hostname?: string;
  /** Largest request body in bytes (Peregrine's `maxBodyBytes`; Bun's default is 128 MiB, Peregrine's 1 MiB). */
  maxRequestBodySize?: number;
  /** Seconds an idle keep-alive connection is kept (Peregrine's `keepAliveTimeout`, in ms); 0 closes after each response. */
  idleTimeout?: number;
  /** Bun's development mode (its error page): accepted; Peregrine has no such mode. */
  development?: boolean | { hmr?: boolean; console?: boolean };
  /** Accepted: Peregrine's workers always share the port (SO_REUSEPORT, or node:cluster). */
  reusePort?: boolean;
  /** Accepted: Bun uses it to match a server across hot reloads. */
  id?: string | null;
}

/**
 * Bun options Peregrine does not have: refused, with what to do instead. (`tls` is Peregrine's own
 * option, with Bun's shape: `{ cert, key, ca?, passphrase?, serverName? }` or an array of them.)
 */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  unix: 'listening on a Unix socket is not supported: give a port',
  ipv6Only: "'ipv6Only' is not supported: give an IPv6 address as hostname",
};

/**
 * Splits `options` into Peregrine's server options, with the Bun names translated. A Bun name given
 * together with the Peregrine option it stands for is a ConfigError, as is an option Peregrine lacks.
 */
export function fromBunOptions(
  options: ServerOptions & BunServeOptions & Record<string, unknown>,
): ServerOptions {
  const { hostname, maxRequestBodySize, idleTimeout, development, reusePort, id, ...rest } = options;
  for (const name of Object.keys(UNSUPPORTED))
    if (rest[name] !== undefined) throw new ConfigError(UNSUPPORTED[name]!);
  const out: ServerOptions = rest;
  const both = (bun: string, ours: keyof ServerOptions) => {
    if (out[ours] !== undefined) throw new ConfigError(`give '${bun}' or '${ours}', not both`);
  };
  if (hostname !== undefined) {
    both('hostname', 'host');
    out.host = hostname;
  }
  if (maxRequestBodySize !== undefined) {
    both('maxRequestBodySize', 'maxBodyBytes');
    out.maxBodyBytes = maxRequestBodySize;
  }
  if (idleTimeout !== undefined) {
    both('idleTimeout', 'keepAliveTimeout');
    if (typeof idleTimeout !== 'number' || !Number.isFinite(idleTimeout) || idleTimeout < 0)
      throw new ConfigError(
        `option 'idleTimeout' must be a number of seconds >= 0, got ${String(idleTimeout)}`,
      );
    out.keepAliveTimeout = Math.round(idleTimeout * 1000);
  }
  if (
    development !== undefined &&
    typeof development !== 'boolean' &&
    (development === null || typeof development !== 'object')
  )
    throw new ConfigError(`option 'development' must be a boolean or an object, got ${String(development)}`);
  if (reusePort !== undefined && typeof reusePort !== 'boolean')
    throw new ConfigError(`option 'reusePort' must be a boolean, got ${String(reusePort)}`);
  if (id !== undefined && id !== null && typeof id !== 'string')
    throw new ConfigError(`option 'id' must be a string, got ${String(id)}`);
  return out;
}
