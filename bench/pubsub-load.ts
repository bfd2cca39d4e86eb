/**
 * Load generator of the benchmark's pubsub section (bench/pubsub-driver.ts runs it on the load CPU).
 *
 *   node bench/pubsub-load.ts --ports <p1[,p2]> [--protocol ws|socketio] [--subscribers 5000]
 *                             [--window 16] [--seconds 5] [--warmup 1]
 *
 * Opens `subscribers` WebSockets over raw node:net sockets (handshakes by hand, reads through `onread`
 * into one shared buffer, so a socket costs little here), spread evenly over the ports (subscriber i on
 * port i mod n), then one publisher on the first port. With `--protocol ws` (Peregrine,
 * uWebSockets.js) subscribers ask for `/sub` and the publisher for `/pub`, and each publication is one
 * 32-byte text message; with `socketio` every socket speaks Engine.IO v4 / Socket.IO v5 over
 * `/socket.io/?EIO=4&transport=websocket&role=sub|pub` (open packet `0{…}`, `40` to join the
 * namespace, pings `2` answered with `3`), the publisher emits `42["p","<message>"]` and subscribers
 * get `42["m","<message>"]`.
 *
 * A message (pubsub-protocol.ts) carries its publication's sequence number and the time it was sent,
 * on this process's clock, which is also the subscribers' clock.
 *
 * 1. Sync: the publisher sends messages numbered 0 every 100 ms until every subscriber has received
 *    one (a slow subscription or relay is waited for, not counted); then it waits SETTLE_MS.
 * 2. Load: publications 1, 2, 3 … with `window` of them in flight. A publication is complete when
 *    every subscriber has received it; each completion lets the publisher send the next one. So the
 *    rate is what the server (and relay) sustain end to end, never a queue that grows.
 * 3. After `warmup` seconds it prints `measuring`, and `seconds` later one JSON line:
 *    `{"deliveries","seconds","deliveriesPerSecond","publications","p50Ms","p99Ms","cpuSeconds"}`:
 *    messages received by all subscribers in the window, per second, publications completed, the
 *    percentiles of receipt time − send time over every delivery in the window, and this process's
 *    CPU time in the window. Then it exits 0.
 *
 * Every subscriber must receive every publication once, in order. A gap, a duplicate, a wrong frame,
 * a closed connection or STALL_MS without a completed publication (e.g. the instances do not relay
 * to each other) fails it: a message on stderr, exit code 1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import {
  encodeMessage,
  FrameReader,
  isSocketIoMessage,
  LatencyHistogram,
  MESSAGE_BYTES,
  maskedFrame,
  messageSentMicros,
  messageSeq,
  parseEnginePacket,
  SequenceCheck,
  socketIoEvent,
  socketIoMessageAt,
} from './pubsub-protocol.ts';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
/** Connections being opened at once: quick, and within the servers' listen backlogs. */
const CONNECT_BATCH = 200;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const SYNC_INTERVAL_MS = 100;
const SYNC_TIMEOUT_MS = 15_000;
/** After the sync: time for sync messages still on their way to arrive before publication 1. */
const SETTLE_MS = 300;
/** The load fails if no publication completes for this long. */
const STALL_MS = 5_000;
/** Counters of publications in flight, indexed by sequence number modulo this (> any window). */
const RING = 4096;

type Protocol = 'ws' | 'socketio';

interface Options {
  readonly ports: readonly number[];
  readonly protocol: Protocol;
  readonly subscribers: number;
  readonly window: number;
  readonly seconds: number;
  readonly warmup: number;
}

function fail(message: string): never {
  process.stderr.write(`pubsub-load: ${message}\n`);
  process.exit(1);
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      ports: { type: 'string' },
      protocol: { type: 'string', default: 'ws' },
      subscribers: { type: 'string', default: '5000' },
      window: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
    },
  });
  const number = (name: string, raw: string | undefined, min: number, integer = true): number => {
    const value = Number(raw);
    if (raw === undefined || raw.trim() === '' || !(value >= min) || (integer && !Number.isInteger(value)))
      fail(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${raw ?? ''}"`);
    return value;
  };
  const ports = (values.ports ?? '').split(',').map((port) => number('ports', port, 1));
  if (values.protocol !== 'ws' && values.protocol !== 'socketio')
    fail(`--protocol must be ws or socketio, got "${values.protocol}"`);
  const window = number('window', values.window, 1);
  if (window >= RING) fail(`--window must be below ${RING}`);
  return {
    ports,
    protocol: values.protocol,
    subscribers: number('subscribers', values.subscribers, 1),
    window,
    seconds: number('seconds', values.seconds, 0.1, false),
    warmup: number('warmup', values.warmup, 0, false),
  };
}

