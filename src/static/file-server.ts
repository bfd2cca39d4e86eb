import { randomBytes } from 'node:crypto';
import { type Stats, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../http/errors.ts';
import type { Request } from '../http/request.ts';
import type { Response } from '../http/response.ts';
import { contentType } from './mime.ts';
import { type ByteRange, parseRange } from './range.ts';

/**
 * Sending one file as an HTTP response: Content-Type, Content-Length, Last-Modified, a strong ETag
 * and Cache-Control, conditional GET/HEAD (RFC 9110 §13), range requests (RFC 9110 §14: 206 with one
 * range or multipart/byteranges, 416, If-Range), and the body read whole (small) or streamed with
 * backpressure (large). Every request stats the file again: nothing is cached.
 */

/** Files up to this size are read whole and sent with one `end()`; larger ones are streamed. */
export const SMALL_FILE_BYTES = 64 * 1024;

/** Chunk size when streaming a large file. */
const STREAM_CHUNK_BYTES = 64 * 1024;

export const DEFAULT_CACHE_CONTROL = 'public, max-age=0';

export interface FileServerOptions {
  /** The Cache-Control header of every 200 and 304 (default `public, max-age=0`). */
  cacheControl?: string;
}

/** Checks a Cache-Control option: a non-empty string of visible ASCII, spaces and tabs. */
export function checkCacheControl(value: unknown, owner: string): string {
  if (value === undefined) return DEFAULT_CACHE_CONTROL;
  if (typeof value !== 'string' || value.trim() === '' || !/^[\t\x20-\x7e]*$/.test(value)) {
    throw new ConfigError(
      `${owner} option 'cacheControl' must be a non-empty string of visible ASCII characters, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A strong validator from the file's size and modification time (microseconds), both in hex. */
export function etagOf(stats: Stats): string {
  return `"${stats.size.toString(16)}-${Math.trunc(stats.mtimeMs * 1000).toString(16)}"`;
}

/** The opaque tags of an If-None-Match value (`W/` dropped), or null for `*`. */
function entityTags(value: string): string[] | null {
  const tags: string[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c === ' ' || c === '\t' || c === ',') {
      i++;
      continue;
    }
    if (c === '*') return null;
    if (value.startsWith('W/', i)) i += 2;
    if (value[i] !== '"') {
      // Not an entity-tag: skip to the next list member.
      const comma = value.indexOf(',', i);
      if (comma === -1) break;
      i = comma + 1;
      continue;
    }
    const close = value.indexOf('"', i + 1);
    if (close === -1) break;
    tags.push(value.slice(i, close + 1));
    i = close + 1;
  }
  return tags;
}

/**
 * Whether a GET/HEAD with these validators can be answered 304 Not Modified (RFC 9110 §13.1.2,
 * §13.1.3, §13.2.2): If-None-Match (weak comparison) when present, else If-Modified-Since.
 */
export function notModified(req: Request, etag: string, mtimeMs: number): boolean {
  const inm = req.header('if-none-match');
  if (inm !== undefined) {
    const tags = entityTags(inm);
    return tags === null || tags.includes(etag);
  }
  const ims = req.header('if-modified-since');
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  if (Number.isNaN(since)) return false;
  return Math.floor(mtimeMs / 1000) * 1000 <= since;
}

/** Ends a response with a short plain-text body. */
export function plain(res: Response, status: number, text: string): void {
  res.status = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(text);
}

/** 405 for anything but GET and HEAD. Returns true when it answered. */
export function refuseMethod(req: Request, res: Response): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  res.setHeader('Allow', 'GET, HEAD');
  plain(res, 405, 'Method Not Allowed');
  return true;
}

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR']);

/**
 * Answers a GET or HEAD with the regular file at `filePath`. Returns false, having sent nothing, when
 * there is no regular file there (missing, a directory, unreadable); other file system errors throw.
 */
export async function sendFile(
  req: Request,
  res: Response,
  filePath: string,
  cacheControl: string,
): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(filePath, 'r');
  } catch (error) {
    if (MISSING.has((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
  try {
    // Stat the open file, so the headers describe exactly what is read.
    const stats = await handle.stat();
    if (!stats.isFile()) return false;
    const etag = etagOf(stats);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', new Date(stats.mtimeMs).toUTCString());
    res.setHeader('Cache-Control', cacheControl);
    if (notModified(req, etag, stats.mtimeMs)) {
      res.status = 304;
      res.end();
      return true;
    }
    const type = contentType(filePath);
    const size = stats.size;
    const range = rangeOf(req, etag, stats.mtimeMs, size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      plain(res, 416, 'Range Not Satisfiable');
      return true;
    }
    if (range === null) {
      res.status = 200;
      res.setHeader('Accept-Ranges', 'bytes');
      res.setHeader('Content-Type', type);
      await sendParts(req, res, handle, size, [{ head: null, start: 0, end: size - 1 }]);
      return true;
    }
    res.status = 206;
    if (range.length === 1) {
      const { start, end } = range[0]!;
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      await sendParts(req, res, handle, size, [{ head: null, start, end }]);
      return true;
    }
    const boundary = randomBytes(12).toString('hex');
    res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
    const parts: Part[] = range.map(({ start, end }, i) => ({
      head: Buffer.from(
        `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\n` +
          `Content-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
        'latin1',
      ),
      start,
      end,
    }));
    parts.push({ head: Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'), start: 0, end: -1 });
    await sendParts(req, res, handle, size, parts);
    return true;
  } finally {
    await handle.close();
  }
}

