import type { Handler } from '../handler.ts';
import { HttpError } from '../http/errors.ts';
import type { Request as NativeRequest } from '../http/request.ts';
import type { Response as NativeResponse } from '../http/response.ts';
import { toWebRequest } from './web-request.ts';
import { sendWebResponse } from './web-response.ts';

/** What fetch mode gives `fetch` as its second argument. */
export interface FetchServer {
  /** The client's address, as Bun's `server.requestIP(request)`; null for a request not from this server. */
  requestIP(request: Request): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null;
}

/** The Web-standard half of `serve()`'s options, named as Bun.serve names them. */
export interface FetchOptions {
  /** Answers a request: a `Response`, or a promise of one. */
  fetch(request: Request, server: FetchServer): Response | Promise<Response>;
  /** Turns what `fetch` threw or rejected with into a response; without it, a 500. */
  error?(error: unknown): Response | Promise<Response>;
}

/** Whether `value` is fetch-mode options (a `fetch` function) rather than a native handler. */
export function isFetchOptions(value: unknown): value is FetchOptions {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { fetch?: unknown }).fetch === 'function' &&
    typeof (value as { handleRequest?: unknown }).handleRequest !== 'function'
  );
}

/** A native handler that runs a `fetch(request) → Response` app. */
export function fetchHandler(options: FetchOptions): Handler {
  const { fetch, error } = options;
  const natives = new WeakMap<Request, NativeRequest>();
  const server: FetchServer = {
    requestIP(request) {
      const req = natives.get(request);
      const address = req?.remoteAddress;
      if (req === undefined || address === undefined) return null;
      return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port: req.remotePort ?? 0 };
    },
  };
  return {
    async handleRequest(req: NativeRequest, res: NativeResponse): Promise<void> {
      const request = toWebRequest(req, 'http');
      if (request === null)
        throw new HttpError(400, 'no valid URL can be made from the request target and Host');
      natives.set(request, req);
      let response: unknown;
      try {
        response = await fetch(request, server);
        if (!(response instanceof Response)) {
          throw new TypeError(`fetch() must return a Response, got ${describe(response)}`);
        }
      } catch (failure) {
        if (error === undefined || req.abortedWith(failure)) throw failure;
        response = await error(failure);
        if (!(response instanceof Response)) {
          throw new TypeError(`error() must return a Response, got ${describe(response)}`);
        }
      }
      await sendWebResponse(req, res, response as Response);
    },
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
