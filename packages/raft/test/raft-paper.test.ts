/**
 * Tests of the Raft paper's rules (Ongaro & Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", extended version), in the style of etcd's raft_paper_test.go. Each test
 * cites the section it checks.
 */
import { NONE, type Message, type NodeId, type Role } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { entriesWithTerms, msg, storageWith, voters } from './support/fixtures.js';
import { Network, drain, enc } from './support/network.js';

/** A 3-node network without PreVote/CheckQuorum unless asked: the paper's base algorithm. */
function paperNet(ids: NodeId[] = [1, 2, 3], opts = {}): Network {
  return new Network(ids, { preVote: false, checkQuorum: false, ...opts });
}

const role = (net: Network, id: NodeId): Role => net.raw(id).status().role;
const term = (net: Network, id: NodeId): number => net.raw(id).status().term;

/** Make node 1 leader of a paper network and deliver everything. */
function withLeader(ids: NodeId[] = [1, 2, 3], opts = {}): Network {
  const net = paperNet(ids, opts);
  net.elect(1);
  expect(role(net, 1)).toBe('leader');
  return net;
}

describe('§5.1 terms', () => {
  it.each<[string, (net: Network) => void]>([
    ['follower', () => {}],
    ['candidate', (net) => { net.raw(1).campaign(); drain(net.get(1)); }],
    ['leader', (net) => { net.elect(1); net.queue = []; }],
  ])('a %s that sees a higher term updates its term and becomes follower', (_name, setup) => {
    const net = paperNet();
    setup(net);
    const before = term(net, 1);
    net.raw(1).step(msg.app(2, 1, before + 5, 0, 0));
    expect(net.raw(1).status()).toMatchObject({ term: before + 5, role: 'follower', leader: 2 });
    // Reference: §5.1
  });

  it('a message with a stale term is ignored by the base algorithm', () => {
    const net = paperNet();
    net.raw(1).step(msg.app(2, 1, 3, 0, 0));
    drain(net.get(1));
    net.raw(1).step(msg.app(3, 1, 2, 0, 0, entriesWithTerms([2])));
    expect(drain(net.get(1))).toEqual([]);
    expect(net.raw(1).status()).toMatchObject({ term: 3, leader: 2, lastIndex: 0 });
    // Reference: §5.1
  });

  it('a vote request from an older term is refused with the current term, so the candidate catches up', () => {
    const net = paperNet();
    net.raw(1).step(msg.app(2, 1, 5, 0, 0));
    drain(net.get(1));
    net.raw(1).step(msg.vote(3, 1, 2, 9, 2));
    expect(drain(net.get(1))).toMatchObject([{ type: 'voteResp', to: 3, term: 5, reject: true }]);
    // Reference: §5.1, Figure 2 (RequestVote results: term, for the candidate to update itself)
  });

  it('with CheckQuorum, a stale leader is answered so that it learns the new term', () => {
    const net = new Network([1, 2, 3]);
    net.raw(1).step(msg.app(2, 1, 3, 0, 0));
    drain(net.get(1));
    net.raw(1).step(msg.heartbeat(3, 1, 2));
    const out = drain(net.get(1));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'appResp', to: 3, term: 3 });
    // Reference: §5.1, thesis §9.6
  });
});

