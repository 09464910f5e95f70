/**
 * The server simulator's own machinery: the linearizability checker against hand-made histories,
 * and the simulated disk's durability model under the production stores.
 */
import { describe, expect, it } from 'vitest';
import { checkRegister, SimDisk, type HistoryOp } from '../src/testing/index.js';
import { openNodeStores } from '../src/storage/index.js';

const w = (call: number, ret: number, value: string): HistoryOp => ({ call, ret, op: { f: 'write', value }, label: `w ${value}` });
const r = (call: number, ret: number, value: string | null): HistoryOp => ({ call, ret, op: { f: 'read', value }, label: `r ${value}` });

describe('checkRegister (Wing–Gong / Lowe)', () => {
  it('accepts histories a register could produce, including overlapping operations', () => {
    expect(checkRegister([w(0, 10, 'a'), r(11, 12, 'a'), w(13, 20, 'b'), r(14, 15, 'a'), r(21, 22, 'b')]).ok).toBe(true);
    // Concurrent with the write: either value is fine.
    expect(checkRegister([w(0, 10, 'a'), w(20, 40, 'b'), r(25, 30, 'a'), r(31, 35, 'b')]).ok).toBe(true);
  });

  it('refuses a stale read and a value that goes back in time', () => {
    expect(checkRegister([w(0, 10, 'a'), w(11, 20, 'b'), r(21, 22, 'a')]).ok).toBe(false);
    expect(checkRegister([w(0, 10, 'a'), w(20, 40, 'b'), r(25, 30, 'b'), r(31, 35, 'a')]).ok).toBe(false);
    expect(checkRegister([r(0, 1, 'never written')]).ok).toBe(false);
  });

  it('lets a write of unknown outcome take effect at any later time, or never', () => {
    const unknown: HistoryOp = { call: 5, ret: Number.POSITIVE_INFINITY, op: { f: 'write', value: 'x' }, label: 'w x ?' };
    expect(checkRegister([w(0, 1, 'a'), unknown, r(10, 11, 'a')]).ok).toBe(true);
    expect(checkRegister([w(0, 1, 'a'), unknown, r(10, 11, 'x'), r(12, 13, 'x')]).ok).toBe(true);
    expect(checkRegister([w(0, 1, 'a'), unknown, r(10, 11, 'x'), r(12, 13, 'a')]).ok).toBe(false);
    // Not before it was invoked.
    expect(checkRegister([w(0, 1, 'a'), r(2, 3, 'x'), unknown]).ok).toBe(false);
  });

  it('checks CAS and delete answers against the register', () => {
    const cas = (call: number, ret: number, expect: string | null, value: string, succeeded: boolean): HistoryOp => ({
      call,
      ret,
      op: { f: 'cas', expect, value, succeeded },
      label: 'cas',
    });
    expect(checkRegister([w(0, 1, 'a'), cas(2, 3, 'a', 'b', true), r(4, 5, 'b')]).ok).toBe(true);
    expect(checkRegister([w(0, 1, 'a'), cas(2, 3, 'z', 'b', true)]).ok).toBe(false);
    expect(checkRegister([w(0, 1, 'a'), cas(2, 3, 'a', 'b', false)]).ok).toBe(false);
    const del = (call: number, ret: number, deleted: boolean): HistoryOp => ({ call, ret, op: { f: 'delete', deleted }, label: 'del' });
    expect(checkRegister([del(0, 1, false), w(2, 3, 'a'), del(4, 5, true), r(6, 7, null)]).ok).toBe(true);
    expect(checkRegister([w(0, 1, 'a'), del(2, 3, false)]).ok).toBe(false);
  });

  it('checks the previous entry a put or delete answered with (prevKv)', () => {
    const put = (call: number, ret: number, value: string, prev: string | null): HistoryOp => ({ call, ret, op: { f: 'write', value, prev }, label: 'put' });
    const del = (call: number, ret: number, prev: string | null): HistoryOp => ({ call, ret, op: { f: 'delete', prev }, label: 'del' });
    expect(checkRegister([put(0, 1, 'a', null), put(2, 3, 'b', 'a'), del(4, 5, 'b'), put(6, 7, 'c', null)]).ok).toBe(true);
    expect(checkRegister([put(0, 1, 'a', null), put(2, 3, 'b', null)]).ok).toBe(false); // "a" was there
    expect(checkRegister([w(0, 1, 'a'), del(2, 3, 'x')]).ok).toBe(false);
    // Concurrent puts: each must have replaced what the other wrote, or the initial absence.
    expect(checkRegister([put(0, 10, 'a', 'b'), put(0, 10, 'b', null)]).ok).toBe(true);
    expect(checkRegister([put(0, 10, 'a', 'b'), put(0, 10, 'b', 'a')]).ok).toBe(false);
  });
});

describe('SimDisk under the production stores', () => {
  it('keeps synced writes and, of the unsynced ones, exactly the prefix a crash leaves', async () => {
    // fsyncs complete at once, except while `hold` is set (then they never do: the crash comes first).
    let hold = false;
    const d = new SimDisk({ fsync: (done) => (hold ? undefined : queueMicrotask(done)) });
    const stores = await openNodeStores(await d.restart(), d);
    const entry = (index: number) => ({ type: 'normal' as const, index, term: 1, data: new Uint8Array(0) });
    await stores.log.persist({ hardState: { term: 1, vote: 1, commit: 2 }, entries: [entry(1), entry(2)] }, true);
    await stores.state.apply([entry(1)]); // unsynced
    await stores.state.apply([entry(2)]); // unsynced
    hold = true;
    void stores.log.persist({ entries: [entry(3)] }, true); // its fsync never completes: lost
    await new Promise((resolve) => setImmediate(resolve));

    d.crash(() => 1); // power loss keeping the first unsynced write only
    hold = false;
    const again = await openNodeStores(await d.restart(), d);
    expect(again.log.raftStorage.lastIndex()).toBe(2);
    expect(again.log.raftStorage.hardState()).toEqual({ term: 1, vote: 1, commit: 2 });
    expect(again.state.appliedIndex()).toBe(1);
    await again.state.apply([entry(2)]); // unsynced again

    d.crash(() => 0); // keeping none of them
    const third = await openNodeStores(await d.restart(), d);
    expect(third.state.appliedIndex()).toBe(1);
    expect(third.log.raftStorage.lastIndex()).toBe(2);
  });
});
