/**
 * `--gc`: where the slow operations of a run come from, as far as garbage collection goes. Every
 * node runs under `node --trace-gc`; each pause line it prints is timed when the bench reads it
 * (it is printed at the end of the pause, so the pause is the interval just before). The
 * measured operations are kept as (start, latency) pairs. The report: each node's pauses
 * (count, total, longest, as a share of the run), and how many of the slowest 1% of operations
 * overlapped a pause on each node, against the same share for operations around the median. A
 * tail that overlaps pauses far more often than the median does is a tail made by the collector.
 */
import type { ServerInfo } from './load.js';

/** One pause as V8 prints it: `… ms: Scavenge 40.1 (60.2) -> 30.3 (61.0) MB, 8.21 / 0.02 ms …`. */
export interface GcPause {
  readonly nodeId: number;
  readonly kind: string;
  readonly pauseMs: number;
  /** `performance.now()` in the bench when the line arrived: the end of the pause. */
  readonly endMs: number;
}

const GC_LINE = /ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Compact|Minor Mark-Sweep)\b[^,]*, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/;

/** The kind and pause of a `--trace-gc` line; undefined for any other line. */
export function parseGcLine(line: string): { readonly kind: string; readonly pauseMs: number } | undefined {
  const m = GC_LINE.exec(line);
  return m === null ? undefined : { kind: m[1]!, pauseMs: Number(m[2]) };
}

/** The measured operations: start (`performance.now()`) and latency, in ms. */
export class OpTimeline {
  /** The measured phase, `performance.now()` ms (set by the load loop). */
  fromMs = 0;
  toMs = 0;
  private starts = new Float64Array(1 << 16);
  private latencies = new Float64Array(1 << 16);
  private n = 0;

  add(startMs: number, latencyMs: number): void {
    if (this.n === this.starts.length) {
      const grow = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.latencies = grow(this.latencies);
    }
    this.starts[this.n] = startMs;
    this.latencies[this.n++] = latencyMs;
  }

  get size(): number {
    return this.n;
  }

  start(i: number): number {
    return this.starts[i]!;
  }

  latency(i: number): number {
    return this.latencies[i]!;
  }
}

export interface NodeGc {
  readonly nodeId: number;
  readonly role?: string;
  readonly scavenges: number;
  readonly majorGcs: number;
  readonly pauseMsTotal: number;
  /** Pause time as a share of the measured phase, %. */
  readonly pausePct: number;
  readonly longestMs: number;
  /** Of the slowest 1% of operations, the share that overlapped a pause of this node, %. */
  readonly slowOpsOverlapPct: number;
  /** The same share for operations between the 45th and 55th percentile, %. */
  readonly medianOpsOverlapPct: number;
}

export interface GcReport {
  /** Latency at or above which an operation counts as one of the slowest 1%, ms. */
  readonly slowThresholdMs: number;
  readonly slowOps: number;
  readonly nodes: readonly NodeGc[];
  /** Of the slowest 1%, the share that overlapped a pause on any node, %; and for median operations. */
  readonly slowOpsOverlapAnyPct: number;
  readonly medianOpsOverlapAnyPct: number;
}

/** Pauses shorter than this are left out of the overlap counts (they cannot make a tail). */
const OVERLAP_PAUSE_MIN_MS = 2;
/** How late a line may reach the bench after its pause ended (pipe and event loop). */
const LINE_DELAY_SLACK_MS = 1;

function pct(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10;
}

/** The report for the measured `ops`, with the pauses the nodes printed. */
export function gcReport(ops: OpTimeline, pauses: readonly GcPause[], servers: readonly ServerInfo[]): GcReport {
  const { fromMs, toMs } = ops;
  const order = Array.from({ length: ops.size }, (_, i) => i).sort((a, b) => ops.latency(a) - ops.latency(b));
  const at = (q: number): number => Math.min(order.length - 1, Math.floor(order.length * q));
  const slow = order.slice(at(0.99));
  const median = order.slice(at(0.45), at(0.55) + 1);
  const inRun = pauses.filter((p) => p.endMs >= fromMs && p.endMs - p.pauseMs <= toMs);
  const intervals = (nodeId?: number): Array<readonly [number, number]> =>
    inRun
      .filter((p) => p.pauseMs >= OVERLAP_PAUSE_MIN_MS && (nodeId === undefined || p.nodeId === nodeId))
      .map((p) => [p.endMs - p.pauseMs - LINE_DELAY_SLACK_MS, p.endMs] as const);
  const overlapPct = (set: readonly number[], iv: ReadonlyArray<readonly [number, number]>): number =>
    pct(set.filter((i) => iv.some(([a, b]) => a < ops.start(i) + ops.latency(i) && b > ops.start(i))).length, set.length);
  const wallMs = toMs - fromMs;
  const nodes = servers
    .filter((s) => s.id !== undefined)
    .map((s): NodeGc => {
      const mine = inRun.filter((p) => p.nodeId === s.id);
      const total = mine.reduce((sum, p) => sum + p.pauseMs, 0);
      const iv = intervals(s.id);
      return {
        nodeId: s.id!,
        ...(s.role !== undefined ? { role: s.role } : {}),
        scavenges: mine.filter((p) => p.kind.startsWith('Scavenge') || p.kind.startsWith('Minor')).length,
        majorGcs: mine.filter((p) => p.kind.startsWith('Mark')).length,
        pauseMsTotal: Math.round(total),
        pausePct: pct(total, wallMs),
        longestMs: Math.round(Math.max(0, ...mine.map((p) => p.pauseMs)) * 10) / 10,
        slowOpsOverlapPct: overlapPct(slow, iv),
        medianOpsOverlapPct: overlapPct(median, iv),
      };
    });
  const any = intervals();
  return {
    slowThresholdMs: order.length === 0 ? 0 : Math.round(ops.latency(order[at(0.99)]!) * 100) / 100,
    slowOps: slow.length,
    nodes,
    slowOpsOverlapAnyPct: overlapPct(slow, any),
    medianOpsOverlapAnyPct: overlapPct(median, any),
  };
}

/** The report as lines of the run's summary. */
export function formatGcReport(r: GcReport): string[] {
  const lines = [`  gc (--trace-gc on every node; pauses of ${OVERLAP_PAUSE_MIN_MS} ms or more count as overlapping):`];
  for (const n of r.nodes) {
    lines.push(
      `    n${n.nodeId}${n.role === 'leader' ? '*' : ''}: ${n.scavenges} scavenges, ${n.majorGcs} major; paused ${n.pauseMsTotal} ms (${n.pausePct}% of the run), longest ${n.longestMs} ms; ` +
        `overlapped ${n.slowOpsOverlapPct}% of the slowest 1% of ops, ${n.medianOpsOverlapPct}% of median ops`,
    );
  }
  lines.push(`    any node: overlapped ${r.slowOpsOverlapAnyPct}% of the slowest 1% (${r.slowOps} ops at ${r.slowThresholdMs} ms or more), ${r.medianOpsOverlapAnyPct}% of median ops`);
  return lines;
}
