/**
 * One seed drives everything: running a seed twice must give the same run, event for event, so
 * a failing seed printed by `pnpm sim:raft` reproduces exactly.
 */
import { runSimulation, sweep } from '@keel/raft/testing';
import { describe, expect, it } from 'vitest';
import { voteWithoutLogCheck } from './support/buggy-nodes.js';

describe('simulator determinism', () => {
  it.each([
    [3, 11],
    [3, 12345],
    [5, 7],
    [5, 99],
  ])('nodes=%i seed=%i: same seed, same summary, trace and fingerprint', (nodes, seed) => {
    const a = runSimulation({ seed, nodes, traceLength: 200 });
    const b = runSimulation({ seed, nodes, traceLength: 200 });
    expect(a.ok).toBe(true);
    expect(a.counters.events).toBeGreaterThan(1000);
    expect(b.counters).toEqual(a.counters);
    expect(b.trace).toEqual(a.trace);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.scenario).toEqual(a.scenario);
  });

  it('different seeds give different runs', () => {
    const fingerprints = new Set([1, 2, 3, 4, 5].map((seed) => runSimulation({ seed, nodes: 3 }).fingerprint));
    expect(fingerprints.size).toBe(5);
  });

  it('a failing seed reproduces its violation and trace exactly', () => {
    const first = sweep({ seeds: 50, nodes: 3, regime: 'leaderFlapping', nodeFactory: voteWithoutLogCheck, stopOnFailure: true });
    expect(first.failures).toHaveLength(1);
    const failed = first.failures[0]!;
    const again = runSimulation({ seed: failed.seed, nodes: 3, regime: 'leaderFlapping', nodeFactory: voteWithoutLogCheck });
    expect(again.ok).toBe(false);
    expect(again.violations).toEqual(failed.violations);
    expect(again.trace).toEqual(failed.trace);
    expect(again.trace.some((line) => line.includes('VIOLATION'))).toBe(true);
  });

  it('sweep summaries are reproducible', () => {
    const a = sweep({ seeds: 10, nodes: 5, firstSeed: 500 });
    const b = sweep({ seeds: 10, nodes: 5, firstSeed: 500 });
    expect(b.counters).toEqual(a.counters);
    expect(a.counters.seeds).toBe(10);
  });
});
