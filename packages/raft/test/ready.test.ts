/**
 * The Ready/advance contract (types.ts `Ready`), restart from storage, status and configuration
 * validation.
 */
import { MemoryStorage, RawNode, SeededRng, describeReady, type Ready } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { storageWith, voters } from './support/fixtures.js';
import { Network, enc } from './support/network.js';

describe('Ready', () => {
  it('hard state appears only when it changed; mustSync only for term, vote or entries', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.tickAll(1);
    // A heartbeat round with no new commit: nothing durable changes.
    net.raw(1).tick();
    const rd = net.handleReady(1)!;
    expect(rd.hardState).toBeUndefined();
    expect(rd.mustSync).toBe(false);
    expect(rd.messages.length).toBeGreaterThan(0);
    net.stabilize();
    // A commit-only change: hard state but no sync needed.
    net.raw(1).propose(enc('x'));
    const withEntry = net.handleReady(1)!;
    expect(withEntry.mustSync).toBe(true);
    expect(withEntry.entries).toHaveLength(1);
    net.stabilize();
    expect(net.get(2).storage.hardState().commit).toBe(2);
  });

  it('messages leave at once; acknowledgements only after the Ready is persisted', () => {
    // A candidate's vote requests need not wait for its term and vote to be durable: its own
    // vote counts only at advance(), so nothing in them rests on an unpersisted state.
    const net = new Network([1, 2, 3], { preVote: false });
    net.raw(1).campaign();
    const rd = net.raw(1).ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => m.type)).toEqual(['vote', 'vote']);
    expect(rd.messagesAfterPersist).toEqual([]);
    net.raw(1).advance(rd);
    // A vote grant promises the vote is on disk: it waits for the Ready that carries the vote.
    net.raw(2).step({ type: 'vote', from: 1, to: 2, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    const v = net.raw(2).ready();
    expect(v.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(v.messages).toEqual([]);
    expect(v.messagesAfterPersist).toMatchObject([{ type: 'voteResp', reject: false }]);
    net.raw(2).advance(v);
    // So does a follower's acknowledgement of the entries it comes with.
    net.raw(2).step({ type: 'app', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ type: 'normal', index: 1, term: 1, data: enc('a') }] });
    const f = net.raw(2).ready();
    expect(f.entries.map((e) => e.index)).toEqual([1]);
    expect(f.messages).toEqual([]);
    expect(f.messagesAfterPersist).toMatchObject([{ type: 'appResp', index: 1, reject: false }]);
    // Reference: §5.2, §5.3 (respond after persisting); thesis §10.2.1
  });

  it('ready() twice without advance() is a programming error', () => {
    const net = new Network([1]);
    net.elect(1);
    net.raw(1).propose(enc('a'));
    const r1 = net.raw(1).ready();
    expect(() => net.raw(1).ready()).toThrow(TypeError);
    // Nothing was handed out twice or lost: handling the first lets the work go on.
    net.get(1).storage.append(r1.entries);
    net.raw(1).advance(r1);
    const r2 = net.raw(1).ready();
    expect(r2.entries).toEqual([]);
    expect(r2.committedEntries.map((e) => e.index)).toEqual([2]);
    net.raw(1).advance(r2);
  });

  it('advance() accepts only the Ready handed out last, once', () => {
    const net = new Network([1]);
    net.elect(1);
    net.raw(1).propose(enc('a'));
    const rd = net.raw(1).ready();
    expect(() => net.raw(1).advance({ ...rd })).toThrow(TypeError);
    net.raw(1).advance(rd);
    expect(() => net.raw(1).advance(rd)).toThrow(TypeError);
  });

  it('maxCommittedSizePerReady splits committed entries across readies', () => {
    const net = new Network([1], { maxCommittedSizePerReady: 200 });
    net.elect(1);
    for (let k = 0; k < 5; k++) net.raw(1).propose(enc('x'.repeat(100)));
    const sizes: number[] = [];
    let rd: Ready | undefined;
    while ((rd = net.handleReady(1)) !== undefined) if (rd.committedEntries.length > 0) sizes.push(rd.committedEntries.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1);
    expect(net.get(1).appliedData()).toHaveLength(5);
  });

  it('soft state reports role and leader changes', () => {
    const net = new Network([1, 2, 3], { preVote: false });
    net.raw(1).campaign();
    expect(net.raw(1).ready().softState).toEqual({ role: 'candidate', leader: 0 });
    expect(net.raw(2).hasReady()).toBe(false);
  });

  it('describeReady renders a transcript line per part', () => {
    const net = new Network([1, 2, 3], { preVote: false });
    net.raw(1).campaign();
    expect(describeReady(net.raw(1).ready())).toBe(
      ['soft: candidate leader=0', 'hard: term=1 vote=1 commit=0 (sync)', 'send: 1->2 vote t1 last=0/0', 'send: 1->3 vote t1 last=0/0'].join('\n'),
    );
    net.raw(2).step({ type: 'vote', from: 1, to: 2, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    expect(describeReady(net.raw(2).ready())).toBe(['hard: term=1 vote=1 commit=0 (sync)', 'send after persist: 2->1 voteResp t1 grant'].join('\n'));
  });
});

