import { randomBytes } from 'node:crypto';
import { type Stats, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Request, Response } from '../http/exchange.ts';
import { PrebuiltResponse } from '../http/prebuilt.ts';
import { reasonPhrase } from '../http/status.ts';
import { isCacheControlValue } from '../http/tokens.ts';
import { acceptedCodings, varyOnAcceptEncoding } from './encodings.ts';
import {
  type CachedFile,
  DEFAULT_MEMORY_CACHE_BYTES,
  DEFAULT_MEMORY_CACHE_FILE_BYTES,
  etagOf,
  FileCache,
  type PreparedLines,
} from './file-cache.ts';
import { contentType, isCompressible } from './mime.ts';
import type { Found } from './paths.ts';
import { type ByteRange, parseRange } from './range.ts';

/**
 * Sending one file as an HTTP response: Content-Type, Content-Length, Last-Modified, a strong ETag
 * and Cache-Control, conditional GET/HEAD (RFC 9110 §13), range requests (RFC 9110 §14: 206 with one
 * range or multipart/byteranges, 416, If-Range), and the body read whole (small) or streamed with
 * backpressure (large), or from the memory cache; precompressed `.br` / `.gz` variants chosen by
 * Accept-Encoding. Every request stats the file again, so a changed file is always served fresh.
 */

/** Files up to this size are read whole and sent with one `end()`; larger ones are streamed. */
export const SMALL_FILE_BYTES = 64 * 1024;

/** Chunk size when streaming a large file. */
const STREAM_CHUNK_BYTES = 256 * 1024;

export const DEFAULT_CACHE_CONTROL = 'max-age=0';

export interface FileServerOptions {
  /** The Cache-Control header of every 200 and 304 (default `max-age=0`: check with the server each time). */
  cacheControl?: string;
  /**
   * For a compressible type (text, JSON, SVG…), send `x.br` or `x.gz` beside `x` with
   * `Content-Encoding` when the client's Accept-Encoding allows it (br first), and always
   * `Vary: Accept-Encoding` (default true).
   */
  precompressed?: boolean;
  /** Total bytes of small files kept in memory by this server in each worker; 0 turns the cache off (default 32 MiB). */
  memoryCacheBytes?: number;
  /** Only files up to this size are kept in memory (default 1 MiB); larger ones are streamed from disk. */
  memoryCacheFileBytes?: number;
}

/** Checks the options shared by DirServer and FileServer that are not about paths. */
export function sendOptionsFrom(options: FileServerOptions, owner: string): SendOptions {
  const precompressed = options.precompressed ?? true;
  if (typeof precompressed !== 'boolean') {
    throw new ConfigError(
      `${owner} option 'precompressed' must be a boolean, got ${JSON.stringify(options.precompressed)}`,
    );
  }
  const bytes = (name: 'memoryCacheBytes' | 'memoryCacheFileBytes', fallback: number): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ConfigError(
        `${owner} option '${name}' must be a whole number of bytes (0 or more), got ${JSON.stringify(options[name])}`,
      );
    }
    return value;
  };
  const maxBytes = bytes('memoryCacheBytes', DEFAULT_MEMORY_CACHE_BYTES);
  const maxFileBytes = bytes('memoryCacheFileBytes', DEFAULT_MEMORY_CACHE_FILE_BYTES);
  return {
    cacheControl: checkCacheControl(options.cacheControl, owner),
    precompressed,
    cache: maxBytes === 0 || maxFileBytes === 0 ? null : new FileCache(maxBytes, maxFileBytes),
  };
}

/** Checks a Cache-Control option: a non-empty string of visible ASCII, spaces and tabs. */
export function checkCacheControl(value: unknown, owner: string): string {
  if (value === undefined) return DEFAULT_CACHE_CONTROL;
  if (typeof value !== 'string' || !isCacheControlValue(value)) {
    throw new ConfigError(
      `${owner} option 'cacheControl' must be a non-empty string of visible ASCII characters, got ${JSON.stringify(value)}`,
    );
  }
  return value;
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

/** Ends a response with its status's reason phrase (`Not Found`) as a plain-text body. */
export function plain(res: Response, status: number): void {
  res.status = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(reasonPhrase(status, 'Error'));
}

/** 405 for anything but GET and HEAD. Returns true when it answered. */
export function refuseMethod(req: Request, res: Response): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  res.setHeader('Allow', 'GET, HEAD');
  plain(res, 405);
  return true;
}

