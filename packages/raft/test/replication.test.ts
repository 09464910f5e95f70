/**
 * Replication mechanics beyond the paper's rules: progress states, pipelining with flow control,
 * message size limits and the batching of proposals into one append per follower.
 */
import type { AppendMessage, Message } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { Network, enc } from './support/network.js';

const apps = (ms: readonly Message[], to?: number): AppendMessage[] =>
  ms.filter((m): m is AppendMessage => m.type === 'app' && (to === undefined || m.to === to));

function leaderNet(opts = {}, ids = [1, 2, 3]): Network {
  const net = new Network(ids, opts);
  net.elect(1);
  expect(net.raw(1).status().role).toBe('leader');
  return net;
}

describe('batching', () => {
  it('100 proposals in one turn leave as one append per follower', () => {
    const net = leaderNet();
    for (let k = 0; k < 100; k++) expect(net.raw(1).propose(enc(`p${k}`)).ok).toBe(true);
    net.processAll();
    const sent = apps(net.queue);
    expect(sent.map((m) => m.to)).toEqual([2, 3]);
    for (const m of sent) expect(m.entries).toHaveLength(100);
    net.stabilize();
    expect(net.get(3).appliedData()).toHaveLength(100);
    // Reference: etcd raft's batching of MsgProp; thesis §10.2.1 (batching and pipelining)
  });

  it('acknowledgements that advance the commit index are propagated once, not per ack', () => {
    const net = leaderNet();
    net.raw(1).propose(enc('a'));
    net.processAll();
    net.deliverOne((m) => m.to === 2);
    net.deliverOne((m) => m.to === 3);
    net.processAll();
    net.deliverOne((m) => m.to === 1);
    net.deliverOne((m) => m.to === 1);
    net.processAll();
    // One commit-carrying (empty) append per follower.
    const commits = apps(net.queue);
    expect(commits.map((m) => [m.to, m.entries.length, m.commit])).toEqual([
      [2, 0, 2],
      [3, 0, 2],
    ]);
  });
});

describe('commit propagation', () => {
  it('the last follower to acknowledge learns the commit at once, not with the next heartbeat', () => {
    // One append in flight per follower: when the commit moves, node 3's pipeline is full and the
    // leader cannot tell it; node 3's acknowledgement then frees it, and the leader sends the
    // commit right away (etcd's CanBumpCommit).
    const net = leaderNet({ maxInflightMsgs: 1 });
    net.raw(1).propose(enc('x'));
    net.processAll();
    net.deliverOne((m) => m.to === 2);
    net.processAll();
    net.deliverOne((m) => m.to === 1);
    net.processAll();
    expect(net.raw(1).status().commit).toBe(2);
    expect(apps(net.queue, 3).map((m) => m.commit)).toEqual([1]); // only the append of 'x'
    net.deliverOne((m) => m.to === 3);
    net.processAll();
    net.deliverOne((m) => m.to === 1 && m.from === 3);
    net.processAll();
    expect(apps(net.queue, 3).map((m) => [m.entries.length, m.commit])).toEqual([[0, 2]]);
    net.stabilize(); // no tick: no heartbeat
    expect(net.get(3).appliedData()).toEqual(['x']);
    // Reference: etcd raft stepLeader MsgAppResp (CanBumpCommit)
  });

  it('a follower whose appends already carry the commit gets no extra message', () => {
    const net = leaderNet();
    net.raw(1).propose(enc('x'));
    net.processAll();
    net.deliverOne((m) => m.to === 2);
    net.deliverOne((m) => m.to === 3);
    net.processAll();
    net.deliverOne((m) => m.to === 1);
    net.processAll();
    // The commit went to both followers in one empty append each; node 3's late
    // acknowledgement of 'x' adds nothing, since what is in flight to it carries the commit.
    net.deliverOne((m) => m.to === 1);
    net.processAll();
    expect(apps(net.queue).map((m) => [m.to, m.commit])).toEqual([
      [2, 2],
      [3, 2],
    ]);
  });
});

