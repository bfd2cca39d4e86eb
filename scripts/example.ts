// `npm run example -- NAME` runs examples/NAME.ts with the project's Node (PORT and WORKERS pass through).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../examples/', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const name = process.argv[2];
if (name === undefined || !existsSync(`${dir}${name}.ts`)) {
  console.error(`usage: npm run example -- NAME   (one of: ${names.join(', ')})`);
  process.exit(2);
}

// Ctrl+C in a terminal signals the whole foreground process group, and npm forwards it to its script
// as well: a child in that group would get SIGINT two or three times and take the repeats as "force
// exit now", cutting in-flight requests. So the example runs in a process group of its own, and
// gets each signal from here exactly once; repeats within DEDUPE_MS count as the same keypress, while
// a second Ctrl+C after that still reaches it (and forces its exit, as it would run directly).
const DEDUPE_MS = 250;
const child = spawn(process.execPath, [`${dir}${name}.ts`, ...process.argv.slice(3)], {
  stdio: 'inherit',
  detached: true,
});
const lastForwarded = new Map<NodeJS.Signals, number>();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    const now = performance.now();
    const last = lastForwarded.get(signal);
    if (last !== undefined && now - last < DEDUPE_MS) return;
    lastForwarded.set(signal, now);
    child.kill(signal);
  });
}
// If this process ends first (killed outright), the example must not outlive it.
process.on('exit', () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