const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM', 'EISDIR']);

/** How `sendFile` answers. */
export interface SendOptions {
  readonly cacheControl: string;
  /** Look for `.br` / `.gz` variants of compressible files. */
  readonly precompressed: boolean;
  /** Small files' bytes kept in memory, or null. */
  readonly cache: FileCache | null;
}

/** Finds the regular file at the served file's path plus `suffix` (`.br`, `.gz`), or null. */
export type VariantFinder = (suffix: string) => Found | null;

/** What a response is made from: stats describing the bytes, which are in memory or behind a handle. */
interface Source {
  readonly stats: Stats;
  /** `etagOf(stats)` and the Last-Modified date, made once per cached file. */
  readonly etag: string;
  readonly lastModified: string;
  readonly data: Buffer | null;
  readonly handle: FileHandle | null;
}

/** The representation a request gets: the file itself or a precompressed variant of it. */
interface Choice {
  readonly chosen: Found;
  readonly coding: 'br' | 'gzip' | null;
  /** The answer depends on Accept-Encoding (a compressible type with variants turned on). */
  readonly vary: boolean;
}

/**
 * Which representation of `file` to send: a precompressed variant when the type is compressible
 * and the client accepts the variant's coding, else the file. Null when a variant can't be judged
 * by `findVariant` (it gave a symlink's own stats: the caller must take the long way).
 */
function choose(
  req: Request,
  file: Found,
  type: string,
  options: SendOptions,
  findVariant: VariantFinder | null,
): Choice | null {
  if (!options.precompressed || findVariant === null || !isCompressible(type)) {
    return { chosen: file, coding: null, vary: false };
  }
  for (const accepted of acceptedCodings(req.header('accept-encoding'))) {
    const variant = findVariant(accepted === 'br' ? '.br' : '.gz');
    if (variant === null) continue;
    if (variant.stats.isSymbolicLink()) return null;
    if (variant.stats.isFile()) return { chosen: variant, coding: accepted, vary: true };
  }
  return { chosen: file, coding: null, vary: true };
}

/** Sets what the choice implies: Vary (the answer depends on Accept-Encoding) and Content-Encoding. */
function applyChoice(res: Response, choice: Choice): void {
  if (choice.vary) varyOnAcceptEncoding(res);
  if (choice.coding !== null) res.setHeader('Content-Encoding', choice.coding);
}

/**
 * Answers a GET or HEAD with `file` (found by `findInside` or a stat), sent as `type`. Returns
 * false, having sent nothing, when it is not a regular file or vanished meanwhile; other file system
 * errors throw. A precompressed variant is preferred when the client accepts its coding.
 *
 * A cached file is answered synchronously, before this returns: no thread-pool round trip. A file
 * not in memory is opened and stat'ed again, so the headers describe exactly the bytes read.
 */
export function sendFile(
  req: Request,
  res: Response,
  file: Found,
  type: string,
  options: SendOptions,
  findVariant: VariantFinder | null,
): boolean | Promise<boolean> {
  if (!file.stats.isFile()) return false;
  const choice = choose(req, file, type, options, findVariant) ?? { chosen: file, coding: null, vary: true };
  if (respondIfCached(req, res, choice, type, options)) return true;
  const { chosen, coding } = choice;
  applyChoice(res, choice);
  if (answeredFromStats(req, res, chosen.stats, coding, options.cacheControl)) return true;
  return sendFromDisk(req, res, file, chosen, type, coding, options);
}

/**
 * Answers from the memory cache only, synchronously: true when the file (or the variant this
 * request should get) is in memory and unchanged per `file.stats`, just taken. Otherwise false,
 * having set nothing on the response, so the caller can take the long way.
 *
 * A cache entry is the proof that these bytes were once found inside the root, so this may be
 * given a file that was only stat'ed, not walked to: the same device, inode and change time mean
 * the same file.
 */