/**
 * The ranges to answer with (206), `'unsatisfiable'` (416) or null for the whole file (200):
 * Range is honoured only when If-Range, if present, still describes this file (RFC 9110 §13.1.5).
 */
function rangeOf(
  req: Request,
  etag: string,
  mtimeMs: number,
  size: number,
): ByteRange[] | 'unsatisfiable' | null {
  const header = req.header('range');
  if (header === undefined) return null;
  const ifRange = req.header('if-range');
  if (ifRange !== undefined && !ifRangeMatches(ifRange.trim(), etag, mtimeMs)) return null;
  const parsed = parseRange(header, size);
  if (parsed === 'ignore') return null;
  if (parsed === 'unsatisfiable') return parsed;
  return parsed.ranges;
}

/**
 * If-Range: a strong entity-tag equal to the file's ETag, or an HTTP date equal to its Last-Modified
 * when that date is a strong validator (the file unchanged for at least a second). A weak
 * entity-tag never matches.
 */
export function ifRangeMatches(value: string, etag: string, mtimeMs: number): boolean {
  if (value.startsWith('"')) return value === etag;
  if (value.startsWith('W/')) return false;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return false;
  const modified = Math.floor(mtimeMs / 1000) * 1000;
  return date === modified && Date.now() - mtimeMs >= 1000;
}

/** Part of a response body: `head` bytes, then the file's bytes `start..end` (none when end < start). */
interface Part {
  head: Buffer | null;
  start: number;
  end: number;
}

/**
 * Sends the parts with an exact Content-Length: at most {@link SMALL_FILE_BYTES} of file data are read
 * and sent with one `end()`, more are streamed with backpressure. HEAD sends the headers only.
 */
async function sendParts(
  req: Request,
  res: Response,
  handle: FileHandle,
  size: number,
  parts: Part[],
): Promise<void> {
  let length = 0;
  let fileBytes = 0;
  for (const part of parts) {
    const bytes = Math.max(0, part.end - part.start + 1);
    length += (part.head?.length ?? 0) + bytes;
    fileBytes += bytes;
  }
  res.setHeader('Content-Length', String(length));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (fileBytes <= SMALL_FILE_BYTES) {
    const whole = size <= SMALL_FILE_BYTES ? await handle.readFile() : null;
    const chunks: Buffer[] = [];
    for (const part of parts) {
      if (part.head !== null) chunks.push(part.head);
      if (part.end < part.start) continue;
      if (whole !== null) {
        chunks.push(whole.subarray(part.start, part.end + 1));
      } else {
        const buffer = Buffer.alloc(part.end - part.start + 1);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, part.start);
        chunks.push(buffer.subarray(0, bytesRead));
      }
    }
    // A file that shrank meanwhile leaves the body short of its Content-Length: the server then
    // closes the connection rather than send a wrongly framed response.
    const body = Buffer.concat(chunks);
    if (body.length === length) {
      res.end(body);
    } else {
      res.write(body);
      res.end();
    }
    return;
  }
  for (const part of parts) {
    if (req.signal.aborted) break;
    if (part.head !== null && !res.write(part.head)) await res.waitForDrain();
    if (part.end >= part.start) await stream(req, res, handle, part.start, part.end);
  }
  res.end();
}

/**
 * Streams bytes `start..end` of an open file in chunks, waiting for the socket to drain when it is
 * full. Never more than asked, even if the file grew meanwhile; stops early if it shrank.
 */
async function stream(
  req: Request,
  res: Response,
  handle: FileHandle,
  start: number,
  end: number,
): Promise<void> {
  let position = start;
  while (position <= end && !req.signal.aborted) {
    // A fresh buffer each time: the response may hold on to a written chunk.
    const chunk = Buffer.allocUnsafe(Math.min(STREAM_CHUNK_BYTES, end - position + 1));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    if (!res.write(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead)))
      await res.waitForDrain();
  }
}

/**
 * Checks a DirServer root or FileServer path and its options object at construction; returns the
 * absolute path. `what` names it in errors ("DirServer root", "FileServer path").
 */
export function checkedLocation(
  what: string,
  path: unknown,
  options: unknown,
  kind: 'file' | 'directory',
): string {
  const owner = what.split(' ')[0];
  if (typeof path !== 'string' || path === '') {
    throw new ConfigError(`${what} must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  if (options === null || typeof options !== 'object')
    throw new ConfigError(`${owner} options must be an object`);
  const absolute = resolve(path);
  let stats: Stats;
  try {
    stats = statSync(absolute);
  } catch {
    throw new ConfigError(`${what} ${JSON.stringify(absolute)} does not exist`);
  }
  if (kind === 'file' ? !stats.isFile() : !stats.isDirectory()) {
    throw new ConfigError(`${what} ${JSON.stringify(absolute)} is not a ${kind}`);
  }
  return absolute;
}

/** Serves one file, with the same headers and conditional requests as DirServer. */
export class FileServer {
  readonly filePath: string;
  readonly cacheControl: string;

  constructor(filePath: string, options: FileServerOptions = {}) {
    const absolute = checkedLocation('FileServer path', filePath, options, 'file');
    this.filePath = absolute;
    this.cacheControl = checkCacheControl(options.cacheControl, 'FileServer');
  }

  /** Answers the request with the file (405 for methods other than GET and HEAD, 404 if it is gone). */
  async serve(req: Request, res: Response): Promise<void> {
    if (refuseMethod(req, res)) return;
    if (!(await sendFile(req, res, this.filePath, this.cacheControl))) plain(res, 404, 'Not Found');
  }
}
