import { lstatSync, realpathSync, type Stats, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';

/**
 * Safe mapping of a request path onto files under a root directory.
 *
 * A request path is split at its literal '/' first and each segment is percent-decoded exactly
 * once, so an encoded '/' or '\' can never add structure, and a double encoding (`%252e`) stays the
 * literal text `%2e`. Any segment that could climb out of the root or mean something special to a
 * file system is refused: `..` in any spelling, separators, NUL and other control characters,
 * colons (Windows drive letters and NTFS streams) and names made only of dots and spaces (which
 * Windows trims into `.` or `..`).
 */

export interface ResolveOptions {
  /** Answer 404 for any segment starting with '.', except a leading `.well-known` (RFC 8615). */
  hideDotfiles: boolean;
}

export type ResolvedPath =
  | { ok: true; segments: string[]; trailingSlash: boolean }
  | { ok: false; status: 400 | 403 | 404; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Refusal = { ok: false; status: 400 | 403 | 404; reason: string };

function refuse(status: 400 | 403 | 404, reason: string): Refusal {
  return { ok: false, status, reason };
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** One raw segment percent-decoded once and as strict UTF-8, or null when either is invalid. */
function decodeSegment(raw: string): string | null {
  if (raw.indexOf('%') === -1) return raw;
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25) {
      const hi = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const lo = hi === -1 ? -1 : hexValue(raw.charCodeAt(i + 2));
      if (lo === -1) return null;
      bytes[n++] = (hi << 4) | lo;
      i += 2;
    } else {
      bytes[n++] = code; // ASCII only: checked by the caller
    }
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    return null; // invalid UTF-8: overlong forms, surrogates, truncated sequences
  }
}

/** Why a decoded segment can never name a file under the root, or null when it is acceptable. */
function segmentProblem(segment: string): string | null {
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code === 0x2f) return 'encoded "/" in a path segment';
    if (code === 0x5c) return '"\\" in a path segment';
    if (code === 0x3a) return '":" in a path segment';
    if (code === 0) return 'NUL in a path segment';
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return 'control character in a path segment';
  }
  if (segment === '..') return '".." in the path';
  // '...', '. .', ' ': Windows trims trailing dots and spaces, which could turn these into '..'.
  if (/^[. ]+$/.test(segment) && segment !== '.') return 'a segment made only of dots and spaces';
  return null;
}

/**
 * Checks and decodes a request path (as sent, still percent-encoded, without the query) into the
 * segments of a file path under a root. Never throws.
 *
 * - 400 for a path that does not start with '/', non-ASCII or control characters, '?', '#',
 *   invalid percent-encoding or UTF-8, and any segment `segmentProblem` refuses (`..`, encoded
 *   '/', '\', NUL, ':' and so on).
 * - 404 (when `hideDotfiles`) for a segment starting with '.', so hidden files are not revealed;
 *   `/.well-known/…` is allowed. Every 400 check runs first.
 *
 * Empty segments (`//`) and `.` segments are dropped. `trailingSlash` is true when the path ends
 * with '/' (or with a `.` segment), i.e. it names a directory.
 */
export function resolveRequestPath(urlPath: string, options: ResolveOptions): ResolvedPath {
  if (typeof urlPath !== 'string' || urlPath.charCodeAt(0) !== 0x2f) {
    return refuse(400, 'the path must start with "/"');
  }
  for (let i = 0; i < urlPath.length; i++) {
    const code = urlPath.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) return refuse(400, 'invalid character in the path');
    if (code === 0x3f || code === 0x23) return refuse(400, 'the path must not contain "?" or "#"');
  }
  const raw = urlPath.split('/');
  const segments: string[] = [];
  let trailingSlash = false;
  let hidden = false;
  for (let i = 1; i < raw.length; i++) {
    const segment = decodeSegment(raw[i]!);
    if (segment === null) return refuse(400, 'invalid percent-encoding in the path');
    const last = i === raw.length - 1;
    if (segment === '' || segment === '.') {
      if (last) trailingSlash = true;
      continue;
    }
    const problem = segmentProblem(segment);
    if (problem !== null) return refuse(400, problem);
    if (segment.charCodeAt(0) === 0x2e && !(segments.length === 0 && segment === '.well-known')) {
      hidden = true;
    }
    segments.push(segment);
  }
  if (hidden && options.hideDotfiles) return refuse(404, 'dotfiles are hidden');
  return { ok: true, segments, trailingSlash };
}

/** Whether `candidate` is `root` or inside it; both absolute and normalized. */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return candidate.startsWith(prefix);
}