describe('progress states and flow control', () => {
  it('a follower in probe state gets one append at a time until it answers', () => {
    const net = leaderNet();
    // Node 3 is cut off and falls behind; on reconnection the leader probes it.
    net.isolate(3);
    for (let k = 0; k < 5; k++) net.propose(1, `x${k}`);
    net.raw(1).reportUnreachable(3);
    expect(net.raw(1).status().progress?.get(3)?.state).toBe('probe');
    net.heal();
    net.queue = [];
    net.raw(1).propose(enc('y'));
    net.processAll();
    expect(apps(net.queue, 3)).toHaveLength(1);
    net.raw(1).propose(enc('z'));
    net.processAll();
    expect(apps(net.queue, 3)).toHaveLength(1);
    net.stabilize();
    net.tickAll(2);
    expect(net.raw(1).status().progress?.get(3)?.state).toBe('replicate');
    expect(net.get(3).appliedData()).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'y', 'z']);
  });

  it('replicate state pipelines appends up to maxInflightMsgs', () => {
    const net = leaderNet({ maxInflightMsgs: 3, maxSizePerMsg: 1 });
    for (let k = 0; k < 10; k++) net.raw(1).propose(enc(`p${k}`));
    net.processAll();
    // maxSizePerMsg = 1 byte: one entry per message; 3 in flight per follower.
    const to2 = apps(net.queue, 2);
    expect(to2).toHaveLength(3);
    expect(to2.map((m) => m.entries.length)).toEqual([1, 1, 1]);
    expect(net.raw(1).status().progress?.get(2)?.inflightMsgs).toBe(3);
    net.stabilize();
    expect(net.get(2).appliedData()).toHaveLength(10);
    expect(net.raw(1).status().progress?.get(2)?.inflightMsgs).toBe(0);
  });

  it('replicate state also stops at maxInflightBytes', () => {
    const net = leaderNet({ maxInflightMsgs: 100, maxSizePerMsg: 1, maxInflightBytes: 250 });
    for (let k = 0; k < 10; k++) net.raw(1).propose(enc('x'.repeat(100)));
    net.processAll();
    // Each entry is 24 + 100 bytes: 124, 248 (< 250, send one more) then 372 >= 250: full.
    expect(apps(net.queue, 2)).toHaveLength(3);
    net.stabilize();
    expect(net.get(2).appliedData()).toHaveLength(10);
  });

  it('maxSizePerMsg bounds the entries in one append but always sends at least one', () => {
    const net = leaderNet({ maxSizePerMsg: 300 });
    for (let k = 0; k < 6; k++) net.raw(1).propose(enc('y'.repeat(100)));
    net.raw(1).propose(enc('z'.repeat(1000)));
    net.processAll();
    const sizes = apps(net.queue, 2).map((m) => m.entries.length);
    expect(sizes).toEqual([2, 2, 2, 1]);
    net.stabilize();
    expect(net.get(2).appliedData()).toHaveLength(7);
  });

  it('a pipeline whose messages were all lost recovers through heartbeats', () => {
    const net = leaderNet({ maxInflightMsgs: 2, maxSizePerMsg: 1 });
    for (let k = 0; k < 6; k++) net.raw(1).propose(enc(`p${k}`));
    net.processAll();
    net.take((m) => m.to === 2);
    expect(net.raw(1).status().progress?.get(2)?.inflightMsgs).toBe(2);
    net.tickAll(5);
    expect(net.get(2).appliedData()).toHaveLength(6);
  });

  it('a rejected append in replicate state falls back to probe and resends from the match', () => {
    const net = leaderNet();
    net.raw(1).propose(enc('a'));
    net.processAll();
    net.take((m) => m.to === 2); // lost
    net.raw(1).propose(enc('b'));
    net.stabilize(); // node 2 receives entry 3 without entry 2: rejects, leader probes
    expect(net.transcript.some((l) => l.startsWith('2->1 appResp') && l.includes('reject'))).toBe(true);
    expect(net.get(2).storage.lastIndex()).toBe(3);
    expect(net.raw(1).status().progress?.get(2)).toMatchObject({ state: 'replicate', match: 3 });
  });

  it('heartbeats carry min(match, commit) so a follower never commits past what it holds', () => {
    const net = leaderNet();
    net.isolate(3);
    net.propose(1, 'a');
    net.queue = [];
    net.raw(1).tick();
    net.processAll();
    const hb = net.queue.filter((m) => m.type === 'heartbeat');
    expect(hb.map((m) => [m.to, m.type === 'heartbeat' && m.commit])).toEqual([[2, 2]]);
    net.heal();
    net.queue = [];
    net.raw(1).tick();
    net.processAll();
    const toThree = net.queue.find((m) => m.type === 'heartbeat' && m.to === 3);
    expect(toThree).toMatchObject({ commit: 1 });
  });
});

describe('proposals', () => {
  it('a follower refuses proposals and names the leader', () => {
    const net = leaderNet();
    expect(net.raw(2).propose(enc('x'))).toEqual({ ok: false, reason: 'notLeader', leader: 1 });
    const fresh = new Network([1, 2, 3]);
    expect(fresh.raw(1).propose(enc('x'))).toEqual({ ok: false, reason: 'notLeader', leader: 0 });
  });

  it('an accepted proposal reports the index and term it committed at', () => {
    const net = leaderNet();
    const r = net.propose(1, 'x');
    expect(r).toEqual({ ok: true, index: 2, term: 1 });
    expect(net.get(2).applied.find((e) => e.index === 2)?.term).toBe(1);
  });

  it('a single-node cluster commits as soon as its own write is durable', () => {
    const net = new Network([1]);
    net.elect(1);
    expect(net.raw(1).status().role).toBe('leader');
    net.raw(1).propose(enc('solo'));
    const rd = net.handleReady(1)!;
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.committedEntries).toEqual([]);
    // advance() counted the leader's own copy: the next Ready commits and applies it.
    const next = net.handleReady(1)!;
    expect(next.hardState?.commit).toBe(2);
    expect(next.committedEntries.map((e) => e.index)).toEqual([2]);
    // Reference: thesis §10.2.1
  });
});
