/**
 * Review: work on the leader's hot paths does not grow with the log. Costs are counted as storage
 * reads (never timed).
 */
import { MemoryStorage, RawNode, SeededRng, type Entry } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { voters } from './support/fixtures.js';
import { enc } from './support/network.js';

/** A MemoryStorage that counts `term()` reads. */
class CountingStorage extends MemoryStorage {
  termReads = 0;
  override term(i: number): number {
    this.termReads++;
    return super.term(i);
  }
}

/** Leader 1 of {1,2,3} in term 3 over `n` entries of term 2. */
function leaderOver(n: number): { node: RawNode; storage: CountingStorage } {
  const storage = new CountingStorage(voters(1, 2, 3));
  const ents: Entry[] = [];
  for (let i = 1; i <= n; i++) ents.push({ type: 'normal', index: i, term: 2, data: enc('v') });
  storage.append(ents);
  storage.setHardState({ term: 2, vote: 0, commit: n });
  const node = new RawNode({ id: 1, storage, rng: new SeededRng(1), applied: n, preVote: false });
  node.campaign();
  node.step({ type: 'voteResp', from: 2, to: 1, term: 3, reject: false });
  while (node.hasReady()) {
    const rd = node.ready();
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    node.advance(rd);
  }
  expect(node.status()).toMatchObject({ role: 'leader', term: 3, lastIndex: n + 1 });
  return { node, storage };
}

describe('append rejections', () => {
  it('a stale (duplicated) rejection does not walk the log for its hint', () => {
    const { node, storage } = leaderOver(10_000);
    storage.termReads = 0;
    // Node 2 is probed with prevIndex 10000 (next 10001); a rejection of index 5 answers nothing outstanding.
    for (let k = 0; k < 10; k++) node.step({ type: 'appResp', from: 2, to: 1, term: 3, index: 5, reject: true, hintIndex: 10_000, hintTerm: 1 });
    expect(storage.termReads).toBeLessThan(10);
    expect(node.status().progress!.get(2)).toMatchObject({ state: 'probe', next: 10_001 });
  });

  it('the outstanding probe’s rejection still skips back a whole term at once (fast back-off)', () => {
    const { node } = leaderOver(100);
    // The probe outstanding for node 2 has prevIndex 100 (the new leader's no-op is 101).
    const pr = node.status().progress!.get(2)!;
    const rejected = pr.next - 1;
    node.step({ type: 'appResp', from: 2, to: 1, term: 3, index: rejected, reject: true, hintIndex: 50, hintTerm: 1 });
    // Our log has no entry of term <= 1 after the base: the probe goes back to index 0 + 1.
    expect(node.status().progress!.get(2)!.next).toBe(1);
    // Reference: §5.3 (optimization: skip a conflicting term per rejection)
  });
});
