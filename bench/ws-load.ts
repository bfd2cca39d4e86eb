/**
 * WebSocket load generator for the benchmark's websocket section (bench/ws-load-driver.ts runs it on CPU 1).
 *
 *   node bench/ws-load.ts --port <port> [--host 127.0.0.1] [--bytes 32] [--connections 50]
 *                         [--window 16 (4 above 4 KiB)] [--seconds 5] [--warmup 1]
 *                         [--fragment 0] [--text]
 *
 * Opens `connections` WebSockets over raw node:net sockets (the handshake is done here: a GET with a
 * random Sec-WebSocket-Key, then the 101 and its Sec-WebSocket-Accept are checked), checks that one
 * `bytes`-byte binary message comes back byte for byte, then keeps `window` messages in flight on every
 * connection: it writes `window` copies of one pre-built masked binary frame at once, and then one new
 * frame for every frame the server echoes. Echoed frames are parsed only as far as needed to count them
 * (unmasked headers of 2, 4 or 10 bytes; frames may span chunks), and each must be a final binary frame
 * of `bytes` bytes.
 *
 * `--fragment N` sends every message as fragments of N payload bytes (a first frame and continuation
 * frames, FIN on the last) instead of one frame; the echo is still expected as one final frame.
 * `--text` sends text messages (printable ASCII, so valid UTF-8) and expects text back.
 *
 * Output on stdout, one line each: `measuring` when the `warmup` seconds are over and the measured window
 * starts, then at its end `{"messages":…,"seconds":…,"messagesPerSecond":…,"cpuSeconds":…}`: messages
 * echoed within the window, its length, their quotient, and this process's own CPU time (user + system,
 * all threads) within the window. Then it closes every connection (Close frame, end) and exits 0.
 * Anything unexpected (handshake, echo check, a wrong frame, a connection closed or failed during the
 * load) is reported on stderr with exit code 1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Client frames must be masked (RFC 6455 §5.3); one fixed key is enough for a benchmark. */
const MASK_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const HANDSHAKE_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 2_000;

interface Options {
  readonly host: string;
  readonly port: number;
  readonly bytes: number;
  readonly connections: number;
  readonly window: number;
  readonly seconds: number;
  readonly warmup: number;
  /** Payload bytes per fragment; 0 sends each message as one frame. */
  readonly fragment: number;
  readonly text: boolean;
}

function fail(message: string): never {
  process.stderr.write(`ws-load: ${message}\n`);
  process.exit(1);
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      bytes: { type: 'string', default: '32' },
      connections: { type: 'string', default: '50' },
      window: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      fragment: { type: 'string', default: '0' },
      text: { type: 'boolean', default: false },
    },
  });
  const number = (name: string, raw: string | undefined, min: number, integer = true): number => {
    const value = Number(raw);
    if (raw === undefined || raw.trim() === '' || !(value >= min) || (integer && !Number.isInteger(value)))
      fail(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${raw ?? ''}"`);
    return value;
  };
  const bytes = number('bytes', values.bytes, 0);
  return {
    host: values.host,
    port: number('port', values.port, 1),
    bytes,
    connections: number('connections', values.connections, 1),
    window: number('window', values.window ?? (bytes > 4096 ? '4' : '16'), 1),
    seconds: number('seconds', values.seconds, 0.1, false),
    warmup: number('warmup', values.warmup, 0, false),
    fragment: number('fragment', values.fragment, 0),
    text: values.text,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Frames

/** Length of a server (unmasked) frame header, from its second byte: 2, 4 or 10 bytes. */
function serverHeaderLength(secondByte: number): number {
  const length7 = secondByte & 0x7f;
  return length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
}

/** A complete masked client frame (FIN set unless `fin` is false) carrying `payload`. */
function maskedFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const maskAt = 2 + extended;
  const frame = Buffer.allocUnsafe(maskAt + 4 + length);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (extended === 0) {
    frame[1] = 0x80 | length;
  } else if (extended === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  MASK_KEY.copy(frame, maskAt);
  for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i]! ^ MASK_KEY[i & 3]!;
  return frame;
}

/**
 * The message every connection sends: `bytes` bytes of a fixed, non-repeating-looking pattern, all
 * printable ASCII for a text message.
 */
function messagePayload(bytes: number, text: boolean): Buffer {
  const payload = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) {
    const value = i * 31 + (i >>> 8) + 7;
    payload[i] = text ? 0x20 + (value % 95) : value & 0xff;
  }
  return payload;
}

/** The masked frames of one message: one frame, or fragments of `fragment` payload bytes. */
function messageFrames(payload: Buffer, opcode: number, fragment: number): Buffer {
  if (fragment === 0 || payload.length <= fragment) return maskedFrame(opcode, payload);
  const frames: Buffer[] = [];
  for (let at = 0; at < payload.length; at += fragment) {
    const end = Math.min(payload.length, at + fragment);
    frames.push(
      maskedFrame(at === 0 ? opcode : OPCODE_CONTINUATION, payload.subarray(at, end), end === payload.length),
    );
  }
  return Buffer.concat(frames);
}

