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

const PLAIN_ON_TLS_BODY = '400 Bad Request: this port speaks HTTPS; use https://\n';

/** The answer to a client that speaks plain HTTP to a TLS port (nginx answers alike). */
export function plainHttpOnTlsPort(dateLine: string): string {
  return (
    `HTTP/1.1 400 Bad Request\r\n${dateLine}Content-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${PLAIN_ON_TLS_BODY.length}\r\nConnection: close\r\n\r\n${PLAIN_ON_TLS_BODY}`
  );
}

const FULL_BODY = '503 Service Unavailable: too many connections; retry shortly\n';

/**
 * The answer to a connection accepted past maxConnections when no idle connection could make room:
 * a 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3), sent before its request is read, then closed.
 */
export function serverFull(dateLine: string): string {
  return (
    `HTTP/1.1 503 Service Unavailable\r\n${dateLine}Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${FULL_BODY.length}\r\nConnection: close\r\n\r\n${FULL_BODY}`
  );
}
