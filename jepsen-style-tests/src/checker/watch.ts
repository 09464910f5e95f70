import type { Op, Scalar, WatchEvent } from '../history/op.js';
import { pairOperations, type Operation } from '../history/operations.js';
import type { Verdict } from './verdict.js';

/**
 * The watch checker: every watcher delivers exactly the committed changes to its keys, in
 * revision order — no gap, no duplicate, no reordering, nothing that was not committed.
 *
 * What was committed at each revision is known from two sources that must agree: the
 * acknowledged changes (each with its revision) and the events the watchers delivered (an
 * indeterminate change that some watcher delivered was committed). Put values are unique, so an
 * event names its change. Then:
 *
 * - every event comes from a change of that key that did not definitely fail (**phantom**,
 *   **uncommitted**), at the revision the change was acknowledged with (**wrong-revision**), and
 *   every watcher that delivered a (revision, key) delivered the same value (**disagree**);
 * - each watcher's events are in its range — keys under its prefix, revisions from its start
 *   (**out-of-range**) — strictly increasing by (revision, key) (**duplicate**, **reorder**);
 * - from its start to the last revision it delivered, a watcher delivered every committed change
 *   under its prefix (**gap**);
 * - a watcher that ended `ok` — the workload ends a watch that way only once it delivered the
 *   change the workload made last — delivered every change acknowledged before it ended
 *   (**missed**).
 *
 * Unknown when the history has no watch.
 */

export type WatchViolationKind = 'phantom' | 'uncommitted' | 'wrong-revision' | 'disagree' | 'out-of-range' | 'duplicate' | 'reorder' | 'gap' | 'missed';

export interface WatchViolation {
  readonly kind: WatchViolationKind;
  /** The line of the watch (or change) in history.jsonl. */
  readonly line: number;
  readonly text: string;
}

export interface WatcherReport {
  readonly process: number;
  readonly prefix: string;
  readonly from: number;
  readonly outcome: Operation['outcome'];
  readonly delivered: number;
  /** The last revision it delivered; undefined if none. */
  readonly last?: number;
  readonly verdict: Verdict;
}

export interface WatchResult {
  readonly verdict: Verdict;
  readonly reason?: string;
  readonly changes: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Indeterminate puts that a watcher delivered: they were committed. */
  readonly recovered: number;
  readonly watchers: readonly WatcherReport[];
  readonly counts: Readonly<Partial<Record<WatchViolationKind, number>>>;
  /** The first `MAX_REPORTED` violations, in history order. */
  readonly violations: readonly WatchViolation[];
}

export const MAX_REPORTED = 100;

const slot = (revision: number, key: string): string => `${revision} ${key}`;
const showValue = (v: Scalar | null): string => (v === null ? 'a delete' : JSON.stringify(v));
const showEvent = (e: WatchEvent): string => `${showValue(e[2])} of ${JSON.stringify(e[1])} at revision ${e[0]}`;
/** (revision, key) order. */
const compareEvents = (a: WatchEvent, b: WatchEvent): number => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

