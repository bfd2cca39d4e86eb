import { type Server as NetServer, Socket } from 'node:net';

/**
 * Reading every socket of a worker into one reused buffer, with `net.Socket`'s documented `onread`
 * option, instead of a new Buffer (and a trip through the Readable stream machinery) per read:
 * fewer allocations, fewer minor GCs, and about a quarter less CPU per request on a small body.
 *
 * A server's sockets don't take `onread`, so an accepted socket's handle is moved into a new
 * `Socket` made with it. That leans on two underscore fields (`_handle`, and `_server`, which
 * keeps the server's connection count right for `maxConnections` and `close()`); when this Node
 * lacks them the socket is left as it was and read the plain way. The listener must be created
 * with `pauseOnConnect`, so the handle is not yet reading when it changes hands.
 *
 * The bytes given to `onRead` are valid only until it returns: the next read overwrites them.
 */

/** Bytes read at most per call; a larger arrival comes as several reads. */
export const SHARED_READ_BYTES = 64 * 1024;

/** Called for each read; it may return nothing (Node keeps reading unless it returns `false`). */
export type ReadCallback = (nread: number, buf: Buffer) => void;

/** The internals this relies on, feature-detected on every socket. */
interface AcceptedSocket {
  _handle: { useUserBuffer?: unknown; reading?: boolean } | null;
  _server: NetServer | null;
  server: NetServer | null;
}

let enabled = true;

/**
 * @internal How many sockets this thread gave shared reads (`adopted`), and how many it left to
 * read the plain way because this Node lacks the internals or the socket was already reading
 * (`fellBack`; sockets turned off by useSharedReads are in neither). Counted once per connection,
 * never per read: test/transport/shared-reads.test.ts checks that a supported Node never falls back.
 */
export const sharedReadCounts = { adopted: 0, fellBack: 0 };

/** @internal Turns shared reads off (or back on) for sockets accepted from now on: tests run both paths. */
export function useSharedReads(on: boolean): void {
  enabled = on;
}

/**
 * A socket in place of `socket` (accepted with `pauseOnConnect`) that reads into `buffer` and
 * calls `onRead` for each read; or null, leaving `socket` untouched, when shared reads are off or
 * this Node lacks the internals.
 */
export function withSharedReads(socket: Socket, buffer: Buffer, onRead: ReadCallback): Socket | null {
  if (!enabled) return null;
  const accepted = socket as unknown as AcceptedSocket;
  const handle = accepted._handle;
  const server = accepted._server;
  if (
    handle === null ||
    typeof handle !== 'object' ||
    typeof handle.useUserBuffer !== 'function' ||
    handle.reading === true ||
    server === null ||
    typeof server !== 'object'
  ) {
    sharedReadCounts.fellBack++;
    return null;
  }
  // The old socket lets go of the handle and no longer counts as one of the server's connections;
  // the new one counts in its place and is taken off the count when it is destroyed.
  accepted._handle = null;
  accepted._server = null;
  const options = {
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    // `onRead` itself: anything but `false` keeps reading (the connection pauses the socket when it must).
    onread: { buffer, callback: onRead },
  };
  const wrapped = new Socket(options as unknown as ConstructorParameters<typeof Socket>[0]);
  const adopted = wrapped as unknown as AcceptedSocket;
  adopted._server = server;
  adopted.server = server;
  sharedReadCounts.adopted++;
  return wrapped;
}
