import type { Op } from '../history/op.js';
import { pairOperations, type Operation } from '../history/operations.js';
import { formatAt, timeZero } from '../history/time.js';
import { combineVerdicts, type Verdict } from './verdict.js';

/**
 * The lock checker. A lock built on leases cannot promise that two clients never believe they
 * hold it at once (a holder that pauses past its lease still believes it does); what it can
 * promise is a **fencing token** — the revision that acquired it, strictly increasing — that a
 * resource uses to refuse a holder that was overtaken. So the checker asks:
 *
 * - per lock, every acknowledged acquire has its own token (**duplicate-token**), and an acquire
 *   that completed before another began has the smaller token (**token-order**);
 * - per resource, the writes the store accepted, in revision order, never go back to a lower
 *   token once a higher one was accepted (**fencing**: two holders' writes interleaved), and no
 *   two share a revision (**revision-reuse**);
 * - a write the fence refused (`fail` without error) had a reason: some write with a higher token
 *   (acknowledged or indeterminate) began before the refusal completed (**wrong-refusal**
 *   otherwise).
 *
 * Holds that overlap in real time are counted, not judged: with leases they happen, and the fence
 * is what makes them harmless. A hold lasts from its acquire's completion to its release's invoke;
 * one its process abandoned (after an indeterminate operation) to the end of that process's last
 * operation, since a retired process does nothing more (an operation never completed: to the end).
 */

export type LockViolationKind = 'duplicate-token' | 'token-order' | 'fencing' | 'revision-reuse' | 'wrong-refusal';

export interface LockViolation {
  readonly kind: LockViolationKind;
  /** The line in history.jsonl of the operation at fault. */
  readonly line: number;
  readonly text: string;
}

export interface LockReport {
  /** The lock's name, or the resource's key. */
  readonly key: string;
  readonly verdict: Verdict;
  readonly violations: readonly LockViolation[];
}

export interface LockResult {
  readonly verdict: Verdict;
  /** Why the verdict is unknown, when it is. */
  readonly reason?: string;
  readonly acquires: { readonly ok: number; readonly fail: number; readonly info: number };
  readonly writes: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Pairs of holds of one lock that overlapped in real time (informative). */
  readonly overlappingHolds: number;
  readonly locks: readonly LockReport[];
  readonly resources: readonly LockReport[];
}

export interface LockOptions {
  /** Time zero for printed times (ns); default the history's first event. */
  readonly origin?: number;
}

const tally = (xs: readonly Operation[]): { ok: number; fail: number; info: number } => ({
  ok: xs.filter((x) => x.outcome === 'ok').length,
  fail: xs.filter((x) => x.outcome === 'fail').length,
  info: xs.filter((x) => x.outcome === 'info').length,
});

function groupBy<K>(ops: readonly Operation[], by: (o: Operation) => K): Map<K, Operation[]> {
  const m = new Map<K, Operation[]>();
  for (const o of ops) {
    const list = m.get(by(o));
    if (list === undefined) m.set(by(o), [o]);
    else list.push(o);
  }
  return m;
}

const byKey = (ops: readonly Operation[]): Map<string, Operation[]> => new Map([...groupBy(ops, (o) => o.key)].sort(([a], [b]) => a.localeCompare(b)));