describe('§5.2 leader election', () => {
  it('nodes start as followers with no leader', () => {
    const net = paperNet();
    for (const id of [1, 2, 3]) expect(net.raw(id).status()).toMatchObject({ role: 'follower', leader: NONE, term: 0 });
    // Reference: §5.2
  });

  it('a follower that hears nothing for an election timeout becomes candidate, votes for itself and asks for votes', () => {
    const net = paperNet();
    net.tick(1, 20);
    const out = drain(net.get(1));
    expect(net.raw(1).status()).toMatchObject({ role: 'candidate', term: 1, vote: 1 });
    expect(out.map((m) => [m.type, m.to, m.term])).toEqual([
      ['vote', 2, 1],
      ['vote', 3, 1],
    ]);
    expect(net.get(1).storage.hardState()).toMatchObject({ term: 1, vote: 1 });
    // Reference: §5.2
  });

  it('the election timeout is randomized in [electionTick, 2*electionTick)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false }, undefined, voters(1, 2, 3), seed);
      let ticks = 0;
      while (role(net, 1) === 'follower') {
        net.tick(1);
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    // Spread out to avoid split votes.
    expect(seen.size).toBeGreaterThan(4);
    // Reference: §5.2 ("randomized election timeouts")
  });

  it.each<[string, boolean[], Role]>([
    ['wins with a majority', [true, true, false, false], 'leader'],
    ['wins with all votes', [true, true, true, true], 'leader'],
    ['waits without a majority', [true, false, undefined as unknown as boolean, undefined as unknown as boolean], 'candidate'],
    ['steps down when a majority rejects', [false, false, false, true], 'follower'],
  ])('a candidate in a 5-node cluster %s', (_name, answers, want) => {
    const net = paperNet([1, 2, 3, 4, 5]);
    net.raw(1).campaign();
    drain(net.get(1));
    answers.forEach((grant, k) => {
      if (grant === undefined) return;
      net.raw(1).step(msg.voteResp(k + 2, 1, 1, !grant));
    });
    drain(net.get(1));
    expect(role(net, 1)).toBe(want);
    // Reference: §5.2
  });

  it('a node votes for at most one candidate per term, first come first served', () => {
    const net = paperNet();
    net.raw(1).step(msg.vote(2, 1, 1, 0, 0));
    net.raw(1).step(msg.vote(3, 1, 1, 0, 0));
    net.raw(1).step(msg.vote(2, 1, 1, 0, 0));
    const out = drain(net.get(1));
    expect(out.map((m) => [m.to, m.type === 'voteResp' && m.reject])).toEqual([
      [2, false],
      [3, true],
      [2, false],
    ]);
    expect(net.get(1).storage.hardState()).toMatchObject({ term: 1, vote: 2 });
    // Reference: §5.2
  });

  it('the vote survives a restart (it is part of the persisted HardState)', () => {
    const net = paperNet();
    net.raw(1).step(msg.vote(2, 1, 1, 0, 0));
    drain(net.get(1));
    net.get(1).restart();
    net.raw(1).step(msg.vote(3, 1, 1, 0, 0));
    const out = drain(net.get(1));
    expect(out).toMatchObject([{ type: 'voteResp', to: 3, reject: true }]);
    // Reference: §5.2, Figure 2 (persistent state)
  });

  it('a follower’s election timer restarts only on hearing from a leader or granting a vote', () => {
    const net = new Network([], { preVote: false, checkQuorum: false });
    net.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 2], { term: 2 }));
    // Run the timer most of the way, then reject a stale candidate of a higher term.
    let ticks = 0;
    const probe = new Network([], { preVote: false, checkQuorum: false });
    probe.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 2], { term: 2 }));
    while (probe.raw(1).status().role === 'follower') {
      probe.tick(1);
      ticks++;
    }
    net.tick(1, ticks - 1);
    net.raw(1).step(msg.vote(2, 1, 3, 1, 1));
    expect(drain(net.get(1))).toMatchObject([{ type: 'voteResp', reject: true }]);
    expect(net.raw(1).status().term).toBe(3);
    net.tick(1);
    expect(net.raw(1).status()).toMatchObject({ role: 'candidate', term: 4 });
    // Reference: §5.2, Figure 2 (Rules for Servers: Followers)
  });

  it('a candidate that hears from a leader of its term becomes follower', () => {
    const net = paperNet();
    net.raw(1).campaign();
    drain(net.get(1));
    net.raw(1).step(msg.app(2, 1, 1, 0, 0));
    expect(net.raw(1).status()).toMatchObject({ role: 'follower', leader: 2, term: 1 });
    // Reference: §5.2
  });

  it('a candidate that neither wins nor loses starts a new election after a timeout', () => {
    const net = paperNet();
    net.raw(1).campaign();
    drain(net.get(1));
    net.tick(1, 20);
    expect(net.raw(1).status()).toMatchObject({ role: 'candidate', term: 2 });
    // Reference: §5.2
  });

  it('a leader sends heartbeats every heartbeatTick', () => {
    const net = withLeader([1, 2, 3], { heartbeatTick: 2 });
    net.tick(1);
    expect(drain(net.get(1))).toEqual([]);
    net.tick(1);
    const out = drain(net.get(1));
    expect(out.map((m) => [m.type, m.to])).toEqual([
      ['heartbeat', 2],
      ['heartbeat', 3],
    ]);
    // Reference: §5.2
  });

  it('a leader is elected by timeouts alone in every cluster size', () => {
    for (const size of [1, 3, 5]) {
      const ids = Array.from({ length: size }, (_, k) => k + 1);
      const net = new Network(ids);
      net.tickAll(40);
      const leaders = ids.filter((id) => role(net, id) === 'leader');
      expect(leaders).toHaveLength(1);
      const l = leaders[0]!;
      for (const id of ids) expect(net.raw(id).status().leader).toBe(l);
    }
    // Reference: §5.2
  });
});

