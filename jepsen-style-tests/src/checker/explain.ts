import type { Operation } from '../history/operations.js';
import { formatAt } from '../history/time.js';
import { describeCall, isRegisterF, observedValue, reactsTo, writtenValue, type RegisterCall, type RegisterValue } from './register.js';
import { searchLinearization } from './search.js';

/**
 * Turns a non-linearizable key history into a small slice that still cannot be linearized,
 * spelled out in words.
 *
 * The slice must prove something about the whole history, so shrinking only uses changes that
 * can never turn a linearizable history into a non-linearizable one:
 * - cutting at time T: operations completed by T kept, those still running at T made
 *   indeterminate, later ones dropped (a linearization of the history, restricted, is one of
 *   the cut);
 * - leaving out operations that no kept operation can have observed (`unobserved`): reads, and
 *   mutations whose value every kept operation reacting to it was shielded from by a kept,
 *   acknowledged mutation that began after the left-out one completed and completed before the
 *   observer began — vacuously so when nothing kept reacts to the value (in a linearization of
 *   the whole, the state each kept operation saw was then written by a kept operation, so the
 *   same order restricted to the kept ones still works);
 * - weakening an acknowledged cas to a plain write of its new value (every linearization of the
 *   cas is one of the write).
 * So if the slice cannot be linearized, neither can the history. The steps: binary search for
 * the earliest failing cut; try weakening every cas at once; binary search for the latest
 * window start (plus what the window's operations may have observed); then greedy removal of
 * chunks down to single operations, and single weakenings, until nothing changes.
 */

/** An operation of the slice, numbered `#n` in invoke order. */
export interface SliceOp {
  readonly n: number;
  readonly process: number;
  readonly f: string;
  /** `write 3`, `read → 3`, `cas 1→4`, `delete`. */
  readonly label: string;
  /**
   * `ok`; `info` for an indeterminate mutation whose value the slice observes; `running` for an
   * acknowledged mutation that completed only after the slice's last completion, which the
   * slice lets take effect at any time after its invoke (or never).
   */
  readonly outcome: 'ok' | 'info' | 'running';
  readonly invokedAt: number;
  /** Undefined for an indeterminate operation the history never completed. */
  readonly completedAt: number | undefined;
  readonly line: number;
  readonly node?: number;
}

export interface Explanation {
  readonly ops: readonly SliceOp[];
  /** True when shrinking finished: no single operation of the slice can be left out. */
  readonly minimal: boolean;
  /** The explanation, one sentence or table row per line. */
  readonly lines: readonly string[];
}

export interface ExplainOptions {
  /** Search steps per shrinking attempt. */
  readonly maxSteps: number;
  /** Shrinking attempts in all; when they run out the slice is reported as it stands. */
  readonly maxChecks: number;
  /** Time zero for the printed times (ns). */
  readonly origin: number;
}

/** Orders of the slice are enumerated for the explanation only up to this many operations. */
const MAX_ENUMERATED = 8;

/**
 * Shrinks and explains. `calls` cannot be linearized; `keyOps` are all recorded operations on the
 * key (including failed ones), used to say where an observed value came from.
 */
export function explainViolation(key: string, calls: readonly RegisterCall[], keyOps: readonly Operation[], options: ExplainOptions): Explanation {
  const { slice, minimal } = smallestViolation(calls, options);
  const ordered = [...slice].sort((a, b) => a.call - b.call || a.ret - b.ret);
  const ops: SliceOp[] = ordered.map((c, i) => ({
    n: i + 1,
    process: c.source.process,
    f: c.source.f,
    label: describeCall(c.source.f, c.source.input, c.output, 'ok'),
    outcome: c.definite ? 'ok' : c.source.outcome === 'ok' ? 'running' : 'info',
    invokedAt: c.call,
    completedAt: c.source.completedAt,
    line: c.source.line,
    ...(c.source.node === undefined ? {} : { node: c.source.node }),
  }));
  return { ops, minimal, lines: describeSlice(key, ordered, ops, keyOps, minimal, options.origin) };
}

