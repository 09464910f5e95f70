/**
 * A small language for hand-written histories: each helper is one operation with its invoke and
 * completion times in milliseconds; `history()` turns them into events (nanoseconds) in time
 * order.
 */
import type { AccountState, Op, OpF, OpValue, Scalar } from '../../src/history/op.js';

const MS = 1_000_000;

export interface OpSpec {
  readonly p: number;
  readonly f: OpF;
  readonly key: string;
  readonly value: OpValue;
  /** What an ok read returned. */
  readonly result?: OpValue;
  readonly type: 'ok' | 'fail' | 'info';
  readonly invoke: number;
  /** Undefined: the history ends with the operation outstanding. */
  readonly complete: number | undefined;
  readonly node?: number;
}

type Opts = { key?: string; type?: 'ok' | 'fail' | 'info'; node?: number };

const spec = (p: number, f: OpF, value: OpValue, invoke: number, complete: number | undefined, o: Opts, result?: OpValue): OpSpec => ({
  p,
  f,
  key: o.key ?? 'k',
  value,
  type: o.type ?? 'ok',
  invoke,
  complete,
  ...(result === undefined ? {} : { result }),
  ...(o.node === undefined ? {} : { node: o.node }),
});

export const write = (p: number, v: Scalar, t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'write', v, t0, t1, o);
export const read = (p: number, result: Scalar | null, t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'read', null, t0, t1, o, result);
export const cas = (p: number, from: Scalar | null, to: Scalar, t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'cas', [from, to], t0, t1, o);
export const del = (p: number, t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'delete', null, t0, t1, o);
export const add = (p: number, e: Scalar, t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'add', e, t0, t1, { key: `set/${e}`, ...o });
export const readSet = (p: number, elements: readonly Scalar[], t0: number, t1: number, o: Opts = {}): OpSpec => spec(p, 'read', null, t0, t1, { key: 'set/', ...o }, elements);

export const init = (p: number, balances: readonly number[], t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'init', balances, t0, t1, { key: 'bank/', ...o });
/** A transfer of `amount` from `from` to `to`, expecting `[balance, transfer]` of each. */
export const transfer = (
  p: number,
  t: { id: number; from: number; to: number; amount: number; expect: readonly [AccountState, AccountState] },
  t0: number,
  t1: number | undefined,
  o: Opts = {},
): OpSpec => spec(p, 'transfer', t, t0, t1, { key: 'bank/', ...o });
export const readBank = (p: number, accounts: readonly (AccountState | null)[], t0: number, t1: number, o: Opts = {}): OpSpec => spec(p, 'read', null, t0, t1, { key: 'bank/', ...o }, accounts);

/** Events of the operations, sorted by time (an invoke before a completion at the same time). */
export function history(...specs: readonly OpSpec[]): Op[] {
  const events: { op: Op; rank: number }[] = [];
  for (const s of specs) {
    const base = { process: s.p, f: s.f, key: s.key, ...(s.node === undefined ? {} : { node: s.node }) };
    events.push({ op: { ...base, type: 'invoke', value: s.value, time: s.invoke * MS }, rank: 0 });
    if (s.complete !== undefined) {
      const value = s.f === 'read' ? (s.type === 'ok' ? (s.result ?? null) : null) : s.value;
      events.push({ op: { ...base, type: s.type, value, time: s.complete * MS }, rank: 1 });
    }
  }
  return events.sort((a, b) => a.op.time - b.op.time || a.rank - b.rank).map((e) => e.op);
}
