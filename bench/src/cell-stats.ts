/** Medians over the runs of one cell, per system, and the Keel/etcd ratios. */
import type { RunResult } from './load.js';
import type { CellSpec } from './options.js';

export type System = 'keel' | 'etcd';

/** Medians of one cell's runs on one system (NaN when no run succeeded). */
export interface CellStats {
  readonly runs: readonly RunResult[];
  /** Runs that could not be made (a cluster that did not start, a node that died…). */
  readonly failed: number;
  readonly opsPerSec: number;
  readonly p50ms: number;
  readonly p99ms: number;
  /** Server processes together, % of one core. */
  readonly serverPct: number;
  /** Server CPU per operation across the cluster, µs. */
  readonly serverUsPerOp: number;
  readonly clientPct: number;
  readonly clientUsPerOp: number;
  /** The largest peak RSS among the servers, MiB. */
  readonly peakRssMiB: number;
  /** CPU of unrelated work during the run (other processes, short-lived ones), % of one core. */
  readonly unrelatedPct: number;
  readonly loadAvg: number;
  readonly errors: number;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Unrelated CPU during a run: other user processes plus busy time no process accounts for.
 * Interrupt time is also charged to the interrupted processes on this kernel (unattributed is
 * about -irq when quiet), so irq is added back, as the etcd anchor's matrix.js does.
 */
export function unrelatedPct(r: RunResult): number {
  return r.cpu.foreignPct + Math.max(0, r.cpu.unattributedPct + r.cpu.irqPct);
}

export function serverUsPerOp(r: RunResult): number {
  return r.cpu.serverPct === null || r.opsPerSec === 0 ? NaN : (r.cpu.serverPct * 1e4) / r.opsPerSec;
}

export function cellStats(runs: readonly RunResult[], failed: number): CellStats {
  const m = (f: (r: RunResult) => number): number => median(runs.map(f));
  return {
    runs,
    failed,
    opsPerSec: m((r) => r.opsPerSec),
    p50ms: m((r) => r.latency?.p50ms ?? NaN),
    p99ms: m((r) => r.latency?.p99ms ?? NaN),
    serverPct: m((r) => r.cpu.serverPct ?? NaN),
    serverUsPerOp: m(serverUsPerOp),
    clientPct: m((r) => r.cpu.clientPct),
    clientUsPerOp: m((r) => (r.cpu.clientPct * 1e4) / r.opsPerSec),
    peakRssMiB: m((r) => Math.max(...r.memory.map((x) => x.peakRssMiB))),
    unrelatedPct: m(unrelatedPct),
    loadAvg: m((r) => (r.loadAvg.before + r.loadAvg.after) / 2),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  };
}

/** One row of the matrix: a cell and its stats per system measured. */
export interface CellRow {
  readonly cell: CellSpec;
  readonly keel: CellStats;
  readonly etcd?: CellStats;
}

/** Keel/etcd: above 1 means Keel has more of it (more ops/s; for latency and CPU, more is worse). */
export function ratio(keel: number, etcd: number): number {
  return etcd > 0 && Number.isFinite(keel) ? keel / etcd : NaN;
}