/**
 * The shrinking on its own: a slice (possibly with weakened or indeterminate calls) that cannot
 * be linearized, and whether shrinking finished within `maxChecks`.
 */
export function smallestViolation(calls: readonly RegisterCall[], options: Pick<ExplainOptions, 'maxSteps' | 'maxChecks'>): { slice: RegisterCall[]; minimal: boolean } {
  let checks = 0;
  const invalid = (cs: readonly RegisterCall[]): boolean => {
    checks++;
    return searchLinearization(cs, { maxSteps: options.maxSteps }).verdict === 'invalid';
  };
  const budgetLeft = (): boolean => checks < options.maxChecks;

  // 1. The earliest failing cut, by binary search over the completion times.
  const cut = (t: number): RegisterCall[] => cutAt(calls, t);
  const rets = [...new Set(calls.filter((c) => c.definite).map((c) => c.ret))].sort((a, b) => a - b);
  if (rets.length === 0) return { slice: [...calls], minimal: false }; // nothing definite: cannot fail
  let lo = 0;
  let hi = rets.length - 1; // the cut at the last completion fails: it only drops what nothing could see
  while (lo < hi && budgetLeft()) {
    const mid = (lo + hi) >>> 1;
    if (invalid(cut(rets[mid]!))) hi = mid;
    else lo = mid + 1;
  }
  let current = cut(rets[hi]!);

  // 2. Every acknowledged cas weakened to a write, if the contradiction survives it.
  if (current.some(isWeakenable)) {
    const weakened = current.map((c) => (isWeakenable(c) ? weaken(c) : c));
    if (invalid(weakened)) current = weakened;
  }

  // 3. The latest window start whose window (with what it may have observed) still fails.
  const starts = [...new Set(current.map((c) => c.call))].sort((a, b) => a - b);
  const window = (s: number): RegisterCall[] => withObserved(current, (c) => c.call >= s);
  lo = 0;
  hi = starts.length - 1;
  while (lo < hi && budgetLeft()) {
    const mid = (lo + hi + 1) >>> 1;
    if (invalid(window(starts[mid]!))) lo = mid;
    else hi = mid - 1;
  }
  current = window(starts[lo]!); // starts[0] is the whole of current

  // 4. Greedy removal (chunks, then single operations) and single weakenings.
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  for (;;) {
    let changed = false;
    for (let i = 0; i < current.length && budgetLeft(); ) {
      const kept = [...current.slice(0, i), ...current.slice(i + chunk)];
      if (kept.length > 0 && unobserved(current.slice(i, i + chunk), kept).length === chunk && invalid(kept)) {
        current = kept;
        changed = true;
      } else {
        i += chunk;
      }
    }
    if (chunk === 1) {
      for (let i = 0; i < current.length && budgetLeft(); i++) {
        if (!isWeakenable(current[i]!)) continue;
        const candidate = current.map((c, j) => (j === i ? weaken(c) : c));
        if (invalid(candidate)) {
          current = candidate;
          changed = true;
        }
      }
    }
    if (!budgetLeft()) return { slice: current, minimal: false };
    if (chunk === 1 && !changed) return { slice: current, minimal: true };
    if (chunk > 1) chunk = Math.ceil(chunk / 2);
  }
}

/**
 * The history as of time t: operations completed by t, those still running at t as
 * indeterminate mutations (running reads dropped), nothing invoked later.
 */
export function cutAt(calls: readonly RegisterCall[], t: number): RegisterCall[] {
  return calls.flatMap((c) => {
    if (c.ret <= t) return [c];
    if (c.call > t || c.f === 'read') return [];
    return [{ ...c, definite: false, ret: Number.POSITIVE_INFINITY }];
  });
}

export const isWeakenable = (c: RegisterCall): boolean => c.f === 'cas' && c.definite;