export function sendFromCache(
  req: Request,
  res: Response,
  file: Found,
  type: string,
  options: SendOptions,
  findVariant: VariantFinder | null,
): boolean {
  if (options.cache === null || !file.stats.isFile()) return false;
  const choice = choose(req, file, type, options, findVariant);
  return choice !== null && respondIfCached(req, res, choice, type, options);
}

/** Answers from memory when the chosen file is cached and unchanged; false, having sent nothing, if not. */
function respondIfCached(
  req: Request,
  res: Response,
  choice: Choice,
  type: string,
  options: SendOptions,
): boolean {
  const { chosen } = choice;
  const cache = options.cache;
  if (cache === null || !cache.fits(chosen.stats.size)) return false;
  const cached = cache.get(chosen.path, chosen.stats);
  if (cached === null) return false;
  respondCached(req, res, chosen.stats, cached, type, choice, options.cacheControl);
  return true;
}

/** Headers that prepared lines carry: a response that has any of them set already takes the long way. */
const PREPARED_NAMES: readonly string[] = [
  'etag',
  'last-modified',
  'cache-control',
  'accept-ranges',
  'content-type',
  'content-encoding',
  'vary',
];

/**
 * A 200 or 206/416 from cached bytes. The plain 200 — the common case — sends header lines made
 * once per cached file and representation, skipping the checks each `setHeader` makes.
 */
function respondCached(
  req: Request,
  res: Response,
  stats: Stats,
  cached: CachedFile,
  type: string,
  choice: Choice,
  cacheControl: string,
): void {
  if (
    req.header('range') === undefined &&
    req.header('if-none-match') === undefined &&
    req.header('if-modified-since') === undefined &&
    !res.hasAnyHeader(PREPARED_NAMES)
  ) {
    const made = prepared(cached, type, choice, cacheControl);
    if (made.prebuilt !== null && res.endPrebuilt(made.prebuilt)) return;
    res.status = 200;
    res.addPreparedHeaders(made.lines);
    res.end(cached.data);
    return;
  }
  applyChoice(res, choice);
  if (answeredFromStats(req, res, stats, choice.coding, cacheControl)) return;
  const { data, etag, lastModified } = cached;
  respond(req, res, { stats, etag, lastModified, data, handle: null }, type, choice.coding, cacheControl);
}

/**
 * The header lines of a 200 for `cached` sent as `type` with `choice`'s coding, and for a small
 * file the whole response, made once and remembered in the entry for as long as it is asked for
 * the same (the usual case: one type, one coding per file).
 */
function prepared(cached: CachedFile, type: string, choice: Choice, cacheControl: string): PreparedLines {
  const made = cached.prepared;
  if (
    made !== null &&
    made.type === type &&
    made.coding === choice.coding &&
    made.vary === choice.vary &&
    made.cacheControl === cacheControl
  ) {
    return made;
  }
  // In the order the long way sets them.
  let lines = choice.vary ? 'Vary: Accept-Encoding\r\n' : '';
  if (choice.coding !== null) lines += `Content-Encoding: ${choice.coding}\r\n`;
  lines +=
    `ETag: ${etagFor(cached.etag, choice.coding)}\r\nLast-Modified: ${cached.lastModified}\r\n` +
    `Cache-Control: ${cacheControl}\r\nAccept-Ranges: bytes\r\nContent-Type: ${type}\r\n`;
  let prebuilt: PrebuiltResponse | null = null;
  if (PrebuiltResponse.fits(lines, cached.data.length)) {
    prebuilt = new PrebuiltResponse(lines, cached.data);
    cached.data = prebuilt.body; // stored once, inside the whole response
  }
  const next = { type, coding: choice.coding, vary: choice.vary, cacheControl, lines, prebuilt };
  cached.prepared = next;
  return next;
}

