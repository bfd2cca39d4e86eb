import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { Clock } from './clock.ts';
import { connectionBudget } from './descriptors.ts';
import { Link, type LinkOwner } from './link.ts';
import { ProxyPreamble } from './proxy-preamble.ts';
import { type ProxiedAddress, ProxyHeaderReader } from './proxy-protocol.ts';
import type { Session } from './session.ts';
import { SHARED_READ_BYTES } from './shared-reads.ts';
import type { Certificates } from './tls.ts';

/** Where a worker runs: alone, or as one of several listening on a shared port. */
export interface WorkerPlacement {
  /** Listen with SO_REUSEPORT, so that several threads share the port. */
  reusePort: boolean;
  /** Where this worker publishes its connection count for the primary, if it is one of several. */
  counts: Int32Array | null;
  slot: number;
  /** TLS session ticket keys shared by every worker (48 bytes), or null: this worker makes its own. */
  ticketKeys: Buffer | null;
  /** Names the server instance (8 bytes) the same in all its workers, or null: this worker is all of it. */
  instanceId: Buffer | null;
}

export const SINGLE: WorkerPlacement = {
  reusePort: false,
  counts: null,
  slot: 0,
  ticketKeys: null,
  instanceId: null,
};

export interface ListenerSettings {
  port: number;
  host: string | undefined;
  backlog: number;
  maxConnections: number;
  /** How often the timer refreshes the clock and checks deadlines, in ms. */
  tickMs: number;
  placement: WorkerPlacement;
  /** Serve TLS on this listener, or null for plain TCP. */
  tls: TlsSettings | null;
  /**
   * Every connection starts with a PROXY protocol header (before TLS), read within this many ms;
   * 0: no header expected.
   */
  proxyHeaderTimeout: number;
  /**
   * What a plain-TCP connection accepted past maxConnections is answered when no idle connection can
   * make room (then it is closed); a TLS listener closes such a connection without a handshake.
   */
  fullAnswer(dateLine: string): string;
  /** Where the listener reports what an operator must know (refused connections, descriptor limits). */
  warn(message: string): void;
}

export interface TlsSettings {
  certificates: Certificates;
  /** Session ticket keys (48 bytes), the same in every worker so that sessions resume on any of them. */
  ticketKeys: Buffer;
  /** Protocols offered with ALPN, most preferred first. */
  alpn: string[];
  /** How long a client gets to send its first bytes and complete the handshake, in ms. */
  handshakeTimeout: number;
  /** What a client that speaks plain HTTP to the TLS port is answered (then the connection closes). */
  plaintextAnswer(dateLine: string): string;
}

/** The first byte of a TLS record carrying a handshake message (RFC 8446 §5.1: ContentType 22). */
const TLS_HANDSHAKE = 0x16;
/** How long a plaintext client is given to read its answer before the connection is closed. */
const PLAINTEXT_LINGER_MS = 2_000;
/**
 * Idle connections closed in one go when the limit is reached, as nginx drains its reusable ones: an
 * eighth of them, 1 to 32, so that one scan of the links makes room for the next several.
 */
const EVICT_MAX = 32;
/**
 * After a scan found nothing idle, new connections are refused without scanning again for this long
 * (real milliseconds: the worker's clock ticks too seldom), so that a storm of connections against
 * busy ones does not scan every link for each.
 */
const RESCAN_MS = 10;
/** Refused connections still reading their 503 at once; past this, more are closed without it. */
const MAX_REFUSING = 256;
/** At most one warning per this long about refused connections. */
const WARNING_MS = 10_000;

/**
 * One event loop's transport: its listening socket, its links (one per accepted socket), the shared
 * read buffer they read into, and the single coarse timer that refreshes the clock and expires every
 * session's deadline. It knows no protocol: `openSession` gives each new link the session that
 * speaks on it.
 */
