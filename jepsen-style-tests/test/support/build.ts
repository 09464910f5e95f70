/**
 * A small language for hand-written histories: each helper is one operation with its invoke and
 * completion times in milliseconds; `history()` turns them into events (nanoseconds) in time
 * order.
 */
import type { AccountState, Op, OpF, OpValue, Scalar, WatchEvent } from '../../src/history/op.js';

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
  /** The ok completion's revision (change, acquire, fenced-write). */
  readonly revision?: number;
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

const withRevision = (s: OpSpec, revision: number | undefined): OpSpec => (revision === undefined || s.type !== 'ok' ? s : { ...s, revision });
/** A put of `v` to `key` (`null`: a delete), acknowledged at `revision`. */
export const change = (p: number, key: string, v: Scalar | null, revision: number | undefined, t0: number, t1: number | undefined, o: Opts = {}): OpSpec =>
  withRevision(spec(p, 'change', v, t0, t1, { key, ...o }), revision);
/** A watch of `prefix` from revision `from` that delivered `events`. */
export const watch = (p: number, prefix: string, from: number, events: readonly WatchEvent[], t0: number, t1: number | undefined, o: Opts = {}): OpSpec =>
  spec(p, 'watch', from, t0, t1, { key: prefix, ...o }, events);
export const acquire = (p: number, token: number | undefined, t0: number, t1: number | undefined, o: Opts = {}): OpSpec =>
  withRevision(spec(p, 'acquire', null, t0, t1, { key: 'lock', ...o }), token);
export const release = (p: number, token: number, t0: number, t1: number | undefined, o: Opts = {}): OpSpec => spec(p, 'release', token, t0, t1, { key: 'lock', ...o });
export const fencedWrite = (p: number, token: number, n: number, revision: number | undefined, t0: number, t1: number | undefined, o: Opts = {}): OpSpec =>
  withRevision(spec(p, 'fenced-write', [token, n], t0, t1, { key: 'res', ...o }), revision);

/** Events of the operations, sorted by time (an invoke before a completion at the same time). */
export function history(...specs: readonly OpSpec[]): Op[] {
  const events: { op: Op; rank: number }[] = [];
  for (const s of specs) {
    const base = { process: s.p, f: s.f, key: s.key, ...(s.node === undefined ? {} : { node: s.node }) };
    events.push({ op: { ...base, type: 'invoke', value: s.value, time: s.invoke * MS }, rank: 0 });
    if (s.complete !== undefined) {
      const value = s.f === 'watch' ? (s.result ?? []) : s.f === 'read' ? (s.type === 'ok' ? (s.result ?? null) : null) : s.value;
      const revision = s.revision === undefined ? {} : { revision: s.revision };
      events.push({ op: { ...base, type: s.type, value, time: s.complete * MS, ...revision }, rank: 1 });
    }
  }
  return events.sort((a, b) => a.op.time - b.op.time || a.rank - b.rank).map((e) => e.op);
}
