import { ConfigError } from '../errors.ts';
import { PrebuiltResponse } from '../http/prebuilt.ts';
import { isValidHeaderName, isValidHeaderValue } from '../http/response.ts';
import type { Server } from '../server.ts';

/** The `:param` names in a route path, as a union: `'/users/:id/posts/:post'` → `'id' | 'post'`. */
export type RouteParamNames<Path extends string> = Path extends `${string}:${infer Name}/${infer Rest}`
  ? Name | RouteParamNames<`/${Rest}`>
  : Path extends `${string}:${infer Name}`
    ? Name
    : never;

/** `request.params` for a route path: each `:param`, percent-decoded. */
export type RouteParams<Path extends string = string> = string extends Path
  ? Record<string, string>
  : { [Name in RouteParamNames<Path>]: string };

/** A request in a route handler (Bun's `BunRequest`): the Web `Request` with the route's `params`. */
export type RouteRequest<Path extends string = string> = Request & { params: RouteParams<Path> };

export type RouteHandler<Path extends string = string, WebSocketData = undefined> = (
  request: RouteRequest<Path>,
  server: Server<WebSocketData>,
) => Response | Promise<Response | undefined> | undefined;

/** What a path maps to: a fixed response, a handler, or a handler (or fixed response) per method. */
export type RouteValue<Path extends string = string, WebSocketData = undefined> =
  | Response
  | RouteHandler<Path, WebSocketData>
  | Partial<Record<string, RouteHandler<Path, WebSocketData> | Response>>;

/** `routes` as Bun.serve takes it: `{ '/users/:id': …, '/static/*': … }`, params typed from each path. */
export type Routes<WebSocketData = undefined, Paths extends string = string> = {
  [Path in Paths]: RouteValue<Path, WebSocketData>;
};

/** A route's answer for one method: a handler, or a fixed response's bytes. */
export type RouteTarget = RouteHandler<string, unknown> | FixedResponse;

/** A `Response` given as a route's value: read once at start-up, sent as the same bytes every time. */
export interface FixedResponse {
  readonly status: number;
  /** Without Transfer-Encoding, which is the server's to choose. */
  readonly headers: readonly [string, string][];
  readonly body: Uint8Array;
  /** The whole response as bytes, for the connections that can take them (see prebuild). */
  readonly prebuilt: PrebuiltResponse | null;
}

interface Route {
  readonly pattern: string;
  /** Per method (upper case); '*' for a route that takes every method. */
  readonly methods: Map<string, RouteTarget>;
  /** Literal segments, or the name of a `:param` (kept with its colon). */
  readonly segments: readonly string[];
  readonly wildcard: boolean;
}

export type RouteMatch =
  | { kind: 'found'; target: RouteTarget; params: Record<string, string> }
  | { kind: 'method'; allow: string }
  | { kind: 'none' };

const METHOD = /^[A-Z]+$/;

/**
 * Bun.serve's `routes`: exact paths, `:params` (one whole segment each) and a trailing `/*`. The
 * most specific route wins whatever the order they were given in: an exact path, then the route
 * whose segments are literal furthest along, then the longest wildcard prefix.
 */
export class Router {
  private readonly exact = new Map<string, Route>();
  private readonly patterns: Route[] = [];
  private readonly wildcards: Route[] = [];

  /** Routes with their Response values already read (see fixRoutes). Throws a ConfigError for a bad route. */
  constructor(routes: Record<string, Map<string, RouteTarget>>) {
    for (const [pattern, methods] of Object.entries(routes)) {
      if (!pattern.startsWith('/'))
        throw new ConfigError(`route ${JSON.stringify(pattern)} must start with '/'`);
      const wildcard = pattern === '/*' || pattern.endsWith('/*');
      const path = wildcard ? pattern.slice(0, -1) : pattern;
      const segments = path.split('/').slice(1);
      if (wildcard) segments.pop(); // the empty segment after the final '/'
      for (const segment of segments) {
        if (segment.startsWith(':') && !/^:[A-Za-z_$][\w$]*$/.test(segment)) {
          throw new ConfigError(
            `route ${JSON.stringify(pattern)}: ${JSON.stringify(segment)} is not a parameter name`,
          );
        }
        if (segment.includes('*')) {
          throw new ConfigError(`route ${JSON.stringify(pattern)}: '*' only as the whole last segment`);
        }
      }
      const route: Route = { pattern, methods, segments, wildcard };
      if (wildcard) this.wildcards.push(route);
      else if (segments.some((s) => s.startsWith(':'))) this.patterns.push(route);
      else this.exact.set(pattern, route);
    }
    // Longest prefix first; among patterns, literal segments earlier win (`/a/new` over `/a/:id`).
    this.wildcards.sort((a, b) => b.segments.length - a.segments.length);
    this.patterns.sort((a, b) => compareSpecificity(a.segments, b.segments));
  }

  /** The route for `method` and `path` (the URL's pathname, still percent-encoded). */
  match(method: string, path: string): RouteMatch {
    const exact = this.exact.get(path);
    if (exact !== undefined) return pick(exact, method, {});
    let parts: string[] | null = null;
    for (const route of this.patterns) {
      parts ??= path.split('/').slice(1);
      const params = matchSegments(route.segments, parts, false);
      if (params !== null) return pick(route, method, params);
    }
    for (const route of this.wildcards) {
      parts ??= path.split('/').slice(1);
      const params = matchSegments(route.segments, parts, true);
      if (params !== null) return pick(route, method, params);
    }
    return { kind: 'none' };
  }
}

