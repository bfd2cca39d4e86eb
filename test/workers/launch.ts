import { type ChildProcess, spawn } from 'node:child_process';

// A worker fixture run as its own program, as a user runs a server: its port, mode and stderr.

export interface Running {
  child: ChildProcess;
  port: number;
  mode: string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves when stderr has matched `pattern` (checks what came before too). */
  waitForStderr(pattern: RegExp, ms?: number): Promise<void>;
}

/** Runs `program` (a server fixture) with `env` added, and waits for its JSON start-up line. */
export async function launchProgram(program: string, env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [program], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const stderrWaiters: (() => void)[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const wake of stderrWaiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = await new Promise<{ port: number; mode: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line; stderr: ${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { port: number; mode: string });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  return {
    child,
    ...started,
    exited,
    stderr: () => stderr,
    async waitForStderr(pattern, ms = 10_000) {
      const limit = Date.now() + ms;
      while (!pattern.test(stderr)) {
        if (Date.now() > limit) throw new Error(`stderr never matched ${pattern}: ${stderr}`);
        await new Promise<void>((resolve) => {
          stderrWaiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}