/** A masked Close frame with status 1000 (normal closure). */
function closeFrame(): Buffer {
  const body = Buffer.alloc(2);
  body.writeUInt16BE(1000, 0);
  return maskedFrame(OPCODE_CLOSE, body);
}

// ---------------------------------------------------------------------------------------------------------
// Handshake and echo check

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with `socket` once `onData` (called with every chunk received, until it returns true) is done;
 * rejects if the socket fails or closes first. Removes its listeners either way.
 */
function readUntil(socket: Socket, onData: (chunk: Buffer) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanUp = (): void => {
      socket.off('data', data);
      socket.off('error', error);
      socket.off('close', close);
    };
    const data = (chunk: Buffer): void => {
      try {
        if (!onData(chunk)) return;
        cleanUp();
        resolve();
      } catch (problem) {
        cleanUp();
        reject(problem);
      }
    };
    const error = (problem: Error): void => {
      cleanUp();
      reject(problem);
    };
    const close = (): void => {
      cleanUp();
      reject(new Error('connection closed by the server'));
    };
    socket.on('data', data);
    socket.once('error', error);
    socket.once('close', close);
  });
}

/** Connects and performs the opening handshake; resolves with the socket, ready for frames. */
async function openWebSocket(host: string, port: number): Promise<Socket> {
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let head = Buffer.alloc(0);
  const received = readUntil(socket, (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > 16_384) throw new Error('handshake response head too long');
      return false;
    }
    const text = head.subarray(0, end).toString('latin1');
    const status = text.slice(0, text.indexOf('\r\n'));
    if (!/^HTTP\/1\.1 101 /.test(status)) throw new Error(`handshake answered "${status}"`);
    const answer = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*?)[ \t]*(?:\r\n|$)/i.exec(text)?.[1];
    if (answer !== accept) throw new Error(`Sec-WebSocket-Accept "${answer}", expected "${accept}"`);
    if (end + 4 < head.length) throw new Error('data after the 101 response, before any message was sent');
    return true;
  });
  try {
    await withTimeout(received, HANDSHAKE_TIMEOUT_MS, 'handshake');
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
}

/** Sends one message and checks that the echo is a single final frame (`first` byte) with the same bytes. */
async function checkEcho(socket: Socket, frame: Buffer, payload: Buffer, first: number): Promise<void> {
  const headerLength = payload.length < 126 ? 2 : payload.length <= 0xffff ? 4 : 10;
  const expected = headerLength + payload.length;
  const chunks: Buffer[] = [];
  let length = 0;
  const received = readUntil(socket, (chunk) => {
    chunks.push(chunk);
    length += chunk.length;
    return length >= expected;
  });
  socket.write(frame);
  await withTimeout(received, HANDSHAKE_TIMEOUT_MS, 'echo check');
  const echo = Buffer.concat(chunks);
  if (echo.length > expected) throw new Error(`echo check: ${echo.length - expected} unexpected extra bytes`);
  if (echo[0] !== first)
    throw new Error(`echo check: first byte 0x${echo[0]!.toString(16)}, expected 0x${first.toString(16)}`);
  if (serverHeaderLength(echo[1]!) !== headerLength || (echo[1]! & 0x80) !== 0)
    throw new Error('echo check: unexpected frame header (masked, or wrong length encoding)');
  if (!echo.subarray(headerLength).equals(payload))
    throw new Error('echo check: the echoed payload differs from the message sent');
}

// ---------------------------------------------------------------------------------------------------------
// Load

/** One loaded connection: counts echoed frames and sends one new frame for each. */
class LoadConnection {
  /** Echoed frames completed so far. */
  echoed = 0;
  /** Payload bytes of the current frame still to come; 0 between frames. */
  private payloadLeft = 0;
  /** Header bytes of a frame whose header was split across chunks. */
  private readonly header = Buffer.alloc(10);
  private headerBytes = 0;

  private readonly socket: Socket;
  /** `window` copies of the frame, back to back: one write sends up to a whole window. */
  private readonly batch: Buffer;
  private readonly frameLength: number;
  private readonly window: number;
  private readonly messageBytes: number;
  /** First byte of every echoed frame: FIN and the message's opcode. */
  private readonly first: number;
  private readonly state: { stopping: boolean };