function compareSpecificity(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const aParam = a[i]!.startsWith(':');
    const bParam = b[i]!.startsWith(':');
    if (aParam !== bParam) return aParam ? 1 : -1;
  }
  return 0;
}

/** The params if `parts` fit the route's segments (a wildcard takes any rest, even none); else null. */
function matchSegments(
  segments: readonly string[],
  parts: readonly string[],
  wildcard: boolean,
): Record<string, string> | null {
  if (wildcard ? parts.length < segments.length : parts.length !== segments.length) return null;
  let params: Record<string, string> | null = null;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (segment.startsWith(':')) {
      if (part === '') return null;
      params ??= {};
      params[segment.slice(1)] = decode(part);
    } else if (segment !== part) {
      return null;
    }
  }
  return params ?? {};
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a malformed escape is kept as it was sent
  }
}

function pick(route: Route, method: string, params: Record<string, string>): RouteMatch {
  const target =
    route.methods.get(method) ??
    (method === 'HEAD' ? route.methods.get('GET') : undefined) ??
    route.methods.get('*');
  if (target !== undefined) return { kind: 'found', target, params };
  const allow = [...route.methods.keys()];
  if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
  return { kind: 'method', allow: allow.join(', ') };
}

/**
 * Checks `routes` and reads every `Response` value once, so that it is sent as prepared bytes (a
 * Response body can be read only once). Rejects with a ConfigError for anything that is not a route.
 */
export async function fixRoutes(routes: unknown): Promise<Record<string, Map<string, RouteTarget>>> {
  return readRoutes(checkRoutes(routes));
}

/** Routes already checked (checkRoutes), with each `Response` value read into its bytes. */
export async function readRoutes(
  checked: Record<string, Map<string, RouteEntry>>,
): Promise<Record<string, Map<string, RouteTarget>>> {
  const fixed: Record<string, Map<string, RouteTarget>> = {};
  for (const [pattern, methods] of Object.entries(checked)) {
    const targets = new Map<string, RouteTarget>();
    for (const [method, value] of methods)
      targets.set(method, value instanceof Response ? await readFixed(value) : value);
    fixed[pattern] = targets;
  }
  return fixed;
}

/** A route's value for one method, as given. */
type RouteEntry = RouteHandler<string, unknown> | Response;

/**
 * Checks `routes` without reading anything: the shape, the methods, each value, and the paths (by
 * building a Router from them). Throws a ConfigError for the first thing wrong.
 */
export function checkRoutes(routes: unknown): Record<string, Map<string, RouteEntry>> {
  if (routes === null || typeof routes !== 'object' || Array.isArray(routes)) {
    throw new ConfigError(`option 'routes' must be an object of paths, got ${typeof routes}`);
  }
  const checked: Record<string, Map<string, RouteEntry>> = {};
  for (const [pattern, value] of Object.entries(routes)) {
    const methods = new Map<string, RouteEntry>();
    if (typeof value === 'function' || value instanceof Response) {
      methods.set('*', entry(pattern, value));
    } else if (value !== null && typeof value === 'object') {
      for (const [method, handler] of Object.entries(value)) {
        if (!METHOD.test(method)) {
          throw new ConfigError(
            `route ${JSON.stringify(pattern)}: ${JSON.stringify(method)} is not an upper-case method`,
          );
        }
        methods.set(method, entry(`${pattern} ${method}`, handler));
      }
    } else {
      throw new ConfigError(
        `route ${JSON.stringify(pattern)} must be a Response, a function or an object of methods`,
      );
    }
    checked[pattern] = methods;
  }
  new Router(checked as Record<string, Map<string, RouteTarget>>); // the paths' own rules
  return checked;
}

function entry(where: string, value: unknown): RouteEntry {
  if (typeof value === 'function') return value as RouteHandler<string, unknown>;
  if (value instanceof Response) {
    if (value.bodyUsed) throw new ConfigError(`route ${where}: the Response's body was already read`);
    return value;
  }
  throw new ConfigError(
    `route ${where} must be a Response or a function, got ${value === null ? 'null' : typeof value}`,
  );
}

/** A Response value's status, headers and body, read once. */
async function readFixed(response: Response): Promise<FixedResponse> {
  const body = new Uint8Array(await response.arrayBuffer());
  const headers = [...response.headers].filter(([name]) => name !== 'transfer-encoding');
  return { status: response.status, headers, body, prebuilt: prebuild(response.status, headers, body) };
}

/**
 * A 200 whose headers the prebuilt path takes as they are (valid, none that the server manages),
 * built once as a whole response, as the static file cache does; null for the others, which are
 * sent through the ordinary path on every request.
 */
function prebuild(
  status: number,
  headers: readonly [string, string][],
  body: Uint8Array,
): PrebuiltResponse | null {
  if (status !== 200) return null;
  let lines = '';
  for (const [name, value] of headers) {
    if (MANAGED.has(name) || !isValidHeaderName(name) || !isValidHeaderValue(value)) return null;
    lines += `${name}: ${value}\r\n`;
  }
  return PrebuiltResponse.fits(lines, body.byteLength) ? new PrebuiltResponse(lines, body) : null;
}

/** Headers the server writes itself around a prebuilt response. */
const MANAGED = new Set(['content-length', 'connection', 'date', 'keep-alive']);

export function isFixed(target: RouteTarget): target is FixedResponse {
  return typeof target !== 'function';
}
