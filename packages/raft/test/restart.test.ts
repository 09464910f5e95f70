/**
 * Review: a RawNode rebuilt over a Storage holding a snapshot, a log, a hard state and an applied
 * index resumes exactly where it left off (Raft thesis §3.8 persisted state; etcd RawNode restart).
 */
import { MemoryStorage, RawNode, SeededRng, type ConfState, type Entry, type HardState } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { entry, voters } from './support/fixtures.js';
import { enc } from './support/network.js';

const withLearner4: ConfState = { voters: [1, 2, 3], learners: [4] };

/** Snapshot at 10 (term 2, voters 1..3); entries 11..20 of term 3, index 15 adds learner 4. */
function restoredStorage(hard: HardState): MemoryStorage {
  const s = new MemoryStorage(voters(1, 2, 3));
  const ents: Entry[] = [];
  for (let i = 1; i <= 20; i++) {
    ents.push(
      i === 15
        ? { type: 'confChange', index: i, term: 3, change: { type: 'addLearner', nodeId: 4 }, conf: withLearner4 }
        : entry(i, i <= 10 ? 2 : 3),
    );
  }
  s.append(ents);
  s.createSnapshot(10, voters(1, 2, 3), enc('snap'));
  s.setHardState(hard);
  return s;
}

describe('restart over snapshot + log + hard state + applied', () => {
  it('resumes term, vote, commit and the configuration of the log; hands out exactly (applied, commit]', () => {
    const s = restoredStorage({ term: 4, vote: 2, commit: 18 });
    const node = new RawNode({ id: 1, storage: s, rng: new SeededRng(3), applied: 12 });
    expect(node.status()).toMatchObject({ term: 4, vote: 2, commit: 18, applied: 12, lastIndex: 20, role: 'follower', conf: withLearner4 });
    const rd = node.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([13, 14, 15, 16, 17, 18]);
    expect(rd.hardState).toBeUndefined();
    expect(rd.entries).toEqual([]);
    expect(rd.mustSync).toBe(false);
    node.advance(rd);
    expect(node.hasReady()).toBe(false);
    // Reference: thesis §4.1 (the latest configuration in the log is in effect, committed or not)
  });

  it('an applied index below the snapshot starts after the snapshot (the snapshot is the state)', () => {
    const s = restoredStorage({ term: 4, vote: 0, commit: 12 });
    const node = new RawNode({ id: 1, storage: s, rng: new SeededRng(3), applied: 5 });
    expect(node.status()).toMatchObject({ applied: 10, commit: 12 });
    expect(node.ready().committedEntries.map((e) => e.index)).toEqual([11, 12]);
  });

  it('a stored commit below the snapshot is raised to it and persisted (no sync needed)', () => {
    const s = restoredStorage({ term: 4, vote: 0, commit: 3 });
    const node = new RawNode({ id: 1, storage: s, rng: new SeededRng(3), applied: 10 });
    const rd = node.ready();
    expect(rd.hardState).toEqual({ term: 4, vote: 0, commit: 10 });
    expect(rd.mustSync).toBe(false);
    expect(rd.committedEntries).toEqual([]);
  });

  it('a stored commit beyond the log is refused at construction (the storage is inconsistent)', () => {
    const s = restoredStorage({ term: 4, vote: 0, commit: 25 });
    expect(() => new RawNode({ id: 1, storage: s, rng: new SeededRng(3), applied: 10 })).toThrow(/beyond the last index/);
  });

  it('a truncated conf entry after restart falls back to the snapshot configuration', () => {
    const s = restoredStorage({ term: 4, vote: 0, commit: 12 });
    const node = new RawNode({ id: 1, storage: s, rng: new SeededRng(3), applied: 12 });
    expect(node.status().conf).toEqual(withLearner4);
    // A leader of term 5 overwrites 13.. (our 13..20 were never committed).
    node.step({ type: 'app', from: 2, to: 1, term: 5, prevIndex: 12, prevTerm: 3, entries: [entry(13, 5)], commit: 13 });
    expect(node.status().conf).toEqual(voters(1, 2, 3));
    const rd = node.ready();
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[13, 5]]);
    expect(rd.committedEntries.map((e) => [e.index, e.term])).toEqual([[13, 5]]);
    expect(rd.messagesAfterPersist).toMatchObject([{ type: 'appResp', index: 13, reject: false }]);
    // Reference: thesis §4.1 ("a log entry for a configuration change can be removed … the server must fall back")
  });
});
