import { describe, expect, it } from 'vitest';
import { KeelError } from '@keel/protocol';
import { ProposalTracker, type PendingProposal } from '../src/node/proposal-tracker.js';

/**
 * Review finding: a proposal whose log slot this node later reuses in a newer term is NOT
 * definitely lost. The node's own copy of (i, t1) was truncated, but other nodes may still hold
 * it, and one of them can still be elected and commit it (Raft §5.4.2, Figure 8: an entry from an
 * earlier term on a minority can be committed later). Only the entry that actually applies at `i`
 * decides: same term = success, other term = definitely not applied (State Machine Safety, §5.4.3).
 */
function proposal(index: number, term: number, log: string[]): PendingProposal<string> {
  return {
    index,
    term,
    bytes: 1,
    deadlineTick: 100,
    onApplied: (r) => log.push(`${index}/${term} ok ${r}`),
    onFailed: (e) => log.push(`${index}/${term} ${e.code}${e.definite ? '' : ' (indeterminate)'}`),
  };
}

const lost = (): KeelError => new KeelError('NOT_LEADER', 'lost');

describe('ProposalTracker: a reused index does not decide the older proposal', () => {
  it('the older-term proposal still succeeds if its entry is the one that applies', () => {
    // Reference: §5.4.2 (committing entries from previous terms)
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    t.add(proposal(5, 2, log));
    t.add(proposal(5, 4, log));
    expect(log).toEqual([]); // neither is decided yet
    expect(t.size).toBe(2);
    expect(t.bytes).toBe(2);
    t.applied(5, 2, 'r', lost);
    expect(log).toEqual(['5/2 ok r', '5/4 NOT_LEADER']);
    expect(t.size).toBe(0);
    expect(t.bytes).toBe(0);
  });

  it('the newer proposal succeeds when its entry applies; the older one then definitely lost', () => {
    // Reference: §5.4.3 (State Machine Safety)
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    t.add(proposal(7, 1, log));
    t.add(proposal(7, 3, log));
    t.applied(7, 3, 'r', lost);
    expect(log.sort()).toEqual(['7/1 NOT_LEADER', '7/3 ok r']);
  });

  it('expiry, snapshots and shutdown answer every proposal at a shared index exactly once', () => {
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    t.add(proposal(5, 2, log));
    t.add(proposal(5, 4, log));
    t.add(proposal(6, 4, log));
    t.failThrough(5, () => new KeelError('INDETERMINATE', 'snap', { definite: false }));
    expect(log.sort()).toEqual(['5/2 INDETERMINATE (indeterminate)', '5/4 INDETERMINATE (indeterminate)']);
    expect(t.size).toBe(1);
    t.failAll(() => new KeelError('SHUTTING_DOWN', 'bye', { definite: false }));
    expect(log).toContain('6/4 SHUTTING_DOWN (indeterminate)');
    expect(t.size).toBe(0);
    expect(t.bytes).toBe(0);
  });

  it('the same index proposed twice in one term (or an older term after a newer one) is a bug', () => {
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    t.add(proposal(5, 4, log));
    expect(() => t.add(proposal(5, 4, log))).toThrow(/proposed twice/);
    expect(() => t.add(proposal(5, 3, log))).toThrow(/proposed twice|older term/);
  });
});
