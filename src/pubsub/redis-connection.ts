import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import { PeregrineError } from '../errors.ts';
import { addressText, type RedisAddress } from './redis-url.ts';
import {
  commandLength,
  encodePipeline,
  type RespArg,
  RespError,
  RespParser,
  RespProtocolError,
  type RespValue,
} from './resp.ts';

/** Why a Redis connection failed, a command could not be sent, or Redis answered with an error. */
export class RedisError extends PeregrineError {
  constructor(
    code: 'ERR_PEREGRINE_REDIS_CONNECTION' | 'ERR_PEREGRINE_REDIS_REPLY',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'RedisError';
  }
}

/** Called with a command's reply, or with the error that means it will never come. */
export type ReplyCallback = (error: RedisError | null, value: RespValue) => void;

export interface RedisConnectionOptions {
  readonly address: RedisAddress;
  /** Extra options for tls.connect (ca, servername, rejectUnauthorized, …) when address.tls. */
  readonly tls: ConnectionOptions | undefined;
  /** How long connecting, TLS and the handshake may take, in ms. */
  readonly connectTimeout: number;
  readonly maxBulkLength: number;
  /** SELECT the address's database in the handshake (the command connection's need, not pub/sub's). */
  readonly select: boolean;
}

export interface RedisConnectionEvents {
  /** The handshake (AUTH, SELECT, PING) succeeded: commands may be sent. */
  onReady(): void;
  /** The connection is gone (never called after close()). Pending replies were failed first. */
  onLost(error: RedisError): void;
  /**
   * Subscriber connections only: every value after the handshake (RESP2 subscribe mode has no
   * replies in order, only messages and confirmations).
   */
  onPush?(value: RespValue): void;
}

interface Pending {
  readonly bytes: number;
  readonly callback: ReplyCallback | null;
}

const KEEPALIVE_DELAY_MS = 15_000;

/**
 * One connection to Redis, from connecting to its loss: TCP or TLS, the handshake (AUTH and SELECT
 * from the URL, then a PING that proves Redis answers), and pipelining: the commands of one event
 * loop turn go out in one write, and replies are matched to them in order (RESP guarantees it). It
 * counts the bytes of commands sent or queued and not yet answered, so callers can bound them.
 * It never reconnects: its owner makes a new one.
 */
export class RedisConnection {
  private readonly options: RedisConnectionOptions;
  private readonly events: RedisConnectionEvents;
  private readonly socket: Socket;
  private readonly parser: RespParser;
  private readonly replies = new Fifo<Pending>();
  private queue: (readonly RespArg[])[] = [];
  private flushScheduled = false;
  private state: 'connecting' | 'handshake' | 'ready' | 'gone' = 'connecting';
  private connectTimer: NodeJS.Timeout | null;
  private closed: Promise<void>;
  /** Bytes of commands queued or written whose replies have not arrived. */
  pendingBytes = 0;

