import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.ts';
import { type HealthOptions, type HealthPaths, resolveHealth } from './health.ts';
import { type CompressionOptions, type ResolvedCompression, resolveCompression } from './http/compression.ts';
import type { Request } from './http/exchange.ts';
import { type ProxyHeaders, ProxyTrust, type TrustProxy } from './http/trusted-proxy.ts';
import type { AccessLogDestination, AccessLogFormat } from './observe/access-log.ts';
import { type PubSubOptions, type ResolvedPubSub, resolvePubSub } from './pubsub/options.ts';
import type { CertificateSource } from './transport/tls.ts';
import { type DeflateOptions, validateDeflateOptions } from './ws/deflate.ts';

/** Server configuration. Every field is optional; the defaults are listed in `DEFAULTS`. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 3000. */
  port?: number;
  /** Address to listen on. Default: every interface. */
  host?: string;
  /**
   * Workers, each with its own event loop; 0 = one per core (`os.availableParallelism()`). With 1 the
   * server runs in the calling thread. Default 0.
   */
  workers?: number;
  /**
   * How connections reach the workers: `'threads'` (worker threads, each listening with SO_REUSEPORT so the
   * kernel spreads connections), `'cluster'` (node:cluster processes, the primary hands connections out
   * round-robin), or `'auto'`: threads where the platform has SO_REUSEPORT, else cluster. Default 'auto'.
   */
  mode?: 'auto' | 'threads' | 'cluster';
  /** Heap limit of each worker in MiB (a worker over it is restarted). 0 = V8's default. Default 0. */
  workerHeapMb?: number;
  /**
   * Log start-up, worker crashes and restarts, shutdown, and connections refused at a limit (at most
   * once per 10 s) to the console. Default true.
   */
  log?: boolean;
  /** Largest request head (request line and header fields) in bytes → 431. Default 16384. */
  maxHeaderBytes?: number;
  /** Most header fields in one request → 431. Default 100. */
  maxHeaderCount?: number;
  /** Longest request-target in bytes → 414. Default 8192. */
  maxUrlLength?: number;
  /** Largest request body in bytes, declared or received → 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Milliseconds to receive a complete request head, from its first byte → 408 (slowloris). 0 = none. Default 10000. */
  headersTimeout?: number;
  /** Milliseconds to receive a complete request, head and body → 408. 0 = none. Default 60000. */
  requestTimeout?: number;
  /** Milliseconds an idle keep-alive connection is kept open. 0 = close after each response. Default 5000. */
  keepAliveTimeout?: number;
  /**
   * Milliseconds a handler may go without ending its response, counted from the request (and its body)
   * and from each write since: past it, the client gets 503 (or, once the response has started, the
   * connection is closed), `req.signal` aborts, and `onError` gets an HttpError with code
   * ERR_PEREGRINE_HANDLER_TIMEOUT naming the method and path. Waiting for a slow client to read is not counted.
   * 0 = no limit. Default 60000.
   */
  handlerTimeout?: number;
  /**
   * Milliseconds a client may take none of the response bytes waiting for it before the connection is
   * closed (nginx's send_timeout). The keep-alive and closing deadlines start once it has taken them
   * all. 0 = no limit. Default 60000.
   */
  sendTimeout?: number;
  /**
   * Most open connections per worker (the whole server's limit is this times the number of workers).
   * At the limit, the connections idle longest (keep-alive connections between requests) are closed
   * to make room, as nginx does; with none idle, a new connection is answered 503 with Retry-After
   * (over TLS: closed before its handshake). The process's open-file limit (`ulimit -n`) is a limit
   * too, enforced the same way. Default 10000.
   */
  maxConnections?: number;
  /** Requests served on one connection before it is closed. 0 = no limit. Default 0. */
  maxRequestsPerConnection?: number;
  /** Milliseconds `shutdown()` waits for in-flight requests before it closes what is left. Default 10000. */
  shutdownTimeout?: number;
  /**
   * Milliseconds to go on accepting and serving after SIGTERM/SIGINT or `shutdown()`, with readiness
   * (`health`) answering 503, before the graceful shutdown proper: time for a load balancer or
   * Kubernetes to take the server out of rotation (the preStop pattern). Default 0.
   */
  shutdownDelay?: number;
  /**
   * Shut down gracefully on SIGINT and SIGTERM, then exit; with several workers, SIGHUP restarts them
   * one at a time (see `restartWorkers()`). Default true.
   */
  handleSignals?: boolean;
  /**
   * Health endpoints answered by the server before the handler: `true` for `/livez` (200 while the
   * worker runs) and `/readyz` (200 while serving, 503 from the moment shutdown begins), or
   * `{ live, ready }` paths (false turns one off). GET and HEAD; `Cache-Control: no-store`. Default false.
   */
  health?: boolean | HealthOptions;
  /**
   * Listen backlog: connections the kernel holds until they are accepted (Linux caps it at
   * net.core.somaxconn). Past it a client's SYN is dropped and retried a second later, so a burst of
   * reconnecting clients (a restart, a load balancer's pool) would see one-second stalls: the
   * default has room for thousands. Default 4096.
   */
  backlog?: number;
  /** Largest WebSocket message (all fragments, after inflation) → close 1009. Default 1 MiB. */
  wsMaxMessageBytes?: number;
  /** Milliseconds without a frame from the peer before a ping; as long again without one, the socket is closed. 0 = never. Default 120000. */
  wsIdleTimeout?: number;
  /** Milliseconds to wait for the peer's Close after ours before the TCP connection is cut. Default 5000. */
  wsCloseTimeout?: number;
  /** Bytes a WebSocket may have waiting to be sent; beyond it the peer is too slow and is disconnected (1008). Default 16 MiB. */
  wsMaxBufferedBytes?: number;
  /**
   * What a send past `wsMaxBufferedBytes` does: `true` disconnects the peer as too slow (1008);
   * `false` drops that message and keeps the connection. Default true (Bun.serve's
   * `closeOnBackpressureLimit` in fetch mode, default false there).
   */
  wsCloseOnBackpressureLimit?: boolean;
  /**
   * Negotiate permessage-deflate (RFC 7692) when the client offers it: `true`, or the parameters
   * (context takeover per direction, window bits 8–15, the size below which messages are sent
   * uncompressed, the zlib level). Default false.
   */
  wsPerMessageDeflate?: boolean | WsDeflateOptions;
  /**
   * Compressed WebSocket messages inflating at once in a worker; the others wait their turn (and their
   * connections stop reading meanwhile). Bounds the memory that many clients sending highly
   * compressed messages (zip bombs) can take. Default 4.
   */
  wsInflateConcurrency?: number;
  /**
   * Inflated bytes the running decompressions of a worker may hold together; beyond it all but the
   * oldest pause until the others finish. Peak memory for inflation is about this plus
   * `wsMaxMessageBytes`. Default 32 MiB.
   */
  wsInflateMaxBytes?: number;
  /** Called with errors thrown by the handler. Default: `console.error`. */
  onError?: (error: unknown, request: Request | undefined) => void;
  /**
   * Serve HTTPS (and wss://): `{ cert, key }`, or several certificates chosen by the server name the
   * client asks for (SNI) — an array (each answering for the names it carries, or its `serverName`)
   * or an object from server name to `{ cert, key }`. The first is the default. `cert`, `key` and
   * `ca` are PEM contents (a string or Buffer) or the paths of PEM files; files are reloaded without
   * a restart when they change and on SIGHUP. TLS 1.2 and 1.3 only, forward-secret AEAD ciphers
   * only. Default: none (plain HTTP).
   */
  tls?: TlsCertificate | TlsCertificate[] | Record<string, TlsCertificate>;
  /**
   * With `tls`: also listen on this port for plain HTTP and answer every request with a 308 redirect
   * to the same URL over HTTPS. Default 0 (off).
   */
  redirectHttp?: number;
  /**
   * With `tls`, offer HTTP/2 as well as HTTP/1.1 (ALPN: a client that speaks h2 gets it). The handler,
   * fetch mode and DirServer run unchanged on either; WebSockets stay on HTTP/1.1. Default true.
   */
  http2?: boolean;
  /**
   * Accept HTTP/2 without TLS from clients that start with its preface (h2c with prior knowledge,
   * RFC 9113 §3.3), beside HTTP/1.1 on the same port. Default false.
   */
  h2c?: boolean;
  /** HTTP/2 streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). Default 100. */
  http2MaxConcurrentStreams?: number;
  /**
   * Compress responses: `true`, or `{ encodings, threshold, level, types }` (see CompressionOptions).
   * zstd (where this Node has it), br and gzip, chosen from Accept-Encoding; only compressible types
   * of at least `threshold` bytes (1 KiB); never ranges, HEAD, `no-transform` or a body that already
   * has a Content-Encoding. Levels chosen for speed. Default false.
   */
  compression?: boolean | CompressionOptions;
  /**
   * Which peers are proxies whose forwarding headers count for `req.clientAddress`, `req.protocol`,
   * `req.host` (and `server.requestIP()` in fetch mode): `false` (none: the headers are ignored),
   * a list of addresses, CIDR blocks and the names `'loopback'`, `'linklocal'`, `'uniquelocal'`
   * (alias `'private'`) — as an array or a comma-separated string —, a hop count (trust that many
   * proxies in front of the server, whatever their address), or `true` (every peer: only when
   * nothing but your proxy can reach the server, since any client could then claim any address).
   * The headers are walked from the right, past trusted hops. Default false.
   */
  trustProxy?: TrustProxy;
  /**
   * Which headers the trusted proxies set: `'x-forwarded'` (X-Forwarded-For, -Proto, -Host) or
   * `'forwarded'` (RFC 7239 `Forwarded`). Only that family counts: a proxy passes on whatever a
   * client sent in the other one, so reading both would let a client pick the answer. Default
   * 'x-forwarded'.
   */
  proxyHeaders?: ProxyHeaders;
  /**
   * Every connection starts with a PROXY protocol header, version 1 or 2 (haproxy's
   * proxy-protocol.txt), before TLS or HTTP: the client's address it carries becomes
   * `req.remoteAddress` (and the peer that `trustProxy` judges). A connection without a valid header
   * is closed, so only turn this on when every client comes through the proxy. Default false.
   */
  proxyProtocol?: boolean;
  /**
   * Serve Prometheus metrics at `/metrics` (`true`) or at the path given, answered by the server
   * before the handler, summed over every worker; `server.metrics()` gives the same numbers as an
   * object. Default false (nothing is counted).
   */
  metrics?: boolean | string;
  /**
   * One line per response: `true` (`2026-12-04T02:05:00.123Z 127.0.0.1 GET /a 200 7 0.4ms`),
   * `'common'` (NCSA Common Log Format), `'json'` (an object per line), or a function that makes the
   * line from an AccessEntry (return nothing to skip it). Batched and written off the event loop;
   * written out at graceful shutdown. Default false.
   */
  accessLog?: AccessLogFormat;
  /**
   * Where the access log goes: a file descriptor (1 is stdout, 2 stderr), the path of a file to
   * append to, or a writable stream. Default 1.
   */
  accessLogTo?: AccessLogDestination;
  /**
   * WebSocket pub/sub between instances (several machines, or several servers on one): with
   * `{ redis: 'redis://host:6379' }`, `publish()` reaches the subscribers of every instance that
   * uses the same Redis (or Valkey) and prefix. Each worker subscribes on Redis to the topics its
   * sockets subscribe to, and only while they do. See PubSubOptions. Default: none (publications
   * reach every worker of this instance).
   */
  pubsub?: PubSubOptions;
}

