/**
 * Seeds that once failed, kept so the bug stays fixed. Each names what went wrong.
 */
import { formatFailure, runSimulation } from '@keel/raft/testing';
import { describe, expect, it } from 'vitest';

const REGRESSIONS: readonly { seed: number; nodes: 3 | 5; what: string }[] = [
  {
    seed: 10354,
    nodes: 5,
    what:
      'a node that joined with an empty configuration snapshotted below the first configuration entry ' +
      'in its log, became leader, and sent a snapshot with no voters that every follower refused (liveness)',
  },
];

describe('simulator regressions', () => {
  it.each(REGRESSIONS)('seed $seed on $nodes nodes: $what', ({ seed, nodes }) => {
    const result = runSimulation({ seed, nodes });
    expect(result.ok, formatFailure(result)).toBe(true);
  });
});
