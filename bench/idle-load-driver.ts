// Drives idle-load.ts, which opens the idle section's keep-alive connections and holds them while the
// server's memory is read.
import { join } from 'node:path';
import { hasExited, LOAD_CPU, spawnPinned, terminate, track } from './processes.ts';

const IDLE_LOAD_SCRIPT = join(import.meta.dirname, 'idle-load.ts');
const READY_TIMEOUT_MS = 60_000;

/** The connections held open by a running idle-load.ts. */
export interface IdleConnections {
  /** Why the connections are gone if idle-load.ts has exited; undefined while it holds them. */
  lost(): string | undefined;
  /** Stops idle-load.ts, which closes the connections. */
  close(): Promise<void>;
}

/**
 * Starts idle-load.ts on LOAD_CPU and resolves once all its connections are open and answered (with
 * `websocket`, upgraded to WebSockets).
 */
export async function openIdleConnections(
  port: number,
  connections: number,
  websocket = false,
): Promise<IdleConnections> {
  const args = [IDLE_LOAD_SCRIPT, '--port', String(port), '--connections', String(connections)];
  if (websocket) args.push('--websocket');
  // A pipe on stdin: idle-load.ts stops when it closes, so it can't outlive the runner.
  const client = spawnPinned(LOAD_CPU, process.execPath, args, { stdin: 'pipe' });
  const exited = track(client);
  let stderr = '';
  client.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const close = (): Promise<void> => terminate(client, exited);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('idle-load did not open its connections within 60 s')),
        READY_TIMEOUT_MS,
      );
      client.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`idle-load exited: ${stderr.trim() || `code ${client.exitCode}`}`));
      });
    });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    lost: () => (hasExited(client) ? `idle-load exited: ${stderr.trim()}` : undefined),
    close,
  };
}
