/**
 * Snapshots and log compaction: paper §7 ("Log compaction", InstallSnapshot), Raft thesis §5.
 */
import { MemoryStorage, RawNode, SeededRng, StorageError, type Message, type Snapshot, type Storage } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { storageWith, voters } from './support/fixtures.js';
import { Network, enc } from './support/network.js';

/** Leader 1 with node 3 cut off while `n` entries commit; then every live node compacts. */
function laggingFollower(n = 5): Network {
  const net = new Network([1, 2, 3]);
  net.elect(1);
  net.isolate(3);
  for (let k = 0; k < n; k++) net.propose(1, `v${k}`);
  net.tickAll(1);
  net.get(1).compact();
  net.get(2).compact();
  expect(net.get(1).storage.firstIndex()).toBe(n + 2);
  return net;
}

describe('InstallSnapshot', () => {
  it('a follower that needs compacted entries receives the snapshot and catches up', () => {
    const net = laggingFollower();
    net.heal();
    net.tickAll(3);
    expect(net.transcript.some((l) => l.startsWith('1->3 snap'))).toBe(true);
    expect(net.get(3).storage.snapshot().meta.index).toBe(6);
    expect(net.get(3).appliedData()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    net.propose(1, 'after');
    net.tickAll(1);
    expect(net.get(3).appliedData()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'after']);
    expect(net.raw(1).status().progress?.get(3)).toMatchObject({ state: 'replicate', match: 7 });
    // Reference: §7, thesis §5.1
  });

  it('the leader tracks the snapshot in flight and sends nothing else meanwhile', () => {
    const net = laggingFollower();
    net.heal();
    net.dropIf = (m) => m.type === 'snap';
    net.raw(1).tick();
    net.processAll();
    // The drop made the network report failure; hold the next one instead.
    net.dropIf = undefined;
    net.tickAll(1);
    const snaps = net.take((m) => m.type === 'snap');
    expect(snaps.length).toBeLessThanOrEqual(1);
    if (snaps.length === 1) {
      expect(net.raw(1).status().progress?.get(3)?.state).toBe('snapshot');
      net.raw(1).propose(enc('x'));
      net.processAll();
      expect(net.queue.filter((m) => m.to === 3 && m.type === 'app')).toEqual([]);
      net.raw(1).reportSnapshot(3, 'failure');
      expect(net.raw(1).status().progress?.get(3)?.state).toBe('probe');
    }
    net.tickAll(4);
    expect(net.get(3).appliedData()).toContain('v4');
    // Reference: thesis §5.1 (snapshot progress), etcd tracker StateSnapshot
  });

  it('a follower never installs a snapshot at or below its commit index', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let k = 0; k < 5; k++) net.propose(1, `v${k}`);
    net.tickAll(1);
    const commit = net.raw(2).status().commit;
    const stale: Snapshot = { meta: { index: 3, term: 1, conf: voters(1, 2, 3) }, data: enc('[]') };
    net.raw(2).step({ type: 'snap', from: 1, to: 2, term: 1, snapshot: stale });
    const rd = net.raw(2).ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messagesAfterPersist).toMatchObject([{ type: 'appResp', index: commit, reject: false }]);
    expect(net.raw(2).status().commit).toBe(commit);
    // Reference: thesis §5.1 ("If the follower receives a snapshot describing a prefix of its log…")
  });

  it('a follower whose log holds the snapshot’s last entry just advances its commit index', () => {
    const s = storageWith(voters(1, 2, 3), [1, 1, 1, 1, 1], { term: 1, commit: 1 });
    const net = new Network([]);
    net.add(2, voters(1, 2, 3), 1, s);
    net.raw(2).step({ type: 'snap', from: 1, to: 2, term: 1, snapshot: { meta: { index: 3, term: 1, conf: voters(1, 2, 3) }, data: enc('[]') } });
    const rd = net.raw(2).ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.hardState?.commit).toBe(3);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
    // The entries after the snapshot are kept but not acknowledged: only the snapshot's last
    // entry is known to match the sender's log (the tail may be an older leader's).
    expect(rd.messagesAfterPersist).toMatchObject([{ type: 'appResp', index: 3, reject: false }]);
    expect(rd.entries).toEqual([]);
    expect(net.raw(2).status().lastIndex).toBe(5);
    // Reference: thesis §5.1 (retain following entries), etcd raft.restore (fast-forward answers the commit)
  });

  it('a restored snapshot replaces a conflicting log and sets membership from the snapshot', () => {
    const s = storageWith(voters(1, 2, 3), [1, 1, 2, 2], { term: 2, commit: 2 });
    const net = new Network([]);
    net.add(2, voters(1, 2, 3), 1, s);
    const snapshot: Snapshot = { meta: { index: 6, term: 3, conf: { voters: [1, 2, 3, 4], learners: [5] } }, data: enc('["a","b"]') };
    net.raw(2).step({ type: 'snap', from: 1, to: 2, term: 3, snapshot });
    const rd = net.handleReady(2)!;
    expect(rd.snapshot?.meta).toEqual(snapshot.meta);
    expect(rd.hardState).toEqual({ term: 3, vote: 0, commit: 6 });
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messagesAfterPersist).toMatchObject([{ type: 'appResp', index: 6, reject: false }]);
    expect(net.raw(2).status()).toMatchObject({ commit: 6, applied: 6, lastIndex: 6, conf: { voters: [1, 2, 3, 4], learners: [5] } });
    expect(net.get(2).storage.allEntries()).toEqual([]);
    expect(net.get(2).appliedData()).toEqual(['a', 'b']);
    // Reference: §7, thesis §5.1
  });

  it('a node restarts from a compacted log', () => {
    const net = laggingFollower();
    net.get(1).restart();
    expect(net.raw(1).status()).toMatchObject({ commit: 6, applied: 6, lastIndex: 6, conf: { voters: [1, 2, 3] } });
    net.heal();
    net.tickAll(40);
    const l = net.leaderOf()!;
    net.propose(l, 'z');
    net.tickAll(2);
    for (const id of [1, 2, 3]) expect(net.get(id).appliedData()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'z']);
    // Reference: thesis §5.1
  });

  it('a leader waits while the storage is producing a snapshot', () => {
    const base = storageWith(voters(1, 2), [1, 1, 1], { term: 1, commit: 3 });
    base.createSnapshot(2, voters(1, 2));
    let available = false;
    const storage: Storage = {
      initialState: () => base.initialState(),
      entries: (lo, hi, max) => base.entries(lo, hi, max),
      term: (i) => base.term(i),
      firstIndex: () => base.firstIndex(),
      lastIndex: () => base.lastIndex(),
      snapshot: () => {
        if (!available) throw new StorageError('SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'busy');
        return base.snapshot();
      },
    };
    const node = new RawNode({ id: 1, storage, rng: new SeededRng(1), applied: 3 });
    node.campaign();
    const out: Message[] = [];
    const pump = (): void => {
      while (node.hasReady()) {
        const rd = node.ready();
        base.append(rd.entries);
        if (rd.hardState) base.setHardState(rd.hardState);
        out.push(...rd.messages);
        node.advance(rd);
      }
    };
    pump();
    node.step({ type: 'preVoteResp', from: 2, to: 1, term: 2, reject: false });
    pump();
    node.step({ type: 'voteResp', from: 2, to: 1, term: 2, reject: false });
    pump();
    expect(node.status().role).toBe('leader');
    // Follower 2 has nothing: the probe is rejected down to index 0, which is compacted.
    node.step({ type: 'appResp', from: 2, to: 1, term: 2, index: 3, reject: true, hintIndex: 0, hintTerm: 0 });
    pump();
    expect(out.some((m) => m.type === 'snap')).toBe(false);
    available = true;
    node.step({ type: 'heartbeatResp', from: 2, to: 1, term: 2 });
    pump();
    expect(out.filter((m) => m.type === 'snap')).toMatchObject([{ to: 2, snapshot: { meta: { index: 2 } } }]);
    expect(node.status().progress?.get(2)?.state).toBe('snapshot');
    node.reportSnapshot(2, 'finish');
    expect(node.status().progress?.get(2)).toMatchObject({ state: 'probe', next: 3 });
    // Reference: thesis §5.1; storage.ts SNAPSHOT_TEMPORARILY_UNAVAILABLE
  });

  it('the memory storage refuses entries at or below the snapshot', () => {
    const s = new MemoryStorage(voters(1));
    s.append([{ type: 'normal', index: 1, term: 1, data: enc('a') }]);
    s.createSnapshot(1, voters(1));
    expect(() => s.entries(1, 2)).toThrow(StorageError);
  });
});
