import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Request, Response } from '../http/exchange.ts';
import type { FileCache } from './file-cache.ts';
import {
  checkedLocation,
  type FileServerOptions,
  plain,
  refuseMethod,
  type SendOptions,
  sendFile,
  sendFromCache,
  sendOptionsFrom,
  type VariantFinder,
} from './file-server.ts';
import { contentType } from './mime.ts';
import { type Found, findBeside, findInside, resolveRequestPath } from './paths.ts';

export interface DirServerOptions extends FileServerOptions {
  /** The URL path it is mounted at (default `/`); `/static` and `/static/` are the same. */
  prefix?: string;
  /** The file served for a directory path ending in '/' (default `index.html`). */
  index?: string;
  /** Answer 404 for any path segment starting with '.', except `/.well-known` (default true). */
  hideDotfiles?: boolean;
  /** An HTML listing for a directory without its index file: names, links, sizes; hidden dotfiles left out (default false). */
  listing?: boolean;
  /**
   * Single-page apps: a GET or HEAD for a path with no file (`/app/route`, `/users/jane.doe`) gets
   * the root's index file instead of 404, unless its Accept header rules HTML out: a navigation
   * sends `text/html`, curl and many clients `*\/*`, and no Accept at all means anything goes
   * (RFC 9110 §12.5.1). A request that says it wants only, say, `application/json` gets the 404.
   * Default false.
   */
  spaFallback?: boolean;
  /**
   * A regular file under the root (e.g. `404.html`; not a symlink) sent as the body of every 404, as
   * `text/html`; a plain text 404 while it is missing. Read once and again only when it changes; at
   * most 1 MiB.
   */
  notFoundPage?: string;
}

/** The largest not-found page held in memory. */
const MAX_NOT_FOUND_PAGE = 1024 * 1024;

/**
 * A request path that last led, without a symlink, to a regular file small enough for the memory
 * cache: the file and its type. The next request for the same path tries the cache with one
 * `lstat` of that file before any decoding, checking or walking.
 */
interface HotPath {
  readonly path: string;
  readonly type: string;
  /** Looks for a precompressed variant beside it (one `lstat`), made once with the entry. */
  readonly findVariant: VariantFinder;
}

function hotPath(path: string, type: string): HotPath {
  const findVariant: VariantFinder = (suffix) => {
    const variantPath = path + suffix;
    const stats = quietLstat(variantPath);
    return stats === undefined ? null : { path: variantPath, stats, direct: true };
  };
  return { path, type, findVariant };
}

