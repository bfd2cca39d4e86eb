/**
 * The request handler of the `node:http` baseline, shared by node-http.ts (one process) and
 * node-http-cluster.ts (node:cluster workers), so that both answer the routes of bodies.ts with the same
 * code and bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyFor, JSON_MESSAGE } from './bodies.ts';

/** The request target without its query string, like Peregrine's `req.path`. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** `POST /upload`: reads the whole body, then answers with its length. */
function upload(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(String(Buffer.concat(chunks).length));
  });
}

export function handleRequest(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'POST') {
    upload(req, res);
    return;
  }
  const path = pathOf(req.url);
  if (path === '/json') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(JSON_MESSAGE));
    return;
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end(bodyFor(path));
}
