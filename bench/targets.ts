/**
 * The benchmark's performance targets (bench/README.md), checked against the figures of one run: the
 * report ends with a table that says, for each target, what was measured and whether it was met, so
 * nobody has to work it out from the other tables. A target whose workload or peer was not run shows `—`.
 */

/** The figures of one run that the targets are stated in, all Peregrine over a peer. */
export interface TargetFigures {
  /** The median of the Peregrine/peer run-pair ratios of requests/s on `workload`. */
  rateRatio(workload: string, peer: string): number | undefined;
  /**
   * Peregrine's median CPU µs per request (`'cpu'`), minor GCs per request (`'gcs'`) or p99 latency
   * (`'p99'`) over the peer's.
   */
  costRatio(workload: string, peer: string, cost: 'cpu' | 'gcs' | 'p99'): number | undefined;
  /** Peregrine's memory per idle keep-alive connection over the peer's. */
  idleRatio(peer: string): number | undefined;
  /** Peregrine's memory per idle WebSocket over its memory per idle keep-alive connection. */
  idleWebSocketRatio(): number | undefined;
}

export interface Target {
  /** What is compared, as the table's first column says it. */
  readonly what: string;
  /** `min`: the ratio must be at least `goal`; `max`: at most. */
  readonly bound: 'min' | 'max';
  readonly goal: number;
  readonly measure: (figures: TargetFigures) => number | undefined;
}

const rate = (workload: string, peer: string) => (f: TargetFigures) => f.rateRatio(workload, peer);

export const TARGETS: readonly Target[] = [
  { what: 'plain / req/s over node:http', bound: 'min', goal: 2, measure: rate('plain /', 'node-http') },
  { what: 'plain / req/s over raw node:net', bound: 'min', goal: 0.9, measure: rate('plain /', 'raw-net') },
  {
    what: 'plain / CPU per request over raw node:net',
    bound: 'max',
    goal: 1.15,
    measure: (f) => f.costRatio('plain /', 'raw-net', 'cpu'),
  },
  { what: 'plain / req/s over uWebSockets.js', bound: 'min', goal: 1, measure: rate('plain /', 'uws') },
  {
    what: 'pipelined-16 / req/s over uWebSockets.js',
    bound: 'min',
    goal: 1,
    measure: rate('pipelined-16 /', 'uws'),
  },
  {
    what: 'pipelined-16 / req/s over node:http',
    bound: 'min',
    goal: 10,
    measure: rate('pipelined-16 /', 'node-http'),
  },
  {
    what: '1000 connections / p99 latency over uWebSockets.js',
    bound: 'max',
    goal: 2,
    measure: (f) => f.costRatio('1000 connections /', 'uws', 'p99'),
  },
  {
    what: 'plain /6150 req/s over node:http',
    bound: 'min',
    goal: 2,
    measure: rate('plain /6150', 'node-http'),
  },
  {
    what: 'plain / minor GCs per request over raw node:net',
    bound: 'max',
    goal: 1.15,
    measure: (f) => f.costRatio('plain /', 'raw-net', 'gcs'),
  },
  {
    what: 'memory per idle connection over raw node:net',
    bound: 'max',
    goal: 1.15,
    measure: (f) => f.idleRatio('raw-net'),
  },
  {
    what: 'memory per idle WebSocket over an idle HTTP connection (Peregrine)',
    bound: 'max',
    goal: 2,
    measure: (f) => f.idleWebSocketRatio(),
  },
  {
    what: 'static /6150.txt req/s over nginx',
    bound: 'min',
    goal: 0.9,
    measure: rate('static /6150.txt', 'nginx'),
  },
  {
    what: 'static /6150.txt req/s over sirv',
    bound: 'min',
    goal: 3,
    measure: rate('static /6150.txt', 'sirv'),
  },
  {
    // One message at a time, so the time per message is the inverse of msg/s.
    what: 'ws text 4 MiB in 64 B fragments, time per message over ws',
    bound: 'max',
    goal: 1.5,
    measure: (f) => {
      const ratio = f.rateRatio('ws text 4 MiB in 64 B fragments', 'ws-echo');
      return ratio === undefined ? undefined : 1 / ratio;
    },
  },
  {
    what: 'fetch plain / req/s over Peregrine handler API',
    bound: 'min',
    goal: 0.8,
    measure: rate('fetch plain /', 'peregrine'),
  },
  {
    what: 'fetch plain / req/s over Bun.serve',
    bound: 'min',
    goal: 1,
    measure: rate('fetch plain /', 'bun'),
  },
  {
    what: 'hono plain / req/s over @hono/node-server',
    bound: 'min',
    goal: 2,
    measure: rate('hono plain /', 'hono-node'),
  },
  {
    what: 'hono json /json req/s over @hono/node-server',
    bound: 'min',
    goal: 2,
    measure: rate('hono json /json', 'hono-node'),
  },
  {
    what: 'hono plain / req/s over srvx',
    bound: 'min',
    goal: 1.5,
    measure: rate('hono plain /', 'hono-srvx'),
  },
  {
    what: 'https GET / req/s over node:https',
    bound: 'min',
    goal: 2,
    measure: rate('https GET /', 'node-https'),
  },
  {
    what: 'https GET / req/s over raw node:tls',
    bound: 'min',
    goal: 0.9,
    measure: rate('https GET /', 'raw-tls'),
  },
  {
    what: 'https GET / req/s over nginx (TLS)',
    bound: 'min',
    goal: 0.9,
    measure: rate('https GET /', 'nginx-https'),
  },
  {
    what: 'https handshakes/s over node:https',
    bound: 'min',
    goal: 1,
    measure: rate('https handshakes', 'node-https'),
  },
  { what: 'h2 GET / req/s over node:http2', bound: 'min', goal: 2, measure: rate('h2 GET /', 'node-http2') },
  {
    what: 'h2 GET / req/s over raw node:http2 (core API)',
    bound: 'min',
    goal: 0.9,
    measure: rate('h2 GET /', 'raw-http2'),
  },
  {
    what: 'gzip /6150.txt req/s over Fastify + @fastify/compress',
    bound: 'min',
    goal: 1.5,
    measure: rate('gzip /6150.txt', 'fastify-gzip'),
  },
  {
    what: 'observe plain / CPU per request with metrics over without',
    bound: 'max',
    goal: 1.03,
    measure: (f) => f.costRatio('observe plain /', 'peregrine', 'cpu'),
  },
  {
    what: 'pubsub redis 5k subscribers, deliveries/s over Socket.IO + redis-adapter',
    bound: 'min',
    goal: 5,
    measure: rate('pubsub redis 5k subscribers', 'socketio'),
  },
  {
    what: 'pubsub local 10k subscribers, deliveries/s over uWebSockets.js',
    bound: 'min',
    goal: 1,
    measure: rate('pubsub local 10k subscribers', 'uws-pubsub'),
  },
  {
    what: 'pubsub local 10k subscribers, deliveries/s over raw node:net fan-out (the ceiling)',
    bound: 'min',
    goal: 0.9,
    measure: rate('pubsub local 10k subscribers', 'raw-net-pubsub'),
  },
];