/** Request paths remembered at most; past that the map starts again (many spellings of few files). */
const MAX_HOT_PATHS = 4096;

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
  readonly listing: boolean;
  readonly spaFallback: boolean;
  /** The not-found page's absolute path, or null. */
  readonly notFoundPage: string | null;
  readonly precompressed: boolean;
  /** The memory cache (null when turned off). */
  readonly cache: FileCache | null;
  private readonly sendOptions: SendOptions;
  /** Request paths that led straight to a cacheable file; null when the cache is off. */
  private readonly hot: Map<string, HotPath> | null;
  /** The not-found page as last read: one copy, however many 404s are in flight. */
  private notFoundBody: { ino: number; size: number; mtimeMs: number; ctimeMs: number; body: Buffer } | null =
    null;

  constructor(root: string, options: DirServerOptions = {}) {
    const absolute = checkedLocation('DirServer root', root, options, 'directory');
    for (const name of ['hideDotfiles', 'listing', 'spaFallback'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'boolean') {
        throw new ConfigError(
          `DirServer option '${name}' must be a boolean, got ${JSON.stringify(options[name])}`,
        );
      }
    }
    this.root = absolute;
    this.prefix = checkPrefix(options.prefix);
    this.index = checkIndex(options.index);
    this.hideDotfiles = options.hideDotfiles ?? true;
    this.sendOptions = sendOptionsFrom(options, 'DirServer');
    this.cacheControl = this.sendOptions.cacheControl;
    this.precompressed = this.sendOptions.precompressed;
    this.cache = this.sendOptions.cache;
    this.listing = options.listing ?? false;
    this.spaFallback = options.spaFallback ?? false;
    this.notFoundPage = checkNotFoundPage(absolute, options.notFoundPage);
    this.hot = this.cache === null ? null : new Map();
  }

  /**
   * Answers a request whose path is under the prefix and gives true; gives false, having sent
   * nothing, for any other path so the caller can route it elsewhere. A file held in the memory
   * cache is answered before this returns (a plain boolean); otherwise the result is a promise.
   */
  serve(req: Request, res: Response): boolean | Promise<boolean> {
    const path = req.path;
    const prefix = this.prefix;
    let rest: string;
    if (prefix === '/') rest = path;
    else if (path.startsWith(prefix)) rest = path.slice(prefix.length - 1);
    else if (path === prefix.slice(0, -1)) rest = '';
    else return false;

    if (refuseMethod(req, res)) return true;
    const hot = this.hot?.get(path);
    if (hot !== undefined && this.sendHot(req, res, hot)) return true;
    if (rest === '') {
      // The mount point itself without its '/'.
      this.redirect(req, res, []);
      return true;
    }
    const resolved = resolveRequestPath(rest, { hideDotfiles: this.hideDotfiles });
    if (!resolved.ok) {
      if (resolved.status === 404) this.notFound(res);
      else plain(res, resolved.status);
      return true;
    }
    const segments = resolved.segments;
    const found = findInside(this.root, segments);
    if (found === null) return this.missing(req, res);
    if (found.stats.isDirectory()) {
      if (!resolved.trailingSlash) {
        this.redirect(req, res, segments);
        return true;
      }
      return orElse(this.sendIndex(req, res, segments, path), () =>
        this.listing ? this.list(res, found.path, segments) : this.missing(req, res),
      );
    }
    // A file named with a trailing '/' is not a directory.
    if (resolved.trailingSlash) return this.missing(req, res);
    return orElse(this.send(req, res, found, segments, path), () => this.missing(req, res));
  }

  /**
   * The server as a request handler of its own: every path it does not serve (outside the prefix)
   * gets a plain 404. `serve(new DirServer('public'))` is a complete static server.
   */
  handleRequest(req: Request, res: Response): void | Promise<void> {
    const served = this.serve(req, res);
    if (served === true) return;
    if (served === false) {
      this.notFound(res);
      return;
    }
    return served.then((done) => {
      if (!done) this.notFound(res);
    });
  }

  /** 404, with the not-found page as its body when there is one. */
  private notFound(res: Response): void {
    const page = this.notFoundPage === null ? null : this.readNotFoundPage(this.notFoundPage);
    if (page === null) {
      plain(res, 404);
      return;
    }
    res.status = 404;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(page);
  }

  /**
   * The page's bytes, re-read only when the file changed; null if it is missing, too big, or not a
   * regular file (a symlink is not followed: nothing outside the root is ever sent).
   */
  private readNotFoundPage(path: string): Buffer | null {
    const stats = quietLstat(path);
    if (stats === undefined || !stats.isFile() || stats.size > MAX_NOT_FOUND_PAGE) return null;
    const cached = this.notFoundBody;
    if (
      cached !== null &&
      cached.ino === stats.ino &&
      cached.size === stats.size &&
      cached.mtimeMs === stats.mtimeMs &&
      cached.ctimeMs === stats.ctimeMs
    ) {
      return cached.body;
    }
    try {
      const body = readFileSync(path);
      if (body.length > MAX_NOT_FOUND_PAGE) return null;
      const { ino, size, mtimeMs, ctimeMs } = stats;
      this.notFoundBody = { ino, size, mtimeMs, ctimeMs, body };
      return body;
    } catch {
      return null;
    }
  }

  /**
   * Sends the file found for `segments`, typed by the requested name (not a symlink's target).
   * `hotKey`, the request path, is remembered for the next request when the file was found
   * directly and may be cached.
   */
  private send(
    req: Request,
    res: Response,
    found: Found,
    segments: string[],
    hotKey: string | null,
  ): boolean | Promise<boolean> {
    const name = segments[segments.length - 1]!;
    const type = contentType(name);
    const hot = this.hot;
    if (hotKey !== null && hot !== null && found.direct && found.stats.isFile()) {
      if (this.cache!.fits(found.stats.size) && !hot.has(hotKey)) {
        if (hot.size >= MAX_HOT_PATHS) hot.clear();
        hot.set(hotKey, hotPath(found.path, type));
      }
    }
    const findVariant = (suffix: string): Found | null => {
      if (found.direct) return findBeside(this.root, found, suffix);
      const variant = segments.slice();
      variant[variant.length - 1] = name + suffix;
      return findInside(this.root, variant);
    };
    return sendFile(req, res, found, type, this.sendOptions, findVariant);
  }

  /**
   * Answers from the memory cache for a path that led straight to a cached file before: one
   * `lstat` of that file and of any precompressed variant the client accepts, no walk. The cache
   * entry proves the file is the one found inside the root (the same device, inode and ctime);
   * anything else — not cached, changed, gone, a symlink — takes the long way. A new file that
   * would now shadow it can't exist: it would have to be this same path.
   */
  private sendHot(req: Request, res: Response, hot: HotPath): boolean {
    const stats = quietLstat(hot.path);
    if (stats === undefined) return false;
    const file = { path: hot.path, stats, direct: true };
    return sendFromCache(req, res, file, hot.type, this.sendOptions, hot.findVariant);
  }

  /** Sends the index file of the directory at `segments`; false when it has none. */
  private sendIndex(
    req: Request,
    res: Response,
    segments: string[],
    hotKey: string | null,
  ): boolean | Promise<boolean> {
    const indexSegments = [...segments, this.index];
    const index = findInside(this.root, indexSegments);
    return index !== null && this.send(req, res, index, indexSegments, hotKey);
  }

  /**
   * Nothing to serve at this path: 404, or with `spaFallback` the root's index file for a request
   * whose Accept does not rule HTML out (see DirServerOptions.spaFallback).
   */
  private missing(req: Request, res: Response): true | Promise<true> {
    const notFound = (): true => {
      this.notFound(res);
      return true;
    };
    if (!this.spaFallback) return notFound();
    res.setHeader('Vary', 'Accept');
    if (!acceptsHtml(req.header('accept'))) return notFound();
    // Not remembered as hot: a file created at this path later must be served, not hidden.
    return orElse(this.sendIndex(req, res, [], null), notFound) as true | Promise<true>;
  }

  /** An HTML listing of a directory: subdirectories first, then files with their sizes. */
  private async list(res: Response, dir: string, segments: string[]): Promise<true> {
    const rows: { name: string; isDir: boolean; size: number }[] = [];
    for (const entry of await readdir(dir)) {
      if (this.hideDotfiles && entry.startsWith('.')) continue;
      let entryStats: Stats;
      try {
        entryStats = await stat(join(dir, entry));
      } catch {
        continue; // a broken symlink, or gone meanwhile
      }
      rows.push({ name: entry, isDir: entryStats.isDirectory(), size: entryStats.size });
    }
    rows.sort((a, b) =>
      a.isDir !== b.isDir ? (a.isDir ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    let title = this.prefix;
    for (const segment of segments) title += segment + '/';
    const escaped = escapeHtml(title);
    let html =
      '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of ' +
      escaped +
      '</title></head>\n<body><h1>Index of ' +
      escaped +
      '</h1>\n<table>\n';
    if (segments.length > 0) html += '<tr><td><a href="../">../</a></td><td></td></tr>\n';
    for (const row of rows) {
      const href = encodeURIComponent(row.name) + (row.isDir ? '/' : '');
      const label = escapeHtml(row.name) + (row.isDir ? '/' : '');
      html += `<tr><td><a href="${escapeHtml(href)}">${label}</a></td><td>${row.isDir ? '-' : row.size}</td></tr>\n`;
    }
    html += '</table>\n</body></html>\n';
    res.status = 200;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(html);
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
    // A 301 is cacheable by default, and for as long as a cache likes (RFC 9111 §4.2.2): say that it
    // must be checked again, since the directory may turn into a file.
    res.setHeader('Cache-Control', 'no-cache');
    plain(res, 301);
  }
}

/** The entry's own stats (a symlink is not followed), or undefined when there is nothing to look at. */
function quietLstat(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR, EACCES…: the long way answers properly
  }
}