/** One TLS certificate (see the `tls` option). */
export type TlsCertificate = CertificateSource;

/** permessage-deflate parameters (RFC 7692 §7.1). */
export type WsDeflateOptions = Omit<DeflateOptions, 'maxInflatedBytes'>;

export type ResolvedOptions = Required<
  Omit<ServerOptions, 'host' | 'tls' | 'compression' | 'metrics' | 'health' | 'pubsub'>
> & {
  /** Pub/sub between instances, or null when publications stay in this instance. */
  pubsub: ResolvedPubSub | null;
  /** The metrics path, or false when metrics are off. */
  metrics: false | string;
  /** The health endpoints' paths, or null when off. */
  health: HealthPaths | null;
  /** Null when responses are not compressed. */
  compression: ResolvedCompression | null;
  host: string | undefined;
  /** The certificates, the default first; null for plain HTTP. */
  tls: TlsCertificate[] | null;
};

export const DEFAULTS: Readonly<ResolvedOptions> = Object.freeze({
  port: 3000,
  host: undefined,
  workers: 0,
  mode: 'auto',
  workerHeapMb: 0,
  log: true,
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxUrlLength: 8 * 1024,
  maxBodyBytes: 1024 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 60_000,
  keepAliveTimeout: 5_000,
  sendTimeout: 60_000,
  handlerTimeout: 60_000,
  maxConnections: 10_000,
  maxRequestsPerConnection: 0,
  shutdownTimeout: 10_000,
  shutdownDelay: 0,
  handleSignals: true,
  health: null,
  pubsub: null,
  backlog: 4096,
  wsMaxMessageBytes: 1024 * 1024,
  wsIdleTimeout: 120_000,
  wsCloseTimeout: 5_000,
  wsMaxBufferedBytes: 16 * 1024 * 1024,
  wsCloseOnBackpressureLimit: true,
  wsPerMessageDeflate: false,
  wsInflateConcurrency: 4,
  wsInflateMaxBytes: 32 * 1024 * 1024,
  onError: defaultOnError,
  tls: null,
  redirectHttp: 0,
  http2: true,
  h2c: false,
  http2MaxConcurrentStreams: 100,
  compression: null,
  trustProxy: false,
  proxyHeaders: 'x-forwarded',
  proxyProtocol: false,
  metrics: false,
  accessLog: false,
  accessLogTo: 1,
});