const options = readOptions();
const socketIo = options.protocol === 'socketio';

// ---------------------------------------------------------------------------------------------------------
// Shared state: every subscriber's deliveries go straight into these.

/** One buffer for every socket's reads: each read is handled before the next one. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
/** The time of the read being handled, in µs: every message in one read arrived together. */
let readMicros = 0;
const sequences = new SequenceCheck(options.subscribers);
const latencies = new LatencyHistogram();
/** Subscribers that have received a sync message (publication 0). */
const synced = new Uint8Array(options.subscribers);
let syncedCount = 0;
/** Subscribers that received each publication in flight, by sequence number modulo RING. */
const receivedBy = new Uint32Array(RING);
let deliveries = 0;
let published = 0;
let completed = 0;
let lastCompletionAt = 0;
let running = false;
let stopping = false;
let publisher: Client | undefined;

/** A publication's message reached `subscriber` at `data[at]`. */
function deliver(subscriber: number, data: Buffer, at: number): void {
  const seq = messageSeq(data, at);
  if (seq < 0) fail(`subscriber ${subscriber} got a message that is not one of ours`);
  if (seq === 0) {
    if (synced[subscriber] === 0) {
      synced[subscriber] = 1;
      syncedCount++;
    }
    return;
  }
  if (seq > published) fail(`subscriber ${subscriber} got publication ${seq}, not published yet`);
  if (!sequences.receive(subscriber, seq)) return;
  deliveries++;
  latencies.record(readMicros - messageSentMicros(data, at));
  if (++receivedBy[seq % RING]! === options.subscribers) {
    completed++;
    lastCompletionAt = readMicros;
    if (running) publish();
  }
}

function publish(): void {
  const seq = ++published;
  receivedBy[seq % RING] = 0;
  publisher!.sendMessage(encodeMessage(seq, performance.now() * 1000));
}

// ---------------------------------------------------------------------------------------------------------
// Connections

/** One WebSocket (subscriber `index`, or the publisher with index -1), from handshake to load. */
class Client {
  private readonly socket: Socket;
  private readonly index: number;
  readonly port: number;
  private readonly frames: FrameReader;
  /** The 101 response as it arrives; null once it is complete. */
  private head: string | null = '';
  private handshaking = true;
  private readonly key = randomBytes(16).toString('base64');
  private ready!: () => void;
  private failed!: (error: Error) => void;
  /** Resolves once the socket can be loaded: after the 101 (and for Socket.IO, the namespace's `40`). */
  readonly opened: Promise<void>;

