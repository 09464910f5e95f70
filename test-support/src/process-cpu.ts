/**
 * CPU time of a process tree, as progress for `waitForProgress` while a program works without
 * printing (npx resolving a package, `tsc -b`, `go build`, a node loading its store): on a loaded
 * machine such a step can take longer than any fixed bound, but it keeps using CPU until it
 * stops, or hangs.
 */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Clock ticks of CPU that `pid` and its live descendants have used, with what their exited and
 * reaped children used (Linux `/proc`: utime, stime, cutime, cstime). 0 where there is no `/proc`.
 */
export function treeCpuTicks(pid: number): number {
  let total = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const id = pending.pop()!;
    total += ticksOf(id);
    pending.push(...childrenOf(id));
  }
  return total;
}

function ticksOf(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return 0; // gone meanwhile (its time moved to its parent's cutime)
  // After the command name in parentheses (which may hold spaces): state, ppid, …; utime is field 14.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
}

function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap((tid) => (read(`/proc/${pid}/task/${tid}/children`) ?? '').split(' ').filter((s) => s !== '').map(Number));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
