import { describe, expect, it } from 'vitest';
import type { Scalar } from '../src/history/op.js';
import { Rng } from '../src/rng.js';
import type { Invocation } from '../src/workload/recorder.js';
import { RegisterWorkload } from '../src/workload/register.js';
import { SET_PREFIX, SetWorkload } from '../src/workload/set.js';
import { BANK_PREFIX, BankWorkload, decodeAccount, encodeAccount } from '../src/workload/bank.js';
import type { TransferValue } from '../src/history/op.js';
import { FENCE, LOCK_NAME, LockWorkload, RESOURCE, WRITES_PER_HOLD, fenceText } from '../src/workload/lock.js';
import { CHANGE_PREFIXES, PREFIXES, REPLAY_MAX, WATCHERS, WATCH_PREFIX, WatchWorkload } from '../src/workload/watch.js';

function draw(w: RegisterWorkload, seed: number, n: number): Invocation[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => w.next(rng, i % 4 === 0 ? 'probe' : 'client'));
}

describe('RegisterWorkload (the generator)', () => {
  it('draws the same operations from the same seed', () => {
    expect(draw(new RegisterWorkload(), 5, 500)).toEqual(draw(new RegisterWorkload(), 5, 500));
    expect(draw(new RegisterWorkload(), 5, 500)).not.toEqual(draw(new RegisterWorkload(), 6, 500));
  });

  it('writes values unique across the run, over `keys` slots that move to a fresh key after `opsPerKey`', () => {
    const w = new RegisterWorkload({ keys: 3, opsPerKey: 10 });
    const calls = draw(w, 1, 600);
    const written = calls.flatMap((c) => (c.f === 'write' ? [c.value] : c.f === 'cas' ? [(c.value as Scalar[])[1]] : []));
    expect(new Set(written).size).toBe(written.length);
    const perKey = new Map<string, number>();
    for (const c of calls) perKey.set(c.key, (perKey.get(c.key) ?? 0) + 1);
    for (const [key, n] of perKey) {
      expect(key).toMatch(/^k[0-2]\.\d+$/);
      expect(n).toBeLessThanOrEqual(10);
    }
    expect(perKey.size).toBeGreaterThanOrEqual(60);
    expect(new Set(calls.map((c) => c.f))).toEqual(new Set(['read', 'write', 'cas', 'delete']));
  });

  it('makes a cas expect the value last seen on its key', () => {
    const w = new RegisterWorkload({ keys: 1 });
    const rng = new Rng(3);
    let cas: Invocation | undefined;
    w.observe({ f: 'write', key: 'k0.0', value: 41 }, { type: 'ok', value: 41 });
    w.observe({ f: 'read', key: 'k0.0', value: null }, { type: 'ok', value: 42 });
    w.observe({ f: 'write', key: 'k0.0', value: 43 }, { type: 'fail', value: 43 }); // failed: not seen
    while (cas === undefined) {
      const c = w.next(rng, 'client');
      if (c.f === 'cas') cas = c;
    }
    expect((cas.value as Scalar[])[0]).toBe(42);
  });
});

describe('SetWorkload', () => {
  it('adds unique elements, each under its own key, and reads the prefix at the end', () => {
    const w = new SetWorkload();
    const adds = Array.from({ length: 100 }, () => w.next());
    expect(new Set(adds.map((a) => a.value)).size).toBe(100);
    for (const a of adds) expect(a).toEqual({ f: 'add', key: `${SET_PREFIX}${String(a.value)}`, value: a.value });
    expect(w.final).toEqual([{ f: 'read', key: SET_PREFIX, value: null }]);
  });
});

describe('BankWorkload (the generator)', () => {
  const drawBank = (w: BankWorkload, seed: number, n: number): Invocation[] => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, (_, i) => w.next(rng, i % 4 === 0 ? 'probe' : 'client'));
  };

  it('deposits first, reads at the end, and draws the same operations from the same seed', () => {
    const w = new BankWorkload({ accounts: 4, balance: 25 });
    expect(w.setup).toEqual([{ f: 'init', key: BANK_PREFIX, value: [25, 25, 25, 25] }]);
    expect(w.final).toEqual([{ f: 'read', key: BANK_PREFIX, value: null }]);
    expect(drawBank(new BankWorkload(), 5, 300)).toEqual(drawBank(new BankWorkload(), 5, 300));
    expect(drawBank(new BankWorkload(), 5, 300)).not.toEqual(drawBank(new BankWorkload(), 6, 300));
  });

  it('transfers unique ids between two different accounts, at most what it saw in the source, expecting what it saw', () => {
    const w = new BankWorkload({ accounts: 3, balance: 2, maxTransfer: 5 });
    const transfers = drawBank(w, 1, 400).filter((c) => c.f === 'transfer').map((c) => c.value as TransferValue);
    expect(transfers.length).toBeGreaterThan(150);
    expect(new Set(transfers.map((t) => t.id)).size).toBe(transfers.length);
    for (const t of transfers) {
      expect(t.from).not.toBe(t.to);
      expect(t.amount).toBeGreaterThanOrEqual(1);
      expect(t.amount).toBeLessThanOrEqual(2);
      expect(t.expect).toEqual([[2, 0], [2, 0]]);
    }
  });

  it('expects what the last acknowledged transfer or read left, and never overdraws what it saw', () => {
    const w = new BankWorkload({ accounts: 2, balance: 3 });
    const t1: TransferValue = { id: 1, from: 0, to: 1, amount: 3, expect: [[3, 0], [3, 0]] };
    w.observe({ f: 'transfer', key: BANK_PREFIX, value: t1 }, { type: 'ok', value: t1 });
    const rng = new Rng(2);
    for (let i = 0; i < 50; i++) {
      const c = w.next(rng, 'client');
      if (c.f === 'transfer') expect(c.value).toMatchObject({ from: 1, to: 0, expect: [[6, 1], [0, 1]] });
    }
    w.observe({ f: 'read', key: BANK_PREFIX, value: null }, { type: 'ok', value: [[1, 7], [5, 7]] });
    w.observe({ f: 'transfer', key: BANK_PREFIX, value: t1 }, { type: 'fail', value: t1 }); // failed: not seen
    const c = drawBank(w, 3, 20).find((x) => x.f === 'transfer')!;
    const t = c.value as TransferValue;
    expect(t.expect).toEqual(t.from === 0 ? [[1, 7], [5, 7]] : [[5, 7], [1, 7]]);
  });

  it('stores an account as "<balance>:<transfer>" and refuses anything else', () => {
    expect(encodeAccount([12, 34])).toBe('12:34');
    expect(decodeAccount('-3:7')).toEqual([-3, 7]);
    expect(() => decodeAccount('12')).toThrow(TypeError);
  });
});

