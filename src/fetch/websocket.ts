import { ConfigError } from '../errors.ts';
import { DEFAULTS, type ServerOptions } from '../options.ts';
import type { WebSocket as NativeWebSocket, SendResult, WebSocketHooks } from '../ws/socket.ts';
import { publish } from '../ws/topics.ts';

/** What a message is given as: Bun's `BufferSource` or a string. */
export type WebSocketPayload = string | ArrayBuffer | SharedArrayBuffer | ArrayBufferView;

/**
 * Fetch mode's `websocket` option, as Bun.serve names it: the handlers for every socket that
 * `server.upgrade()` accepted, and their limits. `T` is the type of `ws.data`.
 */
export interface WebSocketHandler<T = undefined> {
  /**
   * A type hint only, as in Bun: `data: {} as { user: string }` types `ws.data` (and what
   * `server.upgrade()` must give) while `serve()` still infers each route's params.
   */
  data?: T;
  /** A message arrived: text as a string, binary as a Buffer (see `ws.binaryType`). */
  message(ws: ServerWebSocket<T>, message: string | Buffer): void | Promise<void>;
  open?(ws: ServerWebSocket<T>): void | Promise<void>;
  /** The socket closed: the peer's code and reason, or 1006 when it went without a Close. */
  close?(ws: ServerWebSocket<T>, code: number, reason: string): void | Promise<void>;
  /** The socket can take more after a send returned -1. */
  drain?(ws: ServerWebSocket<T>): void | Promise<void>;
  /** A ping arrived (it has been answered already). */
  ping?(ws: ServerWebSocket<T>, data: Buffer): void | Promise<void>;
  pong?(ws: ServerWebSocket<T>, data: Buffer): void | Promise<void>;
  /** Largest message in bytes (after inflation); a bigger one closes the socket with 1009. Default 1 MiB (Bun's: 16 MiB). */
  maxPayloadLength?: number;
  /** Seconds without a frame before a ping, then as long again before the socket is closed; 0 never. Default 120. */
  idleTimeout?: number;
  /** Bytes a socket may have waiting to be sent; a send past it is dropped (returns 0). Default 16 MiB. */
  backpressureLimit?: number;
  /** Close a socket (1008) rather than drop a message past `backpressureLimit`. Default false. */
  closeOnBackpressureLimit?: boolean;
  /** Negotiate permessage-deflate (RFC 7692) with clients that offer it. Default false. */
  perMessageDeflate?: boolean | { compress?: boolean; decompress?: boolean };
  /** Whether `ws.publish()` reaches the publishing socket too. Default false. */
  publishToSelf?: boolean;
  /** Ping a silent peer halfway through `idleTimeout` (always true here; the option is accepted). */
  sendPings?: boolean;
}

/** What `server.upgrade(request, options)` takes. */
export interface FetchUpgradeOptions<T = undefined> {
  /** Becomes `ws.data`. */
  data?: T;
  /** Extra headers for the 101 response (a `Set-Cookie`, a `Sec-WebSocket-Protocol` the client offered). */
  headers?: ConstructorParameters<typeof Headers>[0];
}

/**
 * One accepted WebSocket in fetch mode, shaped like Bun's `ServerWebSocket`. Sends return the bytes
 * sent, -1 when they were queued behind a full socket (wait for `drain`), or 0 when dropped (the
 * socket is closing, or `backpressureLimit` would be passed).
 */
export class ServerWebSocket<T = undefined> {
  /** What `server.upgrade(request, { data })` gave. */
  data: T;
  /** How binary messages reach `message`: a Buffer (default), an ArrayBuffer or a Uint8Array. */
  binaryType: 'nodebuffer' | 'arraybuffer' | 'uint8array' = 'nodebuffer';
  #native: NativeWebSocket<ServerWebSocket<T>> = DETACHED as NativeWebSocket<ServerWebSocket<T>>;
  readonly #publishToSelf: boolean;

  /** @internal Made by `server.upgrade()`, then attached to the socket the handshake made. */
  constructor(data: T, publishToSelf: boolean) {
    this.data = data;
    this.#publishToSelf = publishToSelf;
  }

