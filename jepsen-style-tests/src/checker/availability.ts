import type { Op, OpF } from '../history/op.js';
import { pairOperations, type Operation, type Outcome } from '../history/operations.js';
import { formatAt, formatDuration, timeZero, NS_PER_S } from '../history/time.js';
import { assertTimeline, type NemesisInterval } from '../history/timeline.js';
import { describeCall } from './register.js';
import type { Verdict } from './verdict.js';

/**
 * Availability per phase of the nemesis timeline.
 *
 * Safety (decides the verdict): a node on the minority side of a partition must not answer. An
 * operation sent to a node listed in an interval's `minority`, invoked at or after the interval's
 * start and completed at or before its end, must not be acknowledged if it is a write (write,
 * cas, delete, add, init, transfer, acquire, release, fenced-write, change) or — with linearizable reads —
 * a read. A cas, init, transfer or fenced-write that came back `fail` without an `error` is an
 * answer too (the store said "the compare did not hold"), so it counts as well.
 *
 * Liveness (informative only, never the verdict): per phase, how many operations each side
 * completed and how, and a note for every partition in which the majority side acknowledged
 * nothing. Timing on a shared machine is too noisy for a liveness rule that cannot flake.
 */

export interface AvailabilityOptions {
  /** Whether the workload's reads were linearizable; serializable reads may be answered by a minority. Default true. */
  readonly linearizableReads?: boolean;
  /** Time zero for printed times (ns); default `timeZero(history, timeline)`. */
  readonly origin?: number;
}

/** An acknowledgement the minority side should never have given. */
export interface MinorityAck {
  readonly line: number;
  readonly process: number;
  readonly node: number;
  readonly f: OpF;
  readonly key: string;
  readonly label: string;
  readonly invokedAt: number;
  readonly completedAt: number;
  /** The fault it happened under. */
  readonly interval: string;
  readonly text: string;
}

export type OutcomeCounts = Record<Outcome, number>;

/** Who served an operation: a node cut off on a minority side, any other node, or no node recorded. */
export type Side = 'majority' | 'minority' | 'unpinned';

export interface Phase {
  readonly start: number;
  readonly end: number;
  /** Labels of the faults in force; empty when the cluster was whole. */
  readonly faults: readonly string[];
  /** Nodes on a minority side during the phase. */
  readonly minority: readonly number[];
  /** Completions during the phase (an operation never completed counts at its invoke), by side. */
  readonly sides: Record<Side, OutcomeCounts>;
  /** Acknowledgements per second on the majority side. */
  readonly majorityOkPerSecond: number;
}

export interface AvailabilityResult {
  /** invalid iff the minority side acknowledged something; else valid. */
  readonly verdict: Verdict;
  readonly violations: readonly MinorityAck[];
  readonly phases: readonly Phase[];
  /** Liveness observations, for people; they do not change the verdict. */
  readonly notes: readonly string[];
}

const zero = (): OutcomeCounts => ({ ok: 0, fail: 0, info: 0 });

/** Whether an operation's result is an answer from the node it was sent to. */
function answered(op: Operation, linearizableReads: boolean): boolean {
  if (op.f === 'read') return linearizableReads && op.outcome === 'ok';
  if (op.outcome === 'ok') return true;
  return (op.f === 'cas' || op.f === 'transfer' || op.f === 'init' || op.f === 'fenced-write') && op.outcome === 'fail' && op.error === undefined;
}

export function checkAvailability(history: readonly Op[], timeline: readonly NemesisInterval[], options: AvailabilityOptions = {}): AvailabilityResult {
  assertTimeline(timeline);
  const linearizableReads = options.linearizableReads ?? true;
  const origin = options.origin ?? timeZero(history, timeline);
  const ops = pairOperations(history);

  const violations: MinorityAck[] = [];
  for (const iv of timeline) {
    const minority = new Set(iv.minority ?? []);
    if (minority.size === 0) continue;
    const end = iv.end ?? Number.POSITIVE_INFINITY;
    for (const op of ops) {
      if (op.node === undefined || !minority.has(op.node) || op.completedAt === undefined) continue;
      if (op.invokedAt < iv.start || op.completedAt > end || !answered(op, linearizableReads)) continue;
      const label = describeCall(op.f, op.input, op.output, op.outcome);
      violations.push({
        line: op.line,
        process: op.process,
        node: op.node,
        f: op.f,
        key: op.key,
        label,
        invokedAt: op.invokedAt,
        completedAt: op.completedAt,
        interval: iv.label,
        text:
          `node ${op.node} was on the minority side of ${JSON.stringify(iv.label)} (from ${formatAt(iv.start, origin)}` +
          `${iv.end === undefined ? '' : ` to ${formatAt(iv.end, origin)}`}), yet answered p${op.process}'s ${label} on ${JSON.stringify(op.key)}` +
          `${op.outcome === 'ok' ? '' : ` (${op.outcome})`}, invoked ${formatAt(op.invokedAt, origin)} and completed ${formatAt(op.completedAt, origin)} (line ${op.line})`,
      });
    }
  }

  const phases = splitPhases(ops, timeline);
  const notes: string[] = [];
  for (const p of phases) {
    if (p.minority.length === 0) continue;
    const served = p.sides.majority;
    if (served.ok === 0 && served.fail + served.info > 0) {
      notes.push(`the majority side acknowledged nothing during ${p.faults.join(' + ')} (${formatDuration(p.end - p.start)} from ${formatAt(p.start, origin)})`);
    }
  }
  return { verdict: violations.length > 0 ? 'invalid' : 'valid', violations, phases, notes };
}

/** Cuts the run at every fault boundary and counts completions per phase and side. */
function splitPhases(ops: readonly Operation[], timeline: readonly NemesisInterval[]): Phase[] {
  if (ops.length === 0) return [];
  const at = (op: Operation): number => op.completedAt ?? op.invokedAt;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const op of ops) {
    first = Math.min(first, op.invokedAt);
    last = Math.max(last, at(op));
  }
  const cuts = [...new Set(timeline.flatMap((iv) => [iv.start, iv.end ?? last]).filter((t) => t > first && t < last))].sort((a, b) => a - b);
  const bounds = [first, ...cuts, last];
  const phases = bounds.slice(0, -1).map((start, i) => {
    const end = bounds[i + 1]!;
    const active = timeline.filter((iv) => iv.start <= start && (iv.end ?? Number.POSITIVE_INFINITY) >= end);
    return {
      start,
      end,
      faults: active.map((iv) => iv.label),
      minority: [...new Set(active.flatMap((iv) => iv.minority ?? []))].sort((a, b) => a - b),
      sides: { majority: zero(), minority: zero(), unpinned: zero() },
      majorityOkPerSecond: 0,
    };
  });
  for (const op of ops) {
    const t = at(op);
    // The phase whose [start, end) holds t; the last phase also holds its end.
    let lo = 0;
    let hi = phases.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (phases[mid]!.start <= t) lo = mid;
      else hi = mid - 1;
    }
    const phase = phases[lo]!;
    const side: Side = op.node === undefined ? 'unpinned' : phase.minority.includes(op.node) ? 'minority' : 'majority';
    phase.sides[side][op.outcome]++;
  }
  for (const p of phases) {
    const seconds = (p.end - p.start) / NS_PER_S;
    p.majorityOkPerSecond = seconds > 0 ? p.sides.majority.ok / seconds : 0;
  }
  return phases;
}
