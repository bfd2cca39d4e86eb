// What the machine offers (CPUs, clock ticks, tools, packages), and the check that it can run the
// selected sections before anything starts.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Config } from './config.ts';
import { H2LOAD } from './h2load.ts';
import { fail } from './log.ts';
import { NGINX } from './nginx.ts';
import { LOAD_CPU, SERVER_CPU } from './processes.ts';
import {
  BUN,
  BUN_BINARY,
  FASTIFY,
  FASTIFY_GZIP,
  HONO_NODE,
  HONO_PEREGRINE,
  HONO_SRVX,
  isNginx,
  SIRV_STATIC,
  WS_ECHO,
} from './sections.ts';
import { CC } from './tls.ts';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isOnPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => isExecutable(join(dir, command)));
}

export function commandOutput(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** CPUs available to this process, as `nproc` reports them. */
export function cpuCount(): number {
  const reported = Number(commandOutput('nproc', []));
  return Number.isInteger(reported) && reported > 0 ? reported : availableParallelism();
}

/** `getconf CLK_TCK`, normally 100. */
export function clockTicksPerSecond(): number {
  const reported = Number(commandOutput('getconf', ['CLK_TCK']));
  return Number.isInteger(reported) && reported > 0 ? reported : 100;
}

/** True if `specifier` resolves from the bench directory (e.g. an installed devDependency). */
function canResolve(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

export function checkPrerequisites(config: Config): void {
  if (process.platform !== 'linux') fail('the benchmark needs Linux (it uses taskset and /proc).');
  const usesNginx = config.sections.some((s) => s.servers.some(isNginx));
  const http = config.sections.flatMap((s) => s.workloads.flatMap((w) => (w.kind === 'http' ? [w] : [])));
  const tools = [
    ...(http.some((w) => w.http2 === undefined) ? [{ command: 'wrk', install: 'apt-get install wrk' }] : []),
    // The http2 section's load generator.
    ...(http.some((w) => w.http2 !== undefined)
      ? [{ command: H2LOAD, install: 'apt-get install nghttp2-client (or leave out "h2" with BENCH_FILTER)' }]
      : []),
    { command: 'taskset', install: 'apt-get install util-linux' },
    // The https section's certificate, and the library that keeps wrk from resuming TLS sessions.
    ...(http.some((w) => w.tls) ? [{ command: 'openssl', install: 'apt-get install openssl' }] : []),
    ...(http.some((w) => w.newConnections)
      ? [{ command: CC, install: 'apt-get install gcc (or leave out "https handshakes" with BENCH_FILTER)' }]
      : []),
  ];
  const missing = tools.filter((tool) => !isOnPath(tool.command));
  // No report without the peers it promises: nginx is a peer, not an extra.
  if (usesNginx && !isExecutable(NGINX)) {
    missing.push({
      command: NGINX,
      install: 'apt-get install nginx-light (or leave nginx out with BENCH_SERVERS)',
    });
  }
  if (missing.length > 0) {
    const hints = missing.map((tool) => `  ${tool.command}: ${tool.install}`).join('\n');
    fail(`missing required tools; install them with:\n${hints}`);
  }
  if (config.sections.some((s) => s.servers.includes(WS_ECHO)) && !canResolve('ws')) {
    fail('the ws-echo server needs the `ws` package (a devDependency): run `npm install` first.');
  }
  if (config.sections.some((s) => s.servers.includes(SIRV_STATIC)) && !canResolve('sirv')) {
    fail('the sirv server needs the `sirv` package (a devDependency): run `npm install` first.');
  }
  if (config.sections.some((s) => s.servers.includes(FASTIFY)) && !canResolve('fastify')) {
    fail('the fastify server needs the `fastify` package (a devDependency): run `npm install` first.');
  }
  for (const [spec, name] of [
    [FASTIFY_GZIP, 'fastify'],
    [FASTIFY_GZIP, '@fastify/compress'],
    [HONO_PEREGRINE, 'hono'],
    [HONO_NODE, '@hono/node-server'],
    [HONO_SRVX, 'srvx'],
  ] as const) {
    if (config.sections.some((s) => s.servers.includes(spec)) && !canResolve(name))
      fail(
        `the ${spec.id} server needs the \`${name}\` package (a devDependency): run \`npm install\` first.`,
      );
  }
  if (config.sections.some((s) => s.servers.includes(BUN)) && !isExecutable(BUN_BINARY)) {
    fail(
      `Bun.serve needs ${BUN_BINARY} (the @oven/bun-linux-x64 devDependency, Linux x64): run \`npm install\` first.`,
    );
  }
  if (cpuCount() < 2) {
    fail(`needs at least 2 CPUs (server on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU}).`);
  }
}
