/**
 * The same socket-level tests with shared reads turned off: each socket reads the plain way, a new
 * Buffer per read through 'data' events, as it does on a Node without the internals shared reads
 * need (see src/transport/shared-reads.ts). Both paths must behave the same.
 */
import { useSharedReads } from '../../src/transport/shared-reads.ts';

useSharedReads(false);

await import('./bodies.test.ts');
await import('./keepalive.test.ts');
await import('./limits-timeouts.test.ts');
await import('./pipelining.test.ts');
await import('./request.test.ts');
await import('./responses.test.ts');
await import('../ws/interop.test.ts');
