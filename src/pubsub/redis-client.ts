import type { ConnectionOptions } from 'node:tls';
import { ConfigError, UsageError } from '../errors.ts';
import { RedisConnection, RedisError } from './redis-connection.ts';
import { parseRedisUrl, type RedisAddress } from './redis-url.ts';
import { commandLength, DEFAULT_MAX_BULK_LENGTH, type RespArg, RespError, type RespValue } from './resp.ts';

export { RedisError } from './redis-connection.ts';

export interface RedisPubSubOptions {
  /** redis://[[user]:password@]host[:port][/db], or rediss://… for TLS. */
  url: string;
  /** Extra options for tls.connect with rediss:// (ca, servername, rejectUnauthorized, cert, key, …). */
  tls?: ConnectionOptions;
  /** How long connecting (TCP, TLS, AUTH, SELECT) may take per attempt, in ms (default 5000). */
  connectTimeout?: number;
  /** The first delay before reconnecting, in ms (default 50); it doubles on each failure… */
  minBackoff?: number;
  /** …up to this many ms (default 5000). Each delay is jittered down by up to half. */
  maxBackoff?: number;
  /** The most bytes of PUBLISH commands sent or queued and not yet answered (default 16 MiB). */
  maxPendingBytes?: number;
  /** The longest bulk string (a message) accepted from Redis (default 512 MiB). */
  maxBulkLength?: number;
  /** A message on a channel subscribed with subscribe(). */
  onMessage?(channel: string, payload: Buffer): void;
  /** A message on a channel matching a pattern subscribed with psubscribe(). */
  onPMessage?(pattern: string, channel: string, payload: Buffer): void;
  /** Both connections are up (again): publishes go out, subscriptions are in place. */
  onConnect?(): void;
  /** The client was connected and no longer is; it reconnects on its own. */
  onDisconnect?(error: Error): void;
  /**
   * Every failed connection attempt and every lost connection, including those onDisconnect reports
   * (for logging while Redis stays unreachable), and errors thrown by the callbacks above.
   */
  onError?(error: Error): void;
}

export interface RedisPubSubStats {
  /** Both connections are up. */
  readonly connected: boolean;
  /** How many times the client became connected again after being disconnected. */
  readonly reconnects: number;
  /** publish() calls that returned false: not connected, or too many bytes pending. */
  readonly publishesDropped: number;
  /** PUBLISH commands Redis answered with an error (e.g. NOPERM for the channel). */
  readonly publishErrors: number;
  /** Bytes of PUBLISH and other commands not yet answered. */
  readonly pendingBytes: number;
}

type Role = 'commands' | 'subscriber';

interface Link {
  readonly role: Role;
  connection: RedisConnection | null;
  /** Up and, for the subscriber, every subscription it had to restore confirmed. */
  ready: boolean;
  /** Failed attempts in a row, for the backoff. */
  failures: number;
  retry: NodeJS.Timeout | null;
}

/** Commands after which replies no longer come one per command: not for command(). */
const SUBSCRIBE_MODE_COMMANDS = new Set([
  'SUBSCRIBE',
  'PSUBSCRIBE',
  'SSUBSCRIBE',
  'UNSUBSCRIBE',
  'PUNSUBSCRIBE',
  'SUNSUBSCRIBE',
  'MONITOR',
]);

const DEFAULTS = {
  connectTimeout: 5000,
  minBackoff: 50,
  maxBackoff: 5000,
  maxPendingBytes: 16 * 1024 * 1024,
  maxBulkLength: DEFAULT_MAX_BULK_LENGTH,
};

/**
 * A Redis/Valkey client for pub/sub between server instances: one connection in subscribe mode, one
 * for PUBLISH and other commands (a connection in subscribe mode takes no other commands), each
 * reconnected with exponential backoff when lost.
 *
 * Delivery is at most once, as Redis pub/sub itself is: a message published while a connection is
 * down is lost, so publish() never queues across disconnects, and memory stays bounded when Redis
 * is slow or gone (publish returns false instead).
 */