export function checkLock(history: readonly Op[], options: LockOptions = {}): LockResult {
  const origin = options.origin ?? timeZero(history, []);
  const at = (t: number | undefined): string => (t === undefined ? 'never' : formatAt(t, origin));
  const where = (o: Operation): string => `p${o.process}, line ${o.line}`;
  const ops = pairOperations(history);
  const acquires = ops.filter((o) => o.f === 'acquire');
  const releases = ops.filter((o) => o.f === 'release');
  const writes = ops.filter((o) => o.f === 'fenced-write');
  const base = { acquires: tally(acquires), writes: tally(writes) };
  const okAcquires = acquires.filter((a) => a.outcome === 'ok');
  const byProcess = groupBy(ops, (o) => o.process);
  if (okAcquires.length === 0) return { verdict: 'unknown', reason: 'no acquire succeeded', ...base, overlappingHolds: 0, locks: [], resources: [] };
  const token = (o: Operation): number => {
    if (o.revision === undefined) throw new TypeError(`line ${o.line}: an ok acquire must carry its token as revision`);
    return o.revision;
  };

  // Per lock: unique tokens, increasing in real time; overlapping holds counted.
  let overlappingHolds = 0;
  const locks: LockReport[] = [];
  for (const [key, list] of byKey(okAcquires)) {
    const violations: LockViolation[] = [];
    const byToken = new Map<number, Operation>();
    for (const a of list) {
      const other = byToken.get(token(a));
      if (other !== undefined) violations.push({ kind: 'duplicate-token', line: a.line, text: `acquires of ${JSON.stringify(key)} by ${where(other)} and ${where(a)} both got token ${token(a)}` });
      else byToken.set(token(a), a);
    }
    // token-order: sweep acquires by invoke time, knowing the largest token completed before each began.
    const completed = [...list].sort((x, y) => x.completedAt! - y.completedAt!);
    let next = 0;
    let highest: Operation | undefined;
    for (const b of [...list].sort((x, y) => x.invokedAt - y.invokedAt)) {
      for (; next < completed.length && completed[next]!.completedAt! < b.invokedAt; next++) {
        const c = completed[next]!;
        if (highest === undefined || token(c) > token(highest)) highest = c;
      }
      if (highest !== undefined && token(highest) >= token(b)) {
        violations.push({
          kind: 'token-order',
          line: b.line,
          text: `the acquire of ${JSON.stringify(key)} by ${where(b)}, invoked ${at(b.invokedAt)}, got token ${token(b)}, not above token ${token(highest)} of the acquire by ${where(highest)} that completed ${at(highest.completedAt)}`,
        });
      }
    }
    // Holds: from an ok acquire's completion to the invoke of its process's release of that token,
    // or, for a hold its process abandoned (it retired after an info), to the end of the process's last operation.
    const holds = list.map((a) => {
      const release = releases.find((r) => r.process === a.process && r.key === key && r.input === token(a) && r.invokedAt >= a.completedAt!);
      if (release !== undefined) return { start: a.completedAt!, end: release.invokedAt };
      const last = (byProcess.get(a.process) ?? []).reduce((t, o) => Math.max(t, o.completedAt ?? Number.POSITIVE_INFINITY), a.completedAt!);
      return { start: a.completedAt!, end: last };
    });
    holds.sort((x, y) => x.start - y.start);
    for (let i = 0; i < holds.length; i++) {
      for (let j = i + 1; j < holds.length && holds[j]!.start < holds[i]!.end; j++) overlappingHolds++;
    }
    locks.push({ key, verdict: violations.length > 0 ? 'invalid' : 'valid', violations });
  }

  // Per resource: accepted writes never go back to a lower token; refusals have a reason.
  const resources: LockReport[] = [];
  for (const [key, list] of byKey(writes)) {
    const violations: LockViolation[] = [];
    const tokenOf = (w: Operation): number => (w.input as readonly [number, number])[0];
    const accepted = list.filter((w) => w.outcome === 'ok').sort((x, y) => x.revision! - y.revision!);
    let highest: Operation | undefined;
    for (let i = 0; i < accepted.length; i++) {
      const w = accepted[i]!;
      if (w.revision === undefined) throw new TypeError(`line ${w.line}: an ok fenced-write must carry its revision`);
      if (i > 0 && accepted[i - 1]!.revision === w.revision) {
        violations.push({ kind: 'revision-reuse', line: w.line, text: `writes to ${JSON.stringify(key)} by ${where(accepted[i - 1]!)} and ${where(w)} were both accepted at revision ${w.revision}` });
      }
      if (highest !== undefined && tokenOf(w) < tokenOf(highest)) {
        violations.push({
          kind: 'fencing',
          line: w.line,
          text: `${JSON.stringify(key)} accepted a write under token ${tokenOf(w)} (${where(w)}) at revision ${w.revision}, after it had accepted token ${tokenOf(highest)} (${where(highest)}) at revision ${highest.revision}`,
        });
      }
      if (highest === undefined || tokenOf(w) > tokenOf(highest)) highest = w;
    }
    for (const r of list) {
      if (r.outcome !== 'fail' || r.error !== undefined) continue;
      const reason = list.some((w) => w.outcome !== 'fail' && tokenOf(w) > tokenOf(r) && w.invokedAt <= r.completedAt!);
      if (!reason) {
        violations.push({
          kind: 'wrong-refusal',
          line: r.line,
          text: `${JSON.stringify(key)} refused the write under token ${tokenOf(r)} (${where(r)}, completed ${at(r.completedAt)}), though no write with a higher token had begun`,
        });
      }
    }
    violations.sort((x, y) => x.line - y.line);
    resources.push({ key, verdict: violations.length > 0 ? 'invalid' : 'valid', violations });
  }

  const verdict = combineVerdicts([...locks, ...resources].map((r) => r.verdict));
  return { verdict, ...base, overlappingHolds, locks, resources };
}
