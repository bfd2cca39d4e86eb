import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  connectionBudget,
  DESCRIPTOR_RESERVE,
  descriptorLimit,
  openDescriptors,
} from '../../src/transport/descriptors.ts';

const dir = mkdtempSync(join(tmpdir(), 'peregrine-limits-'));

function limitsFile(openFiles: string): string {
  const path = join(dir, `limits-${Math.random()}`);
  writeFileSync(
    path,
    'Limit                     Soft Limit           Hard Limit           Units     \n' +
      'Max cpu time              unlimited            unlimited            seconds   \n' +
      `Max open files            ${openFiles}               seconds     \n` +
      'Max locked memory         8388608              8388608              bytes     \n',
  );
  return path;
}

test('descriptorLimit reads the soft limit on open files', () => {
  assert.equal(descriptorLimit(limitsFile('1024                 524288')), 1024);
  assert.equal(descriptorLimit(limitsFile('unlimited            unlimited')), Number.POSITIVE_INFINITY);
  assert.equal(descriptorLimit(join(dir, 'missing')), Number.POSITIVE_INFINITY);
  assert.equal(descriptorLimit(limitsFile('garbage x')), Number.POSITIVE_INFINITY);
});

test('descriptorLimit reads this process on Linux', { skip: process.platform !== 'linux' }, () => {
  const limit = descriptorLimit();
  assert.ok(Number.isSafeInteger(limit) && limit > 0, String(limit));
  assert.ok(openDescriptors() > 2);
});

test('connectionBudget: the limit less what is open less the reserve, at least 1', () => {
  assert.equal(connectionBudget(1024, 30), 1024 - 30 - DESCRIPTOR_RESERVE);
  assert.equal(connectionBudget(50, 30), 1);
  assert.equal(connectionBudget(Number.POSITIVE_INFINITY, 30), Number.POSITIVE_INFINITY);
});
