/**
 * Leadership transfer: Raft thesis §3.10.
 */
import { describe, expect, it } from 'vitest';
import { Network, enc } from './support/network.js';

function leaderNet(ids = [1, 2, 3]): Network {
  const net = new Network(ids);
  net.elect(1);
  net.propose(1, 'a');
  net.tickAll(1);
  return net;
}

describe('leadership transfer', () => {
  it('sends TimeoutNow to an up-to-date target, which wins the next term at once', () => {
    const net = leaderNet();
    const term = net.raw(1).status().term;
    const from = net.transcript.length;
    expect(net.raw(1).transferLeadership(2)).toEqual({ ok: true });
    net.processAll();
    expect(net.queue).toMatchObject([{ type: 'timeoutNow', from: 1, to: 2 }]);
    net.stabilize();
    const lines = net.transcript.slice(from);
    expect(net.raw(2).status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(net.raw(1).status()).toMatchObject({ role: 'follower', leader: 2 });
    // The target skipped PreVote and the voters ignored their lease.
    expect(lines.some((l) => l.startsWith('2->1 vote') && l.includes('transfer'))).toBe(true);
    expect(lines.some((l) => l.includes('preVote'))).toBe(false);
    // Reference: thesis §3.10
  });

  it('catches a lagging target up before sending TimeoutNow', () => {
    const net = leaderNet();
    net.isolate(3);
    for (let k = 0; k < 3; k++) net.propose(1, `x${k}`);
    net.heal();
    net.raw(1).reportUnreachable(3);
    expect(net.raw(1).transferLeadership(3)).toEqual({ ok: true });
    net.processAll();
    expect(net.queue.some((m) => m.type === 'timeoutNow')).toBe(false);
    expect(net.queue.some((m) => m.type === 'app' && m.to === 3)).toBe(true);
    net.stabilize();
    expect(net.raw(3).status().role).toBe('leader');
    expect(net.get(3).appliedData()).toEqual(['a', 'x0', 'x1', 'x2']);
    // Reference: thesis §3.10 step 2
  });

  it('refuses proposals while transferring and aborts after an election timeout', () => {
    const net = leaderNet();
    net.isolate(2);
    expect(net.raw(1).transferLeadership(2)).toEqual({ ok: true });
    expect(net.raw(1).status().transferee).toBe(2);
    expect(net.raw(1).propose(enc('no'))).toEqual({ ok: false, reason: 'transferring', leader: 1 });
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 })).toMatchObject({ ok: false, reason: 'transferring' });
    net.tickAll(10);
    expect(net.raw(1).status()).toMatchObject({ role: 'leader', transferee: 0 });
    expect(net.raw(1).propose(enc('yes')).ok).toBe(true);
    // Reference: thesis §3.10 ("abort the transfer after an election timeout")
  });

  it.each<[string, number, string]>([
    ['itself', 1, 'alreadyLeader'],
    ['an unknown node', 9, 'unknownNode'],
  ])('refuses a transfer to %s', (_name, to, reason) => {
    const net = leaderNet();
    expect(net.raw(1).transferLeadership(to)).toEqual({ ok: false, reason, leader: 1 });
  });

  it('refuses a transfer on a follower, to a learner, or while another transfer runs', () => {
    const net = leaderNet();
    expect(net.raw(2).transferLeadership(3)).toEqual({ ok: false, reason: 'notLeader', leader: 1 });
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 }).ok).toBe(true);
    net.add(4, { voters: [], learners: [] });
    net.stabilize();
    expect(net.raw(1).transferLeadership(4)).toEqual({ ok: false, reason: 'isLearner', leader: 1 });
    net.isolate(2);
    expect(net.raw(1).transferLeadership(2)).toEqual({ ok: true });
    expect(net.raw(1).transferLeadership(2)).toEqual({ ok: true });
    expect(net.raw(1).transferLeadership(3)).toEqual({ ok: false, reason: 'transferring', leader: 1 });
  });

  it('works during load: proposals keep their (index, term) promise across transfers', () => {
    const net = leaderNet([1, 2, 3, 4, 5]);
    const accepted: { data: string; index: number; term: number }[] = [];
    const leaders = new Set<number>();
    for (let k = 0; k < 30; k++) {
      const l = net.leaderOf();
      if (l === undefined) {
        net.tickAll(1);
        continue;
      }
      leaders.add(l);
      const r = net.raw(l).propose(enc(`w${k}`));
      if (r.ok) accepted.push({ data: `w${k}`, index: r.index, term: r.term });
      if (k % 6 === 2) net.raw(l).transferLeadership((l % 5) + 1);
      net.processAll();
      for (let d = 0; d < 4; d++) net.deliverOne();
      net.processAll();
    }
    net.tickAll(20);
    expect(leaders.size).toBeGreaterThan(1);
    const applied = net.get(net.leaderOf()!).applied;
    for (const id of [1, 2, 3, 4, 5]) expect(net.get(id).applied.map((e) => `${e.index}/${e.term}`)).toEqual(applied.map((e) => `${e.index}/${e.term}`));
    let kept = 0;
    for (const a of accepted) {
      const e = applied.find((x) => x.index === a.index);
      // Committed iff the entry applied at `index` has `term` (ProposeResult's contract).
      if (e !== undefined && e.term === a.term) {
        expect(e.type === 'normal' && new TextDecoder().decode(e.data)).toBe(a.data);
        kept++;
      }
    }
    expect(kept).toBeGreaterThan(0);
    // Reference: thesis §3.10
  });
});