/**
 * The path of `segments` (as returned by `resolveRequestPath`) under `root`, which must be
 * absolute. Throws when a segment is not a plain name or the result would leave the root: both
 * are programming errors, never the result of a request that passed `resolveRequestPath`.
 */
export function safeJoin(root: string, segments: string[]): string {
  if (!isAbsolute(root)) throw new Error(`safeJoin: the root must be absolute, not ${JSON.stringify(root)}`);
  const base = normalizedRoot(root);
  let joined = base;
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segmentProblem(segment) !== null) {
      throw new Error(`safeJoin: ${JSON.stringify(segment)} is not a plain file name`);
    }
    // A plain name has no separator and is not '.' or '..': appending it can only go one level down.
    joined += joined.endsWith(sep) ? segment : sep + segment;
  }
  return joined;
}

/** `resolve(root)`, remembered for the last root asked: a server joins onto the same root every time. */
let lastRoot = '';
let lastBase = '';
function normalizedRoot(root: string): string {
  if (root !== lastRoot) {
    lastBase = resolve(root);
    lastRoot = root;
  }
  return lastBase;
}

/** Errors meaning "there is no such file to serve" rather than a failing file system. */
const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM']);

/** A file system entry found under a root: the path to open and its stats (symlinks followed). */
export interface Found {
  readonly path: string;
  readonly stats: Stats;
  /**
   * The path was reached without a symlink: it is the root joined with the segments, each of them
   * checked to be a plain directory or file.
   */
  readonly direct: boolean;
}

/**
 * The entry named by `segments` (as returned by `resolveRequestPath`) under `root` (absolute), or
 * null when it is missing or reached through a symlink whose target lies outside the root's real
 * path. Other file system errors (EMFILE, EIO…) are thrown, so the caller can answer 500, not 404.
 *
 * Synchronous on purpose, like nginx: these are metadata calls answered from the kernel's caches in
 * about a microsecond each, where a thread-pool round trip costs ten times more. Each segment is
 * lstat'ed on the way down; only when one is a symlink are the real paths of the target and of the
 * root compared. The root itself may be a symlink (an atomic `current -> release` deploy): it is
 * followed on every request.
 */
export function findInside(root: string, segments: string[]): Found | null {
  const path = safeJoin(root, segments);
  try {
    if (segments.length === 0) {
      const stats = statSync(path, { throwIfNoEntry: false });
      return stats === undefined ? null : { path, stats, direct: true };
    }
    // Walk down from the root: `end` marks the end of each segment in `path`.
    let end = path.length;
    for (let i = segments.length - 1; i > 0; i--) end -= segments[i]!.length + 1;
    for (let i = 0; i < segments.length; i++) {
      const stats = lstatSync(path.slice(0, end), { throwIfNoEntry: false });
      if (stats === undefined) return null;
      if (stats.isSymbolicLink()) return followInside(root, path);
      if (i === segments.length - 1) return { path, stats, direct: true };
      if (!stats.isDirectory()) return null;
      end += segments[i + 1]!.length + 1;
    }
    return null; // unreachable: the loop returns at the last segment
  } catch (error) {
    if (NOT_FOUND.has((error as NodeJS.ErrnoException).code ?? '')) return null;
    throw error;
  }
}

/** `candidate` resolved through its symlinks, when it exists and stays inside the root's real path. */
function followInside(root: string, candidate: string): Found | null {
  const real = realpathSync.native(candidate);
  if (!isInside(realpathSync.native(root), real)) return null;
  const stats = statSync(real, { throwIfNoEntry: false });
  return stats === undefined ? null : { path: real, stats, direct: false };
}

/**
 * The entry at `file`'s path plus `suffix` (`app.js` → `app.js.br`), for a `file` found directly:
 * its directories were checked a moment ago, so only the last segment needs a look (one `lstat`),
 * and a symlink there is followed only when it stays inside the root.
 */
export function findBeside(root: string, file: Found, suffix: string): Found | null {
  if (!file.direct || suffix === '' || segmentProblem(suffix) !== null) {
    throw new Error(
      `findBeside: needs a file found directly and a plain suffix, got ${JSON.stringify(suffix)}`,
    );
  }
  const path = file.path + suffix;
  try {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return null;
    return stats.isSymbolicLink() ? followInside(root, path) : { path, stats, direct: true };
  } catch (error) {
    if (NOT_FOUND.has((error as NodeJS.ErrnoException).code ?? '')) return null;
    throw error;
  }
}
