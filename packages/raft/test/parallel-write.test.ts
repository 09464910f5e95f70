/**
 * The leader writes its log in parallel with replicating it (Raft thesis §10.2.1): a Ready's
 * `messages` leave before its write is durable, the node's own acknowledgements (the leader's
 * copy of its entries, a candidate's vote) count only at `advance()`, and only acknowledgements
 * that vouch for local durability wait in `messagesAfterPersist`.
 */
import type { AppendMessage, Message, NodeId, Ready } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { Network, enc } from './support/network.js';

const apps = (ms: readonly Message[], to?: NodeId): AppendMessage[] =>
  ms.filter((m): m is AppendMessage => m.type === 'app' && (to === undefined || m.to === to));

/** Leader 1 of `ids`, everything settled. */
function leaderNet(ids: NodeId[], opts = {}): Network {
  const net = new Network(ids, opts);
  net.elect(1);
  expect(net.raw(1).status().role).toBe('leader');
  return net;
}

/** Take node `id`'s Ready and send its `messages` only: its write is still "in flight". */
function startWrite(net: Network, id: NodeId): Ready {
  const rd = net.raw(id).ready();
  net.queue.push(...rd.messages);
  return rd;
}

/** The write of `rd` became durable: persist it, send `messagesAfterPersist`, apply, advance. */
function finishWrite(net: Network, id: NodeId, rd: Ready): void {
  const n = net.get(id);
  n.storage.append(rd.entries);
  if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
  net.queue.push(...rd.messagesAfterPersist);
  for (const e of rd.committedEntries) n.apply(e);
  n.node.advance(rd);
}

/** Deliver every queued message addressed to `to` (nothing else moves). */
function deliverTo(net: Network, to: NodeId): void {
  while (net.deliverOne((m) => m.to === to) !== undefined) {
    // Deliver them all.
  }
}

describe('writing the leader log in parallel (thesis §10.2.1)', () => {
  it('the leader sends its appends before its own write of them is durable', () => {
    const net = leaderNet([1, 2, 3]);
    net.raw(1).propose(enc('x'));
    const rd = net.raw(1).ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(apps(rd.messages).map((m) => [m.to, m.entries.map((e) => e.index)])).toEqual([
      [2, [2]],
      [3, [2]],
    ]);
    expect(rd.messagesAfterPersist).toEqual([]);
    // Reference: thesis §10.2.1 ("the leader … can write to its disk in parallel")
  });

  it('a leader commits with a majority of follower acks before its own fsync completes', () => {
    const net = leaderNet([1, 2, 3, 4, 5]);
    net.raw(1).propose(enc('x'));
    const rd = startWrite(net, 1);
    // Followers 2, 3 and 4 persist and acknowledge while the leader's own write is pending.
    for (const id of [2, 3, 4]) {
      deliverTo(net, id);
      net.handleReady(id);
    }
    deliverTo(net, 1);
    expect(net.get(1).storage.lastIndex()).toBe(1); // entry 2 is not on the leader's disk
    expect(net.raw(1).status().commit).toBe(2); // yet it is committed: three of five hold it
    // It is applied only once the leader's write is done (committed entries follow the write).
    finishWrite(net, 1, rd);
    net.stabilize();
    for (const id of [1, 2, 3, 4, 5]) expect(net.get(id).appliedData()).toEqual(['x']);
    // Reference: thesis §10.2.1 ("the leader may even commit an entry before it has been written to its own disk")
  });

  it("a leader's own entry is not counted before advance()", () => {
    const net = leaderNet([1, 2, 3]);
    net.raw(1).propose(enc('x'));
    const rd = startWrite(net, 1);
    // One follower of two acknowledges: with the leader's own copy that would be a majority…
    deliverTo(net, 2);
    net.handleReady(2);
    deliverTo(net, 1);
    expect(net.raw(1).status().progress?.get(1)?.match).toBe(1);
    expect(net.raw(1).status().progress?.get(2)?.match).toBe(2);
    // …but the leader's copy is not durable yet, so the entry is not committed.
    expect(net.raw(1).status().commit).toBe(1);
    finishWrite(net, 1, rd);
    // advance() counted the leader's own write: now it is.
    expect(net.raw(1).status().progress?.get(1)?.match).toBe(2);
    expect(net.raw(1).status().commit).toBe(2);
    // Reference: thesis §10.2.1; §5.3 ("once the entry has been safely replicated" on a majority)
  });

  it("a candidate's own vote counts only at advance(), and it wins only with it counted", () => {
    const net = new Network([1, 2, 3], { preVote: false });
    net.raw(1).campaign();
    const rd = startWrite(net, 1);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 1 });
    expect(rd.messages.map((m) => m.type)).toEqual(['vote', 'vote']);
    for (const id of [2, 3]) {
      deliverTo(net, id);
      net.handleReady(id);
    }
    deliverTo(net, 1);
    // Both other voters granted: a majority without node 1's own vote. But its term and vote are
    // not durable, and a crash now could let it lead term 1 a second time with another log.
    expect(net.raw(1).status().role).toBe('candidate');
    finishWrite(net, 1, rd);
    expect(net.raw(1).status().role).toBe('leader');
    // Reference: §5.2 (persist currentTerm and votedFor before responding); thesis §10.2.1
  });

  it('a single voter becomes leader and commits through its own writes alone', () => {
    const net = new Network([1]);
    net.raw(1).campaign();
    net.processAll();
    expect(net.raw(1).status()).toMatchObject({ role: 'leader', commit: 1 });
    net.raw(1).propose(enc('solo'));
    net.processAll();
    expect(net.get(1).appliedData()).toEqual(['solo']);
    // Reference: thesis §10.2.1
  });
});