  constructor(index: number, port: number) {
    this.index = index;
    this.port = port;
    this.frames = new FrameReader((opcode, data, start, end) => this.onFrame(opcode, data, start, end));
    this.opened = new Promise((resolve, reject) => {
      this.ready = resolve;
      this.failed = reject;
    });
    const role = index < 0 ? 'pub' : 'sub';
    const path = socketIo ? `/socket.io/?EIO=4&transport=websocket&role=${role}` : `/${role}`;
    this.socket = connect({
      host: '127.0.0.1',
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (length: number, buffer: Uint8Array) => {
          this.onRead(buffer as Buffer, length);
          return true;
        },
      },
    });
    this.socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${this.key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const timer = setTimeout(
      () => this.failed(new Error(`no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)),
      HANDSHAKE_TIMEOUT_MS,
    );
    this.opened.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'EMFILE' ? ' (raise the open-files limit: ulimit -n)' : '';
      this.problem(`${this.name} failed: ${error.message}${hint}`);
    });
    this.socket.on('close', () => this.problem(`the server closed ${this.name}`));
  }

  private get name(): string {
    return `${this.index < 0 ? 'the publisher' : `subscriber ${this.index}`} (port ${this.port})`;
  }

  /** Before the load: rejects `opened`; during it: fails the run. */
  private problem(message: string): void {
    if (stopping) return;
    if (this.handshaking) this.failed(new Error(message));
    else fail(message);
  }

  sendMessage(message: string): void {
    const text = socketIo ? socketIoEvent('p', message) : message;
    this.socket.write(maskedFrame(OPCODE_TEXT, Buffer.from(text, 'latin1')));
  }

  private sendText(text: string): void {
    this.socket.write(maskedFrame(OPCODE_TEXT, Buffer.from(text, 'latin1')));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onRead(buffer: Buffer, length: number): void {
    readMicros = performance.now() * 1000;
    try {
      if (this.head !== null) {
        const rest = this.readHead(this.head, buffer, length);
        if (rest === undefined) return;
        this.frames.read(rest, rest.length);
      } else {
        this.frames.read(buffer, length);
      }
    } catch (error) {
      this.problem(`${this.name}: ${(error as Error).message}`);
    }
  }

  /** Gathers the 101 response; returns the bytes after it once it is complete and checked. */
  private readHead(before: string, buffer: Buffer, length: number): Buffer | undefined {
    const head = before + buffer.toString('latin1', 0, length);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > 16_384) throw new Error('handshake response head too long');
      this.head = head;
      return undefined;
    }
    const text = head.slice(0, end);
    const status = text.slice(0, text.indexOf('\r\n'));
    if (!/^HTTP\/1\.1 101 /.test(status)) throw new Error(`handshake answered "${status}"`);
    const accept = createHash('sha1')
      .update(this.key + WS_GUID)
      .digest('base64');
    const answer = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*?)[ \t]*(?:\r\n|$)/i.exec(text)?.[1];
    if (answer !== accept) throw new Error(`Sec-WebSocket-Accept "${answer}", expected "${accept}"`);
    const rest = Buffer.from(head.slice(end + 4), 'latin1');
    this.head = null;
    if (!socketIo) this.open();
    return rest;
  }

  private open(): void {
    this.handshaking = false;
    this.ready();
  }

  private onFrame(opcode: number, data: Buffer, start: number, end: number): void {
    if (opcode === OPCODE_TEXT) {
      if (socketIo) this.onEnginePacket(data, start, end);
      else if (end - start !== MESSAGE_BYTES)
        throw new Error(`a ${end - start}-byte message, expected ${MESSAGE_BYTES} bytes`);
      else if (this.index < 0) throw new Error('the publisher received a message');
      else deliver(this.index, data, start);
      return;
    }
    if (opcode === OPCODE_PING) {
      this.socket.write(maskedFrame(OPCODE_PONG, data.subarray(start, end)));
      return;
    }
    if (opcode === OPCODE_PONG) return;
    if (opcode === OPCODE_CLOSE) {
      const code = end - start >= 2 ? data.readUInt16BE(start) : 1005;
      throw new Error(`the server closed the WebSocket (code ${code})`);
    }
    throw new Error(`an unexpected frame (opcode ${opcode})`);
  }

  private onEnginePacket(data: Buffer, start: number, end: number): void {
    if (isSocketIoMessage(data, start, end) && this.index >= 0) {
      deliver(this.index, data, socketIoMessageAt(start));
      return;
    }
    const packet = parseEnginePacket(data, start, end);
    switch (packet.kind) {
      case 'ping':
        this.sendText('3');
        return;
      case 'open':
        if (this.handshaking) this.sendText('40');
        return;
      case 'connected':
        if (this.handshaking) this.open();
        return;
      case 'close':
        throw new Error('the server closed the Engine.IO session');
      case 'message':
        throw new Error('the publisher received a message');
      case 'other':
        throw new Error(`unexpected Engine.IO packet ${JSON.stringify(packet.text.slice(0, 80))}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The run

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Which instance (index into options.ports) subscriber `index` is on. */
const instanceOf = (index: number): number => index % options.ports.length;

/** Per instance: how many subscribers pass `test`, of how many. */
function perInstance(test: (subscriber: number) => boolean): string {
  return options.ports
    .map((port, instance) => {
      let total = 0;
      let passing = 0;
      for (let i = instance; i < options.subscribers; i += options.ports.length) {
        total++;
        if (test(i)) passing++;
      }
      return `instance ${instance + 1} (port ${port}): ${passing} of ${total}`;
    })
    .join('; ');
}

async function openAll(): Promise<Client[]> {
  const clients: Client[] = [];
  for (let at = 0; at < options.subscribers; at += CONNECT_BATCH) {
    const batch: Client[] = [];
    for (let i = at; i < Math.min(options.subscribers, at + CONNECT_BATCH); i++)
      batch.push(new Client(i, options.ports[instanceOf(i)]!));
    clients.push(...batch);
    await Promise.all(batch.map((client) => client.opened));
  }
  return clients;
}

/** Sends sync messages until every subscriber has received one. */
async function sync(): Promise<void> {
  const message = encodeMessage(0, 0);
  const deadline = performance.now() + SYNC_TIMEOUT_MS;
  while (syncedCount < options.subscribers) {
    if (performance.now() > deadline) {
      const none = options.ports.some((_, instance) => {
        for (let i = instance; i < options.subscribers; i += options.ports.length)
          if (synced[i] === 1) return false;
        return true;
      });
      fail(
        `after ${SYNC_TIMEOUT_MS / 1000} s, subscribers that received a publication: ` +
          `${perInstance((i) => synced[i] === 1)}` +
          (none && options.ports.length > 1
            ? '. No subscriber of an instance got any: publications do not cross between the instances'
            : ''),
      );
    }
    publisher!.sendMessage(message);
    await sleep(SYNC_INTERVAL_MS);
  }
  await sleep(SETTLE_MS);
}

function stallReport(): string {
  return (
    `no publication completed for ${STALL_MS / 1000} s (${published} published, ${completed} ` +
    `reached every subscriber); subscribers that received all of them: ` +
    perInstance((i) => sequences.lastReceived(i) >= published) +
    (sequences.lost > 0 ? `; ${sequences.lost} deliveries missing (gaps)` : '')
  );
}

async function main(): Promise<void> {
  let clients: Client[];
  try {
    clients = await openAll();
    publisher = new Client(-1, options.ports[0]!);
    await publisher.opened;
  } catch (error) {
    fail(`opening the connections: ${(error as Error).message}`);
  }
  process.stdout.write(`connected ${clients.length}\n`);
  await sync();

  running = true;
  lastCompletionAt = performance.now() * 1000;
  const watchdog = setInterval(() => {
    if (performance.now() * 1000 - lastCompletionAt > STALL_MS * 1000) fail(stallReport());
  }, 250);
  for (let i = 0; i < options.window; i++) publish();

  await sleep(options.warmup * 1000);
  const deliveriesBefore = deliveries;
  const completedBefore = completed;
  latencies.reset();
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  process.stdout.write('measuring\n');

  await sleep(options.seconds * 1000);
  const measured = deliveries - deliveriesBefore;
  const publications = completed - completedBefore;
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const p50 = latencies.percentile(50);
  const p99 = latencies.percentile(99);
  running = false;

  // Let the publications in flight arrive, then check that nothing went missing.
  const drainUntil = performance.now() + STALL_MS;
  while (completed < published && performance.now() < drainUntil) await sleep(20);
  clearInterval(watchdog);
  stopping = true;
  const missing = sequences.missingAfter(published);
  if (missing > 0 || sequences.duplicates > 0) {
    fail(
      `${missing} deliveries missing and ${sequences.duplicates} duplicated of ${published} publications ` +
        `× ${options.subscribers} subscribers; subscribers that received all: ` +
        perInstance((i) => sequences.lastReceived(i) >= published),
    );
  }
  const report = {
    deliveries: measured,
    seconds: Number(seconds.toFixed(4)),
    deliveriesPerSecond: Math.round(measured / seconds),
    publications,
    p50Ms: p50 === null ? null : Number((p50 / 1000).toFixed(3)),
    p99Ms: p99 === null ? null : Number((p99 / 1000).toFixed(3)),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(4)),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  for (const client of clients) client.destroy();
  publisher!.destroy();
  process.exit(0);
}

await main();
