import { spawnSync } from 'node:child_process';

/** Every sample of a Prometheus text exposition, by its name and labels as printed. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** A sample's value; throws when it is missing. */
export function sample(text: string, key: string): number {
  const value = samples(text).get(key);
  if (value === undefined) throw new Error(`no sample ${key} in:\n${text}`);
  return value;
}

/** Where promtool is, or null (Debian's `prometheus` package provides it). */
export function promtool(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** `promtool check metrics` on `text`: its exit status and what it said. */
export function checkMetrics(tool: string, text: string): { status: number | null; output: string } {
  const run = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
