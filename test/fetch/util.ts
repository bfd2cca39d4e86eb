import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import {
  type BunServeOptions,
  type FetchOptions,
  type Server,
  type ServerOptions,
  serve,
} from '../../src/index.ts';

/** Starts a fetch-mode server on a free loopback port, shut down after the test; collects onError's errors. */
export async function startFetch<Data = undefined>(
  t: TestContext,
  options: FetchOptions<Data> & ServerOptions & BunServeOptions,
) {
  const errors: unknown[] = [];
  const server: Server<Data> = await serve<Data>({
    port: 0,
    hostname: '127.0.0.1',
    workers: 1,
    log: false,
    handleSignals: false,
    onError: (error) => errors.push(error),
    ...options,
  });
  t.after(() => server.shutdown());
  return { server, errors, url: (path: string) => `http://127.0.0.1:${server.port}${path}` };
}

/**
 * Request-targets as a client may send them: any visible ASCII, with dot segments, percent forms
 * (good and broken), the characters the URL parser escapes or rewrites, and a non-ASCII letter, each
 * over-represented. `/` followed by up to `maxPieces` pieces.
 */
export function requestTarget(maxPieces: number): fc.Arbitrary<string> {
  const piece = fc.oneof(
    fc.constantFrom(
      ...['/', '.', '..', '/./', '/../', '%2e', '%2E', '%2E%2e', '%', '%4', '%41', '%zz', '?', '??', '#'],
      ...['\\', "'", '"', '`', '{', '}', '<', '>', '^', '|', '\u00e9'],
    ),
    fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~!$&'()*+,;=:@/?%".split('')), maxLength: 12 }),
    fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 4,
    }),
  );
  return fc.array(piece, { maxLength: maxPieces }).map((pieces) => `/${pieces.join('')}`);
}

/** Waits until `condition()` holds, checking every 10 ms for up to 4 s; fails naming `what`. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await delay(10);
  assert.ok(condition(), `timed out waiting for ${what}`);
}
