/**
 * Membership changes: single-server changes (Raft thesis §4.1), their availability rules
 * (§4.2: catching up new servers, removing the leader, disruptive servers) and learners.
 */
import { NONE, type ConfChange, type ConfChangeEntry } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { entriesWithTerms, msg, storageWith, voters } from './support/fixtures.js';
import { Network, drain, enc } from './support/network.js';

const EMPTY = { voters: [], learners: [] };

function leaderNet(ids = [1, 2, 3]): Network {
  const net = new Network(ids);
  net.elect(1);
  net.propose(1, 'a');
  net.tickAll(1);
  return net;
}

describe('single-server changes (thesis §4.1)', () => {
  it('a new voter joins: the configuration takes effect on append, and the new node catches up', () => {
    const net = leaderNet();
    net.add(4, EMPTY);
    const r = net.raw(1).proposeConfChange({ type: 'addVoter', nodeId: 4 });
    expect(r).toMatchObject({ ok: true, index: 3 });
    // In effect on the leader before it commits.
    expect(net.raw(1).status().conf.voters).toEqual([1, 2, 3, 4]);
    expect(net.raw(1).status().commit).toBe(2);
    net.stabilize();
    net.tickAll(2);
    for (const id of [1, 2, 3, 4]) expect(net.raw(id).status().conf).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.get(4).appliedData()).toEqual(['a']);
    // Quorum is now 3 of 4: with two nodes cut off nothing commits.
    net.isolate(3);
    net.isolate(4);
    net.raw(1).propose(enc('b'));
    net.stabilize();
    expect(net.raw(1).status().commit).toBe(3);
    // Reference: thesis §4.1
  });

  it('a follower adopts a configuration when it appends the entry, not when it commits', () => {
    const net = leaderNet();
    net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 });
    net.processAll();
    net.deliverOne((m) => m.to === 2 && m.type === 'app');
    expect(net.raw(2).status()).toMatchObject({ commit: 2, conf: { voters: [1, 2, 3], learners: [4] } });
    // Reference: thesis §4.1 ("a server always uses the latest configuration in its log")
  });

  it('only one change at a time: a second change waits for the first to commit', () => {
    const net = leaderNet();
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 }).ok).toBe(true);
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 5 })).toEqual({ ok: false, reason: 'confChangePending', leader: 1 });
    net.stabilize();
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 5 }).ok).toBe(true);
    // Reference: thesis §4.1
  });

  it('a new leader accepts a change only after committing an entry of its term', () => {
    const net = new Network([]);
    for (const id of [1, 2, 3]) net.add(id, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1], { term: 1, commit: 2 }));
    net.dropIf = (m) => m.from === 1 && m.type === 'app';
    net.elect(1);
    expect(net.raw(1).status().role).toBe('leader');
    expect(net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 3 })).toEqual({ ok: false, reason: 'notCommittedInTerm', leader: 1 });
    net.dropIf = undefined;
    net.tickAll(2);
    expect(net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 3 }).ok).toBe(true);
    // Reference: thesis §4.1 (the bug fix in the errata: commit an entry in the current term first)
  });

  it.each([
    ['adding an existing voter', { type: 'addVoter', nodeId: 2 }],
    ['adding a voter as learner', { type: 'addLearner', nodeId: 2 }],
    ['removing an unknown node', { type: 'removeNode', nodeId: 7 }],
    ['a zero node id', { type: 'addVoter', nodeId: 0 }],
    ['an unknown change type', { type: 'promote', nodeId: 4 }],
  ])('refuses nonsense: %s', (_name, change) => {
    const net = leaderNet();
    expect(net.raw(1).proposeConfChange(change as never)).toEqual({ ok: false, reason: 'invalidConfChange', leader: 1 });
  });

  it('refuses to remove the last voter', () => {
    const net = new Network([1]);
    net.elect(1);
    expect(net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 1 })).toMatchObject({ ok: false, reason: 'invalidConfChange' });
  });

  it('a follower refuses conf changes', () => {
    const net = leaderNet();
    expect(net.raw(2).proposeConfChange({ type: 'addLearner', nodeId: 4 })).toEqual({ ok: false, reason: 'notLeader', leader: 1 });
  });

  it('a configuration entry that is truncated away is undone', () => {
    const net = new Network([]);
    net.add(2, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1], { term: 1, commit: 2 }));
    const conf = { voters: [1, 2, 3], learners: [4] };
    const confEntry: ConfChangeEntry = { type: 'confChange', index: 3, term: 1, change: { type: 'addLearner', nodeId: 4 }, conf };
    net.raw(2).step(msg.app(1, 2, 1, 2, 1, [confEntry], 2));
    drain(net.get(2));
    expect(net.raw(2).status().conf).toEqual(conf);
    // A new leader of term 2 never saw it and overwrites index 3.
    net.raw(2).step(msg.app(3, 2, 2, 2, 1, entriesWithTerms([2], 3), 2));
    drain(net.get(2));
    expect(net.get(2).storage.allEntries().map((e) => e.type)).toEqual(['normal', 'normal', 'normal']);
    expect(net.raw(2).status().conf).toEqual(voters(1, 2, 3));
    // Reference: thesis §4.1 ("if the entry is truncated, the server falls back to the previous configuration")
  });

  it('recomputes the configuration from the log on restart', () => {
    const net = leaderNet();
    net.add(4, EMPTY);
    net.raw(1).proposeConfChange({ type: 'addVoter', nodeId: 4 });
    net.tickAll(2);
    net.get(4).restart();
    net.get(2).restart();
    expect(net.raw(4).status().conf).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.raw(2).status().conf).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    // Reference: thesis §4.1
  });
});