  constructor(socket: Socket, batch: Buffer, options: Options, state: { stopping: boolean }) {
    this.socket = socket;
    this.batch = batch;
    this.frameLength = batch.length / options.window;
    this.window = options.window;
    this.messageBytes = options.bytes;
    this.first = 0x80 | (options.text ? OPCODE_TEXT : OPCODE_BINARY);
    this.state = state;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      if (!state.stopping) fail(`connection failed during the load: ${error.message}`);
    });
    socket.on('close', () => {
      if (!state.stopping) fail('the server closed a connection during the load');
    });
  }

  start(): void {
    this.socket.write(this.batch);
  }

  private onData(chunk: Buffer): void {
    if (this.state.stopping) return;
    let frames: number;
    try {
      frames = this.countFrames(chunk);
    } catch (error) {
      fail((error as Error).message);
    }
    if (frames === 0) return;
    this.echoed += frames;
    // Never more than `window` frames are in flight, so this is one write in practice.
    for (let left = frames; left > 0; left -= this.window) {
      this.socket.write(this.batch.subarray(0, Math.min(left, this.window) * this.frameLength));
    }
  }

  /** Number of frames that end in `chunk`. */
  private countFrames(chunk: Buffer): number {
    let frames = 0;
    let i = 0;
    const end = chunk.length;
    while (i < end) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, end - i);
        this.payloadLeft -= take;
        i += take;
        if (this.payloadLeft === 0) frames++;
        continue;
      }
      // A header starts here. Fast path: it is entirely within this chunk.
      if (this.headerBytes === 0 && end - i >= 2) {
        const headerLength = serverHeaderLength(chunk[i + 1]!);
        if (end - i >= headerLength) {
          this.startFrame(chunk, i);
          i += headerLength;
          if (this.payloadLeft === 0) frames++;
          continue;
        }
      }
      // Slow path: the header is split across chunks; gather it byte by byte.
      this.header[this.headerBytes++] = chunk[i++]!;
      if (this.headerBytes >= 2 && this.headerBytes === serverHeaderLength(this.header[1]!)) {
        this.startFrame(this.header, 0);
        this.headerBytes = 0;
        if (this.payloadLeft === 0) frames++;
      }
    }
    return frames;
  }

  /** Checks the complete header at `buffer[at]` and sets the payload length to skip. */
  private startFrame(buffer: Buffer, at: number): void {
    const first = buffer[at]!;
    const second = buffer[at + 1]!;
    if (first !== this.first) {
      const what = (first & 0x0f) === OPCODE_CLOSE ? 'a Close frame' : `first byte 0x${first.toString(16)}`;
      throw new Error(`the server sent ${what} instead of 0x${this.first.toString(16)} (a final data frame)`);
    }
    if ((second & 0x80) !== 0) throw new Error('the server sent a masked frame');
    const length7 = second & 0x7f;
    const length =
      length7 < 126
        ? length7
        : length7 === 126
          ? buffer.readUInt16BE(at + 2)
          : buffer.readUInt32BE(at + 2) * 2 ** 32 + buffer.readUInt32BE(at + 6);
    if (length !== this.messageBytes)
      throw new Error(`the server echoed a ${length}-byte frame, expected ${this.messageBytes} bytes`);
    this.payloadLeft = length;
  }

  /** Sends a Close frame and ends the connection; resolves when it is closed (destroyed after a timeout). */
  close(frame: Buffer): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => socket.destroy(), CLOSE_TIMEOUT_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end(frame);
      socket.resume();
    });
  }
}

const sleep = (seconds: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, seconds * 1000));

function totalEchoed(connections: readonly LoadConnection[]): number {
  let total = 0;
  for (const connection of connections) total += connection.echoed;
  return total;
}

async function main(): Promise<void> {
  const options = readOptions();
  const payload = messagePayload(options.bytes, options.text);
  const opcode = options.text ? OPCODE_TEXT : OPCODE_BINARY;
  const frame = messageFrames(payload, opcode, options.fragment);
  const batch = Buffer.concat(Array.from({ length: options.window }, () => frame));

  let sockets: Socket[];
  try {
    sockets = await Promise.all(
      Array.from({ length: options.connections }, () => openWebSocket(options.host, options.port)),
    );
    await checkEcho(sockets[0]!, frame, payload, 0x80 | opcode);
  } catch (error) {
    fail((error as Error).message);
  }

  const state = { stopping: false };
  const connections = sockets.map((socket) => new LoadConnection(socket, batch, options, state));
  for (const connection of connections) connection.start();

  await sleep(options.warmup);
  const echoedBefore = totalEchoed(connections);
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  process.stdout.write('measuring\n');

  await sleep(options.seconds);
  const messages = totalEchoed(connections) - echoedBefore;
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  state.stopping = true;
  const result = {
    messages,
    seconds: Number(seconds.toFixed(4)),
    messagesPerSecond: Math.round(messages / seconds),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(4)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);

  const close = closeFrame();
  await Promise.all(connections.map((connection) => connection.close(close)));
}

await main();
