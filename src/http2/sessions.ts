import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { Link } from '../transport/link.ts';
import { Http2Connection, type Http2Owner } from './connection.ts';

/** The limits an HTTP/2 connection announces in its SETTINGS and enforces (RFC 9113 §6.5.2). */
export interface Http2Limits {
  /** Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Largest header section, in bytes, as HPACK decodes it (SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderListSize: number;
  /** Most header fields in one request. */
  maxHeaderCount: number;
}

/**
 * Makes the HTTP/2 session of a link: node:http2's core (not its compatibility layer) does the
 * framing, HPACK, flow control and SETTINGS. Its server object never listens: it is only handed the
 * sockets whose client chose h2.
 */
export class Http2Sessions {
  private readonly server: Http2Server;
  private made: ServerHttp2Session | null = null;

  constructor(limits: Http2Limits) {
    this.server = createServer({
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: limits.maxHeaderListSize,
        enablePush: false,
      },
      // Pseudo-headers count as fields to node:http2.
      maxHeaderListPairs: limits.maxHeaderCount + 4,
    });
    this.server.on('session', (session) => {
      this.made = session;
    });
  }

  /** The session for a link whose socket speaks HTTP/2 from its next byte. */
  open(link: Link, owner: Http2Owner): Http2Connection {
    this.server.emit('connection', link.socket); // makes the session at once ('session' above)
    const session = this.made!;
    this.made = null;
    return new Http2Connection(link, session, owner);
  }
}
