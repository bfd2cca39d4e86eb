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
const child = spawn(process.execPath, [`${dir}${name}.ts`, ...process.argv.slice(3)], { stdio: 'inherit' });
// The example handles SIGINT/SIGTERM itself (graceful shutdown); pass them on and mirror its exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