  /** @internal */
  attach(native: NativeWebSocket<ServerWebSocket<T>>): void {
    this.#native = native;
  }

  /** 1 open, 2 closing, 3 closed (0, connecting, never shows: the socket is open once a handler sees it). */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#native.readyState;
  }

  /** The client's IP address. */
  get remoteAddress(): string {
    return this.#native.remoteAddress ?? '';
  }

  /** The subprotocol agreed in the handshake, or ''. */
  get protocol(): string {
    return this.#native.protocol;
  }

  /** The topics this socket subscribes to. */
  get subscriptions(): string[] {
    return this.#native.subscriptions;
  }

  /** A string as text, anything else as binary. `compress` only where permessage-deflate was agreed. */
  send(data: WebSocketPayload, compress = false): number {
    return typeof data === 'string' ? this.sendText(data, compress) : this.sendBinary(data, compress);
  }

  sendText(data: string, compress = false): number {
    const payload = Buffer.from(data, 'utf8');
    return sent(this.#native.send(payload, false, compress), payload.byteLength);
  }

  sendBinary(data: Exclude<WebSocketPayload, string>, compress = false): number {
    const payload = bytesOf(data);
    return sent(this.#native.send(payload, true, compress), payload.byteLength);
  }

  /** Sends to every subscriber of `topic` in every worker (this socket too with `publishToSelf`). */
  publish(topic: string, data: WebSocketPayload, compress = false): number {
    return typeof data === 'string'
      ? this.publishText(topic, data, compress)
      : this.publishBinary(topic, data, compress);
  }

  publishText(topic: string, data: string, compress = false): number {
    const payload = Buffer.from(data, 'utf8');
    return this.#publish(topic, payload, false, compress);
  }

  publishBinary(topic: string, data: Exclude<WebSocketPayload, string>, compress = false): number {
    return this.#publish(topic, bytesOf(data), true, compress);
  }

  subscribe(topic: string): void {
    this.#native.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.#native.unsubscribe(topic);
  }

  isSubscribed(topic: string): boolean {
    return this.#native.isSubscribed(topic);
  }

  /** Starts the closing handshake (RFC 6455 §7). `reason` is at most 123 bytes. */
  close(code?: number, reason?: string): void {
    this.#native.close(code, reason);
  }

  /** Closes the TCP connection at once, with no closing handshake. */
  terminate(): void {
    this.#native.terminate();
  }

  ping(data: WebSocketPayload = ''): number {
    const payload = typeof data === 'string' ? Buffer.from(data) : bytesOf(data);
    return sent(this.#native.ping(payload), payload.byteLength);
  }

  pong(data: WebSocketPayload = ''): number {
    const payload = typeof data === 'string' ? Buffer.from(data) : bytesOf(data);
    return sent(this.#native.pong(payload), payload.byteLength);
  }

  /**
   * Runs `callback` and returns what it returns. Frames sent in one tick already leave in one write,
   * so there is nothing more to batch; it is here so Bun programs run unchanged.
   */
  cork<R>(callback: (ws: this) => R): R {
    return callback(this);
  }

  /** Bytes waiting to be sent. */
  getBufferedAmount(): number {
    return this.#native.bufferedAmount;
  }

  #publish(topic: string, payload: Uint8Array, isBinary: boolean, compress: boolean): number {
    if (this.#native.readyState !== 1) return 0;
    publish(topic, payload, isBinary, this.#publishToSelf ? null : this.#native, compress);
    return payload.byteLength;
  }
}

/** What a ServerWebSocket points to before its handshake is done (never seen by a handler). */
const DETACHED = {
  readyState: 3,
  send: () => 'dropped',
} as unknown as NativeWebSocket;

/** Bun's numbers for what a send did. */
function sent(result: SendResult, bytes: number): number {
  return result === 'sent' ? bytes : result === 'buffered' ? -1 : 0;
}

/** The bytes of a BufferSource, without a copy. */
export function bytesOf(data: Exclude<WebSocketPayload, string>): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`a WebSocket message must be a string or a BufferSource, got ${typeof data}`);
}

/** The native hooks that run a `websocket` handler. */
export function webSocketHooks<T>(
  handler: WebSocketHandler<T>,
  failed: (ws: NativeWebSocket, error: unknown) => void,
): WebSocketHooks<ServerWebSocket<T>> {
  /** A handler's promise that rejects fails the socket as a throw would (1011, reported). */
  const settle = (ws: NativeWebSocket, result: void | Promise<void>) => {
    if (result !== undefined && typeof (result as Promise<void>).then === 'function')
      (result as Promise<void>).then(undefined, (error: unknown) => failed(ws, error));
  };
  const hooks: WebSocketHooks<ServerWebSocket<T>> = {
    handleWSMessage(ws, message, isBinary) {
      const socket = ws.data;
      let value: string | Buffer = message;
      if (isBinary && socket.binaryType !== 'nodebuffer') {
        const bytes = message as Buffer;
        value = (
          socket.binaryType === 'uint8array'
            ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
            : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
        ) as Buffer; // typed as Bun types it: the program chose the form
      }
      settle(ws, handler.message(socket, value));
    },
  };
  const { open, close, drain, ping, pong } = handler;
  if (open !== undefined) hooks.handleWSOpen = (ws) => settle(ws, open(ws.data));
  if (close !== undefined)
    hooks.handleWSClose = (ws, code, reason) => settle(ws, close(ws.data, code, reason));
  if (drain !== undefined) hooks.handleWSDrain = (ws) => settle(ws, drain(ws.data));
  if (ping !== undefined) hooks.handleWSPing = (ws, data) => settle(ws, ping(ws.data, data));
  if (pong !== undefined) hooks.handleWSPong = (ws, data) => settle(ws, pong(ws.data, data));
  return hooks;
}

/** Bun's default backpressure limit: 16 MiB waiting to be sent. */
const BUN_DEFAULT_BYTES = 16 * 1024 * 1024;

/**
 * The server options a `websocket` handler's limits stand for. Each Bun name stands for one
 * Peregrine option; giving both is a ConfigError. Without either, Bun's default (Peregrine's for
 * maxPayloadLength).
 */
export function webSocketServerOptions(
  handler: WebSocketHandler<unknown>,
  options: ServerOptions,
): Partial<ServerOptions> {
  if (handler === null || typeof handler !== 'object' || typeof handler.message !== 'function')
    throw new ConfigError('websocket must be an object with a message(ws, message) function');
  const out: Partial<ServerOptions> = {};
  const pick = <K extends keyof ServerOptions>(
    bunName: keyof WebSocketHandler<unknown>,
    ours: K,
    value: ServerOptions[K] | undefined,
    fallback: ServerOptions[K],
  ) => {
    if (handler[bunName] !== undefined && options[ours] !== undefined)
      throw new ConfigError(`give websocket.${bunName} or ${ours}, not both`);
    out[ours] = value ?? options[ours] ?? fallback;
  };
  const seconds = handler.idleTimeout;
  if (seconds !== undefined && (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0))
    throw new ConfigError(`websocket.idleTimeout must be a number of seconds >= 0, got ${String(seconds)}`);
  // Peregrine's 1 MiB rather than Bun's 16 MiB unless asked: 200 clients each holding a message
  // part-received cost 200 MiB, not 3.2 GiB (the same choice as maxRequestBodySize's).
  pick('maxPayloadLength', 'wsMaxMessageBytes', handler.maxPayloadLength, DEFAULTS.wsMaxMessageBytes);
  pick(
    'idleTimeout',
    'wsIdleTimeout',
    seconds === undefined ? undefined : Math.round(seconds * 1000),
    120_000,
  );
  pick('backpressureLimit', 'wsMaxBufferedBytes', handler.backpressureLimit, BUN_DEFAULT_BYTES);
  pick('closeOnBackpressureLimit', 'wsCloseOnBackpressureLimit', handler.closeOnBackpressureLimit, false);
  const deflate = handler.perMessageDeflate;
  pick(
    'perMessageDeflate',
    'wsPerMessageDeflate',
    deflate === undefined
      ? undefined
      : typeof deflate === 'object'
        ? deflate.compress !== false || deflate.decompress !== false
        : deflate,
    false,
  );
  return out;
}
