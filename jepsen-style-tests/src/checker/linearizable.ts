import type { Op } from '../history/op.js';
import { pairOperations, type Operation } from '../history/operations.js';
import { timeZero } from '../history/time.js';
import { explainViolation, type Explanation } from './explain.js';
import { isRegisterF, registerCalls } from './register.js';
import { searchLinearization } from './search.js';
import { combineVerdicts, type Verdict } from './verdict.js';

/**
 * Per-key linearizability of a register with read / write / cas / delete.
 *
 * Each key is an independent register that starts absent (P-compositionality: a history is
 * linearizable iff every key's sub-history is), checked by `searchLinearization`. `fail`
 * operations are dropped (definitely no effect), indeterminate reads are dropped, indeterminate
 * mutations may take effect at any time after their invoke or never. A key whose search runs out
 * of budget is `unknown`, never `valid`. An invalid key comes with the smallest slice of its
 * history that cannot be linearized, spelled out (`Explanation`).
 */

export interface LinearizabilityOptions {
  /** Search steps per key before the key is `unknown`. Default 1,000,000 (about a second; the memo table stays near 100 MB at worst). */
  readonly maxStepsPerKey?: number;
  /** Wall-clock limit per key in ms, on top of the steps; unset by default so verdicts are reproducible. */
  readonly timeoutMsPerKey?: number;
  /** Shrink and explain invalid keys (default true). */
  readonly explain?: boolean;
  /** Search attempts spent shrinking one invalid key (default 400). */
  readonly maxShrinkChecks?: number;
  /** Time zero for printed times (ns); default the history's first event. */
  readonly origin?: number;
}

export const DEFAULT_MAX_STEPS_PER_KEY = 1_000_000;
export const DEFAULT_MAX_SHRINK_CHECKS = 400;

export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  /** Operations recorded on the key. */
  readonly ops: number;
  /** Operations the search had to place (after dropping failed ops, indeterminate reads and unobserved indeterminate writes). */
  readonly searched: number;
  readonly steps: number;
  /** Invalid keys: the smallest non-linearizable slice, explained. */
  readonly explanation?: Explanation;
  /** Unknown keys: why the search stopped. */
  readonly reason?: string;
}

export interface LinearizabilityResult {
  readonly verdict: Verdict;
  readonly counts: { readonly valid: number; readonly invalid: number; readonly unknown: number };
  /** Every key, invalid first, then unknown, then valid; keys in natural order within each. */
  readonly keys: readonly KeyResult[];
}

const collator = new Intl.Collator('en', { numeric: true });
const rank: Record<Verdict, number> = { invalid: 0, unknown: 1, valid: 2 };

export function checkLinearizable(history: readonly Op[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const maxSteps = options.maxStepsPerKey ?? DEFAULT_MAX_STEPS_PER_KEY;
  const origin = options.origin ?? timeZero(history);
  const byKey = new Map<string, Operation[]>();
  for (const op of pairOperations(history)) {
    if (!isRegisterF(op.f)) continue;
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  const keys: KeyResult[] = [];
  for (const [key, ops] of byKey) {
    const calls = registerCalls(ops);
    const deadlineMs = options.timeoutMsPerKey === undefined ? undefined : performance.now() + options.timeoutMsPerKey;
    const outcome = searchLinearization(calls, { maxSteps, ...(deadlineMs === undefined ? {} : { deadlineMs }) });
    const base = { key, verdict: outcome.verdict, ops: ops.length, searched: calls.length, steps: outcome.steps };
    if (outcome.verdict === 'unknown') {
      keys.push({ ...base, reason: `${outcome.reason}, after placing at most ${outcome.deepest} of ${calls.length} operations` });
    } else if (outcome.verdict === 'invalid' && options.explain !== false) {
      const explanation = explainViolation(key, calls, ops, { maxSteps, maxChecks: options.maxShrinkChecks ?? DEFAULT_MAX_SHRINK_CHECKS, origin });
      keys.push({ ...base, explanation });
    } else {
      keys.push(base);
    }
  }
  keys.sort((a, b) => rank[a.verdict] - rank[b.verdict] || collator.compare(a.key, b.key));
  const count = (v: Verdict): number => keys.filter((k) => k.verdict === v).length;
  return {
    verdict: combineVerdicts(keys.map((k) => k.verdict)),
    counts: { valid: count('valid'), invalid: count('invalid'), unknown: count('unknown') },
    keys,
  };
}
