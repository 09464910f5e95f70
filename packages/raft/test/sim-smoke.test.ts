/**
 * Smoke sweep of the deterministic simulator in the default suite: a few hundred seeds on 3 and
 * 5 nodes, every invariant checked after every event, and proof that the runs actually exercised
 * faults, elections, commits and every issue-3 feature (counters are non-zero). The long sweep is
 * `pnpm sim:raft --seeds 2000 [--nodes 5]`.
 */
import { formatFailure, sweep, type SimCounters } from '@keel/raft/testing';
import { describe, expect, it } from 'vitest';

const FEATURES: readonly (keyof SimCounters)[] = [
  'elections',
  'leaderChanges',
  'committed',
  'crashes',
  'restarts',
  'partitions',
  'messagesDropped',
  'messagesDuplicated',
  'snapshotsSent',
  'snapshotsInstalled',
  'readsServed',
  'transfers',
  'confChanges',
];

describe('simulator smoke sweep', () => {
  it.each([
    [3, 300],
    [5, 200],
  ])('%i nodes, %i seeds: no violations, every feature exercised', (nodes, seeds) => {
    const { counters, failures } = sweep({ seeds, nodes, firstSeed: 1 });
    const report = failures.map(formatFailure).join('\n\n');
    expect(failures, report).toEqual([]);
    expect(counters.violations).toBe(0);
    expect(counters.seeds).toBe(seeds);
    // Every run ended with the liveness phase committing a proposal on the healed majority.
    expect(counters.livenessChecks).toBe(seeds);
    for (const feature of FEATURES) expect(counters[feature], feature).toBeGreaterThan(0);
    // Client writes really committed, in volume.
    expect(counters.committed).toBeGreaterThan(seeds * 10);
  });
});
