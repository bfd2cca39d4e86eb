import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.ts';
import { parseRedisUrl, type RedisAddress } from './redis-url.ts';

/** The `pubsub` option: pub/sub between instances. */
export interface PubSubOptions {
  /**
   * The Redis (or Valkey) server that carries publications between instances:
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS.
   */
  redis: string;
  /** Channel names are this plus the topic: topic `chat` is channel `peregrine:chat`. Default 'peregrine:'. */
  prefix?: string;
  /**
   * true (default): `serve()` fails when Redis can't be reached at start-up. false: the server starts
   * anyway, logs it, and keeps trying; until it connects, publications reach this instance only.
   */
  required?: boolean;
  /** More TLS options for `rediss://`: `ca`, `servername`, a client certificate, … */
  tls?: ConnectionOptions;
}

/** The `pubsub` option, checked (the server's own view of it). */
export interface ResolvedPubSub {
  /** The URL as given (it may hold a password: never log it) and what it says. */
  url: string;
  address: RedisAddress;
  prefix: string;
  required: boolean;
  tls: ConnectionOptions | undefined;
}

const KNOWN = new Set(['redis', 'prefix', 'required', 'tls']);

/** Checks the `pubsub` option; every mistake is a ConfigError that says what is wrong. */
export function resolvePubSub(name: string, value: unknown): ResolvedPubSub {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      `option '${name}' must be an object like { redis: 'redis://127.0.0.1:6379' }, got ${typeof value}`,
    );
  }
  const options = value as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw new ConfigError(`option '${name}.${key}' is unknown (known: redis, prefix, required, tls)`);
  }
  if (options.redis === undefined)
    throw new ConfigError(`option '${name}.redis' is missing: the Redis URL, like redis://127.0.0.1:6379`);
  const address = parseRedisUrl(options.redis as string, `${name}.redis`);
  const prefix = options.prefix ?? 'peregrine:';
  if (typeof prefix !== 'string')
    throw new ConfigError(`option '${name}.prefix' must be a string, got ${typeof prefix}`);
  const required = options.required ?? true;
  if (typeof required !== 'boolean')
    throw new ConfigError(`option '${name}.required' must be a boolean, got ${typeof required}`);
  const tls = options.tls;
  if (tls !== undefined && (tls === null || typeof tls !== 'object'))
    throw new ConfigError(`option '${name}.tls' must be an object of node:tls connect options`);
  if (tls !== undefined && !address.tls)
    throw new ConfigError(`option '${name}.tls' is for rediss:// URLs; this one is redis://`);
  return {
    url: options.redis as string,
    address,
    prefix,
    required,
    tls: tls as ConnectionOptions | undefined,
  };
}
