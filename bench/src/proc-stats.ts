/**
 * CPU and memory of processes and of the machine, from /proc (Linux). Accounting as in the etcd
 * anchor's generators (`bench/etcd/bench-node.js`, `bench.go`), so the two systems' rows line up:
 * CPU is in percent of ONE core over the measured wall time (the machine has cores × 100).
 * Elsewhere than Linux the numbers are NaN / empty.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Linux USER_HZ: /proc/PID/stat times are in these ticks. */
const CLK_TCK = 100;

interface ProcTimes {
  readonly kernelThread: boolean;
  readonly sec: number;
}

/** utime + stime of `pid`, and whether it is a kernel thread (kthreadd, pid 2, or its child). */
function readProc(pid: number | string): ProcTimes | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { kernelThread: Number(pid) === 2 || Number(f[1]) === 2, sec: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) `pid` has used so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  return readProc(pid)?.sec ?? NaN;
}

/** Every process except `skip`, by pid. */
function allProcs(skip: ReadonlySet<number>): Map<string, ProcTimes> {
  const out = new Map<string, ProcTimes>();
  let dirs: string[];
  try {
    dirs = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const d of dirs) {
    if (!/^[0-9]+$/.test(d) || skip.has(Number(d))) continue;
    const p = readProc(d);
    if (p !== undefined) out.set(d, p);
  }
  return out;
}

interface MachineTimes {
  readonly total: number;
  readonly busy: number;
  readonly irq: number;
  readonly steal: number;
}

/** /proc/stat's first line, in jiffies over all CPUs (guest time is already inside user). */
function machineTimes(): MachineTimes {
  try {
    const l = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = l.reduce((a, b) => a + b, 0);
    return { total, busy: total - l[3]! - l[4]!, irq: l[5]! + l[6]!, steal: l[7]! };
  } catch {
    return { total: NaN, busy: NaN, irq: NaN, steal: NaN };
  }
}

/** CPU over the measured phase, in % of one core (`cores` × 100 = the whole machine). */
export interface CpuReport {
  /** The load generator (this process). */
  readonly clientPct: number;
  /** The server processes together (`--cpu-pids`, or the nodes the bench started); null when none are known. */
  readonly serverPct: number | null;
  /** Each server process, in the order of `pids`. */
  readonly serverPerNodePct: readonly number[];
  /** Children of kthreadd: the ext4 journal committing fsyncs, writeback, workers. */
  readonly kernelThreadsPct: number;
  /** Hard and soft interrupt time (loopback TCP receive work lands here; also inside process times). */
  readonly irqPct: number;
  readonly stealPct: number;
  /** Other user processes alive at start and end: unrelated work sharing the cores. */
  readonly foreignPct: number;
  /** Busy time nothing above accounts for (short-lived processes); about -irqPct when quiet. */
  readonly unattributedPct: number;
  readonly machineBusyPct: number;
  readonly cores: number;
}

/** A snapshot at the start of a measured phase; `finish()` gives the report for the phase. */
export class CpuMeter {
  private readonly skip: Set<number>;
  private readonly others0: Map<string, ProcTimes>;
  private readonly pids0: number[];
  private readonly self0: NodeJS.CpuUsage;
  private readonly machine0: MachineTimes;

  constructor(private readonly pids: readonly number[]) {
    this.skip = new Set([process.pid, ...pids]);
    this.others0 = allProcs(this.skip);
    this.pids0 = pids.map(cpuSeconds);
    this.self0 = process.cpuUsage();
    this.machine0 = machineTimes();
  }

  finish(wallSec: number): CpuReport {
    const pids1 = this.pids.map(cpuSeconds);
    const self = process.cpuUsage(this.self0);
    const m1 = machineTimes();
    let kernel = 0;
    let foreign = 0;
    for (const [pid, b] of allProcs(this.skip)) {
      const a = this.others0.get(pid);
      if (a === undefined) continue;
      if (b.kernelThread) kernel += b.sec - a.sec;
      else foreign += b.sec - a.sec;
    }
    const cores = cpus().length;
    const share = (jiffies: number): number => round1((100 * cores * jiffies) / (m1.total - this.machine0.total));
    const core = (sec: number): number => round1((100 * sec) / wallSec);
    const perNode = this.pids.map((_, i) => pids1[i]! - this.pids0[i]!);
    const clientPct = core((self.user + self.system) / 1e6);
    const serverPct = this.pids.length > 0 ? core(perNode.reduce((a, b) => a + b, 0)) : null;
    const irqPct = share(m1.irq - this.machine0.irq);
    const stealPct = share(m1.steal - this.machine0.steal);
    const machineBusyPct = share(m1.busy - this.machine0.busy);
    const kernelThreadsPct = core(kernel);
    const foreignPct = core(foreign);
    return {
      clientPct,
      serverPct,
      serverPerNodePct: perNode.map(core),
      kernelThreadsPct,
      irqPct,
      stealPct,
      foreignPct,
      unattributedPct: round1(machineBusyPct - clientPct - (serverPct ?? 0) - kernelThreadsPct - irqPct - stealPct - foreignPct),
      machineBusyPct,
      cores,
    };
  }
}

/** Resident memory of one server process, in MiB: at the end of the run, and its peak since it started. */
export interface RssReport {
  readonly pid: number;
  readonly finalRssMiB: number;
  readonly peakRssMiB: number;
  /** RSS every `RSS_SAMPLE_MS` of the measured phase (Keel runs; a flat series is a flat RSS). */
  readonly samplesMiB?: readonly number[];
}

/** How often a Keel run samples each server's RSS while it measures (also shown on the progress line). */
export const RSS_SAMPLE_MS = 10_000;

/** VmRSS and VmHWM (the kernel's high-water mark) of `pid`; NaN when unknown. */
export function rssOf(pid: number): RssReport {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone, or not Linux
  }
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m === null ? NaN : round1(Number(m[1]) / 1024);
  };
  return { pid, finalRssMiB: kib('VmRSS'), peakRssMiB: kib('VmHWM') };
}

/** The 1, 5 and 15 minute load averages (what `uptime` prints). */
export function loadAverages(): [number, number, number] {
  const [a, b, c] = loadavg();
  return [round2(a!), round2(b!), round2(c!)];
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
