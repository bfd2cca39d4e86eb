/**
 * The request handler of the `node:http` baseline, shared by node-http.ts (one process) and
 * node-http-cluster.ts (node:cluster workers), so that both answer with the same code and bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyFor } from './bodies.ts';

/** The request target without its query string, like Peregrine's `req.path`. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Answers every request with `text/plain` and the body for its path. */
export function handleRequest(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Content-Type', 'text/plain');
  res.end(bodyFor(pathOf(req.url)));
}