export class RedisPubSubClient {
  private readonly options: RedisPubSubOptions;
  private readonly address: RedisAddress;
  private readonly connectTimeout: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxPendingBytes: number;
  private readonly maxBulkLength: number;

  private state: 'idle' | 'connecting' | 'running' | 'closed' = 'idle';
  private readonly commands: Link = {
    role: 'commands',
    connection: null,
    ready: false,
    failures: 0,
    retry: null,
  };
  private readonly subscriber: Link = {
    role: 'subscriber',
    connection: null,
    ready: false,
    failures: 0,
    retry: null,
  };
  /** What the caller wants subscribed. */
  private readonly channels = new Set<string>();
  private readonly patterns = new Set<string>();
  /** What the current subscriber connection has been asked to subscribe. */
  private sentChannels = new Set<string>();
  private sentPatterns = new Set<string>();
  /** Channels and patterns (un)subscribed since the last sync: it looks at these only. */
  private changedChannels = new Set<string>();
  private changedPatterns = new Set<string>();
  /** Confirmations still due for the subscriptions restored on (re)connecting. */
  private confirmationsDue = 0;
  private syncScheduled: NodeJS.Immediate | null = null;
  private connected = false;
  private everConnected = false;
  private reconnects = 0;
  private publishesDropped = 0;
  private publishErrors = 0;
  private firstAttempt: { resolve(): void; reject(error: Error): void } | null = null;
  private readonly onPublishReply = (error: Error | null, value: RespValue): void => {
    if (error === null && value instanceof RespError) this.publishErrors++;
  };

  constructor(options: RedisPubSubOptions) {
    if (typeof options !== 'object' || options === null)
      throw new ConfigError('Redis options must be an object');
    this.options = options;
    this.address = parseRedisUrl(options.url);
    this.connectTimeout = positive(options, 'connectTimeout');
    this.minBackoff = positive(options, 'minBackoff');
    this.maxBackoff = positive(options, 'maxBackoff');
    this.maxPendingBytes = positive(options, 'maxPendingBytes');
    this.maxBulkLength = positive(options, 'maxBulkLength');
    if (this.maxBackoff < this.minBackoff)
      throw new ConfigError(`option 'maxBackoff' must be at least 'minBackoff' (${this.minBackoff})`);
    if (options.tls !== undefined && !this.address.tls)
      throw new ConfigError("option 'tls' is given but the URL is redis://; use rediss:// for TLS");
  }

  get stats(): RedisPubSubStats {
    return {
      connected: this.connected,
      reconnects: this.reconnects,
      publishesDropped: this.publishesDropped,
      publishErrors: this.publishErrors,
      pendingBytes: this.commands.connection?.pendingBytes ?? 0,
    };
  }

  /**
   * Connects both connections. Resolves once both are up (AUTH and SELECT done, subscriptions made
   * before connecting in place); rejects with a RedisError if the first attempt fails, after which
   * the client is as if new (connect() or start() may be called again).
   */
  connect(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(this.usage('connect'));
    return new Promise((resolve, reject) => {
      this.firstAttempt = { resolve, reject };
      this.state = 'connecting';
      this.open(this.commands);
      this.open(this.subscriber);
    });
  }

  /**
   * Starts connecting without waiting: until Redis answers, publish() returns false and the client
   * keeps retrying (reported through onError); onConnect tells when it is up.
   */
  start(): void {
    if (this.state !== 'idle') throw this.usage('start');
    this.state = 'running';
    this.open(this.commands);
    this.open(this.subscriber);
  }

  /** Ends both connections and all retrying. Resolves once the sockets are closed. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasConnecting = this.state === 'connecting';
    this.state = 'closed';
    if (this.syncScheduled !== null) clearImmediate(this.syncScheduled);
    this.syncScheduled = null;
    const closing = [this.shut(this.commands), this.shut(this.subscriber)];
    this.connected = false;
    if (wasConnecting)
      this.settleFirstAttempt(new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', 'closed before connecting'));
    await Promise.all(closing);
  }

  /** Subscribes to `channel` (nothing is sent if it is already subscribed). */
  subscribe(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    this.changedChannels.add(channel);
    this.scheduleSync();
  }