describe('§5.3 log replication', () => {
  it('a new leader appends a no-op and replicates it to every follower', () => {
    const net = paperNet();
    net.raw(1).campaign();
    drain(net.get(1));
    net.raw(1).step(msg.voteResp(2, 1, 1, false));
    const out = drain(net.get(1));
    expect(role(net, 1)).toBe('leader');
    expect(out).toMatchObject([
      { type: 'app', to: 2, prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 1, type: 'normal' }] },
      { type: 'app', to: 3, prevIndex: 0, prevTerm: 0, entries: [{ index: 1, term: 1 }] },
    ]);
    expect(out[0]!.type === 'app' && out[0]!.entries[0]!.type === 'normal' && out[0]!.entries[0]!.data.byteLength).toBe(0);
    // Reference: §5.3, §8 (no-op at the start of a term)
  });

  it('the leader commits an entry once a majority stored it, then followers learn the commit', () => {
    const net = withLeader();
    net.raw(1).propose(enc('x'));
    net.processAll();
    expect(net.queue.filter((m) => m.type === 'app')).toHaveLength(2);
    expect(net.raw(1).status().commit).toBe(1);
    // Both followers store the entry; only node 2's acknowledgement reaches the leader.
    net.deliverOne((m) => m.to === 2);
    net.deliverOne((m) => m.to === 3);
    net.processAll();
    const acks = net.take((m) => m.to === 1);
    expect(acks).toMatchObject([{ type: 'appResp', from: 2, index: 2 }, { type: 'appResp', from: 3, index: 2 }]);
    net.raw(1).step(acks[0]!);
    net.processAll();
    expect(net.raw(1).status().commit).toBe(2);
    expect(net.get(1).appliedData()).toEqual(['x']);
    net.stabilize();
    for (const id of [2, 3]) expect(net.raw(id).status().commit).toBe(2);
    // Reference: §5.3
  });

  it('committing an entry commits every preceding entry of the leader, including earlier terms', () => {
    const net = new Network([], { preVote: false, checkQuorum: false });
    for (const id of [1, 2, 3]) net.add(id, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 2, 2], { term: 2, commit: 0 }));
    net.elect(1);
    expect(net.raw(1).status()).toMatchObject({ role: 'leader', commit: 4 });
    expect(net.get(1).applied.map((e) => `${e.index}/${e.term}`)).toEqual(['1/1', '2/2', '3/2', '4/3']);
    // Reference: §5.3 ("This also commits all preceding entries in the leader's log")
  });

  it('a follower commits what the leader says is committed, up to what it holds', () => {
    const net = paperNet();
    net.raw(1).step(msg.app(2, 1, 1, 0, 0, entriesWithTerms([1, 1, 1]), 2));
    const rd = net.handleReady(1)!;
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    net.raw(1).step(msg.heartbeat(2, 1, 1, 3));
    expect(net.handleReady(1)!.committedEntries.map((e) => e.index)).toEqual([3]);
    // Reference: §5.3 ("Once a follower learns that a log entry is committed, it applies it")
  });

  it('vote requests carry the candidate’s last log index and term', () => {
    const net = new Network([], { preVote: false });
    net.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1, 3], { term: 3 }));
    net.raw(1).campaign();
    expect(drain(net.get(1))).toMatchObject([
      { type: 'vote', to: 2, term: 4, lastIndex: 3, lastTerm: 3, transfer: false },
      { type: 'vote', to: 3, term: 4, lastIndex: 3, lastTerm: 3, transfer: false },
    ]);
    // Reference: §5.2, §5.4.1 (RequestVote arguments, Figure 2)
  });

  it('a follower applies exactly the committed entries, in order, once', () => {
    const net = withLeader();
    for (const s of ['a', 'b', 'c']) net.propose(1, s);
    net.tickAll(2);
    for (const id of [1, 2, 3]) {
      expect(net.get(id).appliedData()).toEqual(['a', 'b', 'c']);
      expect(net.get(id).applied.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    }
    // Reference: §5.3 ("applies the entry to its state machine in log order")
  });

  it.each([
    ['matching prev entry', 2, 2, false],
    ['wrong prev term', 2, 3, true],
    ['prev index beyond the log', 4, 3, true],
    ['empty log start', 0, 0, false],
  ])('a follower checks the previous entry: %s', (_name, prevIndex, prevTerm, reject) => {
    const s = storageWith(voters(1, 2, 3), [1, 2, 2], { term: 2 });
    const net = paperNet();
    net.add(1, voters(1, 2, 3), 1, s);
    net.raw(1).step(msg.app(2, 1, 2, prevIndex, prevTerm, []));
    const out = drain(net.get(1));
    expect(out).toMatchObject([{ type: 'appResp', reject }]);
    // Reference: §5.3 (AppendEntries consistency check)
  });

  it.each<[string, number, number, number[], number[]]>([
    ['appends new entries', 3, 2, [3], [1, 2, 2, 3]],
    ['truncates a conflicting suffix', 1, 1, [3, 3], [1, 3, 3]],
    ['keeps entries that already match', 0, 0, [1, 2], [1, 2, 2]],
    ['keeps a longer matching log', 1, 1, [2], [1, 2, 2]],
  ])('a follower %s', (_name, prevIndex, prevTerm, newTerms, want) => {
    const s = storageWith(voters(1, 2, 3), [1, 2, 2], { term: 3 });
    const net = paperNet();
    net.add(1, voters(1, 2, 3), 1, s);
    net.raw(1).step(msg.app(2, 1, 3, prevIndex, prevTerm, entriesWithTerms(newTerms, prevIndex + 1)));
    drain(net.get(1));
    expect(net.get(1).storage.allEntries().map((e) => e.term)).toEqual(want);
    // Reference: §5.3 ("If an existing entry conflicts with a new one, delete it and all that follow")
  });

  it('a rejection carries a hint that lets the leader skip a whole term', () => {
    // Follower log: terms 1 1 2 2 2 2 2 (index 1..7); the leader probes at index 7 with term 3.
    const s = storageWith(voters(1, 2, 3), [1, 1, 2, 2, 2, 2, 2], { term: 3 });
    const net = paperNet();
    net.add(1, voters(1, 2, 3), 1, s);
    net.raw(1).step(msg.app(2, 1, 4, 7, 3, []));
    const out = drain(net.get(1));
    // The last entry with term <= 3 is index 7 (term 2): the leader can jump straight there.
    expect(out).toMatchObject([{ type: 'appResp', reject: true, index: 7, hintIndex: 7, hintTerm: 2 }]);
    // Reference: §5.3 (the optimization at the end of the section)
  });

  it.each<[string, number[]]>([
    // Figure 7's followers (a)-(f) against the leader's log 1 1 1 4 4 5 5 6 6 6.
    ['(a) missing one entry', [1, 1, 1, 4, 4, 5, 5, 6, 6]],
    ['(b) missing many', [1, 1, 1, 4]],
    ['(c) one extra entry', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]],
    ['(d) extra entries of a newer term', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]],
    ['(e) extra entries of an old term', [1, 1, 1, 4, 4, 4, 4]],
    ['(f) many uncommitted entries of other terms', [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]],
  ])('the leader brings a divergent follower in line: Figure 7 %s', (_name, followerTerms) => {
    const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const net = new Network([], { preVote: false, checkQuorum: false });
    net.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), leaderTerms, { term: 7, commit: 0 }));
    net.add(2, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), followerTerms, { term: 7, commit: 0 }));
    net.add(3, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), leaderTerms, { term: 7, commit: 0 }));
    // Node 3 votes for 1; node 2 may have a "longer" log in case (d) but only 2 of 3 are needed.
    net.elect(1);
    expect(role(net, 1)).toBe('leader');
    net.tickAll(1);
    const want = [...leaderTerms, term(net, 1)];
    expect(net.get(2).storage.allEntries().map((e) => e.term)).toEqual(want);
    expect(net.raw(2).status().commit).toBe(want.length);
    // Fast back-off: the number of rejections is bounded by the number of distinct terms.
    const rejections = net.transcript.filter((l) => l.startsWith('2->1 appResp') && l.includes('reject')).length;
    expect(rejections).toBeLessThanOrEqual(4);
    // Reference: §5.3, Figure 7
  });
});