describe('learners and catching up (thesis §4.2.1)', () => {
  it('a learner receives the log but never votes and is not counted in quorums', () => {
    const net = new Network([1]);
    net.elect(1);
    net.add(2, EMPTY);
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 2 }).ok).toBe(true);
    net.stabilize();
    net.isolate(2);
    // A single voter still commits on its own.
    const r = net.raw(1).propose(enc('x'));
    net.stabilize();
    expect(net.raw(1).status().commit).toBe(r.ok ? r.index : -1);
    net.heal();
    net.tickAll(2);
    expect(net.get(2).appliedData()).toEqual(['x']);
    // The learner never campaigns, however long it waits.
    net.isolate(2);
    net.tickAll(50);
    expect(net.raw(2).status()).toMatchObject({ role: 'follower', term: 1 });
    expect(net.transcript.some((l) => l.startsWith('2->') && l.includes('Vote '))).toBe(false);
    // Reference: thesis §4.2.1
  });

  it('a learner is promoted only once caught up', () => {
    const net = new Network([1, 2, 3], { promotionLagMax: 2 });
    net.elect(1);
    net.add(4, EMPTY);
    net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 });
    net.stabilize();
    net.isolate(4);
    for (let k = 0; k < 5; k++) net.propose(1, `v${k}`);
    expect(net.raw(1).proposeConfChange({ type: 'addVoter', nodeId: 4 })).toEqual({ ok: false, reason: 'learnerBehind', leader: 1 });
    net.heal();
    net.tickAll(2);
    expect(net.raw(1).proposeConfChange({ type: 'addVoter', nodeId: 4 }).ok).toBe(true);
    net.tickAll(2);
    expect(net.raw(4).status().conf).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.raw(1).status().progress?.get(4)?.isLearner).toBe(false);
    // Reference: thesis §4.2.1
  });
});

describe('a learner that holds the newest log', () => {
  it('campaigns when a candidate that counts it as a voter cannot win because of it', () => {
    // Committed membership: voters 1,2,3 and learner 4. Node 1 appended (uncommitted) the
    // promotion of 4; node 3 then led term 3 and gave only learner 4 an entry before crashing.
    // Node 1 needs 3 of {1,2,3,4} but 4 is more up to date; node 2 is behind both. Only 4 can lead.
    const c0 = { voters: [1, 2, 3], learners: [4] };
    const c1 = { voters: [1, 2, 3, 4], learners: [] };
    const promote: ConfChangeEntry = { type: 'confChange', index: 3, term: 2, change: { type: 'addVoter', nodeId: 4 }, conf: c1 };
    const net = new Network([]);
    const s1 = storageWith(c0, [1, 1], { term: 2, commit: 2 });
    s1.append([promote]);
    net.add(1, c0, 1, s1);
    net.add(2, c0, 1, storageWith(c0, [1, 1], { term: 2, commit: 2 }));
    const s4 = storageWith(c0, [1, 1], { term: 3, commit: 2 });
    s4.append(entriesWithTerms([3], 3));
    net.add(4, c0, 1, s4);
    expect(net.raw(1).status().conf).toEqual(c1);
    net.tickAll(80);
    // Learner 4 led long enough to commit an entry of its term (undoing node 1's promotion
    // entry), then stepped down as a non-voter; a voter leads from then on.
    expect(net.transcript.some((l) => l.startsWith('4->1 vote'))).toBe(true);
    const leader = net.leaderOf()!;
    expect([1, 2]).toContain(leader);
    const r = net.propose(leader, 'progress');
    expect(r.ok).toBe(true);
    net.tickAll(2);
    for (const id of [1, 2, 4]) {
      expect(net.get(id).appliedData()).toEqual(['e1t1', 'e2t1', 'e3t3', 'progress']);
      expect(net.raw(id).status().conf).toEqual(c0);
    }
    // Reference: thesis §4.2.2 (servers outside their latest configuration still start elections)
  });
});