export class Listener implements LinkOwner {
  readonly clock: Clock;
  readonly readBuffer = Buffer.allocUnsafe(SHARED_READ_BYTES);
  /** Set when shutdown begins: sessions answer their last response with `Connection: close`. */
  stopping = false;
  /** False once shutting down, except while a retiring worker lingers (see shutdown()). */
  private accepting = true;
  /** While a retiring worker lingers, before its sessions are told to close. */
  private lingering = false;
  private readonly links = new Set<Link>();
  /** Accepted sockets not yet a link: still to send their first bytes, or in the TLS handshake; with their deadline. */
  private readonly pending = new Map<Socket, number>();
  /**
   * Accepted sockets handed to the TLS server, until they close: one still in its handshake is no
   * link yet, and must not keep the listener from closing at shutdown.
   */
  private readonly handshaking = new Set<Socket>();
  /** With a PROXY header before TLS: what it said, kept on the raw socket until the handshake is done. */
  private readonly proxiedSockets = new WeakMap<Socket, { source: ProxiedAddress | null; ssl: boolean }>();
  /** Connections refused past maxConnections, reading their 503 until they close or their deadline. */
  private readonly refusing = new Map<Socket, number>();
  /** Until when a scan for idle connections is not worth repeating (it found none), performance.now() ms. */
  private noIdleUntil = 0;
  private warnedAt = Number.NEGATIVE_INFINITY;
  /** Connections this whole process may hold open within its file-descriptor limit; set by listen(). */
  private descriptorBudget = Number.POSITIVE_INFINITY;
  /** Connections closed or refused to stay within maxConnections or the descriptor limit. */
  evicted = 0;
  refused = 0;
  private readonly server: NetServer;
  private readonly tlsServer: TlsServer | null;
  private readonly settings: ListenerSettings;
  private readonly openSession: (link: Link) => Session;
  private timer: NodeJS.Timeout | null = null;
  /** Links accepted, and the bytes of those closed: counted per connection, never per read. */
  private linksTotal = 0;
  private closedBytesRead = 0;
  private closedBytesWritten = 0;
  private allClosed: (() => void) | null = null;
  private stopped: Promise<void> | null = null;

  /** `clock`: another listener's, to share one (each listener's timer refreshes it). */
  constructor(settings: ListenerSettings, openSession: (link: Link) => Session, clock = new Clock()) {
    this.clock = clock;
    this.settings = settings;
    this.openSession = openSession;
    this.server = createServer(
      // Paused: a link moves the socket's handle to one that reads into readBuffer. Half-open (a
      // client's FIN still lets us answer), except under TLS, where a half-open raw socket never
      // sees a reset during the handshake: there the secure socket becomes half-open once secured.
      { noDelay: true, allowHalfOpen: settings.tls === null, pauseOnConnect: true },
      (socket) => this.accept(socket),
    );
    // maxConnections is enforced in accept(), which first closes idle connections to make room (node's
    // own maxConnections would reset every new connection while idle ones hold the slots).
    this.tlsServer = settings.tls === null ? null : this.secureServer(settings.tls);
  }

  /**
   * The TLS side, which never listens itself: it is handed each accepted socket that starts with a
   * TLS handshake (see sniff), and gives back the secure socket once the handshake is done.
   */
  private secureServer(tls: TlsSettings): TlsServer {
    const { certificates, ticketKeys } = tls;
    const server = createTlsServer(
      {
        ...certificates.defaultOptions,
        // Only when there is a choice: with an SNICallback, every handshake stops in JavaScript
        // (node's certificate callback), which costs a single-certificate server for nothing.
        SNICallback: certificates.count > 1 ? certificates.sniCallback : undefined,
        ALPNProtocols: tls.alpn,
        ticketKeys,
        handshakeTimeout: tls.handshakeTimeout,
        allowHalfOpen: true,
      },
      (socket) => this.secured(socket),
    );
    // A failed handshake (a scanner, an old client, a timeout) closes that socket and nothing else.
    server.on('tlsClientError', (_error, socket) => socket.destroy());
    certificates.onDefaultChanged = (options) => server.setSecureContext({ ...options, ticketKeys });
    return server;
  }

