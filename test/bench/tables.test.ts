import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detailsTable, failureList, idleTable, resultsTable, scalingLine } from '../../bench/tables.ts';
import { failure, run, section } from './fixtures.ts';

/** The idle section's WebSocket workload. */
const WS_IDLE = {
  kind: 'idle',
  name: 'idle 10k websockets',
  connections: 10_000,
  workers: 1,
  websocket: true,
} as const;

/** A markdown table's rows as cells, header first, without the alignment row. */
function cells(table: string): string[][] {
  const lines = table.split('\n');
  assert.ok(
    lines.every((line) => line.startsWith('| ') && line.endsWith(' |')),
    table,
  );
  assert.match(lines[1]!, /^\| ---( \| ---:?)+ \|$/);
  return lines.filter((_, i) => i !== 1).map((line) => line.slice(2, -2).split(' | '));
}

const comparison = section('comparison', {
  'plain /': { ours: [run(30_000), run(20_000), run(25_000)], peer: [run(10_000), run(10_000), run(20_000)] },
  'json /json': { ours: [run(5000), failure()], peer: [failure(), failure()] },
});

test('the results table: median rates, and the ratio with its spread over run pairs', () => {
  const [header, plain, json] = cells(resultsTable(comparison));
  assert.deepEqual(header, ['Workload', 'Ours req/s', 'Peer req/s', 'Ours/Peer']);
  // Pair ratios 3, 2 and 1.25: their median, then min–max.
  assert.deepEqual(plain, ['plain /', '25,000', '10,000', '2.00 (1.25–3.00)']);
  assert.deepEqual(json, ['json /json', '5,000 (1/2 ok)', 'failed', '—']);
});

test('a peer left out by BENCH_SERVERS has no columns; a single pair shows no spread', () => {
  const one = section('comparison', { 'plain /': { ours: [run(300)], peer: [run(100)] } });
  assert.deepEqual(cells(resultsTable(one))[1], ['plain /', '300', '100', '3.00']);
  const alone = { ...one, selected: { ...one.selected, servers: [one.selected.section.peregrine] } };
  assert.deepEqual(cells(resultsTable(alone))[0], ['Workload', 'Ours req/s']);
});

test('the details table: one row per workload and server, `—` where a figure does not exist', () => {
  const ws = section(
    'websocket',
    {
      'ws echo 32 B': {
        ours: [run(1000, { cpuMicrosPerUnit: 1.5, p50Ms: null, p99Ms: null, minorGcs: null, count: 1000 })],
        peer: [run(500, { cpuMicrosPerUnit: 3.25, minorGcs: 7, count: 1000, peakRssBytes: 2 * 1024 * 1024 })],
      },
    },
    'msg',
  );
  const [header, ours, peer] = cells(detailsTable(ws));
  assert.deepEqual(header, [
    'Workload',
    'Server',
    'CPU µs/msg',
    'p50 ms',
    'p99 ms',
    'minor GCs per 100k msg',
    'peak RSS MiB',
  ]);
  assert.deepEqual(ours, ['ws echo 32 B', 'Ours', '1.50', '—', '—', '—', '64.0']);
  assert.deepEqual(peer, ['ws echo 32 B', 'Peer', '3.25', '1.00', '3.00', '700', '2.0']);
});

test('the scaling tables are labelled by worker count and followed by the scaling line', () => {
  const workers = (name: string) => (name.startsWith('workers-2') ? 2 : 1);
  const scaling = section(
    'scaling',
    {
      'workers-1 plain /': { ours: [run(100)], peer: [run(80)] },
      'workers-2 plain /': { ours: [run(180)], peer: [failure()] },
    },
    'req',
    workers,
  );
  const rows = cells(resultsTable(scaling));
  assert.equal(rows[0]![0], 'Workers');
  assert.deepEqual(
    rows.slice(1).map((row) => row[0]),
    ['1', '2'],
  );
  assert.equal(
    scalingLine(scaling),
    'Scaling, 2 workers over 1 worker (median req/s over median req/s): Ours 1.80×, Peer —.\n',
  );
  const oneCount = section('scaling', { 'workers-1 plain /': { ours: [run(100)], peer: [run(80)] } });
  assert.equal(scalingLine(oneCount), '');
});

test('the failure list names each failed run by workload, server and number, first line only', () => {
  const list = failureList(comparison);
  assert.equal(
    list,
    'Failed runs (left out of the medians and ratios):\n\n' +
      '- json /json · Ours · run 2: wrk exited with code 1: boom\n' +
      '- json /json · Peer · run 1: wrk exited with code 1: boom\n' +
      '- json /json · Peer · run 2: wrk exited with code 1: boom\n',
  );
  assert.equal(failureList(section('comparison', { 'plain /': { ours: [run(1)], peer: [run(1)] } })), '');
});

test('the idle table: memory before and with the connections, KB each, and our KB over theirs', () => {
  const MiB = 1024 * 1024;
  const idle = section(
    'idle',
    {
      'idle 10k connections': {
        ours: [run(0, { count: 10_000, idleRss: { before: 100 * MiB, after: 100 * MiB + 40_000_000 } })],
        peer: [run(0, { count: 10_000, idleRss: { before: 80 * MiB, after: 80 * MiB + 160_000_000 } })],
      },
    },
    'conn',
  );
  const [header, ours, peer, ...rest] = cells(idleTable(idle));
  assert.deepEqual(header, [
    'Connections',
    'Server',
    'RSS before MiB',
    'RSS with the connections MiB',
    'KB per idle connection',
    'Peregrine/server',
  ]);
  assert.deepEqual(ours, [
    'HTTP keep-alive',
    'Ours',
    '100.0',
    (100 + 40_000_000 / MiB).toFixed(1),
    '4.0',
    '1.00',
  ]);
  assert.deepEqual(peer, [
    'HTTP keep-alive',
    'Peer',
    '80.0',
    (80 + 160_000_000 / MiB).toFixed(1),
    '16.0',
    '0.25',
  ]);
  assert.deepEqual(rest, [], 'no WebSocket row, no WebSocket line');
});

test("the idle table's WebSocket row is Peregrine's alone, followed by its ratio to the HTTP row", () => {
  const MiB = 1024 * 1024;
  const http = run(0, { count: 10_000, idleRss: { before: 100 * MiB, after: 100 * MiB + 40_000_000 } });
  const ws = run(0, { count: 10_000, idleRss: { before: 101 * MiB, after: 101 * MiB + 60_000_000 } });
  const idle = section(
    'idle',
    {
      'idle 10k connections': { ours: [http], peer: [http] },
      'idle 10k websockets': { ours: [ws] },
    },
    'conn',
  );
  const websockets = { ...idle.results[1]!, workload: WS_IDLE };
  const table = idleTable({ ...idle, results: [idle.results[0]!, websockets] });
  const [rows, line] = table.split('\n\n');
  const [, , , wsRow, ...more] = cells(rows!);
  assert.deepEqual(wsRow, ['WebSocket', 'Ours', '101.0', (101 + 60_000_000 / MiB).toFixed(1), '6.0', '—']);
  assert.deepEqual(more, []);
  assert.equal(
    line,
    'An idle WebSocket costs Peregrine 1.50× an idle HTTP keep-alive connection (target ≤ 2×).',
  );
});
