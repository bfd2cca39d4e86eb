/**
 * The routes every benchmark server answers, and their bodies, so that all servers send byte-identical
 * payloads. The bodies are plain ASCII, so their string length equals their length in bytes.
 *
 * - `GET /`: {@link SMALL_BODY}, `text/plain`.
 * - `GET /6150`: {@link LARGE_BODY}, `text/plain`.
 * - `GET /json`: {@link JSON_MESSAGE} serialized per request, `application/json`.
 * - `POST /upload`: the whole request body read, answered with its length in bytes as `text/plain`.
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

/** The object `GET /json` serializes on every request (the TechEmpower JSON test's). */
export const JSON_MESSAGE = { message: 'Hello, World!' } as const;

/** What `GET /json` must send. */
export const JSON_BODY = JSON.stringify(JSON_MESSAGE);

/** Size of the body of `POST /upload`, in bytes. */
export const UPLOAD_BYTES = 4096;

/**
 * The body for a GET path (without the query), other than `/json`. Any path but `/6150` gets the small
 * body, identically in every server.
 */
export function bodyFor(path: string): string {
  return path === '/6150' ? LARGE_BODY : SMALL_BODY;
}