export function checkWatch(history: readonly Op[]): WatchResult {
  const ops = pairOperations(history);
  const changes = ops.filter((o) => o.f === 'change');
  const watches = ops.filter((o) => o.f === 'watch');
  const changeCounts = {
    ok: changes.filter((c) => c.outcome === 'ok').length,
    fail: changes.filter((c) => c.outcome === 'fail').length,
    info: changes.filter((c) => c.outcome === 'info').length,
  };
  if (watches.length === 0) return { verdict: 'unknown', reason: 'the history has no watch', changes: changeCounts, recovered: 0, watchers: [], counts: {}, violations: [] };

  const violations: WatchViolation[] = [];
  const where = (w: Operation): string => `the watch of ${JSON.stringify(w.key)} from revision ${w.input as number} by p${w.process} (line ${w.line})`;
  const eventsOf = (w: Operation): readonly WatchEvent[] => (w.outcome === 'info' && w.completedAt === undefined ? [] : (w.output as readonly WatchEvent[]));

  // What was committed: (revision, key) → value, from acknowledged changes, then from events.
  const puts = new Map<Scalar, Operation>();
  for (const c of changes) if (c.input !== null) puts.set(c.input as Scalar, c);
  const committed = new Map<string, { event: WatchEvent; by: string }>();
  for (const c of changes) {
    if (c.outcome === 'ok' && c.revision !== undefined) committed.set(slot(c.revision, c.key), { event: [c.revision, c.key, c.input as Scalar | null], by: `the change by p${c.process} (line ${c.line})` });
  }
  const recovered = new Set<Operation>();
  for (const w of watches) {
    for (const e of eventsOf(w)) {
      const [revision, key, value] = e;
      const known = committed.get(slot(revision, key));
      if (known === undefined) committed.set(slot(revision, key), { event: e, by: where(w) });
      else if (known.event[2] !== value) {
        violations.push({ kind: 'disagree', line: w.line, text: `${where(w)} delivered ${showEvent(e)}, but ${known.by} says ${showEvent(known.event)}` });
      }
      // Where the event came from.
      if (value !== null) {
        const c = puts.get(value);
        if (c === undefined || c.key !== key) {
          violations.push({ kind: 'phantom', line: w.line, text: `${where(w)} delivered ${showEvent(e)}, which no change ${c === undefined ? 'put' : `of ${JSON.stringify(key)} put (it was put to ${JSON.stringify(c.key)})`}` });
        } else if (c.outcome === 'fail') {
          violations.push({ kind: 'uncommitted', line: w.line, text: `${where(w)} delivered ${showEvent(e)}, but that change definitely failed (line ${c.line})` });
        } else if (c.outcome === 'ok' && c.revision !== revision) {
          violations.push({ kind: 'wrong-revision', line: w.line, text: `${where(w)} delivered ${showEvent(e)}, but the change was acknowledged at revision ${c.revision} (line ${c.line})` });
        } else if (c.outcome === 'info') recovered.add(c);
      } else {
        const deletes = changes.filter((c) => c.key === key && c.input === null);
        const matches = deletes.some((c) => (c.outcome === 'ok' && c.revision === revision) || c.outcome === 'info');
        if (!matches) violations.push({ kind: 'phantom', line: w.line, text: `${where(w)} delivered ${showEvent(e)}, but no delete of that key was acknowledged at that revision or left indeterminate` });
      }
    }
  }
  const all = [...committed.values()].map((c) => c.event).sort(compareEvents);

  // Each watcher: range, order, no gap, and (ended ok) nothing missed.
  const watchers: WatcherReport[] = [];
  for (const w of watches) {
    const prefix = w.key;
    const from = w.input as number;
    const events = eventsOf(w);
    const report = (kind: WatchViolationKind, text: string): void => {
      violations.push({ kind, line: w.line, text: `${where(w)} ${text}` });
    };
    events.forEach((e, i) => {
      if (!e[1].startsWith(prefix) || e[0] < from) report('out-of-range', `delivered ${showEvent(e)}, outside its range`);
      const prev = events[i - 1];
      if (prev === undefined) return;
      const order = compareEvents(prev, e);
      if (order === 0) report('duplicate', `delivered ${showEvent(e)} twice in a row`);
      else if (order > 0) report('reorder', `delivered ${showEvent(e)} after ${showEvent(prev)}`);
    });
    const last = events.reduce<number | undefined>((m, e) => (m === undefined || e[0] > m ? e[0] : m), undefined);
    const delivered = new Set(events.map((e) => slot(e[0], e[1])));
    const inRange = all.filter((e) => e[1].startsWith(prefix) && e[0] >= from);
    const gap = inRange.filter((e) => last !== undefined && e[0] <= last && !delivered.has(slot(e[0], e[1])));
    if (gap.length > 0) report('gap', `skipped ${gap.length} committed change${gap.length === 1 ? '' : 's'} before its last event (revision ${last}), first ${showEvent(gap[0]!)}`);
    if (w.outcome === 'ok') {
      const acked = changes.filter((c) => c.outcome === 'ok' && c.revision !== undefined && c.key.startsWith(prefix) && c.revision >= from && c.completedAt! < w.completedAt!);
      const missed = acked.filter((c) => !delivered.has(slot(c.revision!, c.key)) && (last === undefined || c.revision! > last));
      if (missed.length > 0) {
        const c = missed[0]!;
        report('missed', `ended without ${missed.length} change${missed.length === 1 ? '' : 's'} acknowledged before it ended, first ${showValue(c.input as Scalar | null)} of ${JSON.stringify(c.key)} at revision ${c.revision} (line ${c.line})`);
      }
    }
    watchers.push({
      process: w.process,
      prefix,
      from,
      outcome: w.outcome,
      delivered: events.length,
      ...(last === undefined ? {} : { last }),
      verdict: 'valid',
    });
  }

  violations.sort((x, y) => x.line - y.line);
  const faulty = new Set(violations.map((v) => v.line));
  watchers.forEach((r, i) => {
    if (faulty.has(watches[i]!.line)) watchers[i] = { ...r, verdict: 'invalid' };
  });
  const counts: Partial<Record<WatchViolationKind, number>> = {};
  for (const v of violations) counts[v.kind] = (counts[v.kind] ?? 0) + 1;
  return {
    verdict: violations.length > 0 ? 'invalid' : 'valid',
    changes: changeCounts,
    recovered: recovered.size,
    watchers,
    counts,
    violations: violations.slice(0, MAX_REPORTED),
  };
}
