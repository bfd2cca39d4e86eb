import { createHash } from 'node:crypto';
import { UsageError } from '../errors.ts';
import type { Request, Response } from '../http/exchange.ts';
import { type DeflateOptions, negotiateDeflate, PerMessageDeflate } from './deflate.ts';
import type { InflateLimiter } from './inflate-limiter.ts';
import { WebSocket, type WebSocketOwner } from './socket.ts';

/**
 * The opening handshake, server side (RFC 6455 §4.2): which requests may become WebSockets, and the
 * 101 response that makes them one.
 */

/** RFC 6455 §1.3: the GUID appended to the client's key. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** base64 of exactly 16 bytes: 22 significant characters, then "==" (RFC 6455 §4.1). */
const KEY_RE = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** What `res.upgrade()` takes. */
export interface UpgradeOptions<T = unknown> {
  /** The subprotocol to agree on: one of those the client offered (`offeredProtocols(req)`). */
  protocol?: string;
  /** Per-connection data, available as `ws.data`. */
  data?: T;
}

/** @internal What the handshake needs from the worker, beyond what each WebSocket needs. */
export interface HandshakeOwner extends WebSocketOwner {
  readonly options: {
    readonly wsPerMessageDeflate: boolean | Partial<DeflateOptions>;
    readonly wsMaxMessageBytes: number;
  };
  /** Bounds the worker's permessage-deflate decompressions (see InflateLimiter). */
  readonly inflateLimiter: InflateLimiter;
}

/** Headers of the 101 that the handshake sets itself (RFC 6455 §4.2.2): the handler's own are left out. */
const HANDSHAKE_HEADERS: ReadonlySet<string> = new Set([
  'upgrade',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/**
 * @internal Turns a request into a WebSocket (RFC 6455 §4.2): answers 400/426 itself when the request is not a
 * valid handshake, else sends 101 with the headers the handler set, takes the connection over from
 * HTTP and makes the WebSocket its session. Bytes that came right after the handshake follow the
 * open hook.
 */
export function acceptWebSocket(
  this: HandshakeOwner,
  req: Request,
  res: Response,
  options: UpgradeOptions,
): WebSocket | null {
  const refusal = checkUpgrade(req);
  if (refusal !== null) {
    res.status = refusal.status;
    for (const [name, value] of refusal.headers ?? []) res.setHeader(name, value);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`${refusal.reason}\n`);
    return null;
  }
  const protocol = options.protocol ?? '';
  if (protocol !== '' && !offeredProtocols(req).includes(protocol)) {
    throw new UsageError(
      'ERR_PEREGRINE_PROTOCOL_NOT_OFFERED',
      `the client did not offer the subprotocol ${JSON.stringify(protocol)}`,
    );
  }
  let deflate: PerMessageDeflate | null = null;
  let extensions = '';
  const wanted = this.options.wsPerMessageDeflate;
  if (wanted !== false) {
    const deflateOptions = {
      ...(wanted === true ? {} : wanted),
      maxInflatedBytes: this.options.wsMaxMessageBytes,
    };
    const agreed = negotiateDeflate(req.header('sec-websocket-extensions'), deflateOptions);
    if (agreed !== null) {
      deflate = new PerMessageDeflate(agreed.params, deflateOptions, this.inflateLimiter);
      extensions = agreed.response;
    }
  }
  const head = switchingProtocols(
    req.header('sec-websocket-key')!,
    protocol,
    extensions,
    res.headerLines(HANDSHAKE_HEADERS),
  );
  const { link, leftover } = res.switchProtocols(head);
  const ws = new WebSocket(link, this, { protocol, extensions, data: options.data, deflate });
  link.swap(ws);
  // The open hook runs once handleRequest has returned; frames that came with the handshake follow it.
  queueMicrotask(() => {
    ws.opened();
    if (leftover !== null) ws.receive(leftover, leftover.length);
  });
  return ws;
}

/** Why a request can't be upgraded: the status (and headers) to answer with. */
export interface UpgradeRefusal {
  status: number;
  reason: string;
  headers?: [string, string][];
}

/** Checks a request against RFC 6455 §4.2.1. Returns null when it is a valid WebSocket opening handshake. */
export function checkUpgrade(req: Request): UpgradeRefusal | null {
  if (req.method !== 'GET') return { status: 400, reason: 'a WebSocket handshake must be a GET request' };
  if (req.version !== '1.1') return { status: 400, reason: 'a WebSocket handshake needs HTTP/1.1' };
  if (req.hasBody) return { status: 400, reason: 'a WebSocket handshake carries no body' };
  if (!hasToken(req.header('upgrade'), 'websocket'))
    return { status: 400, reason: 'missing Upgrade: websocket' };
  if (!hasToken(req.header('connection'), 'upgrade'))
    return { status: 400, reason: 'missing Connection: upgrade' };
  const version = req.header('sec-websocket-version');
  if (version !== '13') {
    // RFC 6455 §4.4: answer with the versions we speak.
    return {
      status: 426,
      reason: 'unsupported WebSocket version',
      headers: [['Sec-WebSocket-Version', '13']],
    };
  }
  const key = req.header('sec-websocket-key');
  if (key === undefined || !KEY_RE.test(key)) return { status: 400, reason: 'invalid Sec-WebSocket-Key' };
  return null;
}

/** The subprotocols the client offered, in its order of preference (RFC 6455 §4.1, §11.3.4). */
export function offeredProtocols(req: Request): string[] {
  const header = req.header('sec-websocket-protocol');
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** Sec-WebSocket-Accept for a client key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** The 101 response head. */
export function switchingProtocols(key: string, protocol: string, extensions: string, more = ''): string {
  let head =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (protocol !== '') head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions !== '') head += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return `${head}${more}\r\n`;
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}