  /** Listens; rejects with the system's error (EADDRINUSE…) if it can't. */
  async listen(): Promise<AddressInfo> {
    const { port, host, backlog, placement } = this.settings;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog, reusePort: placement.reusePort }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (error) => this.listenerError(error));
    this.checkDescriptorBudget();
    this.timer = setInterval(() => this.tick(), this.settings.tickMs);
    this.timer.unref();
    return this.server.address() as AddressInfo;
  }

  get address(): AddressInfo | null {
    return this.server.address() as AddressInfo | null;
  }

  get connectionCount(): number {
    return this.links.size;
  }

  /**
   * Connections accepted so far, and the bytes read from and written to them (the closed ones'
   * totals plus what the open ones have moved until now).
   */
  traffic(): { connections: number; bytesRead: number; bytesWritten: number } {
    let bytesRead = this.closedBytesRead;
    let bytesWritten = this.closedBytesWritten;
    for (const link of this.links) {
      bytesRead += link.socket.bytesRead;
      bytesWritten += link.socket.bytesWritten;
    }
    return { connections: this.linksTotal, bytesRead, bytesWritten };
  }

  /** The session of every open connection. */
  *sessions(): IterableIterator<Session> {
    for (const link of this.links) yield link.session;
  }

  private accept(socket: Socket): void {
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    if (this.overLimit() && !this.makeRoom()) {
      this.refuse(socket);
      return;
    }
    if (this.tlsServer !== null) {
      if (this.settings.proxyHeaderTimeout > 0)
        this.readProxyHeader(socket, this.tlsServer, this.settings.tls!);
      else this.sniff(socket, this.tlsServer, this.settings.tls!, null);
      return;
    }
    const link = new Link(socket, this.readBuffer, this);
    const timeout = this.settings.proxyHeaderTimeout;
    // The PROXY header is read by a session of its own, which then opens the protocol's.
    this.adopt(link, timeout > 0 ? new ProxyPreamble(link, this.clock, timeout, this.openSession) : null);
  }

  /** Open connections, the one just accepted included: links, and sockets not yet links. */
  private get openCount(): number {
    return this.links.size + this.pending.size + this.handshaking.size + 1;
  }

  /** Whether the connection just accepted is one too many: for this worker, or for the process's descriptors. */
  private overLimit(): boolean {
    const own = this.openCount;
    if (own > this.settings.maxConnections) return true;
    if (this.descriptorBudget === Number.POSITIVE_INFINITY) return false;
    // Worker threads share the process's descriptors: count the other threads' connections too.
    const { counts, slot } = this.settings.placement;
    let total = own;
    if (counts !== null)
      for (let i = 0; i < counts.length; i++) if (i !== slot) total += Atomics.load(counts, i);
    return total > this.descriptorBudget;
  }

  /**
   * Works out how many connections the process's file-descriptor limit leaves room for, and warns
   * (once per process) when that is fewer than maxConnections allows.
   */
  private checkDescriptorBudget(): void {
    const budget = connectionBudget();
    this.descriptorBudget = budget;
    const { counts, slot } = this.settings.placement;
    const threads = counts === null ? 1 : counts.length;
    if (slot !== 0 || budget >= this.settings.maxConnections * threads) return;
    this.settings.warn(
      `peregrine: the open-file limit (ulimit -n) leaves room for about ${budget} connections in this ` +
        `process, fewer than maxConnections allows (${this.settings.maxConnections} per worker × ${threads}); ` +
        'past it, idle connections are closed and new ones refused. Raise the limit to serve more.',
    );
  }

  /**
   * Closes the connections idle longest (keep-alive connections between requests, ones that have not
   * sent their first request yet), an eighth of them (1 to EVICT_MAX), as nginx does when it runs out
   * of connections.
   * Connections in a request, WebSockets and sockets in their TLS handshake are left alone. Returns
   * whether any was closed.
   */
  private makeRoom(): boolean {
    const now = performance.now();
    if (now < this.noIdleUntil) return false;
    const idle: { link: Link; since: number }[] = [];
    for (const link of this.links) {
      const since = link.session.idleSince();
      if (since >= 0) idle.push({ link, since });
    }
    if (idle.length === 0) {
      this.noIdleUntil = now + RESCAN_MS;
      return false;
    }
    idle.sort((a, b) => a.since - b.since);
    const count = Math.max(1, Math.min(EVICT_MAX, idle.length >> 3));
    for (let i = 0; i < count; i++) idle[i]!.link.destroy();
    this.evicted += count;
    return true;
  }

  /**
   * A connection past the limit with nothing idle to close: a plain-HTTP client is told so (503,
   * Retry-After) before its request is read, a TLS one is closed before its handshake.
   */
  private refuse(socket: Socket): void {
    this.refused++;
    this.warnRefusals();
    if (this.tlsServer !== null || this.refusing.size >= MAX_REFUSING) {
      socket.destroy();
      return;
    }
    this.refusing.set(socket, this.clock.now + PLAINTEXT_LINGER_MS);
    socket.on('close', () => this.refusing.delete(socket));
    socket.on('error', () => {});
    socket.end(this.settings.fullAnswer(this.clock.dateLine));
    socket.resume(); // its request is read and dropped, so that closing sends no reset over the answer
  }

  /**
   * accept() failed. Out of file descriptors (EMFILE, ENFILE), libuv has already closed the waiting
   * connections: idle connections are closed so that the next ones get in, and it is logged, once a
   * while, since the server is then at a limit the operator set too low.
   */
  private listenerError(error: NodeJS.ErrnoException): void {
    if (error.code !== 'EMFILE' && error.code !== 'ENFILE') {
      console.error('peregrine: listener error:', error);
      return;
    }
    this.noIdleUntil = 0;
    this.makeRoom();
    this.refused++;
    this.warnRefusals(error.code);
  }

  /** Tells the operator that connections are being refused, at most once per WARNING_MS. */
  private warnRefusals(cause?: string): void {
    const now = this.clock.now;
    if (now - this.warnedAt < WARNING_MS) return;
    this.warnedAt = now;
    const limit =
      cause !== undefined
        ? `out of file descriptors (${cause})`
        : this.openCount > this.settings.maxConnections
          ? `at maxConnections (${this.settings.maxConnections} per worker)`
          : `at the open-file limit (room for ${this.descriptorBudget} connections; raise ulimit -n)`;
    this.settings.warn(
      `peregrine: refusing new connections: ${limit}, with ${this.links.size} open in this worker and ` +
        `none idle to close (${this.refused} refused so far).`,
    );
  }

  private adopt(link: Link, first: Session | null = null): void {
    this.linksTotal++;
    link.swap(first ?? this.openSession(link));
    link.startReading();
    this.links.add(link);
    this.publishCount();
  }

  /**
   * A TLS port with `proxyProtocol`: the PROXY header comes before the TLS handshake, so it is read
   * from the raw socket here; what it says waits on the socket for `secured`. A bad header closes
   * the socket; what follows the header is sniffed as usual.
   */
  private readProxyHeader(socket: Socket, tlsServer: TlsServer, tls: TlsSettings): void {
    this.pending.set(socket, this.clock.now + this.settings.proxyHeaderTimeout);
    socket.on('close', () => this.pending.delete(socket));
    socket.on('error', () => {}); // a reset before the first bytes: 'close' follows
    const reader = new ProxyHeaderReader();
    const onReadable = (): void => {
      for (
        let chunk = socket.read() as Buffer | null;
        chunk !== null;
        chunk = socket.read() as Buffer | null
      ) {
        let header: ReturnType<ProxyHeaderReader['feed']>;
        try {
          header = reader.feed(chunk, chunk.length);
        } catch {
          socket.destroy(); // ProxyProtocolError
          return;
        }
        if (header === null) continue;
        socket.off('readable', onReadable);
        this.proxiedSockets.set(socket, { source: header.source, ssl: header.ssl });
        const rest = chunk.subarray(reader.usedOfLast);
        this.sniff(socket, tlsServer, tls, rest.length > 0 ? rest : null);
        return;
      }
    };
    socket.on('readable', onReadable);
  }

  /**
   * Reads a TLS port's first bytes (or takes `first`, read already): a TLS handshake goes on to the
   * TLS server; a client speaking plain HTTP is told so in plain HTTP (a clear 400, not a hang or a
   * reset); anything else is closed.
   */
  private sniff(socket: Socket, tlsServer: TlsServer, tls: TlsSettings, first: Buffer | null): void {
    const proxied = this.settings.proxyHeaderTimeout > 0;
    this.pending.set(socket, this.clock.now + tls.handshakeTimeout);
    if (!proxied) {
      socket.on('close', () => this.pending.delete(socket));
      socket.on('error', () => {}); // a reset before the first bytes: 'close' follows
    }
    if (first !== null) {
      this.classify(socket, tlsServer, tls, first);
      return;
    }
    socket.once('readable', () => {
      const read = socket.read() as Buffer | null;
      if (read === null || read.length === 0) return;
      this.classify(socket, tlsServer, tls, read);
    });
  }

  private classify(socket: Socket, tlsServer: TlsServer, tls: TlsSettings, first: Buffer): void {
    if (first[0] === TLS_HANDSHAKE) {
      // From here the TLS server's handshakeTimeout watches it.
      this.pending.delete(socket);
      this.handshaking.add(socket);
      socket.once('close', () => this.handshaking.delete(socket));
      socket.unshift(first); // the TLS socket reads what was already read before the rest
      tlsServer.emit('connection', socket);
      return;
    }
    if (first[0]! >= 0x41 && first[0]! <= 0x5a) {
      // An upper-case letter: most likely an HTTP method. Answer, then drop what else it sends.
      socket.end(tls.plaintextAnswer(this.clock.dateLine));
      socket.resume();
      this.pending.set(socket, this.clock.now + PLAINTEXT_LINGER_MS);
      return;
    }
    socket.destroy();
  }

  /** The TLS handshake completed. */
  private secured(socket: TLSSocket): void {
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    socket.allowHalfOpen = true;
    const link = new Link(socket, null, this);
    if (this.settings.proxyHeaderTimeout > 0) {
      // node:tls keeps the socket it wrapped as `_parent`. Should a Node version not, the client's
      // address would silently become the proxy's: close instead.
      const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
      const proxied = raw === undefined ? undefined : this.proxiedSockets.get(raw);
      if (proxied === undefined) {
        socket.destroy();
        return;
      }
      link.proxied = proxied.source;
      link.proxiedTls = proxied.ssl;
    }
    this.adopt(link);
  }

  private tick(): void {
    const clock = this.clock;
    clock.update();
    // A lingering worker's fresh connections count as idle (due at once) until their first request
    // is in: they are left to shutdown(), which gives them their last call.
    if (this.lingering) return;
    const now = clock.now;
    for (const [socket, deadline] of this.pending) if (now >= deadline) socket.destroy();
    for (const [socket, deadline] of this.refusing) if (now >= deadline) socket.destroy();
    for (const link of this.links) {
      const session = link.session;
      if (session.deadline !== 0 && now >= session.deadline) session.timedOut();
    }
  }

  linkClosed(link: Link): void {
    this.closedBytesRead += link.socket.bytesRead;
    this.closedBytesWritten += link.socket.bytesWritten;
    this.links.delete(link);
    this.publishCount();
    if (this.links.size === 0 && this.allClosed !== null) this.allClosed();
  }

  private publishCount(): void {
    const { counts, slot } = this.settings.placement;
    if (counts !== null) Atomics.store(counts, slot, this.links.size);
  }

  /**
   * Stops accepting, closes idle connections at once, lets work in flight finish, and after `timeout`
   * closes whatever is left.
   *
   * With `linger` (ms), a worker retires under load without resetting connections: for that long it
   * still accepts and serves, answering every request with `Connection: close`; then it stops
   * accepting and lets the connections it accepted last bring in their request before it closes the
   * idle ones. (Closing a listener resets the connections in its accept queue, and a client that
   * sends its next request just as its idle connection is closed sees it reset: both are rare once
   * the worker is nearly idle.)
   *
   * `lastCall` (ms, default LAST_CALL_MS with a linger, else 0) is how long, once it has stopped
   * accepting, the open connections get to bring in one more request (answered with `Connection:
   * close`) before the idle ones are closed. A rolling restart uses it without a linger: stopping
   * accepting first, while the clients still keep their connections, leaves few connections in the
   * accept queue to reset, and the clients then reconnect to the listeners that remain.
   */
  shutdown(timeout: number, linger = 0, lastCall = linger > 0 ? LAST_CALL_MS : 0): Promise<void> {
    if (this.stopped === null) this.stopped = this.stop(timeout, linger, lastCall);
    return this.stopped;
  }

  private async stop(timeout: number, linger: number, lastCall: number): Promise<void> {
    const started = Date.now();
    this.stopping = true;
    const drained = new Promise<void>((resolve) => {
      this.allClosed = resolve;
    });
    if (linger > 0) {
      this.lingering = true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(linger, timeout)));
      // Close right after a poll phase has accepted what was queued: the fewest to reset.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.accepting = false;
    const closedListener = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.links.size > 0) {
      if (lastCall > 0) {
        this.lingering = true; // idle connections are not closed by the timer meanwhile
        await within(drained, Math.min(lastCall, timeout - (Date.now() - started)));
      }
      this.lingering = false;
      for (const link of this.links) link.session.shutdown();
      await within(drained, Math.max(0, timeout - (Date.now() - started)));
      for (const link of this.links) link.destroy();
    }
    for (const socket of this.pending.keys()) socket.destroy();
    for (const socket of this.handshaking) socket.destroy();
    for (const socket of this.refusing.keys()) socket.destroy();
    await closedListener;
    if (this.timer !== null) clearInterval(this.timer);
  }
}

/** How long a lingering worker's last-accepted connections get to bring in their request. */
const LAST_CALL_MS = 100;

/** Waits for `promise`, but no longer than `ms`. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise, expired]);
  clearTimeout(timer);
}