/** An acknowledged cas as a plain write of its new value; the source still shows the cas. */
export function weaken(c: RegisterCall): RegisterCall {
  return { ...c, f: 'write', input: writtenValue(c) };
}

/**
 * The operations of `outside` that can be left out of `kept`: reads, mutations whose value no
 * kept operation reacts to, and deletes such that every kept operation reacting to nil began
 * after some kept, acknowledged mutation that itself began after the delete completed (so it
 * cannot have seen that delete's nil). The shield is sound for any value, but a written value
 * (unique per key) keeps its writer so the explanation can name where it came from; nil is what
 * every delete writes, and only the deletes that could matter are worth showing.
 */
export function unobserved(outside: readonly RegisterCall[], kept: readonly RegisterCall[]): RegisterCall[] {
  const mutations = kept.filter((m) => m.definite && m.f !== 'read');
  const observed = new Set<RegisterValue>();
  // For each kept operation reacting to nil: the latest start of a kept mutation that completed before it began.
  const nilShields: number[] = [];
  for (const o of kept) {
    const v = reactsTo(o);
    if (v === undefined) continue;
    observed.add(v);
    if (v !== null) continue;
    let latest = Number.NEGATIVE_INFINITY;
    for (const m of mutations) if (m.ret < o.call && m.call > latest) latest = m.call;
    nilShields.push(latest);
  }
  return outside.filter((c) => {
    if (c.f === 'read') return true;
    const v = writtenValue(c);
    return v === null ? nilShields.every((latest) => c.ret < latest) : !observed.has(v);
  });
}

/** The calls `keep` selects, plus (until nothing changes) every other call they may have observed. */
function withObserved(calls: readonly RegisterCall[], keep: (c: RegisterCall) => boolean): RegisterCall[] {
  const inside = new Set(calls.filter(keep));
  for (;;) {
    const kept = calls.filter((c) => inside.has(c));
    const outside = calls.filter((c) => !inside.has(c));
    const free = new Set(unobserved(outside, kept));
    const needed = outside.filter((c) => !free.has(c));
    if (needed.length === 0) return kept;
    for (const c of needed) inside.add(c);
  }
}

const show = (v: RegisterValue | undefined): string => (v === null || v === undefined ? 'nil' : JSON.stringify(v));
const mutates = (c: RegisterCall): boolean => c.f !== 'read';
const label = (c: RegisterCall): string => describeCall(c.source.f, c.source.input, c.output, 'ok');

function describeSlice(
  key: string,
  calls: readonly RegisterCall[],
  ops: readonly SliceOp[],
  keyOps: readonly Operation[],
  minimal: boolean,
  origin: number,
): string[] {
  const count = ops.length === 1 ? 'this operation' : `these ${ops.length} operations`;
  const lines = [
    `Key ${JSON.stringify(key)}: ${count} cannot be linearized` +
      (minimal ? '.' : ' (shrinking stopped at its budget; a smaller slice may exist).'),
  ];
  for (const op of ops) {
    const node = op.node === undefined ? '' : `, node ${op.node}`;
    const end =
      op.outcome === 'ok'
        ? `ok ${formatAt(op.completedAt!, origin)}`
        : op.outcome === 'running'
          ? `still running after the others completed (ok only at ${formatAt(op.completedAt!, origin)})`
          : op.completedAt === undefined
            ? 'never completed (indeterminate)'
            : `info ${formatAt(op.completedAt, origin)} (indeterminate)`;
    lines.push(`  #${op.n}  p${op.process} ${op.label}  invoked ${formatAt(op.invokedAt, origin)}, ${end}  (line ${op.line}${node})`);
  }
  const facts = precedenceFacts(calls);
  if (facts.length > 0) lines.push(`Real-time order: ${facts.join('; ')}.`);
  else if (calls.length > 1) lines.push('Real-time order: all of them overlap in time, so any order is allowed.');
  const reasons = calls.flatMap((_, i) => observationReason(calls, i, keyOps, origin) ?? []);
  if (reasons.length > 0) for (const r of reasons) lines.push(`Why: ${r}`);
  else lines.push(`Why: ${furthestOrder(calls)}`);
  const others = keyOps.length - ops.length;
  if (others > 0) {
    lines.push(
      `The key's other ${others} operation${others === 1 ? '' : 's'} cannot resolve this: failed ones never took effect, reads change nothing, ` +
        'later ones began after these completed, and no operation here can have seen what the rest wrote.',
    );
  }
  return lines;
}