function defaultOnError(error: unknown, request: Request | undefined): void {
  if ((error as { code?: unknown } | null)?.code === 'ERR_PEREGRINE_HANDLER_TIMEOUT') {
    console.warn(`peregrine: ${(error as Error).message}`); // the message says it all; no stack
    return;
  }
  const where = request === undefined ? '' : ` (${request.method} ${request.target})`;
  console.error(`peregrine: handler error${where}:`, error);
}

type Rule = (name: string, value: unknown) => void;

function integer(min: number, max: number, zeroMeans?: string): Rule {
  return (name, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      const zero = zeroMeans === undefined ? '' : ` (0 means ${zeroMeans})`;
      throw new ConfigError(`option '${name}' must be an integer ${range}${zero}, got ${describe(value)}`);
    }
  };
}

function boolean(name: string, value: unknown): void {
  if (typeof value !== 'boolean')
    throw new ConfigError(`option '${name}' must be a boolean, got ${describe(value)}`);
}

const anyCount = Number.MAX_SAFE_INTEGER;
const RULES: Record<keyof ServerOptions, Rule> = {
  port: integer(0, 65535),
  host: (name, value) => {
    if (typeof value !== 'string' || value.length === 0) {
      throw new ConfigError(`option '${name}' must be a non-empty string, got ${describe(value)}`);
    }
  },
  workers: integer(0, 1024, 'one per core'),
  mode: (name, value) => {
    if (value !== 'auto' && value !== 'threads' && value !== 'cluster') {
      throw new ConfigError(
        `option '${name}' must be 'auto', 'threads' or 'cluster', got ${describe(value)}`,
      );
    }
  },
  workerHeapMb: integer(0, 1024 * 1024, "V8's default"),
  log: boolean,
  maxHeaderBytes: integer(256, anyCount),
  maxHeaderCount: integer(1, anyCount),
  maxUrlLength: integer(16, anyCount),
  maxBodyBytes: integer(0, Number.MAX_SAFE_INTEGER),
  headersTimeout: integer(0, 2 ** 31 - 1, 'no timeout'),
  requestTimeout: integer(0, 2 ** 31 - 1, 'no timeout'),
  keepAliveTimeout: integer(0, 2 ** 31 - 1, 'close after each response'),
  sendTimeout: integer(0, 2 ** 31 - 1, 'no limit'),
  handlerTimeout: integer(0, 2 ** 31 - 1, 'no limit'),
  maxConnections: integer(1, anyCount),
  maxRequestsPerConnection: integer(0, anyCount, 'no limit'),
  shutdownTimeout: integer(0, 2 ** 31 - 1),
  shutdownDelay: integer(0, 2 ** 31 - 1, 'none'),
  handleSignals: boolean,
  health: (name, value) => void resolveHealth(name, value),
  pubsub: (name, value) => void resolvePubSub(name, value),
  backlog: integer(1, anyCount),
  wsMaxMessageBytes: integer(0, Number.MAX_SAFE_INTEGER),
  wsIdleTimeout: integer(0, 2 ** 31 - 1, 'never'),
  wsCloseTimeout: integer(1, 2 ** 31 - 1),
  wsMaxBufferedBytes: integer(1, Number.MAX_SAFE_INTEGER),
  wsCloseOnBackpressureLimit: boolean,
  wsInflateConcurrency: integer(1, 1024),
  wsInflateMaxBytes: integer(1, Number.MAX_SAFE_INTEGER),
  wsPerMessageDeflate: (name, value) => {
    if (typeof value === 'boolean') return;
    if (value === null || typeof value !== 'object') {
      throw new ConfigError(
        `option '${name}' must be a boolean or an object of deflate parameters, got ${describe(value)}`,
      );
    }
    const known = [
      'serverNoContextTakeover',
      'clientNoContextTakeover',
      'serverMaxWindowBits',
      'clientMaxWindowBits',
      'threshold',
      'level',
    ];
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) throw new ConfigError(`option '${name}' has an unknown parameter '${key}'`);
    }
    try {
      validateDeflateOptions({ ...(value as WsDeflateOptions), maxInflatedBytes: 0 });
    } catch (error) {
      throw new ConfigError(`option '${name}': ${(error as Error).message}`);
    }
  },
  onError: (name, value) => {
    if (typeof value !== 'function')
      throw new ConfigError(`option '${name}' must be a function, got ${describe(value)}`);
  },
  tls: (name, value) => void certificateList(name, value),
  redirectHttp: integer(0, 65535, 'off'),
  http2: boolean,
  h2c: boolean,
  http2MaxConcurrentStreams: integer(1, 2 ** 31 - 1),
  compression: (_name, value) => void resolveCompression(value),
  trustProxy: (name, value) => {
    try {
      ProxyTrust.from(value);
    } catch (error) {
      const got = Array.isArray(value) ? '' : `, got ${describe(value)}`;
      throw new ConfigError(`option '${name}': ${(error as Error).message}${got}`);
    }
  },
  proxyHeaders: (name, value) => {
    if (value !== 'x-forwarded' && value !== 'forwarded')
      throw new ConfigError(`option '${name}' must be 'x-forwarded' or 'forwarded', got ${describe(value)}`);
  },
  proxyProtocol: boolean,
  metrics: (name, value) => {
    if (typeof value === 'boolean') return;
    if (typeof value !== 'string' || !/^\/[\x21-\x7e]*$/.test(value) || value.includes('?')) {
      throw new ConfigError(
        `option '${name}' must be a boolean or a path such as '/metrics' (visible ASCII, no query), got ${describe(value)}`,
      );
    }
  },
  accessLog: (name, value) => {
    if (typeof value === 'boolean' || value === 'common' || value === 'json' || typeof value === 'function')
      return;
    throw new ConfigError(
      `option '${name}' must be true, false, 'common', 'json' or a function, got ${describe(value)}`,
    );
  },
  accessLogTo: (name, value) => {
    if (typeof value === 'string' && value.length > 0) return;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return;
    if (typeof (value as { write?: unknown } | null)?.write === 'function') return;
    throw new ConfigError(
      `option '${name}' must be a file descriptor, a file path or a writable stream, got ${describe(value)}`,
    );
  },
};