describe('removing servers (thesis §4.2.2, §4.2.3)', () => {
  it('a leader that removes itself does not count itself and steps down once the change commits', () => {
    const net = leaderNet();
    const r = net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 1 });
    expect(r.ok).toBe(true);
    expect(net.raw(1).status().role).toBe('leader');
    expect(net.raw(1).propose(enc('x'))).toMatchObject({ ok: false, reason: 'notLeader' });
    // Without either follower the removal cannot commit: the leader alone is not a quorum of {2,3}.
    net.processAll();
    net.deliverOne((m) => m.to === 2);
    net.processAll();
    expect(net.raw(1).status().role).toBe('leader');
    net.stabilize();
    net.deliverOne((m) => m.to === 3);
    net.stabilize();
    expect(net.raw(1).status()).toMatchObject({ role: 'follower', leader: NONE });
    net.tickAll(40);
    const l = net.leaderOf()!;
    expect([2, 3]).toContain(l);
    net.propose(l, 'after');
    net.tickAll(1);
    for (const id of [2, 3]) expect(net.get(id).appliedData()).toEqual(['a', 'after']);
    // The removed node never campaigns again.
    expect(net.raw(1).status().conf.voters).toEqual([2, 3]);
    expect(net.raw(1).status().role).toBe('follower');
    // Reference: thesis §4.2.2
  });

  it('a node removed by an uncommitted entry still campaigns to commit its own removal', () => {
    // Two voters; leader 1 appends its own removal, then loses contact before replicating it.
    // Node 2 cannot win without 1's vote (1's log is longer), so 1 must finish the change.
    const net = new Network([1, 2]);
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(1);
    expect(net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 1 }).ok).toBe(true);
    expect(net.raw(1).status().conf.voters).toEqual([2]);
    net.tickAll(30);
    expect(net.raw(1).status().role).not.toBe('leader');
    net.heal();
    net.tickAll(60);
    expect(net.raw(2).status()).toMatchObject({ role: 'leader', conf: { voters: [2], learners: [] } });
    expect(net.raw(1).status()).toMatchObject({ role: 'follower', conf: { voters: [2], learners: [] } });
    // Once its removal is committed, node 1 never campaigns again.
    const term = net.raw(2).status().term;
    net.tickAll(60);
    expect(net.raw(2).status()).toMatchObject({ role: 'leader', term });
    // Reference: thesis §4.2.2 ("a server that is not part of its own latest configuration should still start new elections")
  });

  it('a removed follower does not disrupt the cluster', () => {
    const net = leaderNet();
    net.raw(1).proposeConfChange({ type: 'removeNode', nodeId: 3 });
    net.tickAll(2);
    const term = net.raw(1).status().term;
    net.tickAll(100);
    expect(net.raw(1).status()).toMatchObject({ role: 'leader', term });
    // Node 3 never learns of its removal (the leader stopped replicating to it at once), so it
    // times out, but PreVote keeps its term, and with it the cluster, undisturbed.
    expect(net.raw(3).status().term).toBe(term);
    expect(net.raw(3).status().role).not.toBe('leader');
    // Reference: thesis §4.2.3
  });

  it('a node that is not in its own configuration never campaigns', () => {
    const net = new Network([]);
    net.add(9, EMPTY);
    net.tick(9, 100);
    expect(drain(net.get(9))).toEqual([]);
    net.raw(9).campaign();
    expect(net.raw(9).status()).toMatchObject({ role: 'follower', term: 0 });
    // Reference: thesis §4.2.3
  });

  it('membership changes mixed with failures keep a single history (grow 3->5, shrink 5->3, replace)', () => {
    const net = leaderNet();
    const change = (c: ConfChange): void => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const l = net.leaderOf();
        if (l !== undefined && net.raw(l).proposeConfChange(c).ok) {
          net.tickAll(3);
          return;
        }
        net.tickAll(3);
      }
      throw new Error(`change ${c.type} ${c.nodeId} never accepted`);
    };
    for (const id of [4, 5]) {
      net.add(id, EMPTY);
      change({ type: 'addLearner', nodeId: id });
      change({ type: 'addVoter', nodeId: id });
    }
    const l = net.leaderOf()!;
    expect([...net.raw(l).status().conf.voters].sort()).toEqual([1, 2, 3, 4, 5]);
    net.isolate(2);
    change({ type: 'removeNode', nodeId: 2 });
    net.heal();
    change({ type: 'removeNode', nodeId: 3 });
    net.add(6, EMPTY);
    change({ type: 'addVoter', nodeId: 6 });
    net.tickAll(10);
    const leader = net.leaderOf()!;
    net.propose(leader, 'end');
    net.tickAll(2);
    const members = net.raw(leader).status().conf.voters;
    expect([...members].sort()).toEqual(members.includes(1) ? [1, 4, 5, 6] : [4, 5, 6]);
    for (const id of members) expect(net.get(id).appliedData()).toEqual(net.get(leader).appliedData());
    expect(net.get(leader).appliedData()).toEqual(['a', 'end']);
    // Reference: thesis §4.1-4.2
  });
});
