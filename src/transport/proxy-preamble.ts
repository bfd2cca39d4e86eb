import type { Clock } from './clock.ts';
import type { Link } from './link.ts';
import { ProxyHeaderReader } from './proxy-protocol.ts';
import type { Session } from './session.ts';

/**
 * A plain connection's first session when `proxyProtocol` is on: it reads the PROXY header, gives the
 * link the client's address, then hands the link (and whatever followed the header in the same read)
 * to the protocol's session. A missing or invalid header, an early FIN or the deadline closes the
 * connection: no protocol has started, so there is no one to answer.
 */
export class ProxyPreamble implements Session {
  deadline: number;
  private readonly link: Link;
  private readonly acceptedAt: number;
  private readonly reader = new ProxyHeaderReader();
  private readonly openSession: (link: Link) => Session;

  constructor(link: Link, clock: Clock, timeout: number, openSession: (link: Link) => Session) {
    this.link = link;
    this.acceptedAt = clock.now;
    this.deadline = clock.now + timeout;
    this.openSession = openSession;
  }

  receive(bytes: Buffer, length: number): void {
    let header: ReturnType<ProxyHeaderReader['feed']>;
    try {
      header = this.reader.feed(bytes, length);
    } catch {
      this.link.destroy(); // ProxyProtocolError: §2.1 "must be discarded"
      return;
    }
    if (header === null) return;
    const link = this.link;
    link.proxied = header.source;
    link.proxiedTls = header.ssl;
    const session = this.openSession(link);
    link.swap(session);
    const used = this.reader.usedOfLast;
    if (used === length) return;
    if (session.readsSocketItself === true) {
      link.socket.unshift(Buffer.copyBytesFrom(bytes, used, length - used));
      return;
    }
    // The rest moves to the front of the same buffer: the next session sees a read that starts at 0
    // (and, if it is the shared read buffer, knows to copy what must outlive the call).
    bytes.copyWithin(0, used, length);
    session.receive(bytes, length - used);
  }

  drain(): void {}

  peerEnded(): void {
    this.link.destroy();
  }

  socketClosed(): void {
    this.deadline = 0;
  }

  timedOut(): void {
    this.link.destroy();
  }

  shutdown(): void {
    this.link.destroy();
  }

  /** Nothing sent yet, like a connection that has not sent its first request: first to go past maxConnections. */
  idleSince(): number {
    return this.acceptedAt;
  }
}
