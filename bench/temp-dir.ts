// The benchmark's temp directory, created once per benchmark and removed on exit: `static/` holds the
// files of the static section, `nginx/` nginx's generated config, logs and temp paths.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LARGE_FILE, SMALL_FILE } from './sections.ts';
import { LARGE_BODY } from './servers/bodies.ts';

/** Makes the temp directory, with the static section's files, and returns its path. */
export function createTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-bench-'));
  mkdirSync(join(dir, 'static'));
  mkdirSync(join(dir, 'nginx'));
  writeFileSync(comparisonLargeFile(dir), LARGE_BODY, 'latin1');
  writeFileSync(join(dir, 'static', '6150.txt'), SMALL_FILE);
  writeFileSync(join(dir, 'static', '1mib.bin'), LARGE_FILE);
  return dir;
}

/** The directory the static section's servers serve. */
export function staticDir(tempDir: string): string {
  return join(tempDir, 'static');
}

/** The comparison section's 6150-byte body as a file, for the servers that send it from one (nginx, uws). */
export function comparisonLargeFile(tempDir: string): string {
  return join(tempDir, 'lorem-6150.txt');
}

/** nginx's prefix: its config, pid file, logs and temp paths. */
export function nginxDir(tempDir: string): string {
  return join(tempDir, 'nginx');
}
