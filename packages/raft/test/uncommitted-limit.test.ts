/**
 * The leader's bound on uncommitted proposals (`RaftConfig.maxUncommittedBytes`): back-pressure
 * so that a leader whose followers lag, or whose commit index is stuck, does not grow its log
 * without limit.
 *
 * Reference: etcd raft `Config.MaxUncommittedEntriesSize` (raft.go increaseUncommittedSize /
 * reduceUncommittedSize; raft_test.go TestUncommittedEntryLimit). Neither the Raft paper nor the
 * thesis bounds the leader's log: this is an implementation's flow control, and it never affects
 * safety (a refused proposal appends nothing).
 */
import { CONFIG_DEFAULTS, MemoryStorage, RawNode, SeededRng, entrySize, type AppendMessage, type Message } from '@keel/raft';
import { describe, expect, it } from 'vitest';
import { UncommittedBytes } from '../src/uncommitted.js';
import { Network, dec } from './support/network.js';

/** Every proposal in these tests is 100 bytes by `entrySize` (24 bytes of framing + 76 of payload). */
const ENTRY = 100;
const payload = (tag: string): Uint8Array => {
  const data = new Uint8Array(ENTRY - 24).fill(0x2e);
  new TextEncoder().encodeInto(tag, data);
  return data;
};
const tagOf = (s: string): string => s.replace(/\.+$/, '');

/** A 3-node cluster led by node 1 with its no-op committed, limit `limit` bytes. */
function leaderNet(limit: number): Network {
  const net = new Network([1, 2, 3], { maxUncommittedBytes: limit });
  net.elect(1);
  expect(net.raw(1).status().role).toBe('leader');
  expect(net.raw(1).status().commit).toBe(net.raw(1).status().lastIndex);
  return net;
}

/** Propose `n` entries at node 1 (handling its Readies, delivering nothing); returns the results. */
function proposeMany(net: Network, n: number, prefix: string): ReturnType<RawNode['propose']>[] {
  const out: ReturnType<RawNode['propose']>[] = [];
  for (let k = 0; k < n; k++) {
    out.push(net.raw(1).propose(payload(`${prefix}${k}`)));
    net.processAll();
  }
  return out;
}

const cutFollowers = (net: Network): void => {
  net.isolatePair(1, 2);
  net.isolatePair(1, 3);
};

