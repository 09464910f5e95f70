import type { OpValue, Scalar, TransferValue } from '../history/op.js';
import type { Operation } from '../history/operations.js';

/**
 * The register model: one key's value under read / write / cas / delete, and the operations the
 * linearizability search works on.
 */

export type RegisterF = 'read' | 'write' | 'cas' | 'delete';
export type RegisterValue = Scalar | null;

/** An operation as the search sees it. */
export interface RegisterCall {
  readonly f: RegisterF;
  /** read: `null`; write: the value; cas: `[expected, new]`; delete: `null`. */
  readonly input: OpValue;
  /** For a definite read, what it returned. */
  readonly output: OpValue;
  /**
   * `true` for `ok` operations: they took effect between `call` and `ret`. `false` for
   * indeterminate ones: they may take effect at any time after `call`, or never (`ret` = +∞).
   */
  readonly definite: boolean;
  readonly call: number;
  readonly ret: number;
  /** The recorded operation, for explanations. */
  readonly source: Operation;
}

export function isRegisterF(f: string): f is RegisterF {
  return f === 'read' || f === 'write' || f === 'cas' || f === 'delete';
}

/**
 * The calls the search must place, from one key's operations:
 * - `fail` operations are dropped: they definitely had no effect;
 * - indeterminate reads (`info`, or never completed) are dropped: they change nothing and
 *   nobody saw their result;
 * - indeterminate writes, cas and deletes may take effect at any time after their invoke, or
 *   never: return time +∞;
 * - indeterminate mutations whose new value nobody observed are dropped (`pruneUnobserved`).
 */
export function registerCalls(ops: readonly Operation[]): RegisterCall[] {
  const calls: RegisterCall[] = [];
  for (const op of ops) {
    if (!isRegisterF(op.f)) throw new TypeError(`not a register operation: ${op.f} (line ${op.line})`);
    if (op.outcome === 'fail') continue;
    const definite = op.outcome === 'ok';
    if (op.f === 'read' && !definite) continue;
    if (op.f === 'read' && Array.isArray(op.output)) {
      throw new TypeError(`line ${op.line}: a read that returned a list is a set read; the register checker cannot use it`);
    }
    calls.push({
      f: op.f,
      input: op.input,
      output: op.output,
      definite,
      call: op.invokedAt,
      ret: definite ? (op.completedAt as number) : Number.POSITIVE_INFINITY,
      source: op,
    });
  }
  return pruneUnobserved(calls);
}

/** The value a mutation leaves behind (for a cas, if it swaps). */
export function writtenValue(c: Pick<RegisterCall, 'f' | 'input'>): RegisterValue {
  if (c.f === 'write') return c.input as Scalar;
  if (c.f === 'cas') return (c.input as readonly [Scalar | null, Scalar])[1];
  return null;
}

/**
 * The value an acknowledged operation proves the register held when it took effect: a definite
 * read's result, a successful cas's expected value. Undefined for anything else.
 */
export function observedValue(c: RegisterCall): RegisterValue | undefined {
  if (c.f === 'read') return c.output as RegisterValue;
  if (c.f === 'cas' && c.definite) return (c.input as readonly [Scalar | null, Scalar])[0];
  return undefined;
}

/**
 * The value whose presence an operation reacts to: a read's result, or a cas's expected value
 * (an indeterminate cas swaps only if the register holds it). A mutation whose value nothing
 * reacts to can be removed from a history without making it non-linearizable.
 */
export function reactsTo(c: RegisterCall): RegisterValue | undefined {
  if (c.f === 'read') return c.output as RegisterValue;
  if (c.f === 'cas') return (c.input as readonly [Scalar | null, Scalar])[0];
  return undefined;
}

/** Every value some operation in `calls` reacts to. */
export function observedValues(calls: readonly RegisterCall[]): Set<RegisterValue> {
  const observed = new Set<RegisterValue>();
  for (const c of calls) {
    const v = reactsTo(c);
    if (v !== undefined) observed.add(v);
  }
  return observed;
}

/**
 * Drops every indeterminate mutation whose new value no operation reacts to (`reactsTo`). This
 * never changes the verdict: in a linearization that includes such a mutation, nothing between
 * it and the next change of value observes the value — no read returns it, no cas swaps on it,
 * and an indeterminate cas that then fails to swap is free to never happen — so removing it
 * leaves a linearization of the rest; and a linearization without it is one where it never took
 * effect. (The first half holds for acknowledged mutations too, which is what makes the
 * explainer's shrinking sound.) It keeps histories with many timed-out writes tractable.
 */
export function pruneUnobserved(calls: readonly RegisterCall[]): RegisterCall[] {
  const observed = observedValues(calls);
  return calls.filter((c) => c.definite || observed.has(writtenValue(c)));
}

/** `write 3`, `read → 3`, `read → nil`, `cas 3→4`, `delete`. */
export function describeCall(f: string, input: OpValue, output: OpValue, outcome: string): string {
  const v = (x: unknown): string => (x === null ? 'nil' : JSON.stringify(x));
  switch (f) {
    case 'read':
      return outcome === 'ok' ? `read → ${v(output)}` : 'read';
    case 'cas': {
      const [from, to] = input as readonly [unknown, unknown];
      return `cas ${v(from)}→${v(to)}`;
    }
    case 'delete':
      return 'delete';
    case 'transfer': {
      const t = input as TransferValue;
      return `transfer #${t.id}: ${t.amount} from ${t.from} to ${t.to}`;
    }
    default:
      return `${f} ${v(input)}`;
  }
}
