import type { Op, Scalar } from '../history/op.js';
import { pairOperations, type Operation } from '../history/operations.js';
import { combineVerdicts, type Verdict } from './verdict.js';

/**
 * The set checker (Jepsen's `set`): every client adds unique elements, one key each under the
 * set's prefix; after healing, a final read lists the prefix. That read must contain every
 * acknowledged add and nothing that was never attempted.
 *
 * The final read of a prefix is its last successful read (by invoke time). An add acknowledged
 * after that read began is concurrent with it, so its absence is not a loss.
 */

export interface SetReport {
  /** The set's key prefix (the final read's key). */
  readonly prefix: string;
  readonly verdict: Verdict;
  /** Why the verdict is unknown, when it is. */
  readonly reason?: string;
  /** The final read: its line in history.jsonl and how many elements it returned. */
  readonly finalRead?: { readonly line: number; readonly invokedAt: number; readonly size: number };
  /** Adds invoked under the prefix, and how they ended. */
  readonly adds: { readonly attempted: number; readonly ok: number; readonly fail: number; readonly info: number };
  /** Acknowledged adds present in the final read. */
  readonly okPresent: number;
  /** Acknowledged before the final read began, yet missing from it. Invalid. */
  readonly lost: readonly Scalar[];
  /** Present but never attempted. Invalid. */
  readonly phantom: readonly Scalar[];
  /** Present though the add definitely failed. Invalid. */
  readonly unexpected: readonly Scalar[];
  /** Present more than once. Invalid. */
  readonly duplicated: readonly Scalar[];
  /** Indeterminate adds that turned out to have taken effect. Fine. */
  readonly recovered: readonly Scalar[];
  /** Acknowledged after the final read began and missing from it: concurrent, so not lost. */
  readonly concurrentMissing: readonly Scalar[];
}

export interface SetResult {
  readonly verdict: Verdict;
  readonly sets: readonly SetReport[];
}

const byValue = (a: Scalar, b: Scalar): number =>
  typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));

export function checkSet(history: readonly Op[]): SetResult {
  const ops = pairOperations(history);
  const prefixes = [...new Set(ops.filter((o) => o.f === 'read').map((o) => o.key))].sort();
  const adds = ops.filter((o) => o.f === 'add');
  if (prefixes.length === 0) {
    const reason = 'no read of the set was attempted';
    return { verdict: 'unknown', sets: [emptyReport('', 'unknown', reason, adds)] };
  }
  const sets = prefixes.map((prefix) => checkOneSet(prefix, ops.filter((o) => o.f === 'read' && o.key === prefix), adds.filter((o) => o.key.startsWith(prefix))));
  return { verdict: combineVerdicts(sets.map((s) => s.verdict)), sets };
}

function tally(adds: readonly Operation[]): SetReport['adds'] {
  const n = (outcome: string): number => adds.filter((a) => a.outcome === outcome).length;
  return { attempted: adds.length, ok: n('ok'), fail: n('fail'), info: n('info') };
}

function emptyReport(prefix: string, verdict: Verdict, reason: string, adds: readonly Operation[]): SetReport {
  return { prefix, verdict, reason, adds: tally(adds), okPresent: 0, lost: [], phantom: [], unexpected: [], duplicated: [], recovered: [], concurrentMissing: [] };
}

function checkOneSet(prefix: string, reads: readonly Operation[], adds: readonly Operation[]): SetReport {
  const okReads = reads.filter((r) => r.outcome === 'ok');
  if (okReads.length === 0) return emptyReport(prefix, 'unknown', `no read of ${JSON.stringify(prefix)} succeeded`, adds);
  const final = okReads.reduce((a, b) => (b.invokedAt >= a.invokedAt ? b : a));
  if (!Array.isArray(final.output)) throw new TypeError(`line ${final.line}: a set read must return a list of elements, got ${JSON.stringify(final.output)}`);
  const seen = final.output as readonly Scalar[];
  const present = new Set<Scalar>();
  const duplicated = new Set<Scalar>();
  for (const e of seen) (present.has(e) ? duplicated : present).add(e);
  const outcomes = new Map<Scalar, Operation[]>();
  for (const a of adds) {
    const e = a.input as Scalar;
    outcomes.set(e, [...(outcomes.get(e) ?? []), a]);
  }
  const lost: Scalar[] = [];
  const concurrentMissing: Scalar[] = [];
  const recovered: Scalar[] = [];
  const unexpected: Scalar[] = [];
  let okPresent = 0;
  for (const [e, attempts] of outcomes) {
    const acked = attempts.find((a) => a.outcome === 'ok');
    if (present.has(e)) {
      if (acked !== undefined) okPresent++;
      else if (attempts.some((a) => a.outcome === 'info')) recovered.push(e);
      else unexpected.push(e);
    } else if (acked !== undefined) {
      (acked.completedAt! < final.invokedAt ? lost : concurrentMissing).push(e);
    }
  }
  const phantom = [...present].filter((e) => !outcomes.has(e));
  const sorted = (xs: Scalar[]): Scalar[] => xs.sort(byValue);
  const bad = lost.length + phantom.length + unexpected.length + duplicated.size > 0;
  return {
    prefix,
    verdict: bad ? 'invalid' : 'valid',
    finalRead: { line: final.line, invokedAt: final.invokedAt, size: seen.length },
    adds: tally(adds),
    okPresent,
    lost: sorted(lost),
    phantom: sorted(phantom),
    unexpected: sorted(unexpected),
    duplicated: sorted([...duplicated]),
    recovered: sorted(recovered),
    concurrentMissing: sorted(concurrentMissing),
  };
}
