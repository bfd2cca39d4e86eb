import type { Stats } from 'node:fs';
import type { PrebuiltResponse } from '../http/prebuilt.ts';

/**
 * A memory cache of small files' bytes with a total size budget, least recently used evicted first.
 *
 * An entry is used only while a fresh stat of the file still shows the same device, inode, size, mtime and
 * ctime. File system timestamps are coarse (a kernel tick on Linux, 2 s on FAT), so a file written
 * twice within one tick could keep its times: like git's "racily clean" rule, bytes are cached only
 * when the file's last change (ctime, which no one can set back) is at least {@link SETTLED_MS}
 * older than the moment its read began. Any later change then shows a newer ctime, so cached bytes
 * can never be stale; a file changed recently is simply read from disk until it settles.
 */

/** How long a file must have been unchanged before its bytes may be cached. */
export const SETTLED_MS = 2000;

export const DEFAULT_MEMORY_CACHE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MEMORY_CACHE_FILE_BYTES = 1024 * 1024;

/** A strong validator from the file's size and modification time (microseconds), both in hex. */
export function etagOf(stats: Stats): string {
  return `"${stats.size.toString(16)}-${Math.trunc(stats.mtimeMs * 1000).toString(16)}"`;
}

export interface CachedFile {
  /** The file's bytes (possibly a view of `prepared.prebuilt`, which then holds them). */
  data: Buffer;
  /** The file's validators, made once: `etagOf(stats)` and the Last-Modified date. */
  readonly etag: string;
  readonly lastModified: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** The cache's generation when this entry last moved to the most recent end. */
  generation: number;
  /** A 200's header lines for this file, made once (`preparedLines` in file-server.ts), or null. */
  prepared: PreparedLines | null;
}

/** Header lines made for one way of sending a cached file. */
export interface PreparedLines {
  readonly type: string;
  readonly coding: string | null;
  readonly vary: boolean;
  readonly cacheControl: string;
  readonly lines: string;
  /** The whole 200 response for a small file, or null. */
  readonly prebuilt: PrebuiltResponse | null;
}

export class FileCache {
  /** The budget: total bytes held at most. */
  readonly maxBytes: number;
  /** Files larger than this are never cached. */
  readonly maxFileBytes: number;
  private readonly entries = new Map<string, CachedFile>();
  private total = 0;
  /** Counts insertions: an entry moves to the recent end at most once per generation. */
  private generation = 0;

  /** @internal Made by DirServer and FileServer from their memoryCache options. */
  constructor(maxBytes: number, maxFileBytes: number) {
    this.maxBytes = maxBytes;
    this.maxFileBytes = Math.min(maxFileBytes, maxBytes);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.total;
  }

  /** Files held now. */
  get files(): number {
    return this.entries.size;
  }

  /** @internal Whether a file of this size may be cached. */
  fits(size: number): boolean {
    return size <= this.maxFileBytes;
  }

  /** @internal The cached file at `path` when `stats` (just taken) still describe it; a stale entry is dropped. */
  get(path: string, stats: Stats): CachedFile | null {
    const entry = this.entries.get(path);
    if (entry === undefined) return null;
    if (
      entry.ino !== stats.ino ||
      entry.dev !== stats.dev ||
      entry.size !== stats.size ||
      entry.mtimeMs !== stats.mtimeMs ||
      entry.ctimeMs !== stats.ctimeMs
    ) {
      this.entries.delete(path);
      this.total -= entry.data.length;
      return null;
    }
    // Move to the recent end (Map order is insertion order), but only once between insertions:
    // with nothing being added, eviction order can't matter yet and hits stay cheap.
    if (entry.generation !== this.generation) {
      entry.generation = this.generation;
      this.entries.delete(path);
      this.entries.set(path, entry);
    }
    return entry;
  }

  /**
   * @internal Keeps `data`, read from `path` starting at `readStartMs` (wall clock) with `stats` taken from
   * the open file, unless the file is too large, changed too recently to trust its times, or the
   * bytes don't match the stats. Evicts the least recently used entries to stay within budget.
   */
  set(path: string, stats: Stats, data: Buffer, readStartMs: number): void {
    if (data.length !== stats.size || !this.fits(data.length)) return;
    if (readStartMs - Math.max(stats.ctimeMs, stats.mtimeMs) < SETTLED_MS) return;
    const old = this.entries.get(path);
    if (old !== undefined) {
      this.entries.delete(path);
      this.total -= old.data.length;
    }
    const { dev, ino, size, mtimeMs, ctimeMs } = stats;
    const etag = etagOf(stats);
    const lastModified = new Date(mtimeMs).toUTCString();
    const generation = ++this.generation;
    const entry = { data, etag, lastModified, dev, ino, size, mtimeMs, ctimeMs, generation, prepared: null };
    this.entries.set(path, entry);
    this.total += data.length;
    for (const [key, entry] of this.entries) {
      if (this.total <= this.maxBytes) break;
      this.entries.delete(key);
      this.total -= entry.data.length;
    }
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}
