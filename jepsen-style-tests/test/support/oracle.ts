/**
 * Linearizability by brute force, straight from the definition, for tiny single-key histories:
 * drop failed operations and indeterminate reads; for every subset of the indeterminate
 * mutations (the ones that took effect), try every order of the chosen operations in which an
 * operation that completed before another began comes first, and replay it on a register that
 * starts absent. Shares no code with the checker.
 */
import type { Operation } from '../../src/history/operations.js';

type Value = number | string | null;

interface Call {
  f: string;
  input: unknown;
  output: unknown;
  definite: boolean;
  call: number;
  ret: number;
}

export function toCalls(ops: readonly Operation[]): Call[] {
  return ops
    .filter((o) => o.outcome !== 'fail' && !(o.f === 'read' && o.outcome !== 'ok'))
    .map((o) => ({
      f: o.f,
      input: o.input,
      output: o.output,
      definite: o.outcome === 'ok',
      call: o.invokedAt,
      ret: o.outcome === 'ok' ? o.completedAt! : Number.POSITIVE_INFINITY,
    }));
}

/** The state after `c`, or undefined if `c` cannot take effect on `state`. */
function apply(c: Call, state: Value): Value | undefined {
  switch (c.f) {
    case 'read':
      return c.output === state ? state : undefined;
    case 'write':
      return c.input as Value;
    case 'delete':
      return null;
    case 'cas': {
      const [from, to] = c.input as [Value, Value];
      if (from === state) return to;
      return c.definite ? undefined : state; // an indeterminate cas that finds another value does nothing
    }
    default:
      throw new Error(`not a register op: ${c.f}`);
  }
}

function someOrder(calls: readonly Call[]): boolean {
  const placed = new Array<boolean>(calls.length).fill(false);
  const go = (state: Value, n: number): boolean => {
    if (n === calls.length) return true;
    for (let j = 0; j < calls.length; j++) {
      if (placed[j]) continue;
      // Every unplaced operation that completed before j began must go first.
      if (calls.some((a, k) => !placed[k] && k !== j && a.ret < calls[j]!.call)) continue;
      const next = apply(calls[j]!, state);
      if (next === undefined) continue;
      placed[j] = true;
      const ok = go(next, n + 1);
      placed[j] = false;
      if (ok) return true;
    }
    return false;
  };
  return go(null, 0);
}

/** Whether the calls of one key can be linearized. */
export function oracleLinearizable(calls: readonly Call[]): boolean {
  const definite = calls.filter((c) => c.definite);
  const maybe = calls.filter((c) => !c.definite);
  for (let mask = 0; mask < 1 << maybe.length; mask++) {
    const chosen = maybe.filter((_, i) => (mask >> i) & 1);
    if (someOrder([...definite, ...chosen])) return true;
  }
  return false;
}
