import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWsLoadReport } from '../../bench/ws-load-driver.ts';

test("ws-load's report line is read whole, and rejected if a figure is missing or not a number", () => {
  const report = { messages: 5000, seconds: 2, messagesPerSecond: 2500, cpuSeconds: 1.5 };
  assert.deepEqual(parseWsLoadReport(JSON.stringify(report)), report);
  for (const field of Object.keys(report)) {
    const broken = { ...report, [field]: String(report[field as keyof typeof report]) };
    assert.throws(() => parseWsLoadReport(JSON.stringify(broken)), /unexpected ws-load output/, field);
  }
  assert.throws(() => parseWsLoadReport('null'), /unexpected ws-load output/);
  assert.throws(() => parseWsLoadReport('measuring'), /unexpected ws-load output: measuring/);
});