/** `#1 completed before #2 began`, only for pairs not implied by a chain through a third. */
function precedenceFacts(calls: readonly RegisterCall[]): string[] {
  const before = (a: RegisterCall, b: RegisterCall): boolean => a.ret < b.call;
  const facts: string[] = [];
  calls.forEach((a, i) =>
    calls.forEach((b, j) => {
      if (before(a, b) && !calls.some((c) => before(a, c) && before(c, b))) facts.push(`#${i + 1} completed before #${j + 1} began`);
    }),
  );
  return facts;
}

/**
 * A sentence when operation `i` observed a value (a read's result, a cas's expected value) that
 * real time forbids: every operation of the slice that writes it either began after `i`
 * completed, or was provably overwritten before `i` began — by a mutation, or as another
 * operation saw — and the key started absent only if it was provably written before. Undefined
 * when that is not the case.
 */
function observationReason(calls: readonly RegisterCall[], i: number, keyOps: readonly Operation[], origin: number): string | undefined {
  const r = calls[i]!;
  const v = observedValue(r);
  if (v === undefined) return undefined;
  const name = `#${i + 1}`;
  /**
   * Proof that the key held something other than v between `after` and r's start: a mutation to
   * another value, or an operation that saw another value, inside that span.
   */
  const gone = (after: number): { k: number; saw: boolean } | undefined => {
    const m = calls.findIndex((c) => c !== r && c.definite && mutates(c) && writtenValue(c) !== v && c.call > after && c.ret < r.call);
    if (m >= 0) return { k: m, saw: false };
    const o = calls.findIndex((c) => c !== r && c.definite && observedValue(c) !== undefined && observedValue(c) !== v && c.call > after && c.ret < r.call);
    return o >= 0 ? { k: o, saw: true } : undefined;
  };
  const cite = (g: { k: number; saw: boolean }): string =>
    g.saw ? `#${g.k + 1} (${label(calls[g.k]!)}) saw ${show(observedValue(calls[g.k]!))}` : `#${g.k + 1} (${label(calls[g.k]!)}) overwrote it`;
  const why: string[] = [];
  if (v === null) {
    const g = gone(Number.NEGATIVE_INFINITY);
    if (g === undefined) return undefined;
    why.push(`the key was no longer absent: ${cite(g)}, completing before ${name} began`);
  }
  const writers = calls.flatMap((w, j) => (w !== r && mutates(w) && writtenValue(w) === v ? [j] : []));
  for (const j of writers) {
    const w = calls[j]!;
    if (w.call > r.ret) {
      why.push(`#${j + 1} (${label(w)}) only began after ${name} completed`);
      continue;
    }
    // When w took effect at the latest: when it completed, or — for an indeterminate w that alone
    // writes v — when another operation that saw v completed.
    let done: number | undefined = w.definite ? w.ret : undefined;
    let witness = -1;
    if (!w.definite && v !== null && writers.length === 1) {
      calls.forEach((o, k) => {
        if (o !== r && o.definite && observedValue(o) === v && (done === undefined || o.ret < done)) {
          done = o.ret;
          witness = k;
        }
      });
    }
    if (done === undefined) return undefined; // it may have taken effect just before r
    const g = gone(done);
    if (g === undefined) return undefined;
    const when = witness < 0 ? `#${j + 1} completed` : `#${j + 1} took effect`;
    why.push(
      `${witness < 0 ? `#${j + 1} (${label(w)})` : `#${j + 1} (${label(w)}, ${w.source.outcome === 'ok' ? 'still running' : 'indeterminate'}) took effect before #${witness + 1} completed, since #${witness + 1} saw ${show(v)}, and`} ` +
        `was gone before ${name} began: ${cite(g)}, beginning after ${when} and completing before ${name} began`,
    );
  }
  if (v !== null && writers.length === 0) why.push(`none of these operations writes ${show(v)}: ${provenance(v, r, keyOps, origin)}`);
  const saw = r.f === 'read' ? `${name} read ${show(v)}` : `${name} (${label(r)}) swapped on ${show(v)}`;
  return `${saw}, but ${why.join('; and ')}.`;
}

