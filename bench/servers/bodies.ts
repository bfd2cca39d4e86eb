/**
 * Response bodies shared by both benchmark servers, so that they send byte-identical payloads.
 * Both bodies are plain ASCII, so their string length equals their length in bytes.
 */

/** Body of `GET /`: the classic 13-byte greeting. */
export const SMALL_BODY = 'Hello, World!';

/** Size of the body of `GET /6150`, in bytes. */
export const LARGE_BODY_BYTES = 6150;

const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore ' +
  'et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.\n';

/** Body of `GET /6150`: repeated lorem text cut to exactly {@link LARGE_BODY_BYTES} bytes, built once. */
export const LARGE_BODY = LOREM.repeat(Math.ceil(LARGE_BODY_BYTES / LOREM.length)).slice(0, LARGE_BODY_BYTES);

/**
 * The body for a request path (without the query). Only `/` and `/6150` are exercised by the benchmark;
 * any other path gets the small body, identically in both servers.
 */
export function bodyFor(path: string): string {
  return path === '/6150' ? LARGE_BODY : SMALL_BODY;
}