describe('LockWorkload (the generator)', () => {
  const rng = new Rng(1);

  it('per logical client: acquire, write under the token, release; each client on its own', () => {
    const w = new LockWorkload();
    expect(w.setup).toEqual([{ f: 'write', key: FENCE, value: fenceText(0) }]);
    expect(fenceText(42)).toBe('0000000000000042');
    const acquire = w.next(rng, 'client', 1);
    expect(acquire).toEqual({ f: 'acquire', key: LOCK_NAME, value: null });
    w.observe(acquire, { type: 'ok', value: null, revision: 10 }, 1);
    expect(w.next(rng, 'client', 2)).toEqual(acquire); // process 2 holds nothing
    const writes = [];
    for (let i = 0; i < WRITES_PER_HOLD; i++) {
      const c = w.next(rng, 'client', 1);
      writes.push(c);
      w.observe(c, { type: 'ok', value: c.value, revision: 11 + i }, 1);
    }
    expect(writes.map((c) => [c.f, c.key, (c.value as number[])[0]])).toEqual(Array.from({ length: WRITES_PER_HOLD }, () => ['fenced-write', RESOURCE, 10]));
    expect(new Set(writes.map((c) => (c.value as number[])[1])).size).toBe(WRITES_PER_HOLD);
    const release = w.next(rng, 'client', 1);
    expect(release).toEqual({ f: 'release', key: LOCK_NAME, value: 10 });
    w.observe(release, { type: 'ok', value: 10 }, 1);
    expect(w.next(rng, 'client', 1).f).toBe('acquire');
  });

  it('a write refused by the fence ends the hold; an indeterminate operation abandons it', () => {
    const w = new LockWorkload();
    w.observe({ f: 'acquire', key: LOCK_NAME, value: null }, { type: 'ok', value: null, revision: 10 }, 1);
    const c = w.next(rng, 'client', 1);
    w.observe(c, { type: 'fail', value: c.value }, 1);
    expect(w.next(rng, 'client', 1)).toEqual({ f: 'release', key: LOCK_NAME, value: 10 });
    w.observe({ f: 'acquire', key: LOCK_NAME, value: null }, { type: 'ok', value: null, revision: 20 }, 2);
    const d = w.next(rng, 'client', 2);
    w.observe(d, { type: 'info', value: d.value, error: { code: 'TIMEOUT', message: 't' } }, 2);
    expect(w.next(rng, 'client', 2).f).toBe('acquire');
  });
});

describe('WatchWorkload (the generator)', () => {
  it('changes: puts of values unique across the run and deletes, under the change prefixes', () => {
    const w = new WatchWorkload();
    const rng = new Rng(3);
    const calls = Array.from({ length: 400 }, (_, i) => w.next(rng, i % 4 === 0 ? 'probe' : 'client'));
    expect(new Set(calls.map((c) => c.f))).toEqual(new Set(['change']));
    expect(calls.every((c) => CHANGE_PREFIXES.some((p) => c.key.startsWith(p)))).toBe(true);
    const puts = calls.filter((c) => c.value !== null).map((c) => c.value);
    expect(new Set(puts).size).toBe(puts.length);
    expect(calls.length - puts.length).toBeGreaterThan(50); // about one in four deletes
  });

  it('watchers: the first watches watch/ from revision 1; later ones start from the newest acknowledged revision or up to REPLAY_MAX before it', () => {
    const w = new WatchWorkload();
    const rng = new Rng(4);
    expect(w.background.count).toBe(WATCHERS);
    expect(w.background.next(rng, 0)).toEqual({ f: 'watch', key: WATCH_PREFIX, value: 1 });
    w.observe({ f: 'change', key: 'watch/a/0', value: 1 }, { type: 'ok', value: 1, revision: 500 });
    w.observe({ f: 'change', key: 'watch/a/0', value: null }, { type: 'ok', value: null }); // a delete that found nothing
    const starts = Array.from({ length: 50 }, (_, i) => w.background.next(rng, 1 + i));
    expect(starts.every((c) => c.f === 'watch' && (PREFIXES as readonly string[]).includes(c.key))).toBe(true);
    const froms = starts.map((c) => c.value as number);
    expect(froms.every((f) => f > 501 - REPLAY_MAX && f <= 501)).toBe(true);
    expect(froms).toContain(501);
    expect(froms.some((f) => f < 501)).toBe(true);
  });
});