describe('restart', () => {
  it('a node restarted over its storage resumes term, vote, log and commit without reapplying', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (const s of ['a', 'b', 'c']) net.propose(1, s);
    net.tickAll(1);
    const before = net.raw(2).status();
    net.get(2).restart();
    const after = net.raw(2).status();
    expect(after).toMatchObject({ term: before.term, lastIndex: before.lastIndex, commit: before.commit, applied: before.applied, role: 'follower' });
    expect(net.raw(2).hasReady()).toBe(false);
    net.propose(1, 'd');
    net.tickAll(1);
    expect(net.get(2).appliedData()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a restarted node hands out committed entries after config.applied', () => {
    const s = storageWith(voters(1, 2, 3), [1, 1, 1, 1], { term: 1, commit: 3 });
    const node = new RawNode({ id: 1, storage: s, rng: new SeededRng(1), applied: 1 });
    const rd = node.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2, 3]);
    expect(rd.hardState).toBeUndefined();
  });

  it('a commit index lost in an unsynced write is recovered from the applied index', () => {
    // Commit-only hard state changes need no sync; the application's applied index proves more.
    const s = storageWith(voters(1, 2, 3), [1, 1, 1, 1], { term: 1, commit: 1 });
    const node = new RawNode({ id: 1, storage: s, rng: new SeededRng(1), applied: 3 });
    expect(node.status()).toMatchObject({ commit: 3, applied: 3 });
    expect(node.ready().committedEntries).toEqual([]);
  });

  it('a restarted leader-to-be keeps its log and wins again', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    for (const id of [1, 2, 3]) net.get(id).restart();
    net.tickAll(40);
    const l = net.leaderOf()!;
    net.propose(l, 'b');
    net.tickAll(1);
    for (const id of [1, 2, 3]) expect(net.get(id).appliedData()).toEqual(['a', 'b']);
  });
});

describe('status and config', () => {
  it('status reports the leader view with progress only on the leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const s = net.raw(1).status();
    expect(s).toMatchObject({ id: 1, role: 'leader', leader: 1, term: 1, commit: 1, lastIndex: 1, transferee: 0 });
    expect(s.conf).toEqual({ voters: [1, 2, 3], learners: [] });
    expect([...s.progress!.keys()].sort()).toEqual([1, 2, 3]);
    expect(s.progress!.get(2)).toMatchObject({ match: 1, next: 2, state: 'replicate', isLearner: false });
    expect(net.raw(2).status().progress).toBeUndefined();
  });

  it.each([
    ['id 0', { id: 0 }],
    ['electionTick <= heartbeatTick', { electionTick: 2, heartbeatTick: 2 }],
    ['fractional maxSizePerMsg', { maxSizePerMsg: 1.5 }],
    ['negative maxInflightBytes', { maxInflightBytes: -1 }],
    ['applied beyond the log', { applied: 5 }],
  ])('rejects a config with %s', (_name, bad) => {
    const storage = new MemoryStorage(voters(1));
    expect(() => new RawNode({ id: 1, storage, rng: new SeededRng(1), ...bad })).toThrow(TypeError);
  });
});