/** The part of `sendFile` that waits for the disk: open, stat and read or stream the chosen file. */
async function sendFromDisk(
  req: Request,
  res: Response,
  file: Found,
  chosen: Found,
  type: string,
  coding: 'br' | 'gzip' | null,
  options: SendOptions,
): Promise<boolean> {
  const cache = options.cache;
  let source = await load(chosen.path, cache, req.method === 'HEAD');
  if (source === null && coding !== null) {
    // The variant vanished meanwhile: send the original instead.
    res.removeHeader('Content-Encoding');
    coding = null;
    source = await load(file.path, cache, req.method === 'HEAD');
  }
  if (source === null) return false;
  try {
    await respond(req, res, source, type, coding, options.cacheControl);
  } finally {
    await source.handle?.close();
  }
  return true;
}

/** Reads the bytes of `path` into memory when small (caching them), else leaves them behind an open handle. */
async function load(path: string, cache: FileCache | null, headOnly: boolean): Promise<Source | null> {
  const readStartMs = Date.now();
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (MISSING.has((error as NodeJS.ErrnoException).code ?? '')) return null;
    throw error;
  }
  let keepOpen = false;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return null;
    const cacheable = cache?.fits(stats.size) ?? false;
    if (headOnly && !cacheable) return fromDisk(stats, null, null);
    if (!cacheable && stats.size > SMALL_FILE_BYTES) {
      keepOpen = true;
      return fromDisk(stats, null, handle);
    }
    const data = await handle.readFile();
    cache?.set(path, stats, data, readStartMs);
    return fromDisk(stats, data, null);
  } finally {
    if (!keepOpen) await handle.close();
  }
}

function fromDisk(stats: Stats, data: Buffer | null, handle: FileHandle | null): Source {
  return { stats, etag: etagOf(stats), lastModified: new Date(stats.mtimeMs).toUTCString(), data, handle };
}

/** ETag: size and mtime in µs, in hex; a precompressed variant's tag names its coding (`"…-br"`). */
function etagFor(tag: string, coding: string | null): string {
  return coding === null ? tag : `${tag.slice(0, -1)}-${coding === 'gzip' ? 'gz' : coding}"`;
}

/** Sets the validators and answers 304 when the request's conditions say the client's copy is current. */
function answeredFromStats(
  req: Request,
  res: Response,
  stats: Stats,
  coding: string | null,
  cacheControl: string,
): boolean {
  if (req.header('if-none-match') === undefined && req.header('if-modified-since') === undefined) {
    return false;
  }
  const etag = etagFor(etagOf(stats), coding);
  if (!notModified(req, etag, stats.mtimeMs)) return false;
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', new Date(stats.mtimeMs).toUTCString());
  res.setHeader('Cache-Control', cacheControl);
  res.status = 304;
  res.end();
  return true;
}

/**
 * The response for `source`: 200, 206 (one range or multipart/byteranges) or 416. Returns a promise
 * only while a large file streams; from memory it has ended the response when it returns.
 */
