import { type AddressInfo, createServer, type Server as NetServer, type Socket } from 'node:net';
import { Clock } from './clock.ts';
import { Link, type LinkOwner } from './link.ts';
import type { Session } from './session.ts';
import { SHARED_READ_BYTES } from './shared-reads.ts';

/** Where a worker runs: alone, or as one of several listening on a shared port. */
export interface WorkerPlacement {
  /** Listen with SO_REUSEPORT, so that several threads share the port. */
  reusePort: boolean;
  /** Where this worker publishes its connection count for the primary, if it is one of several. */
  counts: Int32Array | null;
  slot: number;
}

export const SINGLE: WorkerPlacement = { reusePort: false, counts: null, slot: 0 };

export interface ListenerSettings {
  port: number;
  host: string | undefined;
  backlog: number;
  maxConnections: number;
  /** How often the timer refreshes the clock and checks deadlines, in ms. */
  tickMs: number;
  placement: WorkerPlacement;
}

/**
 * One event loop's transport: its listening socket, its links (one per accepted socket), the shared
 * read buffer they read into, and the single coarse timer that refreshes the clock and expires every
 * session's deadline. It knows no protocol: `openSession` gives each new link the session that
 * speaks on it.
 */
export class Listener implements LinkOwner {
  readonly clock = new Clock();
  readonly readBuffer = Buffer.allocUnsafe(SHARED_READ_BYTES);
  /** Set when shutdown begins: sessions answer their last response with `Connection: close`. */
  stopping = false;
  /** False once shutting down, except while a retiring worker lingers (see shutdown()). */
  private accepting = true;
  /** While a retiring worker lingers, before its sessions are told to close. */
  private lingering = false;
  private readonly links = new Set<Link>();
  private readonly server: NetServer;
  private readonly settings: ListenerSettings;
  private readonly openSession: (link: Link) => Session;
  private timer: NodeJS.Timeout | null = null;
  private allClosed: (() => void) | null = null;
  private stopped: Promise<void> | null = null;

  constructor(settings: ListenerSettings, openSession: (link: Link) => Session) {
    this.settings = settings;
    this.openSession = openSession;
    this.server = createServer(
      // Paused: a link moves the socket's handle to one that reads into readBuffer.
      { noDelay: true, allowHalfOpen: true, pauseOnConnect: true },
      (socket) => this.accept(socket),
    );
    this.server.maxConnections = settings.maxConnections;
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
    this.server.on('error', (error) => console.error('peregrine: listener error:', error));
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

  /** The session of every open connection. */
  *sessions(): IterableIterator<Session> {
    for (const link of this.links) yield link.session;
  }

  private accept(socket: Socket): void {
    if (!this.accepting) {
      socket.destroy();
      return;
    }
    const link = new Link(socket, this.readBuffer, this);
    link.swap(this.openSession(link));
    this.links.add(link);
    this.publishCount();
  }

  private tick(): void {
    const clock = this.clock;
    clock.update();
    // A lingering worker's fresh connections count as idle (due at once) until their first request
    // is in: they are left to shutdown(), which gives them their last call.
    if (this.lingering) return;
    const now = clock.now;
    for (const link of this.links) {
      const session = link.session;
      if (session.deadline !== 0 && now >= session.deadline) session.timedOut();
    }
  }

  linkClosed(link: Link): void {
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
   */
  shutdown(timeout: number, linger = 0): Promise<void> {
    if (this.stopped === null) this.stopped = this.stop(timeout, linger);
    return this.stopped;
  }

  private async stop(timeout: number, linger: number): Promise<void> {
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
      if (linger > 0) await within(drained, Math.min(LAST_CALL_MS, timeout - (Date.now() - started)));
      this.lingering = false;
      for (const link of this.links) link.session.shutdown();
      await within(drained, Math.max(0, timeout - (Date.now() - started)));
      for (const link of this.links) link.destroy();
    }
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
