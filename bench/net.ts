// Loopback ports: finding a free one for a server, and waiting until a server accepts connections on it.
import { connect, createServer } from 'node:net';

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects if `exited` resolves first
 * or after `timeoutMs`.
 */
export async function waitForPort(port: number, exited: Promise<void>, timeoutMs: number): Promise<void> {
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error('exited before accepting connections');
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted && !gone) return;
    if (performance.now() > deadline) throw new Error(`no connection accepted within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