function respond(
  req: Request,
  res: Response,
  source: Source,
  type: string,
  coding: string | null,
  cacheControl: string,
): Promise<void> | undefined {
  const stats = source.stats;
  const etag = etagFor(source.etag, coding);
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', source.lastModified);
  res.setHeader('Cache-Control', cacheControl);
  const size = stats.size;
  const range = rangeOf(req, etag, stats.mtimeMs, size);
  if (range === 'unsatisfiable') {
    res.removeHeader('Content-Encoding');
    res.setHeader('Content-Range', `bytes */${size}`);
    plain(res, 416);
    return;
  }
  if (range === null) {
    res.status = 200;
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', type);
    const data = source.data;
    if (data !== null && data.length === size && req.method !== 'HEAD') {
      res.end(data); // the common case, kept short
      return;
    }
    return sendParts(req, res, source, [{ head: null, start: 0, end: size - 1 }]);
  }
  res.status = 206;
  if (range.length === 1) {
    const { start, end } = range[0]!;
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    return sendParts(req, res, source, [{ head: null, start, end }]);
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
  return sendParts(req, res, source, parts);
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
 * Sends the parts with an exact Content-Length. Bytes in memory go out at once (one `end()`); from
 * an open handle, up to {@link SMALL_FILE_BYTES} are read and sent with one `end()` and more are
 * streamed with backpressure. HEAD sends the headers only.
 */
function sendParts(req: Request, res: Response, source: Source, parts: Part[]): Promise<void> | undefined {
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
  const data = source.data;
  if (data !== null) {
    const chunks: Buffer[] = [];
    for (const part of parts) {
      if (part.head !== null) chunks.push(part.head);
      if (part.end >= part.start) chunks.push(data.subarray(part.start, part.end + 1));
    }
    endExactly(res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), length);
    return;
  }
  return fileBytes <= SMALL_FILE_BYTES
    ? readParts(res, source.handle!, parts, length)
    : streamParts(req, res, source.handle!, parts);
}

/**
 * Ends with `body` when it is exactly `length` bytes. A file that shrank meanwhile leaves it short:
 * the body is written and the response ended short, and the server then closes the connection
 * rather than send a wrongly framed response.
 */
function endExactly(res: Response, body: Buffer, length: number): void {
  if (body.length === length) {
    res.end(body);
  } else {
    res.write(body);
    res.end();
  }
}

/** Reads a few small ranges of a large file and ends the response with them. */
async function readParts(res: Response, handle: FileHandle, parts: Part[], length: number): Promise<void> {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if (part.head !== null) chunks.push(part.head);
    if (part.end < part.start) continue;
    const buffer = Buffer.alloc(part.end - part.start + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, part.start);
    chunks.push(buffer.subarray(0, bytesRead));
  }
  endExactly(res, Buffer.concat(chunks), length);
}

async function streamParts(req: Request, res: Response, handle: FileHandle, parts: Part[]): Promise<void> {
  for (const part of parts) {
    if (req.signal.aborted) break;
    if (part.head !== null && !res.write(part.head)) await res.waitForDrain();
    if (part.end >= part.start) await stream(req, res, handle, part.start, part.end);
  }
  // The client left mid-stream: give up with the signal's reason, and the server cuts the connection
  // (a body shorter than its Content-Length must never look complete).
  req.signal.throwIfAborted();
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

/** Serves one file, with the same headers, conditional requests, variants and cache as DirServer. */
export class FileServer {
  readonly filePath: string;
  readonly cacheControl: string;
  readonly precompressed: boolean;
  /** The memory cache (null when turned off). */
  readonly cache: FileCache | null;
  private readonly sendOptions: SendOptions;
  private readonly type: string;

  constructor(filePath: string, options: FileServerOptions = {}) {
    this.filePath = checkedLocation('FileServer path', filePath, options, 'file');
    this.sendOptions = sendOptionsFrom(options, 'FileServer');
    this.cacheControl = this.sendOptions.cacheControl;
    this.precompressed = this.sendOptions.precompressed;
    this.cache = this.sendOptions.cache;
    this.type = contentType(this.filePath);
  }

  /**
   * Answers the request with the file (405 for methods other than GET and HEAD, 404 if it is gone);
   * from the memory cache before returning, otherwise the result is a promise.
   */
  serve(req: Request, res: Response): void | Promise<void> {
    if (refuseMethod(req, res)) return;
    const file = statFound(this.filePath);
    const findVariant = (suffix: string) => statFound(this.filePath + suffix);
    const sent = file !== null && sendFile(req, res, file, this.type, this.sendOptions, findVariant);
    if (sent === true) return;
    if (sent === false) {
      plain(res, 404);
      return;
    }
    return sent.then((done) => {
      if (!done) plain(res, 404);
    });
  }

  /** The server as a request handler of its own: `serve(new FileServer('page.html'))`. */
  handleRequest(req: Request, res: Response): void | Promise<void> {
    return this.serve(req, res);
  }
}

/** The stats of `path` (symlinks followed), or null when there is nothing there to serve. */
function statFound(path: string): Found | null {
  try {
    const stats = statSync(path, { throwIfNoEntry: false });
    return stats === undefined ? null : { path, stats, direct: true };
  } catch (error) {
    if (MISSING.has((error as NodeJS.ErrnoException).code ?? '')) return null;
    throw error;
  }
}