describe('maxUncommittedBytes', () => {
  it('sanity: the proposals used here are 100 bytes each, and the default limit is 64 MiB', () => {
    expect(entrySize({ type: 'normal', index: 1, term: 1, data: payload('x') })).toBe(ENTRY);
    expect(CONFIG_DEFAULTS.maxUncommittedBytes).toBe(64 * 1024 * 1024);
  });

  it('a leader whose followers are cut off accepts proposals up to the limit, then refuses with uncommittedLimit', () => {
    const net = leaderNet(10 * ENTRY);
    cutFollowers(net);
    const accepted = proposeMany(net, 10, 'a');
    expect(accepted.every((r) => r.ok)).toBe(true);
    const lastIndex = net.raw(1).status().lastIndex;
    // 10 * 100 = 1000 bytes uncommitted: one more 100-byte entry would exceed the limit.
    const refused = net.raw(1).propose(payload('over'));
    expect(refused).toEqual({ ok: false, reason: 'uncommittedLimit', leader: 1 });
    net.processAll();
    // Nothing was appended for the refused proposal (the refusal is definite).
    expect(net.raw(1).status().lastIndex).toBe(lastIndex);
    expect(net.raw(1).status().commit).toBe(lastIndex - 10);
  });

  it('once followers reconnect and the commit index catches up, proposals are accepted again', () => {
    const net = leaderNet(10 * ENTRY);
    cutFollowers(net);
    proposeMany(net, 10, 'a');
    expect(net.raw(1).propose(payload('refused')).ok).toBe(false);
    net.heal();
    // The next heartbeat round finds the followers behind; the leader re-sends and commits.
    net.tickAll(1);
    const st = net.raw(1).status();
    expect(st.role).toBe('leader');
    expect(st.commit).toBe(st.lastIndex);
    // Everything committed: a full limit's worth is accepted again, and not one entry more.
    cutFollowers(net);
    const again = proposeMany(net, 10, 'b');
    expect(again.every((r) => r.ok)).toBe(true);
    expect(net.raw(1).propose(payload('refused2'))).toEqual({ ok: false, reason: 'uncommittedLimit', leader: 1 });
    net.heal();
    // Two rounds: the second heartbeat carries the new commit index to the follower acknowledged last.
    net.tickAll(2);
    const expected = [...Array.from({ length: 10 }, (_, k) => `a${k}`), ...Array.from({ length: 10 }, (_, k) => `b${k}`)];
    for (const id of [1, 2, 3]) expect(net.get(id).appliedData().map(tagOf)).toEqual(expected);
  });

  // The second case commits 1500 of 2000 counted entries, which also compacts the account's queue.
  it.each([
    [5, 5],
    [1500, 500],
  ])('the count goes down by exactly what commits: committing %i of %i+%i frees room for that many', (first, second) => {
    const net = leaderNet((first + second) * ENTRY);
    // Two batches, each leaving as one append per follower; nothing delivered yet.
    for (let k = 0; k < first; k++) expect(net.raw(1).propose(payload(`p${k}`)).ok).toBe(true);
    net.processAll();
    for (let k = first; k < first + second; k++) expect(net.raw(1).propose(payload(`p${k}`)).ok).toBe(true);
    net.processAll();
    expect(net.raw(1).propose(payload('full')).ok).toBe(false);
    const appends = (m: Message): m is AppendMessage => m.type === 'app' && m.from === 1;
    const firstBatch = net.queue.filter(appends).filter((m) => m.entries.length === first && tagOf(dec(m.entries[0]!)) === 'p0');
    expect(firstBatch.map((m) => m.to)).toEqual([2, 3]);
    const commitBefore = net.raw(1).status().commit;
    // Deliver only the first batch and its acknowledgements: the first batch commits.
    for (const m of firstBatch) net.deliverOne((q) => q === m);
    net.processAll();
    const acks = net.queue.filter((m) => m.type === 'appResp' && m.to === 1);
    expect(acks.map((m) => (m.type === 'appResp' ? [m.from, m.index, m.reject] : []))).toEqual([
      [2, commitBefore + first, false],
      [3, commitBefore + first, false],
    ]);
    for (const m of acks) net.deliverOne((q) => q === m);
    net.processAll();
    net.queue = [];
    expect(net.raw(1).status().commit).toBe(commitBefore + first);
    // `second` entries remain uncommitted: room for exactly `first` more.
    for (let k = 0; k < first; k++) expect(net.raw(1).propose(payload(`q${k}`)).ok).toBe(true);
    expect(net.raw(1).propose(payload('full2'))).toEqual({ ok: false, reason: 'uncommittedLimit', leader: 1 });
  });

  it('a single entry larger than the limit is accepted when nothing is uncommitted, then blocks until it commits', () => {
    const net = leaderNet(10 * ENTRY);
    cutFollowers(net);
    const big = new Uint8Array(50 * ENTRY).fill(0x62);
    expect(net.raw(1).propose(big).ok).toBe(true);
    net.processAll();
    expect(net.raw(1).propose(payload('small'))).toEqual({ ok: false, reason: 'uncommittedLimit', leader: 1 });
    net.heal();
    net.tickAll(2);
    expect(net.get(3).applied.some((e) => e.type === 'normal' && e.data.byteLength === big.byteLength)).toBe(true);
    expect(net.raw(1).propose(payload('small')).ok).toBe(true);
  });

  it("neither the new leader's no-op nor a membership change counts against the limit", () => {
    // Limit = one proposal. The no-op never reaches the followers, so it stays uncommitted.
    const net = new Network([1, 2, 3], { maxUncommittedBytes: ENTRY });
    net.dropIf = (m) => m.type === 'app' && m.from === 1;
    net.elect(1);
    const st = net.raw(1).status();
    expect(st.role).toBe('leader');
    expect(st.commit).toBeLessThan(st.lastIndex);
    expect(net.raw(1).propose(payload('one')).ok).toBe(true);
    expect(net.raw(1).propose(payload('two')).ok).toBe(false);
    net.heal();
    net.tickAll(1);
    expect(net.raw(1).status().commit).toBe(net.raw(1).status().lastIndex);

    // At the limit, a membership change is still accepted (and leaves the count unchanged).
    cutFollowers(net);
    expect(net.raw(1).propose(payload('three')).ok).toBe(true);
    const change = net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4 });
    expect(change.ok).toBe(true);
    expect(net.raw(1).propose(payload('four'))).toEqual({ ok: false, reason: 'uncommittedLimit', leader: 1 });
  });

  it("a leader of a new term starts from zero, whatever its earlier term's tail held", () => {
    const net = leaderNet(10 * ENTRY);
    cutFollowers(net);
    proposeMany(net, 10, 'old');
    expect(net.raw(1).propose(payload('x')).ok).toBe(false);
    // CheckQuorum: the cut-off leader steps down at the first check that finds no quorum active
    // (the check after its followers were last heard from: two election timeouts).
    net.tick(1, 20);
    expect(net.raw(1).status().role).toBe('follower');
    expect(net.raw(1).propose(payload('x'))).toMatchObject({ ok: false, reason: 'notLeader' });
    // Node 2 leads term t+1 and commits its own entries at the indexes of node 1's old tail.
    net.tick(2, 10);
    net.tick(3, 10);
    net.elect(2);
    expect(net.raw(2).status().role).toBe('leader');
    net.propose(2, 'n2');
    net.heal();
    net.tickAll(1);
    expect(net.raw(1).status().commit).toBe(net.raw(2).status().commit);
    // Leadership back to node 1: with its old tail truncated, a full limit's worth fits again.
    expect(net.raw(2).transferLeadership(1).ok).toBe(true);
    net.stabilize();
    expect(net.raw(1).status().role).toBe('leader');
    cutFollowers(net);
    expect(proposeMany(net, 10, 'new').every((r) => r.ok)).toBe(true);
    expect(net.raw(1).propose(payload('y')).ok).toBe(false);
  });

  it('0 means no limit', () => {
    const net = leaderNet(0);
    cutFollowers(net);
    expect(proposeMany(net, 200, 'u').every((r) => r.ok)).toBe(true);
  });

  it('a single voter counts a proposal as uncommitted only until its own write is durable', () => {
    const storage = new MemoryStorage({ voters: [1], learners: [] });
    const node = new RawNode({ id: 1, storage, rng: new SeededRng(1), maxUncommittedBytes: ENTRY });
    node.campaign();
    const handle = (): void => {
      while (node.hasReady()) {
        const rd = node.ready();
        storage.append(rd.entries);
        if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
        node.advance(rd);
      }
    };
    handle();
    expect(node.status().role).toBe('leader');
    // Each Ready handled: each proposal commits on its own write, so none is ever refused.
    for (let k = 0; k < 20; k++) {
      expect(node.propose(payload(`s${k}`)).ok).toBe(true);
      handle();
    }
    expect(node.status().commit).toBe(node.status().lastIndex);
    // Until advance() reports the write durable, even a single voter's proposal is uncommitted.
    expect(node.propose(payload('a')).ok).toBe(true);
    expect(node.propose(payload('b'))).toEqual({ ok: false, reason: 'uncommittedLimit', leader: 1 });
    handle();
    expect(node.propose(payload('b')).ok).toBe(true);
    // Reference: thesis §10.2.1 (the leader's own copy counts once it is on its disk)
  });

  it('rejects a nonsensical limit with a TypeError', () => {
    const storage = new MemoryStorage({ voters: [1], learners: [] });
    expect(() => new RawNode({ id: 1, storage, rng: new SeededRng(1), maxUncommittedBytes: -1 })).toThrow(TypeError);
    expect(() => new RawNode({ id: 1, storage, rng: new SeededRng(1), maxUncommittedBytes: 1.5 })).toThrow(TypeError);
  });
});