/** Where a value came from in the whole key history, for a value no operation of the slice writes. */
function provenance(v: RegisterValue, r: RegisterCall, keyOps: readonly Operation[], origin: number): string {
  const attempts = keyOps.filter((o) => (o.f === 'write' || o.f === 'cas') && isRegisterF(o.f) && writtenValue({ f: o.f, input: o.input }) === v);
  if (attempts.length === 0) return `no operation in the history ever tried to write ${show(v)} to this key`;
  return attempts
    .map((o) => {
      const what = `p${o.process}'s ${describeCall(o.f, o.input, o.output, o.outcome)} (line ${o.line})`;
      if (o.outcome === 'fail') return `${what} failed, so it definitely did not take effect${o.error ? ` (${o.error.code})` : ''}`;
      if (o.invokedAt > r.ret) return `${what} was invoked at ${formatAt(o.invokedAt, origin)}, after ${r.f === 'read' ? 'the read' : 'the cas'} completed`;
      return `${what} could not have taken effect in time either`;
    })
    .join('; ');
}

/**
 * Enumerates the orders of a small slice that respect real time (indeterminate operations may
 * also never happen) and describes the one that places the most acknowledged operations: where
 * it stops and what the operations that could come next needed.
 */
function furthestOrder(calls: readonly RegisterCall[]): string {
  if (calls.length > MAX_ENUMERATED) return 'no order of these operations that respects real time explains every result (too many to list the orders).';
  const placed = new Array<boolean>(calls.length).fill(false);
  const order: number[] = [];
  let best = { order: [] as number[], placedOk: -1, state: null as RegisterValue, placed: [...placed] };
  const visit = (state: RegisterValue, placedOk: number): void => {
    if (placedOk > best.placedOk) best = { order: [...order], placedOk, state, placed: [...placed] };
    calls.forEach((c, j) => {
      if (!canGoNext(calls, placed, j)) return;
      const need = observedValue(c);
      if (need !== undefined && need !== state) return;
      const swaps = c.f !== 'cas' || c.definite || (c.input as readonly unknown[])[0] === state;
      placed[j] = true;
      order.push(j);
      visit(mutates(c) && swaps ? writtenValue(c) : state, placedOk + (c.definite ? 1 : 0));
      order.pop();
      placed[j] = false;
    });
  };
  visit(null, 0);
  const prefix =
    best.order.length === 0
      ? 'no operation can go first'
      : `the furthest any order that respects real time gets is ${best.order.map((j) => `#${j + 1}`).join(', ')}`;
  const stuck = calls.flatMap((c, j) =>
    c.definite && canGoNext(calls, best.placed, j) ? [`#${j + 1} (${label(c)}) needs ${show(observedValue(c))}`] : [],
  );
  return `${prefix}, leaving the key ${best.state === null ? 'absent' : `holding ${show(best.state)}`}; then ${stuck.join(', and ')}.`;
}

/** Whether operation j is unplaced and every operation that completed before it began is placed. */
function canGoNext(calls: readonly RegisterCall[], placed: readonly boolean[], j: number): boolean {
  if (placed[j]) return false;
  const start = calls[j]!.call;
  return calls.every((a, k) => placed[k] || a.ret >= start);
}
