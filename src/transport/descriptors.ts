import { readdirSync, readFileSync } from 'node:fs';

/**
 * The process's file-descriptor budget for connections. Past `ulimit -n`, accept() fails with EMFILE,
 * and libuv then accepts and closes the waiting connections itself without telling node (its
 * "EMFILE trick"): clients see a reset and nothing is logged. So the listener counts against this
 * budget itself, and closes idle connections or answers 503 before the kernel's limit is reached.
 */

/** Descriptors kept out of the budget: files being served, log files, pipes to workers and children. */
export const DESCRIPTOR_RESERVE = 64;

/** The soft limit on open files (`ulimit -n`), or Infinity where it can't be read (not Linux) or is unlimited. */
export function descriptorLimit(limits = '/proc/self/limits'): number {
  let text: string;
  try {
    text = readFileSync(limits, 'latin1');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
  const line = /^Max open files\s+(\S+)/m.exec(text);
  const soft = line === null ? Number.NaN : Number(line[1]);
  return Number.isSafeInteger(soft) && soft > 0 ? soft : Number.POSITIVE_INFINITY;
}

/** Descriptors open in this process now, or 0 where they can't be counted. */
export function openDescriptors(dir = '/proc/self/fd'): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

/** How many connections the process can still hold open: the limit, less what is open, less the reserve. */
export function connectionBudget(limit = descriptorLimit(), open = openDescriptors()): number {
  if (limit === Number.POSITIVE_INFINITY) return limit;
  return Math.max(1, limit - open - DESCRIPTOR_RESERVE);
}