describe('§5.4 safety', () => {
  it.each<[string, number, number, boolean]>([
    ['a higher last term', 2, 3, true],
    ['the same last term and a longer log', 4, 2, true],
    ['the same last term and the same length', 3, 2, true],
    ['the same last term and a shorter log', 2, 2, false],
    ['a lower last term and a longer log', 10, 1, false],
  ])('a voter grants its vote to a candidate with %s only if up to date', (_name, lastIndex, lastTerm, grant) => {
    const s = storageWith(voters(1, 2, 3), [1, 2, 2], { term: 2 });
    const net = paperNet();
    net.add(1, voters(1, 2, 3), 1, s);
    net.raw(1).step(msg.vote(2, 1, 3, lastIndex, lastTerm));
    expect(drain(net.get(1))).toMatchObject([{ type: 'voteResp', reject: !grant }]);
    // Reference: §5.4.1
  });

  it('a candidate with a stale log cannot win', () => {
    const net = new Network([], { preVote: false, checkQuorum: false });
    net.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1], { term: 1 }));
    net.add(2, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1], { term: 1 }));
    net.add(3, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1], { term: 1 }));
    net.elect(1);
    expect(role(net, 1)).not.toBe('leader');
    // Reference: §5.4.1 (Election restriction)
  });

  it('a leader does not commit an entry of an earlier term by counting replicas', () => {
    // Leader log [1 1 2]; it is elected in term 3 and the followers hold [1 1 2] too, but until
    // the term-3 no-op is stored by a majority nothing new commits.
    const net = new Network([], { preVote: false, checkQuorum: false });
    for (const id of [1, 2, 3]) net.add(id, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 1, 2], { term: 2, commit: 1 }));
    net.raw(1).campaign();
    drain(net.get(1));
    net.raw(1).step(msg.voteResp(2, 1, 3, false));
    drain(net.get(1));
    expect(role(net, 1)).toBe('leader');
    // Follower 2 acknowledges index 3 (of term 2) but not the no-op at 4.
    net.raw(1).step(msg.appResp(2, 1, 3, 3));
    drain(net.get(1));
    expect(net.raw(1).status().commit).toBe(1);
    // Once index 4 (term 3) is on a majority, everything up to it commits.
    net.raw(1).step(msg.appResp(2, 1, 3, 4));
    drain(net.get(1));
    expect(net.raw(1).status().commit).toBe(4);
    // Reference: §5.4.2
  });

  it('Figure 8: an entry from an earlier term on a majority is overwritten safely, never committed early', () => {
    // State (b)/(c) of Figure 8: index 2 holds an entry of term 2 on S1 and S2 (and, once S1
    // leads again, S3); S5 holds an entry of term 3 at index 2.
    const conf = voters(1, 2, 3, 4, 5);
    const g = new Network([], { preVote: false, checkQuorum: false });
    g.add(1, conf, 1, storageWith(conf, [1, 2], { term: 4, commit: 1 }));
    g.add(2, conf, 1, storageWith(conf, [1, 2], { term: 4, commit: 1 }));
    g.add(3, conf, 1, storageWith(conf, [1, 2], { term: 4, commit: 1 }));
    g.add(4, conf, 1, storageWith(conf, [1], { term: 4, commit: 1 }));
    g.add(5, conf, 1, storageWith(conf, [1, 3], { term: 4, commit: 1 }));
    // S1 becomes leader of term 5 with votes from S2, S3 but its no-op (index 3) reaches nobody.
    g.dropIf = (m) => m.type === 'app' && m.from === 1;
    g.elect(1);
    expect(role(g, 1)).toBe('leader');
    // Index 2 (term 2) is on S1, S2, S3 — a majority — yet nothing beyond 1 is committed.
    expect(g.raw(1).status().commit).toBe(1);
    for (const id of [1, 2, 3]) expect(g.get(id).applied.filter((e) => e.index === 2)).toEqual([]);
    // (d) S1 crashes; S5 (last term 3) is elected by S2, S3, S4 and overwrites index 2 everywhere.
    g.isolate(1);
    g.dropIf = undefined;
    g.elect(5);
    expect(role(g, 5)).toBe('leader');
    g.tickAll(2);
    for (const id of [2, 3, 4, 5]) {
      expect(g.get(id).storage.allEntries()[1]).toMatchObject({ index: 2, term: 3 });
      expect(g.raw(id).status().commit).toBeGreaterThanOrEqual(3);
    }
    // Reference: §5.4.2, Figure 8
  });

  it('leader completeness: a leader elected after a commit holds every committed entry', () => {
    const net = new Network([1, 2, 3, 4, 5]);
    net.elect(1);
    for (let k = 0; k < 5; k++) net.propose(1, `v${k}`);
    const committed = net.raw(1).status().commit;
    net.isolate(1);
    net.tickAll(40);
    const leader = net.leaderOf();
    expect(leader).toBeDefined();
    expect(leader).not.toBe(1);
    expect(net.get(leader!).storage.allEntries().length).toBeGreaterThanOrEqual(committed);
    expect(net.get(leader!).appliedData()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    // Reference: §5.4.3
  });
});