const CERTIFICATE_KEYS = new Set(['cert', 'key', 'ca', 'passphrase', 'serverName']);
/** A host name, or a wildcard for one label (`*.example.com`). */
const SERVER_NAME =
  /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** The `tls` option as a list of certificates, the default first; throws a ConfigError for a bad one. */
function certificateList(name: string, value: unknown): TlsCertificate[] {
  if (value === null || typeof value !== 'object' || Object.keys(value).length === 0) {
    throw new ConfigError(
      `option '${name}' must be { cert, key }, an array of them, or an object of them by server name, got ${describe(value)}`,
    );
  }
  let entries: [string, unknown][];
  if (Array.isArray(value)) entries = value.map((entry, i) => [`${name}[${i}]`, entry]);
  else if ('cert' in value || 'key' in value) entries = [[name, value]];
  else
    entries = Object.entries(value).map(([serverName, entry]) => [
      `${name}['${serverName}']`,
      { ...(entry as object), serverName },
    ]);
  return entries.map(([where, entry]) => certificate(where, entry));
}

function certificate(where: string, entry: unknown): TlsCertificate {
  if (entry === null || typeof entry !== 'object')
    throw new ConfigError(`option '${where}' must be an object with cert and key, got ${describe(entry)}`);
  const fields = entry as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!CERTIFICATE_KEYS.has(key))
      throw new ConfigError(
        `option '${where}' has an unknown field '${key}' (cert, key, ca, passphrase, serverName)`,
      );
  }
  const pem = (field: string, required: boolean) => {
    const v = fields[field];
    if (v === undefined && !required) return;
    if (!((typeof v === 'string' && v.length > 0) || Buffer.isBuffer(v) || v instanceof Uint8Array)) {
      throw new ConfigError(
        `option '${where}.${field}' must be PEM contents (a string or Buffer) or the path of a PEM file, got ${describe(v)}`,
      );
    }
  };
  pem('cert', true);
  pem('key', true);
  pem('ca', false);
  if (fields.passphrase !== undefined && typeof fields.passphrase !== 'string')
    throw new ConfigError(
      `option '${where}.passphrase' must be a string, got ${describe(fields.passphrase)}`,
    );
  const serverName = fields.serverName;
  if (serverName !== undefined && (typeof serverName !== 'string' || !SERVER_NAME.test(serverName))) {
    throw new ConfigError(
      `option '${where}.serverName' must be a host name such as example.com or *.example.com, got ${describe(serverName)}`,
    );
  }
  return entry as TlsCertificate;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}

