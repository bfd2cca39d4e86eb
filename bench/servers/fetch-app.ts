/**
 * The fetch-mode app every fetch server of the benchmark runs, written as a Bun.serve program would
 * be: `GET /json` answers `Response.json(JSON_MESSAGE)`, every other path `new Response(body)` (whose
 * Content-Type the platform sets to `text/plain;charset=UTF-8`), with the bytes of bodies.ts.
 */
import { bodyFor, JSON_MESSAGE } from './bodies.ts';

export function fetchApp(request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === '/json') return Response.json(JSON_MESSAGE);
  return new Response(bodyFor(pathname));
}
