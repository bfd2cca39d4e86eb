import type { ServerHttp2Stream } from 'node:http2';
import { UsageError } from '../errors.ts';
import { type BodySource, IncomingBody, isClientAbort, parseJsonBody } from '../http/body.ts';
import type { Request } from '../http/exchange.ts';
import {
  type ClientView,
  type ForwardedSource,
  type ProxyTrust,
  resolveClient,
} from '../http/trusted-proxy.ts';

/** What an HTTP/2 request needs from the stream that carries it. */
export interface StreamSource {
  readonly scheme: 'http' | 'https';
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** The connection's protocol as the client used it: `scheme`, or https when a PROXY v2 header said TLS. */
  readonly ownProtocol: 'http' | 'https';
  /** The `trustProxy` rules, or null. */
  readonly proxyTrust: ProxyTrust | null;
  /** This request's handlerTimeout in ms (0 none), counted from now. */
  setHandlerTimeout(ms: number): void;
}

/**
 * One HTTP/2 request (see the Request interface): the pseudo-headers and fields of a HEADERS frame
 * (RFC 9113 §8.3), and the DATA frames of its stream as the body. Field names arrive in lower case;
 * `:authority` answers for `Host`.
 */
export class Http2Request implements Request, BodySource, ForwardedSource {
  readonly method: string;
  readonly version = '2.0' as const;
  readonly target: string;
  /** @internal */
  pathIs(path: string): boolean {
    return this.path === path;
  }

  readonly path: string;
  readonly queryString: string;
  /** @internal */
  readonly incoming = new IncomingBody();
  /** @internal Called once if the client goes away; cheaper than `signal` for the server's own use. */
  onGone: ((reason: Error) => void) | null = null;
  private readonly h2stream: ServerHttp2Stream;
  private readonly source: StreamSource;
  /** Field names and values in order, pseudo-headers left out. */
  private readonly fields: string[];
  private queryCache: URLSearchParams | null = null;
  /** `:authority`, which names the host ahead of Host (RFC 9113 §8.3.1). */
  private readonly authority: string | undefined;
  private clientCache: ClientView | null = null;
  private abort: AbortController | null = null;
  private goneReason: Error | null = null;
  private readonly declaredLength: number | undefined;

  constructor(stream: ServerHttp2Stream, rawHeaders: string[], source: StreamSource, hasBody: boolean) {
    this.h2stream = stream;
    this.source = source;
    let method = 'GET';
    let target = '/';
    let authority: string | undefined;
    const fields: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const value = rawHeaders[i + 1]!;
      if (name.charCodeAt(0) !== 0x3a /* : */) fields.push(name, value);
      else if (name === ':method') method = value;
      else if (name === ':path') target = value;
      else if (name === ':authority') authority = value;
    }
    // Host comes from :authority when the client sent no Host field (RFC 9113 §8.3.1).
    if (authority !== undefined && !fields.includes('host')) fields.push('host', authority);
    this.fields = fields;
    this.authority = authority;
    this.method = method;
    this.target = target;
    const query = target.indexOf('?');
    this.path = query === -1 ? target : target.slice(0, query);
    this.queryString = query === -1 ? '' : target.slice(query + 1);
    const length = this.header('content-length');
    this.declaredLength = length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : undefined;
    this.incoming.reset(this, hasBody);
  }

  get query(): URLSearchParams {
    this.queryCache ??= new URLSearchParams(this.queryString);
    return this.queryCache;
  }

  get headerCount(): number {
    return this.fields.length / 2;
  }

  headerName(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.headerCount) throw badIndex(i);
    return this.fields[i * 2]!;
  }

  headerValue(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.headerCount) throw badIndex(i);
    return this.fields[i * 2 + 1]!;
  }

  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    const fields = this.fields;
    let found: string | undefined;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] !== lower) continue;
      const value = fields[i + 1]!;
      // HTTP/2 may split Cookie into several fields, joined again with "; " (RFC 9113 §8.2.3).
      found = found === undefined ? value : found + (lower === 'cookie' ? '; ' : ', ') + value;
    }
    return found;
  }

  *headers(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.fields.length; i += 2) yield [this.fields[i]!, this.fields[i + 1]!];
  }

  get scheme(): 'http' | 'https' {
    return this.source.scheme;
  }

  get remoteAddress(): string | undefined {
    return this.source.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.source.remotePort;
  }

  get clientAddress(): string {
    // No proxy trusted: the peer itself, without working out the rest of the view (the access log
    // asks for this on every response).
    if (this.source.proxyTrust === null) return this.source.remoteAddress ?? '';
    return this.client().address;
  }

  get protocol(): 'http' | 'https' {
    return this.client().protocol;
  }

  get host(): string | undefined {
    return this.client().host;
  }

  private client(): ClientView {
    this.clientCache ??= resolveClient(this, this.source.proxyTrust);
    return this.clientCache;
  }

  /** @internal */
  get ownProtocol(): 'http' | 'https' {
    return this.source.ownProtocol;
  }

  /** @internal */
  get ownHost(): string | undefined {
    return this.authority ?? this.header('host');
  }

  get signal(): AbortSignal {
    if (this.abort === null) {
      this.abort = new AbortController();
      if (this.goneReason !== null) this.abort.abort(this.goneReason);
    }
    return this.abort.signal;
  }

  setTimeout(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0)
      throw new UsageError(
        'ERR_PEREGRINE_INVALID_ARGUMENT',
        `a timeout must be an integer number of ms >= 0, got ${ms}`,
      );
    this.source.setHandlerTimeout(ms);
  }

  get hasBody(): boolean {
    return this.incoming.present;
  }

  get contentLength(): number | undefined {
    return this.declaredLength;
  }

  bytes(): Promise<Buffer> {
    return this.incoming.bytes();
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return parseJsonBody(await this.text());
  }

  stream(): AsyncIterableIterator<Buffer> {
    return this.incoming.stream();
  }

  abortedWith(error: unknown): boolean {
    return isClientAbort(this.goneReason, error);
  }

  get gone(): Error | null {
    return this.goneReason;
  }

  /** @internal The client reset the stream or went away. */
  aborted(reason: Error): void {
    if (this.goneReason === null) this.goneReason = reason;
    if (this.abort !== null && !this.abort.signal.aborted) this.abort.abort(reason);
    const onGone = this.onGone;
    this.onGone = null;
    onGone?.(reason);
  }

  // BodySource: the stream's own flow control holds the client back while the body waits.
  resumeBody(): void {
    if (this.h2stream.isPaused()) this.h2stream.resume();
  }

  bodyWanted(): void {}
}

function badIndex(i: number): UsageError {
  return new UsageError('ERR_PEREGRINE_INVALID_ARGUMENT', `header index ${i} out of range`);
}
