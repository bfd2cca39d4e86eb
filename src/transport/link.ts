import type { Socket } from 'node:net';
import type { ProxiedAddress } from './proxy-protocol.ts';
import type { Session } from './session.ts';
import { withSharedReads } from './shared-reads.ts';

/** What a link tells the listener that accepted it. */
export interface LinkOwner {
  linkClosed(link: Link): void;
}

/** Where a socket keeps its link: one set of listener functions serves every socket. */
const LINK = Symbol('peregrine.link');
type LinkedSocket = Socket & { [LINK]?: Link };

/** Before the first session is attached: nothing can arrive yet (the socket starts reading later). */
const NO_SESSION: Session = {
  receive() {},
  drain() {},
  peerEnded() {},
  socketClosed() {},
  deadline: 0,
  timedOut() {},
  shutdown() {},
  idleSince: () => -1,
};

/**
 * One accepted socket and the session that speaks its protocol. The link owns the socket's events and
 * hands them to the current session; an upgrade (HTTP/1 → WebSocket) swaps the session in place.
 */
export class Link {
  readonly socket: Socket;
  /**
   * The worker's read buffer when this socket reads into it, or null when each read is a new Buffer
   * (the plain path). Bytes in it last only until the next read.
   */
  readonly sharedBuffer: Buffer | null;
  session: Session = NO_SESSION;
  /** With `proxyProtocol`: the client's address from the PROXY header, or null (the socket's stands). */
  proxied: ProxiedAddress | null = null;
  /** With `proxyProtocol`: the PROXY v2 header says the client reached the proxy over TLS. */
  proxiedTls = false;
  private readonly owner: LinkOwner;
  private isClosed = false;

  /** `accepted` comes from a listener made with `pauseOnConnect`: it is not reading yet. */
  constructor(accepted: Socket, readBuffer: Buffer | null, owner: LinkOwner) {
    const shared =
      readBuffer === null
        ? null
        : withSharedReads(accepted, readBuffer, (nread, buf) => {
            if (nread > 0) this.session.receive(buf, nread);
          });
    const socket = shared ?? accepted;
    this.socket = socket;
    this.sharedBuffer = shared === null ? null : readBuffer;
    this.owner = owner;
    (socket as LinkedSocket)[LINK] = this;
    socket.on('end', Link.socketEnded);
    socket.on('close', Link.socketClosed);
    socket.on('error', Link.socketFailed);
    socket.on('drain', Link.socketDrained);
  }

  /** The client's address: from the PROXY header when there was one, else the socket's peer. */
  get remoteAddress(): string | undefined {
    return this.proxied === null ? this.socket.remoteAddress : this.proxied.address;
  }

  get remotePort(): number | undefined {
    return this.proxied === null ? this.socket.remotePort : this.proxied.port;
  }

  /** Reads a socket that doesn't read into the shared buffer, unless its session reads it itself. */
  startReading(): void {
    if (this.sharedBuffer !== null || this.session.readsSocketItself === true) return;
    this.socket.on('data', Link.socketData);
    this.socket.resume();
  }

  /** The protocol changed: from now on the socket's events go to `session`. */
  swap(session: Session): void {
    this.session = session;
  }

  /**
   * Bytes the socket has not yet handed to the kernel. Nothing is written while a session waits for
   * a slow reader, so a change means the client took some. `writableLength` alone moves only when a
   * whole write completes (one 32 MiB body is one write); libuv's own queue size, which the handle
   * exposes, moves with every partial write.
   */
  get unsent(): number {
    const socket = this.socket as Socket & { _handle?: { writeQueueSize?: number } };
    const queued = socket._handle?.writeQueueSize;
    return socket.writableLength + (typeof queued === 'number' ? queued : 0);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Closes the socket at once; the session hears `socketClosed()` now, not when the socket's event comes. */
  destroy(): void {
    if (this.isClosed) return;
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.session.socketClosed();
    this.owner.linkClosed(this);
  }

  private static readonly socketData = function (this: Socket, chunk: Buffer): void {
    (this as LinkedSocket)[LINK]!.session.receive(chunk, chunk.length);
  };
  private static readonly socketEnded = function (this: Socket): void {
    (this as LinkedSocket)[LINK]!.session.peerEnded();
  };
  private static readonly socketClosed = function (this: Socket): void {
    (this as LinkedSocket)[LINK]!.onClose();
  };
  private static readonly socketFailed = function (this: Socket): void {
    // ECONNRESET and friends: the 'close' event follows and cleans up.
  };
  private static readonly socketDrained = function (this: Socket): void {
    (this as LinkedSocket)[LINK]!.session.drain();
  };
}
