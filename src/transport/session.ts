/**
 * A protocol's side of one connection: HTTP/1, a WebSocket, later HTTP/2. The transport (Link)
 * delivers its socket's events to the current session, and a protocol upgrade swaps the session
 * (`Link.swap`) instead of routing the new protocol's bytes through the old one.
 */
export interface Session {
  /**
   * `bytes[0..length)` arrived. When `bytes` is the worker's shared read buffer (`Link.sharedBuffer`)
   * they are valid only until this returns: whatever must outlive the call is copied.
   */
  receive(bytes: Buffer, length: number): void;
  /** The socket's write queue has emptied. */
  drain(): void;
  /** The peer ended its side (FIN): nothing more will arrive. */
  peerEnded(): void;
  /** The socket has closed, by either side: let go of everything. Called once. */
  socketClosed(): void;
  /** When this session's current timeout expires (clock ms), or 0. The listener's timer checks it. */
  readonly deadline: number;
  /** `deadline` has passed. */
  timedOut(): void;
  /** Graceful shutdown: finish what is in flight, then close. */
  shutdown(): void;
  /**
   * When this session last became idle with nothing in flight, nothing buffered and nothing unsent
   * (clock ms), or -1 while it is busy or must not be closed to make room (a WebSocket). Past
   * maxConnections the listener closes the longest-idle sessions first, as nginx does.
   */
  idleSince(): number;
  /** True when the protocol's own library reads the socket (node:http2): the link must not. */
  readonly readsSocketItself?: boolean;
}