describe('thesis §9.6 PreVote', () => {
  it('a pre-candidate does not bump its term and asks for votes in term+1', () => {
    const net = new Network([1, 2, 3]);
    net.tick(1, 20);
    const out = drain(net.get(1));
    expect(net.raw(1).status()).toMatchObject({ role: 'preCandidate', term: 0, vote: 0 });
    expect(out.map((m) => [m.type, m.to, m.term])).toEqual([
      ['preVote', 2, 1],
      ['preVote', 3, 1],
    ]);
    // Reference: thesis §9.6
  });

  it('a partitioned node does not disrupt the cluster when it rejoins', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const leaderTerm = term(net, 1);
    net.isolate(3);
    net.tickAll(100);
    // Node 3 kept pre-campaigning but never bumped its term.
    expect(term(net, 3)).toBe(leaderTerm);
    net.heal();
    net.tickAll(5);
    expect(role(net, 1)).toBe('leader');
    expect(term(net, 1)).toBe(leaderTerm);
    expect(net.raw(3).status().leader).toBe(1);
    // Reference: thesis §9.6
  });

  it('without PreVote the same rejoin forces a new election (contrast)', () => {
    const net = new Network([1, 2, 3], { preVote: false, checkQuorum: false });
    net.elect(1);
    const leaderTerm = term(net, 1);
    net.isolate(3);
    net.tickAll(100);
    expect(term(net, 3)).toBeGreaterThan(leaderTerm);
    net.heal();
    net.tickAll(30);
    expect(term(net, 1)).toBeGreaterThan(leaderTerm);
    // Reference: thesis §9.6 (the problem PreVote solves)
  });

  it('a voter grants a pre-vote without changing its own term or vote', () => {
    const net = new Network([1, 2, 3]);
    net.raw(1).step(msg.preVote(2, 1, 1, 0, 0));
    expect(drain(net.get(1))).toMatchObject([{ type: 'preVoteResp', to: 2, term: 1, reject: false }]);
    expect(net.raw(1).status()).toMatchObject({ term: 0, vote: 0 });
    // Reference: thesis §9.6
  });

  it('a pre-vote is refused for a log that is not up to date', () => {
    const net = new Network([]);
    net.add(1, voters(1, 2, 3), 1, storageWith(voters(1, 2, 3), [1, 2], { term: 2 }));
    net.raw(1).step(msg.preVote(2, 1, 3, 5, 1));
    expect(drain(net.get(1))).toMatchObject([{ type: 'preVoteResp', reject: true, term: 2 }]);
    // Reference: thesis §9.6, §5.4.1
  });
});

