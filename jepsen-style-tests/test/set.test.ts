/** The set checker: lost, phantom, unexpected and duplicated elements, and what is fine. */
import { describe, expect, it } from 'vitest';
import { checkSet, type SetReport } from '../src/checker/set.js';
import { simulateSetHistory } from '../src/testing/simulate.js';
import { add, history, readSet } from './support/build.js';

function only(h: ReturnType<typeof history>): SetReport {
  const result = checkSet(h);
  expect(result.sets).toHaveLength(1);
  expect(result.verdict).toBe(result.sets[0]!.verdict);
  return result.sets[0]!;
}

describe('set checker', () => {
  it('valid when the final read holds every acknowledged add and nothing else', () => {
    const s = only(history(add(1, 1, 0, 5), add(2, 2, 0, 5), add(1, 3, 6, 8), readSet(9, [1, 2, 3], 100, 110)));
    expect(s).toMatchObject({ verdict: 'valid', okPresent: 3, lost: [], phantom: [], adds: { attempted: 3, ok: 3, fail: 0, info: 0 } });
    expect(s.finalRead).toMatchObject({ size: 3, line: 7 });
  });

  it('finds lost elements: acknowledged before the final read began, missing from it', () => {
    const s = only(history(add(1, 1, 0, 5), add(2, 2, 0, 5), add(3, 3, 0, 5), readSet(9, [2], 100, 110)));
    expect(s.verdict).toBe('invalid');
    expect(s.lost).toEqual([1, 3]);
  });

  it('finds phantoms (never attempted), unexpected (add failed) and duplicated elements', () => {
    const s = only(history(add(1, 1, 0, 5), add(2, 2, 0, 5, { type: 'fail' }), readSet(9, [1, 2, 42, 1], 100, 110)));
    expect(s.verdict).toBe('invalid');
    expect(s.phantom).toEqual([42]);
    expect(s.unexpected).toEqual([2]);
    expect(s.duplicated).toEqual([1]);
  });

  it('indeterminate adds may or may not appear; those that do are recovered', () => {
    const s = only(history(add(1, 1, 0, 5, { type: 'info' }), add(2, 2, 0, 5, { type: 'info' }), add(3, 3, 0, undefined), readSet(9, [2, 3], 100, 110)));
    expect(s.verdict).toBe('valid');
    expect(s.recovered).toEqual([2, 3]);
    expect(s.adds).toEqual({ attempted: 3, ok: 0, fail: 0, info: 3 });
  });

  it('an add acknowledged after the final read began is concurrent, not lost', () => {
    const s = only(history(add(1, 1, 0, 5), add(2, 2, 90, 105), readSet(9, [1], 100, 110)));
    expect(s.verdict).toBe('valid');
    expect(s.concurrentMissing).toEqual([2]);
  });

  it('the final read is the last successful one', () => {
    const s = only(history(add(1, 1, 0, 5), readSet(8, [], 1, 2), readSet(9, [1], 100, 110), readSet(10, [], 200, 210, { type: 'fail' })));
    expect(s.verdict).toBe('valid');
    expect(s.finalRead?.line).toBe(5);
  });

  it('unknown without a successful final read, or without any read', () => {
    const failed = only(history(add(1, 1, 0, 5), readSet(9, [], 100, 110, { type: 'fail' })));
    expect(failed).toMatchObject({ verdict: 'unknown', reason: 'no read of "set/" succeeded' });
    expect(checkSet(history(add(1, 1, 0, 5))).verdict).toBe('unknown');
  });

  it('each prefix read is its own set', () => {
    const h = history(add(1, 1, 0, 5), add(2, 7, 0, 5, { key: 'other/7' }), readSet(9, [1], 100, 110), readSet(10, [], 100, 110, { key: 'other/' }));
    const result = checkSet(h);
    expect(result.sets.map((s) => [s.prefix, s.verdict, s.lost])).toEqual([
      ['other/', 'invalid', [7]],
      ['set/', 'valid', []],
    ]);
    expect(result.verdict).toBe('invalid');
  });

  it('simulated runs: complete sets pass; injected losses and phantoms are found', () => {
    const clean = checkSet(simulateSetHistory({ seed: 1, ops: 2000, clients: 6, infoRate: 0.05, failRate: 0.05 }));
    expect(clean.verdict).toBe('valid');
    expect(clean.sets[0]!.recovered.length).toBeGreaterThan(0);
    const buggy = checkSet(simulateSetHistory({ seed: 1, ops: 2000, clients: 6, lostRate: 0.01, phantoms: 3 }));
    expect(buggy.verdict).toBe('invalid');
    expect(buggy.sets[0]!.lost.length).toBeGreaterThan(0);
    expect(buggy.sets[0]!.phantom).toEqual([1_000_000, 1_000_001, 1_000_002]);
  });
});
