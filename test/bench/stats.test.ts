import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idleBytes, median, medianOf, pairRatios, scalingRatio, targetFigures } from '../../bench/stats.ts';
import { failure, OURS, PEER, run, section } from './fixtures.ts';

/** Equal but for floating-point rounding. */
function near(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${actual} ≉ ${expected}`);
}

test('median: the middle value, or the mean of the two middle ones, whatever the order', () => {
  assert.equal(median([5]), 5);
  assert.equal(median([9, 1, 5]), 5);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const values = [3, 1, 2];
  median(values);
  assert.deepEqual(values, [3, 1, 2], 'the input is not sorted in place');
});

test('medianOf leaves out failed runs and runs without the figure', () => {
  const runs = [run(10, { p50Ms: 4 }), failure(), run(20, { p50Ms: null }), run(30, { p50Ms: 2 })];
  assert.equal(
    medianOf(runs, (m) => m.perSecond),
    20,
  );
  assert.equal(
    medianOf(runs, (m) => m.p50Ms),
    3,
  );
  assert.equal(
    medianOf([failure()], (m) => m.perSecond),
    undefined,
  );
  assert.equal(
    medianOf(undefined, (m) => m.perSecond),
    undefined,
  );
});

test('pairRatios pairs run i with run i and skips a pair with a failure', () => {
  const ours = [run(200), run(300), failure(), run(100)];
  const theirs = [run(100), failure(), run(50), run(400)];
  assert.deepEqual(pairRatios(ours, theirs), [2, 0.25]);
  assert.deepEqual(pairRatios([run(1), run(1)], [run(1)]), [1], 'a run without a partner is skipped');
});

test('scalingRatio is the median rate with more workers over the median rate with one', () => {
  const scaling = section(
    'scaling',
    {
      'workers-1 plain /': { ours: [run(100), run(120), run(80)], peer: [run(50)] },
      'workers-2 plain /': { ours: [run(150), run(190), run(170)], peer: [failure()] },
    },
    'req',
    (name) => Number(name.slice('workers-'.length, 'workers-'.length + 1)),
  );
  near(scalingRatio(scaling.results, OURS, 2), 170 / 100);
  assert.equal(scalingRatio(scaling.results, PEER, 2), undefined, 'no successful 2-worker run');
});

test('idleBytes is the growth of resident memory per connection', () => {
  assert.equal(idleBytes(run(0, { count: 1000, idleRss: { before: 1_000_000, after: 5_000_000 } })), 4000);
  assert.equal(idleBytes(run(0)), 0);
});

test('targetFigures reads rate, cost and idle ratios from the sections that have them', () => {
  const comparison = section('comparison', {
    'plain /': {
      ours: [
        run(300, { cpuMicrosPerUnit: 9, minorGcs: 10 }),
        run(200, { cpuMicrosPerUnit: 11, minorGcs: 30 }),
      ],
      peer: [
        run(100, { cpuMicrosPerUnit: 20, minorGcs: 40 }),
        run(100, { cpuMicrosPerUnit: 20, minorGcs: 40 }),
      ],
    },
  });
  // A scaling section with a workload of the same name is not where targets are read from.
  const scaling = section('scaling', { 'plain /': { ours: [run(1)], peer: [run(1000)] } });
  const idle = section(
    'idle',
    {
      'idle 10k connections': {
        ours: [run(0, { count: 10, idleRss: { before: 0, after: 30_000 } })],
        peer: [run(0, { count: 10, idleRss: { before: 0, after: 120_000 } })],
      },
    },
    'conn',
  );
  const figures = targetFigures([scaling, comparison, idle]);
  assert.equal(figures.rateRatio('plain /', 'peer'), 2.5); // the median of 3 and 2
  near(figures.costRatio('plain /', 'peer', 'cpu'), 10 / 20);
  near(figures.costRatio('plain /', 'peer', 'gcs'), 20 / 40);
  near(figures.idleRatio('peer'), 3000 / 12_000);
  assert.equal(figures.idleWebSocketRatio(), undefined, 'no idle WebSocket run');
  assert.equal(figures.rateRatio('json /json', 'peer'), undefined);
  assert.equal(figures.rateRatio('plain /', 'absent'), undefined);
  assert.equal(targetFigures([comparison]).idleRatio('peer'), undefined);
});

test('idleWebSocketRatio: Peregrine per idle WebSocket over Peregrine per idle HTTP connection', () => {
  const idle = section(
    'idle',
    {
      'idle 10k connections': {
        ours: [run(0, { count: 10, idleRss: { before: 0, after: 40_000 } })],
        peer: [run(0, { count: 10, idleRss: { before: 0, after: 10_000 } })],
      },
      'idle 10k websockets': { ours: [run(0, { count: 10, idleRss: { before: 0, after: 60_000 } })] },
    },
    'conn',
  );
  const [http, ws] = idle.results;
  const results = [
    http!,
    {
      ...ws!,
      workload: {
        kind: 'idle',
        name: ws!.workload.name,
        connections: 10,
        workers: 1,
        websocket: true,
      } as const,
    },
  ];
  const figures = targetFigures([{ ...idle, results }]);
  near(figures.idleWebSocketRatio(), 6000 / 4000);
  near(figures.idleRatio('peer'), 4000 / 1000); // from the HTTP row, whichever comes first
  near(
    figures.idleRatio('peer'),
    targetFigures([{ ...idle, results: [...results].reverse() }]).idleRatio('peer')!,
  );
});