/** `first`, or when it gives false, `next()`: without a promise when neither needs one. */
function orElse(
  first: boolean | Promise<boolean>,
  next: () => boolean | Promise<boolean>,
): boolean | Promise<boolean> {
  if (first === true) return true;
  if (first === false) return next();
  return first.then((done) => done || next());
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Whether an Accept header admits HTML: no header, or `text/html`, `text/*` or `*\/*` with a non-zero
 * weight. The most specific range that matches decides (RFC 9110 §12.5.1): `text/html;q=0, *\/*`
 * rules HTML out.
 */
function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  let best = -1; // specificity of the best match so far: 0 `*/*`, 1 `text/*`, 2 `text/html`
  let admitted = false;
  for (const member of accept.split(',')) {
    const [range, ...params] = member.split(';');
    const type = range!.trim().toLowerCase();
    const specificity = type === 'text/html' ? 2 : type === 'text/*' ? 1 : type === '*/*' ? 0 : -1;
    if (specificity <= best) continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    best = specificity;
    admitted = q === undefined || Number(q.slice(2)) > 0;
  }
  return admitted;
}

/** A not-found page's absolute path: a file name under the root, checked now; null when not given. */
function checkNotFoundPage(root: string, page: unknown): string | null {
  if (page === undefined) return null;
  if (typeof page !== 'string' || page === '') {
    throw new ConfigError(
      `DirServer option 'notFoundPage' must be a file path under the root, got ${JSON.stringify(page)}`,
    );
  }
  const absolute = resolve(root, page);
  const inside = relative(root, absolute);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    throw new ConfigError(
      `DirServer option 'notFoundPage' must name a file under the root, got ${JSON.stringify(page)}`,
    );
  }
  return absolute;
}
