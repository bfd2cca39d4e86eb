// Readings from /proc: a process tree's CPU time and memory, and the CPU time of exited children.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Fields 3 and up of /proc/<pid>/stat: fields[0] is field 3 (state), so field n is fields[n - 3]. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 is the command name in parentheses, which may contain spaces: split after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Pids of the direct children of `pid`, from /proc/<pid>/task/<tid>/children (one file per thread). */
function childrenFromTasks(pid: number): number[] {
  const children: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    for (const child of list.split(' ')) if (child.trim() !== '') children.push(Number(child));
  }
  return children;
}

/** Pids of the direct children of `pid`, by their parent pid (field 4 of /proc/<n>/stat), like `pgrep -P`. */
function childrenFromParentPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[4 - 3]) === pid) children.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return children;
}

/** Pids of the direct children of `pid`; [] if it exited meanwhile. */
function childrenOf(pid: number): number[] {
  try {
    return childrenFromTasks(pid);
  } catch (error) {
    // Kernels built without CONFIG_PROC_CHILDREN have no children files: look at every process instead.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(`/proc/${pid}`)) {
      return childrenFromParentPids(pid);
    }
    return [];
  }
}

/** utime + stime of all the process's threads, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function processCpuTicks(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

/**
 * CPU time of the server in clock ticks: utime + stime of its process (all threads, e.g. Peregrine's
 * worker threads) and of all its descendant processes (e.g. node:cluster workers). Throws if the server
 * process itself is gone; a descendant that exits while it is read counts as 0.
 */
export function readCpuTicks(pid: number): number {
  return sumOverTree(pid, processCpuTicks);
}

/**
 * `measure` summed over the process `pid` (which must exist) and all its descendants; a descendant
 * that exits while it is read counts as 0.
 */
function sumOverTree(pid: number, measure: (pid: number) => number): number {
  let sum = measure(pid);
  const pending = childrenOf(pid);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    try {
      sum += measure(next);
    } catch {
      continue;
    }
    pending.push(...childrenOf(next));
  }
  return sum;
}

/** A `kB` field of /proc/<pid>/status (`VmRSS`, `VmHWM`), in bytes. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Peak resident set (VmHWM) of the server's process and all its descendants, in bytes. */
export function readPeakRss(pid: number): number {
  return sumOverTree(pid, (id) => statusBytes(id, 'VmHWM'));
}

/**
 * CPU time of this process's children that have exited and been waited for, in clock ticks (cutime +
 * cstime, fields 16 and 17 of /proc/self/stat). Taskset execs wrk, so a finished wrk run adds its CPU here.
 */
export function readExitedChildrenCpuTicks(): number {
  const fields = statFields(process.pid);
  return Number(fields[16 - 3]) + Number(fields[17 - 3]);
}

/** Resident memory (VmRSS) of the server's process and all its descendants, in bytes. */
export function readRss(pid: number): number {
  return sumOverTree(pid, (id) => statusBytes(id, 'VmRSS'));
}

/** The resident set size of process `pid` in MiB, from /proc; 0 once it is gone. */
export function rssMiB(pid: number): number {
  try {
    return statusBytes(pid, 'VmRSS') / (1024 * 1024);
  } catch {
    return 0;
  }
}