  constructor(options: RedisConnectionOptions, events: RedisConnectionEvents) {
    this.options = options;
    this.events = events;
    this.parser = new RespParser({ maxBulkLength: options.maxBulkLength });
    const { host, port } = options.address;
    this.socket = options.address.tls
      ? connectTls({
          host,
          port,
          // SNI takes names only (RFC 6066 §3); the certificate is still checked against an IP.
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...options.tls,
        })
      : connectTcp({ host, port });
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on(options.address.tls ? 'secureConnect' : 'connect', () => this.handshake());
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const problem = error.syscall !== undefined && error.code !== undefined ? error.code : error.message;
      const what =
        this.state === 'connecting' ? 'could not connect to Redis at' : 'lost the connection to Redis at';
      this.fail(
        new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', `${what} ${this.where}: ${problem}`, {
          cause: error,
        }),
      );
    });
    socket.on('close', () =>
      this.fail(
        new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', `Redis at ${this.where} closed the connection`),
      ),
    );
    this.connectTimer = setTimeout(() => {
      this.fail(
        new RedisError(
          'ERR_PEREGRINE_REDIS_CONNECTION',
          `could not connect to Redis at ${this.where}: no answer within ${options.connectTimeout} ms`,
        ),
      );
    }, options.connectTimeout);
  }

  /** host:port, IPv6 in brackets. */
  get where(): string {
    return addressText(this.options.address);
  }

  private get gone(): boolean {
    return this.state === 'gone';
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /**
   * Queues a command for this turn's write; `callback` gets its reply (null: nobody waits for it).
   * Only for command connections, and only once ready.
   */
  call(args: readonly RespArg[], callback: ReplyCallback | null, bytes = commandLength(args)): void {
    this.pendingBytes += bytes;
    this.replies.push({ bytes, callback });
    this.enqueue(args);
  }

  /** Queues a command whose answers come as pushes (subscriber connections in subscribe mode). */
  send(args: readonly RespArg[]): void {
    this.enqueue(args);
  }

  /** Drops the connection for `error` (a reply it can't accept): pending replies fail, onLost follows. */
  drop(error: RedisError): void {
    this.fail(error);
  }

  /** Ends the connection without onLost; pending replies fail. Resolves once the socket is closed. */
  close(): Promise<void> {
    this.fail(new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', 'the Redis client was closed'), false);
    return this.closed;
  }

  private enqueue(args: readonly RespArg[]): void {
    this.queue.push(args);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One write per event-loop turn: everything queued until the check phase goes out together.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.state === 'gone' || this.queue.length === 0) return;
    const commands = this.queue;
    this.queue = [];
    this.socket.write(encodePipeline(commands));
  }

  private handshake(): void {
    if (this.state !== 'connecting') return;
    this.state = 'handshake';
    const { username, password, db } = this.options.address;
    const steps: RespArg[][] = [];
    if (password !== undefined)
      steps.push(username === undefined ? ['AUTH', password] : ['AUTH', username, password]);
    if (this.options.select && db !== 0) steps.push(['SELECT', String(db)]);
    steps.push(['PING']);
    let left = steps.length;
    for (const args of steps) {
      this.call(args, (error, value) => {
        if (error !== null) return; // the connection failed; that error has been reported
        if (value instanceof RespError) {
          // Don't echo AUTH's arguments: only the command's name.
          this.fail(
            new RedisError('ERR_PEREGRINE_REDIS_CONNECTION', `Redis refused ${args[0]}: ${value.message}`),
          );
          return;
        }
        if (--left > 0) return;
        if (this.connectTimer !== null) clearTimeout(this.connectTimer);
        this.connectTimer = null;
        this.state = 'ready';
        this.events.onReady();
      });
    }
  }

  private read(chunk: Buffer): void {
    if (this.state === 'gone') return;
    let values: RespValue[];
    try {
      values = this.parser.feed(chunk);
    } catch (error) {
      const message = error instanceof RespProtocolError ? error.message : String(error);
      this.fail(
        new RedisError(
          'ERR_PEREGRINE_REDIS_CONNECTION',
          `Redis at ${this.where} broke the protocol: ${message}`,
          {
            cause: error,
          },
        ),
      );
      return;
    }
    for (const value of values) {
      if (this.gone) return; // a callback dropped or closed the connection
      const pending = this.replies.shift();
      if (pending !== undefined) {
        this.pendingBytes -= pending.bytes;
        pending.callback?.(null, value);
      } else if (this.state === 'ready' && this.events.onPush !== undefined) {
        this.events.onPush(value);
      } else {
        this.fail(
          new RedisError(
            'ERR_PEREGRINE_REDIS_CONNECTION',
            `Redis at ${this.where} sent a reply nobody asked for`,
          ),
        );
      }
    }
  }

  private fail(error: RedisError, report = true): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.queue = [];
    this.socket.destroy();
    this.pendingBytes = 0;
    const lost = new RedisError(
      'ERR_PEREGRINE_REDIS_CONNECTION',
      `the connection to Redis at ${this.where} was lost before the reply (${error.message})`,
      { cause: error },
    );
    for (let pending = this.replies.shift(); pending !== undefined; pending = this.replies.shift())
      pending.callback?.(lost, null);
    if (report) this.events.onLost(error);
  }
}

/** A first-in first-out queue with O(1) shift (Array#shift copies once an array is large). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
