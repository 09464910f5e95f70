import { describe, expect, it } from 'vitest';
import type { Scalar } from '../src/history/op.js';
import { Rng } from '../src/rng.js';
import type { Invocation } from '../src/workload/recorder.js';
import { RegisterWorkload } from '../src/workload/register.js';
import { SET_PREFIX, SetWorkload } from '../src/workload/set.js';

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