  /** Unsubscribes from `channel`; no message of it is delivered after this call. */
  unsubscribe(channel: string): void {
    if (!this.channels.delete(channel)) return;
    this.changedChannels.add(channel);
    this.scheduleSync();
  }

  /** Subscribes to the channels matching a glob-style `pattern` (PSUBSCRIBE). */
  psubscribe(pattern: string): void {
    if (this.patterns.has(pattern)) return;
    this.patterns.add(pattern);
    this.changedPatterns.add(pattern);
    this.scheduleSync();
  }

  punsubscribe(pattern: string): void {
    if (!this.patterns.delete(pattern)) return;
    this.changedPatterns.add(pattern);
    this.scheduleSync();
  }

  /**
   * Publishes `payload` on `channel`, pipelined with the other commands of this event-loop turn and
   * not awaited. Returns false, and counts it in stats.publishesDropped, when the command connection
   * is down or more than maxPendingBytes are already waiting for Redis: the message is then lost.
   */
  publish(channel: string, payload: string | Uint8Array): boolean {
    const link = this.commands;
    const connection = link.connection;
    if (!link.ready || connection === null) {
      this.publishesDropped++;
      return false;
    }
    const args = ['PUBLISH', channel, payload];
    const bytes = commandLength(args);
    if (connection.pendingBytes + bytes > this.maxPendingBytes) {
      this.publishesDropped++;
      return false;
    }
    connection.call(args, this.onPublishReply, bytes);
    return true;
  }