/** Checks every option against its rule and fills in the defaults. Throws a ConfigError naming the rule. */
export function resolveOptions(options: ServerOptions | undefined): ResolvedOptions {
  if (options === undefined) return resolveOptions({});
  if (typeof options !== 'object' || options === null) throw new ConfigError('options must be an object');
  const resolved: Record<string, unknown> = { ...DEFAULTS };
  for (const [name, value] of Object.entries(options)) {
    const rule = RULES[name as keyof ServerOptions];
    if (rule === undefined) throw new ConfigError(`unknown option '${name}'`);
    if (value === undefined) continue;
    rule(name, value);
    resolved[name] = value;
  }
  const result = resolved as ResolvedOptions;
  if (options.tls !== undefined) result.tls = certificateList('tls', options.tls);
  result.compression = options.compression === undefined ? null : resolveCompression(options.compression);
  if ((result.metrics as unknown) === true) result.metrics = '/metrics';
  result.health = options.health === undefined ? null : resolveHealth('health', options.health);
  result.pubsub = options.pubsub === undefined ? null : resolvePubSub('pubsub', options.pubsub);
  if (result.redirectHttp !== 0) {
    if (result.tls === null)
      throw new ConfigError(`option 'redirectHttp' redirects to HTTPS, so it needs 'tls'`);
    if (result.redirectHttp === result.port)
      throw new ConfigError(`option 'redirectHttp' (${result.redirectHttp}) must differ from 'port'`);
  }
  if (result.workers === 0) result.workers = availableParallelism();
  // The default URL limit follows a smaller head limit; only an explicit conflict is an error.
  if (options.maxUrlLength === undefined)
    result.maxUrlLength = Math.min(result.maxUrlLength, result.maxHeaderBytes);
  if (result.maxUrlLength > result.maxHeaderBytes) {
    throw new ConfigError(
      `option 'maxUrlLength' (${result.maxUrlLength}) must not exceed 'maxHeaderBytes' (${result.maxHeaderBytes})`,
    );
  }
  return result;
}
