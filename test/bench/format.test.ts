import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatInteger, formatMiB, formatRatio, plural } from '../../bench/format.ts';

test('integers are rounded and grouped by thousands', () => {
  assert.equal(formatInteger(1234567.5), '1,234,568');
  assert.equal(formatInteger(999.4), '999');
  assert.equal(formatInteger(0), '0');
});

test('ratios have two decimals; memory is in MiB with one', () => {
  assert.equal(formatRatio(2), '2.00');
  assert.equal(formatRatio(1.156), '1.16');
  assert.equal(formatMiB(3 * 1024 * 1024), '3.0');
  assert.equal(formatMiB(1.25 * 1024 * 1024), '1.3');
});

test('sizes are in KiB when whole KiB, else in bytes', () => {
  assert.equal(formatBytes(32), '32 B');
  assert.equal(formatBytes(64 * 1024), '64 KiB');
  assert.equal(formatBytes(4096), '4 KiB');
  assert.equal(formatBytes(1500), '1500 B');
});

test('plural adds an s unless the count is one', () => {
  assert.equal(plural(1, 'run'), '1 run');
  assert.equal(plural(3, 'run'), '3 runs');
  assert.equal(plural(0, 'workload'), '0 workloads');
});