describe('thesis §6.2 / §9.6 CheckQuorum and the leader lease', () => {
  it('a leader that has not heard from a quorum for an election timeout steps down', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    for (let k = 0; k < 25; k++) {
      net.tick(1);
      drain(net.get(1));
    }
    expect(net.raw(1).status()).toMatchObject({ role: 'follower', leader: NONE });
    // Reference: thesis §6.2
  });

  it('a leader that hears from a quorum stays leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolatePair(1, 3);
    net.tickAll(50);
    expect(role(net, 1)).toBe('leader');
    // Reference: thesis §6.2
  });

  it('a follower that heard from its leader recently ignores vote requests', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const t = term(net, 2);
    net.raw(2).step(msg.vote(3, 2, t + 1, 100, t));
    expect(drain(net.get(2))).toEqual([]);
    expect(term(net, 2)).toBe(t);
    // Reference: thesis §4.2.3
  });

  it('the lease is ignored for an election that follows a leadership transfer', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const t = term(net, 2);
    const last = net.raw(2).status().lastIndex;
    net.raw(2).step(msg.vote(3, 2, t + 1, last, t, true));
    expect(drain(net.get(2))).toMatchObject([{ type: 'voteResp', reject: false, term: t + 1 }]);
    // Reference: thesis §3.10, §4.2.3
  });
});

describe('peer input never throws', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['unknown type', { type: 'bogus', from: 2, to: 1, term: 1 }],
    ['wrong addressee', msg.app(2, 9, 1, 0, 0)],
    ['from itself', msg.app(1, 1, 1, 0, 0)],
    ['negative term', { ...msg.heartbeat(2, 1, 1), term: -1 }],
    ['non-contiguous entries', msg.app(2, 1, 1, 0, 0, entriesWithTerms([1], 5))],
    ['entries not an array', { ...msg.app(2, 1, 1, 0, 0), entries: 'x' }],
    ['snapshot without meta', { type: 'snap', from: 2, to: 1, term: 1, snapshot: {} }],
  ])('%s is dropped', (_name, m) => {
    const net = new Network([1, 2, 3]);
    expect(() => net.raw(1).step(m as Message)).not.toThrow();
    expect(net.raw(1).status()).toMatchObject({ term: 0, lastIndex: 0 });
  });
});