describe('UncommittedBytes (the account itself)', () => {
  it('always equals the bytes of counted entries above the commit index (model check, 20 seeds)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new SeededRng(seed);
      const acct = new UncommittedBytes(1 << 30);
      const model: { index: number; size: number }[] = [];
      let last = 0;
      let commit = 0;
      for (let step = 0; step < 5000; step++) {
        if (rng.nextInt(3) > 0) {
          // Counted proposals interleave with uncounted entries (no-ops, conf changes): gaps.
          last += 1 + rng.nextInt(3);
          const size = 24 + rng.nextInt(200);
          acct.add(last, size);
          model.push({ index: last, size });
        } else {
          // Even seeds: commits jump far (often clearing everything); odd seeds: commits trail
          // behind by a few entries, so the consumed front grows long and gets compacted.
          const reach = seed % 2 === 0 ? last - commit : Math.min(last - commit, 8);
          commit = commit + rng.nextInt(reach + 1);
          acct.commitTo(commit);
        }
        const expected = model.filter((e) => e.index > commit).reduce((a, e) => a + e.size, 0);
        if (acct.total !== expected) throw new Error(`seed ${seed} step ${step}: total ${acct.total}, model ${expected}`);
      }
    }
  });

  it('admits one proposal of any size when empty, and up to the limit otherwise; 0 = unlimited and untracked', () => {
    const acct = new UncommittedBytes(1000);
    expect(acct.admits(5000)).toBe(true);
    acct.add(1, 5000);
    expect(acct.admits(24)).toBe(false);
    acct.commitTo(1);
    expect(acct.total).toBe(0);
    acct.add(2, 600);
    expect([acct.admits(400), acct.admits(401)]).toEqual([true, false]);
    const unlimited = new UncommittedBytes(0);
    unlimited.add(1, 1 << 30);
    expect([unlimited.admits(1 << 30), unlimited.total]).toEqual([true, 0]);
  });

  it('refuses an index that does not follow the last one (an invariant of the leader log)', () => {
    const acct = new UncommittedBytes(1000);
    acct.add(5, 100);
    expect(() => acct.add(5, 100)).toThrow(/index 5 added after 5/);
  });
});