export interface TargetResult {
  readonly target: Target;
  /** Undefined when the run did not measure it. */
  readonly measured: number | undefined;
  readonly met: boolean | undefined;
}

export function checkTargets(figures: TargetFigures, targets: readonly Target[] = TARGETS): TargetResult[] {
  return targets.map((target) => {
    const measured = target.measure(figures);
    if (measured === undefined || !Number.isFinite(measured))
      return { target, measured: undefined, met: undefined };
    const met = target.bound === 'min' ? measured >= target.goal : measured <= target.goal;
    return { target, measured, met };
  });
}

/** The targets table, or '' when the run measured none of them. */
export function targetsTable(results: readonly TargetResult[]): string {
  if (results.every((r) => r.measured === undefined)) return '';
  const rows = results.map(({ target, measured, met }) => {
    const goal = `${target.bound === 'min' ? '≥' : '≤'} ${target.goal}`;
    // Three decimals: the verdict compares the exact ratio, which two could round across the goal.
    const shown = measured === undefined ? '—' : measured.toFixed(3);
    const verdict = met === undefined ? '—' : met ? 'met' : '**not met**';
    return `| ${target.what} | ${goal} | ${shown} | ${verdict} |`;
  });
  const metCount = results.filter((r) => r.met === true).length;
  const checked = results.filter((r) => r.met !== undefined).length;
  return [
    `Targets: ${metCount} of ${checked} measured met (Peregrine over the peer, medians as in the tables above).`,
    '',
    '| Target | Goal | Measured | Result |',
    '| --- | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}
