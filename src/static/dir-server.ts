import { type Stats, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../http/errors.ts';
import type { Request } from '../http/request.ts';
import type { Response } from '../http/response.ts';
import { checkCacheControl, plain, refuseMethod, sendFile } from './file-server.ts';
import { realPathInside, resolveRequestPath, safeJoin } from './paths.ts';

export interface DirServerOptions {
  /** The URL path it is mounted at (default `/`); `/static` and `/static/` are the same. */
  prefix?: string;
  /** The file served for a directory path ending in '/' (default `index.html`). */
  index?: string;
  /** Answer 404 for any path segment starting with '.', except `/.well-known` (default true). */
  hideDotfiles?: boolean;
  /** The Cache-Control header of every 200 and 304 (default `public, max-age=0`). */
  cacheControl?: string;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found' };

/** A prefix path segment: unreserved characters, sub-delims, ':', '@' and percent-escapes. */
const PREFIX_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$/;

function checkPrefix(value: unknown): string {
  if (value === undefined) return '/';
  const bad = () =>
    new ConfigError(
      `DirServer option 'prefix' must be a URL path such as '/' or '/static/' (no empty, '.' or '..' segments), got ${JSON.stringify(value)}`,
    );
  if (typeof value !== 'string' || value.charCodeAt(0) !== 0x2f) throw bad();
  const inner = value.slice(1, value.endsWith('/') ? -1 : undefined);
  if (inner === '') return '/';
  for (const segment of inner.split('/')) {
    if (!PREFIX_SEGMENT.test(segment) || segment === '.' || segment === '..') throw bad();
  }
  return '/' + inner + '/';
}

function checkIndex(value: unknown): string {
  if (value === undefined) return 'index.html';
  if (
    typeof value !== 'string' ||
    value === '' ||
    value === '.' ||
    value === '..' ||
    /[/\\\0:]/.test(value)
  ) {
    throw new ConfigError(
      `DirServer option 'index' must be a plain file name such as 'index.html', got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Serves the files under a root directory at a URL prefix: GET and HEAD only, `index.html` for a
 * directory path ending in '/', a 301 to the '/' form for a directory path without it, 404 for
 * anything missing, hidden or reached through a symlink leaving the root. See `sendFile` for the
 * headers and conditional requests.
 */
export class DirServer {
  /** The root directory, absolute. */
  readonly root: string;
  /** The normalized prefix, always ending in '/'. */
  readonly prefix: string;
  readonly index: string;
  readonly hideDotfiles: boolean;
  readonly cacheControl: string;

  constructor(root: string, options: DirServerOptions = {}) {
    if (typeof root !== 'string' || root === '') {
      throw new ConfigError(`DirServer root must be a non-empty string, got ${JSON.stringify(root)}`);
    }
    if (options === null || typeof options !== 'object') {
      throw new ConfigError('DirServer options must be an object');
    }
    const absolute = resolve(root);
    let stats: Stats;
    try {
      stats = statSync(absolute);
    } catch {
      throw new ConfigError(`DirServer root ${JSON.stringify(absolute)} does not exist`);
    }
    if (!stats.isDirectory()) {
      throw new ConfigError(`DirServer root ${JSON.stringify(absolute)} is not a directory`);
    }
    if (options.hideDotfiles !== undefined && typeof options.hideDotfiles !== 'boolean') {
      throw new ConfigError(
        `DirServer option 'hideDotfiles' must be a boolean, got ${JSON.stringify(options.hideDotfiles)}`,
      );
    }
    this.root = absolute;
    this.prefix = checkPrefix(options.prefix);
    this.index = checkIndex(options.index);
    this.hideDotfiles = options.hideDotfiles ?? true;
    this.cacheControl = checkCacheControl(options.cacheControl, 'DirServer');
  }

  /**
   * Answers a request whose path is under the prefix and resolves to true; resolves to false,
   * having sent nothing, for any other path so the caller can route it elsewhere.
   */
  async serve(req: Request, res: Response): Promise<boolean> {
    const path = req.path;
    const prefix = this.prefix;
    let rest: string;
    if (prefix === '/') rest = path;
    else if (path.startsWith(prefix)) rest = path.slice(prefix.length - 1);
    else if (path === prefix.slice(0, -1)) rest = '';
    else return false;

    if (refuseMethod(req, res)) return true;
    if (rest === '') {
      // The mount point itself without its '/'.
      this.redirect(req, res, []);
      return true;
    }
    const resolved = resolveRequestPath(rest, { hideDotfiles: this.hideDotfiles });
    if (!resolved.ok) {
      plain(res, resolved.status, STATUS_TEXT[resolved.status] ?? 'Error');
      return true;
    }
    const real = await realPathInside(this.root, safeJoin(this.root, resolved.segments));
    if (real === null) return this.notFound(res);
    let stats: Stats;
    try {
      stats = await stat(real);
    } catch {
      return this.notFound(res);
    }
    if (stats.isDirectory()) {
      if (!resolved.trailingSlash) {
        this.redirect(req, res, resolved.segments);
        return true;
      }
      const index = await realPathInside(this.root, join(real, this.index));
      if (index === null || !(await sendFile(req, res, index, this.cacheControl))) return this.notFound(res);
      return true;
    }
    // A file named with a trailing '/' is not a directory.
    if (resolved.trailingSlash || !(await sendFile(req, res, real, this.cacheControl))) {
      return this.notFound(res);
    }
    return true;
  }

  private notFound(res: Response): true {
    plain(res, 404, 'Not Found');
    return true;
  }

  /**
   * 301 to the directory's '/' form. The Location is rebuilt from the prefix and the decoded
   * segments (re-encoded), never copied from the request, so it always starts with exactly one '/'
   * and can't name another host (`//evil.com/`).
   */
  private redirect(req: Request, res: Response, segments: string[]): void {
    let location = this.prefix;
    for (const segment of segments) location += encodeURIComponent(segment) + '/';
    if (req.queryString !== '') location += '?' + req.queryString;
    res.setHeader('Location', location);
    plain(res, 301, 'Moved Permanently');
  }
}
