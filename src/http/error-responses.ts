import { errorBody, reasonPhrase } from './status.ts';

/**
 * Complete responses for errors found before a handler runs (bad framing, limits, timeouts). They all
 * close the connection: after a parse error the next request can't be found reliably (RFC 9112 §2.2).
 */
const tails: string[] = [];

export function errorResponse(status: number, dateLine: string): string {
  let tail = tails[status];
  if (tail === undefined) {
    const body = errorBody(status);
    tail =
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    tails[status] = tail;
  }
  return `HTTP/1.1 ${status} ${reasonPhrase(status, 'Error')}\r\n${dateLine}${tail}`;
}
