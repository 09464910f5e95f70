/**
 * A small randomized cluster test of the core over the test network (the full deterministic
 * simulator lives in src/testing): random ticks, proposals, partitions, message loss,
 * duplication and reordering, restarts, log compaction, membership changes, leadership transfers
 * and ReadIndex reads, checking after every step: one leader per term, no two nodes applying
 * different entries at one index, commit never moving back, and every read index covering all
 * writes committed before the read was issued; then liveness once healed.
 */
import { SeededRng, type ConfChange, type Entry, type NodeId } from '@keel/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Network, enc } from './support/network.js';

interface Checks {
  leaderOfTerm: Map<number, NodeId>;
  appliedAt: Map<number, string>;
  lastCommit: Map<NodeId, number>;
  /** requestId -> highest commit index known anywhere when the read was issued. */
  readFloor: Map<string, number>;
  readsChecked: number;
}

function key(e: Entry): string {
  return `${e.term}:${e.type === 'normal' ? new TextDecoder().decode(e.data) : `conf:${e.change.type}:${e.change.nodeId}`}`;
}

function maxCommit(net: Network): number {
  let m = 0;
  for (const n of net.nodes.values()) m = Math.max(m, n.node.status().commit);
  return m;
}

function check(net: Network, c: Checks): void {
  for (const n of net.nodes.values()) {
    const s = n.node.status();
    if (s.role === 'leader') {
      const other = c.leaderOfTerm.get(s.term);
      if (other !== undefined && other !== n.id) throw new Error(`two leaders in term ${s.term}: ${other} and ${n.id}`);
      c.leaderOfTerm.set(s.term, n.id);
    }
    for (const e of n.applied) {
      const seen = c.appliedAt.get(e.index);
      if (seen === undefined) c.appliedAt.set(e.index, key(e));
      else if (seen !== key(e)) throw new Error(`node ${n.id} applied ${key(e)} at ${e.index}, another applied ${seen}`);
    }
    const commit = n.storage.hardState().commit;
    if (commit < (c.lastCommit.get(n.id) ?? 0)) throw new Error(`node ${n.id} commit went back`);
    c.lastCommit.set(n.id, commit);
    for (const r of n.readStates.splice(0)) {
      const floor = c.readFloor.get(r.requestId);
      if (floor === undefined) throw new Error(`unknown read ${r.requestId}`);
      if (r.index < floor) throw new Error(`stale read ${r.requestId}: index ${r.index} < committed ${floor} at issue`);
      c.readsChecked++;
    }
  }
}

function run(seed: number, size: number, steps: number): Checks {
  const rng = new SeededRng(seed);
  const initial = Array.from({ length: size }, (_, k) => k + 1);
  const spare = [size + 1, size + 2];
  const net = new Network(initial, { electionTick: 10, maxSizePerMsg: 256, maxInflightMsgs: 4 }, undefined, undefined, seed);
  for (const id of spare) net.add(id, { voters: [], learners: [] }, seed);
  const all = [...initial, ...spare];
  const pick = (): NodeId => all[rng.nextInt(all.length)]!;
  const c: Checks = { leaderOfTerm: new Map(), appliedAt: new Map(), lastCommit: new Map(), readFloor: new Map(), readsChecked: 0 };
  let proposals = 0;
  let reads = 0;
  for (let step = 0; step < steps; step++) {
    const r = rng.nextInt(100);
    const l = net.leaderOf();
    if (r < 35) {
      for (const n of net.nodes.values()) n.node.tick();
    } else if (r < 50) {
      if (l !== undefined) net.raw(l).propose(enc(`p${proposals++}`));
    } else if (r < 53) {
      net.isolate(pick());
    } else if (r < 56) {
      net.heal();
    } else if (r < 58) {
      net.get(pick()).restart();
    } else if (r < 60) {
      net.dropIf = rng.chance(0.5) ? undefined : () => rng.chance(0.2);
    } else if (r < 62) {
      net.get(pick()).compact();
    } else if (r < 66) {
      const id = `r${reads++}`;
      c.readFloor.set(id, maxCommit(net));
      net.raw(pick()).readIndex(id);
    } else if (r < 68) {
      if (l !== undefined) {
        const target = pick();
        const conf = net.raw(l).status().conf;
        const change: ConfChange = conf.voters.includes(target)
          ? { type: 'removeNode', nodeId: target }
          : conf.learners.includes(target)
            ? { type: 'addVoter', nodeId: target }
            : { type: rng.chance(0.5) ? 'addLearner' : 'addVoter', nodeId: target };
        net.raw(l).proposeConfChange(change);
      }
    } else if (r < 69) {
      if (l !== undefined) net.raw(l).transferLeadership(pick());
    } else {
      net.processAll();
      for (let k = 0; k < 6 && net.queue.length > 0; k++) {
        const m = net.queue[rng.nextInt(net.queue.length)]!;
        net.deliverOne((x) => x === m);
        if (rng.chance(0.03)) net.queue.push(m); // duplicate
      }
    }
    net.processAll();
    check(net, c);
  }
  // Liveness: heal everything; a leader emerges and a proposal reaches every member.
  net.heal();
  for (let k = 0; k < 80; k++) {
    net.tickAll(1);
    check(net, c);
  }
  const leader = net.leaderOf();
  expect(leader).toBeDefined();
  const res = net.raw(leader!).propose(enc('final'));
  expect(res).toMatchObject({ ok: true });
  net.tickAll(5);
  check(net, c);
  const conf = net.raw(leader!).status().conf;
  for (const id of [...conf.voters, ...conf.learners]) expect(net.get(id).appliedData()).toContain('final');
  return c;
}

describe('randomized cluster', () => {
  it('keeps the safety properties and makes progress once healed (3 and 5 nodes)', () => {
    let reads = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(3, 5), (seed, size) => {
        reads += run(seed, size, 400).readsChecked;
      }),
      { numRuns: Number(process.env.CHAOS_RUNS ?? 40) },
    );
    expect(reads).toBeGreaterThan(0);
  });
});
