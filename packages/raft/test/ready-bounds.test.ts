/**
 * Review: the Ready/advance contract under interleavings the simulator rarely produces, and what
 * bounds the core's per-request state on a long-lived leader.
 */
import { MemoryStorage, RawNode, SeededRng, type Entry, type Ready } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { entry, storageWith, voters } from './support/fixtures.js';
import { Network, enc } from './support/network.js';

/** Persist `rd` into `storage` per the contract (no apply: the caller records what it got). */
function persist(storage: MemoryStorage, rd: Ready): void {
  if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
}

describe('Ready/advance across a snapshot restore', () => {
  it('a snapshot arriving while a Ready is in flight: every index is applied or covered exactly once', () => {
    const storage = storageWith(voters(1, 2, 3), [1, 1, 1, 1], { term: 1, commit: 0 });
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(5) });
    node.step({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 2 });
    const applied: number[] = [];
    let stateAt = 0;
    const take = (rd: Ready): void => {
      if (rd.snapshot !== undefined) {
        expect(rd.snapshot.meta.index).toBeGreaterThan(stateAt);
        stateAt = rd.snapshot.meta.index;
      }
      for (const e of rd.committedEntries) {
        expect(e.index).toBe(stateAt + 1);
        stateAt = e.index;
        applied.push(e.index);
      }
    };
    // R1 hands out 1..2; before it is advanced a snapshot at 8 (term 2) arrives.
    const r1 = node.ready();
    expect(r1.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    node.step({ type: 'snap', from: 1, to: 2, term: 2, snapshot: { meta: { index: 8, term: 2, conf: voters(1, 2, 3) }, data: enc('') } });
    persist(storage, r1);
    take(r1);
    node.advance(r1);
    // R2 carries the snapshot and nothing to apply; entries after it follow.
    const r2 = node.ready();
    expect(r2.snapshot?.meta.index).toBe(8);
    expect(r2.committedEntries).toEqual([]);
    expect(r2.mustSync).toBe(true);
    node.step({ type: 'app', from: 1, to: 2, term: 2, prevIndex: 8, prevTerm: 2, entries: [entry(9, 2), entry(10, 2)], commit: 10 });
    persist(storage, r2);
    take(r2);
    node.advance(r2);
    const r3 = node.ready();
    expect(r3.entries.map((e: Entry) => e.index)).toEqual([9, 10]);
    expect(r3.hardState).toEqual({ term: 2, vote: 0, commit: 10 });
    persist(storage, r3);
    take(r3);
    node.advance(r3);
    expect(node.hasReady()).toBe(false);
    expect(applied).toEqual([1, 2, 9, 10]);
    expect(stateAt).toBe(10);
  });
});

describe('bounds on a long-lived leader', () => {
  it('reads pending on a leader cut off from its quorum are all failed when CheckQuorum deposes it', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    for (let k = 0; k < 1000; k++) net.raw(1).readIndex(`r${k}`);
    // Reference: thesis §6.2 (CheckQuorum), §6.4 (ReadIndex needs a quorum round)
    net.tickAll(2 * 10);
    expect(net.raw(1).status().role).not.toBe('leader');
    expect(net.get(1).rejectedReads).toHaveLength(1000);
    expect(new Set(net.get(1).rejectedReads.map((r) => r.reason))).toEqual(new Set(['leadershipLost']));
    expect(net.get(1).readStates).toEqual([]);
  });

  it('a removed member leaves no progress and gets no more heartbeats', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'x');
    expect(net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 3 })).toMatchObject({ ok: true });
    net.stabilize();
    net.tickAll(3);
    expect([...net.raw(1).status().progress!.keys()].sort()).toEqual([1, 2]);
    net.transcript.length = 0;
    net.tickAll(3);
    expect(net.transcript.filter((l) => l.startsWith('1->3'))).toEqual([]);
  });

  it('a dead follower costs the leader at most maxInflightMsgs appends and one heartbeat per tick, however many proposals', () => {
    const net = new Network([1, 2, 3], { maxInflightMsgs: 8 });
    net.elect(1);
    net.isolate(3);
    net.transcript.length = 0;
    for (let k = 0; k < 500; k++) net.propose(1, `v${k}`);
    net.tickAll(5);
    const to3 = net.transcript.filter((l) => l.startsWith('1->3'));
    const apps = to3.filter((l) => l.includes(' app '));
    // Eight appends with entries fill the window; the empty ones only carried commit indexes
    // before it was full. Nothing more is sent until the follower answers.
    expect(apps.filter((l) => !l.endsWith('[]'))).toHaveLength(8);
    expect(apps.length).toBeLessThanOrEqual(2 * 8);
    expect(to3.filter((l) => l.includes(' heartbeat ')).length).toBe(5);
    expect(net.raw(1).status().progress!.get(3)).toMatchObject({ state: 'replicate', inflightMsgs: 8 });
    expect(net.raw(1).status().commit).toBe(501);
    // Reference: thesis §10.2.1 (pipelining bounded by a window); etcd Inflights
  });
});