  /**
   * Sends any command on the command connection (not SUBSCRIBE and its kin, nor MONITOR: those
   * would change how the connection answers; they reject with a UsageError).
   * Resolves with the reply; rejects with a RedisError when Redis answers with an error, when the
   * client is not connected, when maxPendingBytes would be exceeded, or when the connection drops
   * before the reply.
   */
  command(args: readonly RespArg[]): Promise<RespValue> {
    const name = typeof args[0] === 'string' ? args[0].toUpperCase() : '';
    if (SUBSCRIBE_MODE_COMMANDS.has(name))
      return Promise.reject(
        new UsageError(
          'ERR_PEREGRINE_REDIS_COMMAND',
          `${name} would break the command connection: use the methods`,
        ),
      );
    const link = this.commands;
    const connection = link.connection;
    if (!link.ready || connection === null)
      return Promise.reject(new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', 'not connected to Redis'));
    const bytes = commandLength(args);
    if (connection.pendingBytes + bytes > this.maxPendingBytes)
      return Promise.reject(
        new RedisError(
          'ERR_PEREGRINE_REDIS_CONNECTION',
          `more than ${this.maxPendingBytes} bytes wait for Redis`,
        ),
      );
    return new Promise((resolve, reject) => {
      connection.call(
        args,
        (error, value) => {
          if (error !== null) reject(error);
          else if (value instanceof RespError)
            reject(new RedisError('ERR_PEREGRINE_REDIS_REPLY', value.message));
          else resolve(value);
        },
        bytes,
      );
    });
  }

  // ─────────────────────────── connections ───────────────────────────

  private open(link: Link): void {
    link.retry = null;
    link.ready = false;
    try {
      link.connection = this.connection(link);
    } catch (error) {
      // tls.connect throws at once for some bad options (an unreadable CA, …): a failed attempt too.
      const failure = new RedisError(
        'ERR_PEREGRINE_REDIS_CONNECTION',
        `could not connect to Redis: ${String(error)}`,
        {
          cause: error,
        },
      );
      link.retry = setTimeout(() => this.linkLost(link, failure), 0);
    }
  }

  private connection(link: Link): RedisConnection {
    const connection: RedisConnection = new RedisConnection(
      {
        address: this.address,
        tls: this.options.tls,
        connectTimeout: this.connectTimeout,
        maxBulkLength: this.maxBulkLength,
        select: link.role === 'commands',
      },
      {
        onReady: () => this.linkUp(link),
        onLost: (error) => this.linkLost(link, error),
        ...(link.role === 'subscriber' ? { onPush: (value) => this.push(connection, value) } : {}),
      },
    );
    return connection;
  }

  private linkUp(link: Link): void {
    if (link.role === 'commands') {
      link.failures = 0;
      link.ready = true;
      this.updateConnected(null);
      return;
    }
    // Restore every subscription; the link is ready once Redis confirmed them all.
    const connection = link.connection!;
    this.sentChannels = new Set(this.channels);
    this.sentPatterns = new Set(this.patterns);
    this.changedChannels.clear();
    this.changedPatterns.clear();
    this.confirmationsDue = this.channels.size + this.patterns.size;
    if (this.channels.size > 0) connection.send(['SUBSCRIBE', ...this.channels]);
    if (this.patterns.size > 0) connection.send(['PSUBSCRIBE', ...this.patterns]);
    if (this.confirmationsDue === 0) this.subscriberReady();
  }

  private subscriberReady(): void {
    // Reset only now: a connection whose subscriptions Redis refuses keeps backing off.
    this.subscriber.failures = 0;
    this.subscriber.ready = true;
    this.updateConnected(null);
    // Changes made while restoring go out now.
    this.scheduleSync();
  }

  private linkLost(link: Link, error: RedisError): void {
    link.connection = null;
    link.ready = false;
    if (this.state === 'connecting') {
      // The first attempt failed: connect() rejects and the client goes back to idle.
      this.state = 'idle';
      const other = link === this.commands ? this.subscriber : this.commands;
      void this.shut(other);
      this.settleFirstAttempt(error);
      return;
    }
    if (this.state !== 'running') return;
    this.report(error);
    this.updateConnected(error);
    const delay = backoff(link.failures++, this.minBackoff, this.maxBackoff);
    link.retry = setTimeout(() => {
      if (this.state === 'running') this.open(link);
    }, delay);
  }

  private shut(link: Link): Promise<void> {
    if (link.retry !== null) clearTimeout(link.retry);
    link.retry = null;
    link.ready = false;
    const connection = link.connection;
    link.connection = null;
    return connection === null ? Promise.resolve() : connection.close();
  }

  private updateConnected(error: Error | null): void {
    const now = this.commands.ready && this.subscriber.ready;
    if (now === this.connected) return;
    this.connected = now;
    if (now) {
      if (this.everConnected) this.reconnects++;
      this.everConnected = true;
      if (this.state === 'connecting') {
        this.state = 'running';
        this.settleFirstAttempt(null);
      }
      this.callback(() => this.options.onConnect?.());
    } else {
      this.callback(() => this.options.onDisconnect?.(error ?? new Error('disconnected from Redis')));
    }
  }

  private settleFirstAttempt(error: Error | null): void {
    const first = this.firstAttempt;
    this.firstAttempt = null;
    if (first === null) return;
    if (error === null) first.resolve();
    else first.reject(error);
  }

  // ─────────────────────────── subscriptions ───────────────────────────

  private scheduleSync(): void {
    if (this.syncScheduled !== null || !this.subscriber.ready) return;
    // Changes made in one turn go out in one write (subscribing and unsubscribing cancel out).
    this.syncScheduled = setImmediate(() => this.sync());
  }

  /** Makes the subscriber connection's subscriptions match the wanted ones. */
  private sync(): void {
    this.syncScheduled = null;
    const connection = this.subscriber.connection;
    if (!this.subscriber.ready || connection === null) return;
    const [subscribe, unsubscribe] = diff(this.changedChannels, this.channels, this.sentChannels);
    const [psubscribe, punsubscribe] = diff(this.changedPatterns, this.patterns, this.sentPatterns);
    // Never an empty UNSUBSCRIBE: without arguments it means "from everything".
    if (subscribe.length > 0) connection.send(['SUBSCRIBE', ...subscribe]);
    if (unsubscribe.length > 0) connection.send(['UNSUBSCRIBE', ...unsubscribe]);
    if (psubscribe.length > 0) connection.send(['PSUBSCRIBE', ...psubscribe]);
    if (punsubscribe.length > 0) connection.send(['PUNSUBSCRIBE', ...punsubscribe]);
  }

  /** A value on the subscriber connection: a message, or the confirmation of a (un)subscribe. */
  private push(connection: RedisConnection, value: RespValue): void {
    if (value instanceof RespError) {
      connection.drop(
        new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', `Redis refused a subscription: ${value.message}`),
      );
      return;
    }
    const kind = Array.isArray(value) && value[0] instanceof Buffer ? value[0].toString('latin1') : '';
    const items = value as RespValue[];
    if (kind === 'message' && items.length === 3 && isBuffer(items[1]) && isBuffer(items[2])) {
      const channel = items[1].toString();
      // A message may still arrive for a channel unsubscribed a moment ago: only wanted ones are delivered.
      if (this.channels.has(channel))
        this.callback(() => this.options.onMessage?.(channel, items[2] as Buffer));
      return;
    }
    if (
      kind === 'pmessage' &&
      items.length === 4 &&
      isBuffer(items[1]) &&
      isBuffer(items[2]) &&
      isBuffer(items[3])
    ) {
      const pattern = items[1].toString();
      if (this.patterns.has(pattern))
        this.callback(() =>
          this.options.onPMessage?.(pattern, (items[2] as Buffer).toString(), items[3] as Buffer),
        );
      return;
    }
    if (kind === 'subscribe' || kind === 'psubscribe') {
      if (this.confirmationsDue > 0 && --this.confirmationsDue === 0 && !this.subscriber.ready)
        this.subscriberReady();
      return;
    }
    if (kind === 'unsubscribe' || kind === 'punsubscribe' || kind === 'pong') return;
    connection.drop(
      new RedisError(
        'ERR_PEREGRINE_REDIS_CONNECTION',
        'Redis sent something unexpected on the subscriber connection',
      ),
    );
  }

  // ─────────────────────────── reporting ───────────────────────────

  /** Runs a caller's callback; what it throws goes to onError, never into Redis's socket handlers. */
  private callback(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private report(error: Error): void {
    try {
      this.options.onError?.(error);
    } catch {
      // onError itself threw: there is nowhere left to report it.
    }
  }

  private usage(method: string): Error {
    return new UsageError(
      'ERR_PEREGRINE_REDIS_STATE',
      `${method}() may only be called on a new client, or after connect() rejected`,
    );
  }
}

/**
 * Of the `changed` names, those to subscribe (wanted, not sent) and to unsubscribe (sent, no longer
 * wanted); `sent` is updated to match and `changed` emptied.
 */
function diff(changed: Set<string>, wanted: Set<string>, sent: Set<string>): [string[], string[]] {
  const add: string[] = [];
  const remove: string[] = [];
  for (const name of changed) {
    if (wanted.has(name) && !sent.has(name)) {
      add.push(name);
      sent.add(name);
    } else if (!wanted.has(name) && sent.delete(name)) remove.push(name);
  }
  changed.clear();
  return [add, remove];
}

function isBuffer(value: RespValue | undefined): value is Buffer {
  return value instanceof Buffer;
}

/**
 * The delay before reconnection attempt `failures` (0 for the first): `min` doubling up to `max`,
 * minus a random part of up to half, so that many instances losing Redis together don't all come
 * back in the same millisecond.
 */
export function backoff(failures: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(failures, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function positive(options: RedisPubSubOptions, name: keyof typeof DEFAULTS): number {
  const value = options[name];
  if (value === undefined) return DEFAULTS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new ConfigError(`option '${name}' must be a positive integer, got ${String(value)}`);
  return value;
}
