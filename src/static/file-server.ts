import { createReadStream, type Stats, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../http/errors.ts';
import type { Request } from '../http/request.ts';
import type { Response } from '../http/response.ts';
import { contentType } from './mime.ts';

/**
 * Sending one file as an HTTP response: Content-Type, Content-Length, Last-Modified, a strong ETag
 * and Cache-Control, conditional GET/HEAD (RFC 9110 §13), and the body read whole (small files) or
 * streamed with backpressure (large ones). Every request stats the file again: nothing is cached.
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
  let streaming = false;
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
    res.status = 200;
    res.setHeader('Content-Type', contentType(filePath));
    if (req.method === 'HEAD') {
      res.setHeader('Content-Length', String(stats.size));
      res.end();
      return true;
    }
    if (stats.size <= SMALL_FILE_BYTES) {
      res.end(await handle.readFile());
      return true;
    }
    streaming = true;
    await stream(req, res, handle, stats.size);
    return true;
  } finally {
    // A stream closes the handle itself (autoClose) once it is done with it.
    if (!streaming) await handle.close();
  }
}

/** Streams `size` bytes of an open file, waiting for the socket to drain when it is full. */
async function stream(req: Request, res: Response, handle: FileHandle, size: number): Promise<void> {
  res.setHeader('Content-Length', String(size));
  const source = createReadStream('', {
    fd: handle,
    start: 0,
    end: size - 1, // never more than the declared length, even if the file grew meanwhile
    highWaterMark: STREAM_CHUNK_BYTES,
    autoClose: true,
  });
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (req.signal.aborted) break;
      if (!res.write(chunk)) await res.waitForDrain();
    }
  } finally {
    source.destroy();
  }
  // A file that shrank meanwhile leaves the body short of its Content-Length: the server then
  // closes the connection rather than send a wrongly framed response.
  res.end();
}

/** Serves one file, with the same headers and conditional requests as DirServer. */
export class FileServer {
  readonly filePath: string;
  readonly cacheControl: string;

  constructor(filePath: string, options: FileServerOptions = {}) {
    if (typeof filePath !== 'string' || filePath === '') {
      throw new ConfigError(`FileServer path must be a non-empty string, got ${JSON.stringify(filePath)}`);
    }
    if (options === null || typeof options !== 'object') {
      throw new ConfigError('FileServer options must be an object');
    }
    const absolute = resolve(filePath);
    let stats: Stats;
    try {
      stats = statSync(absolute);
    } catch {
      throw new ConfigError(`FileServer path ${JSON.stringify(absolute)} does not exist`);
    }
    if (!stats.isFile()) throw new ConfigError(`FileServer path ${JSON.stringify(absolute)} is not a file`);
    this.filePath = absolute;
    this.cacheControl = checkCacheControl(options.cacheControl, 'FileServer');
  }

  /** Answers the request with the file (405 for methods other than GET and HEAD, 404 if it is gone). */
  async serve(req: Request, res: Response): Promise<void> {
    if (refuseMethod(req, res)) return;
    if (!(await sendFile(req, res, this.filePath, this.cacheControl))) plain(res, 404, 'Not Found');
  }
}
