/**
 * Review: `step()` against semantically wrong peer input. Shape is validated by the server's
 * codec; the core must still never throw, never corrupt its log, and never commit or acknowledge
 * entries it does not know to match the leader's log.
 */
import { MemoryStorage, RawNode, SeededRng, type Entry, type Message, type Ready } from '@keel/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entry, msg, storageWith, voters } from './support/fixtures.js';
import { Network, enc } from './support/network.js';

/** Take every Ready of `node`, persisting it into `storage` as the contract says. */
function drainInto(node: RawNode, storage: MemoryStorage): Ready[] {
  const out: Ready[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    node.advance(rd);
    out.push(rd);
  }
  return out;
}

const app = msg.app;

/** Follower 2 of {1,2,3} with log 1..2 of term 1 and 3..4 of term 2 (an old leader's, uncommitted), commit 2, term 2. */
function followerWithStaleTail(): { node: RawNode; storage: MemoryStorage } {
  const storage = storageWith(voters(1, 2, 3), [1, 1, 2, 2], { term: 2, commit: 2 });
  const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 2 });
  return { node, storage };
}

describe('heartbeat commit beyond the follower log', () => {
  it('does not commit entries the leader never said match (the commit is ignored, not clamped)', () => {
    const { node, storage } = followerWithStaleTail();
    // A new leader (term 3) whose log differs from ours after index 2; its heartbeat claims commit 10.
    node.step({ type: 'heartbeat', from: 1, to: 2, term: 3, commit: 10 });
    drainInto(node, storage);
    // Our entries 3..4 (term 2) were never acknowledged by leader 1: committing them is unsafe.
    expect(node.status().commit).toBe(2);
    // And the follower still accepts the leader's real entries afterwards (Reference: §5.3).
    node.step(app(1, 2, 3, 2, 1, [entry(3, 3), entry(4, 3)], 4));
    const rds = drainInto(node, storage);
    expect(node.status()).toMatchObject({ commit: 4, lastIndex: 4 });
    expect(storage.term(3)).toBe(3);
    expect(rds.flatMap((r) => r.messagesAfterPersist)).toContainEqual(expect.objectContaining({ type: 'appResp', index: 4, reject: false }));
  });
});

describe('InstallSnapshot that the follower already has (fast-forward)', () => {
  it('acknowledges the snapshot index, not a log tail that may diverge from the leader', () => {
    // Log 1..2 of term 1, 3..4 of term 2 (an old leader's), commit 1.
    const storage = storageWith(voters(1, 2, 3), [1, 1, 2, 2], { term: 2, commit: 1 });
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 1 });
    // Leader 1 in term 3 sends a snapshot at index 2 (term 1): we hold that entry, so we only
    // move our commit. Entries 3..4 may differ from leader 1's; acknowledging them would let the
    // leader count us as a replica of its entries 3..4 (and commit them without a real majority,
    // then tell us to commit our own, different, entries).
    const snap = { meta: { index: 2, term: 1, conf: voters(1, 2, 3) }, data: new Uint8Array(0) };
    node.step({ type: 'snap', from: 1, to: 2, term: 3, snapshot: snap });
    const msgs = drainInto(node, storage).flatMap((r) => r.messagesAfterPersist);
    expect(node.status()).toMatchObject({ commit: 2, lastIndex: 4 });
    expect(msgs).toEqual([expect.objectContaining({ type: 'appResp', reject: false, index: 2 })]);
    // Reference: §7 (InstallSnapshot: "If existing log entry has same index and term as
    // snapshot's last included entry, retain log entries following it" — retained, not vouched for)
  });
});

describe('entries inconsistent with their message', () => {
  // The follower (log terms 1,1,3; term 3) would accept each of these without the check.
  const cases: [string, Message][] = [
    ['an entry term above the message term', app(1, 2, 3, 2, 1, [entry(3, 9)], 0)],
    ['entry terms going down', app(1, 2, 3, 2, 1, [entry(3, 3), entry(4, 2)], 0)],
    ['an entry term below prevTerm', app(1, 2, 3, 3, 3, [entry(4, 2)], 0)],
  ];

  it.each(cases)('an append with %s is dropped without changing the log', (_name, m) => {
    const storage = storageWith(voters(1, 2, 3), [1, 1, 3], { term: 3, commit: 2 });
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 2 });
    const before = node.status();
    node.step(m);
    const rds = drainInto(node, storage);
    expect(rds.flatMap((r) => r.entries)).toEqual([]);
    expect(node.status()).toMatchObject({ lastIndex: before.lastIndex, commit: before.commit, term: 3 });
    expect(rds.flatMap((r) => [...r.messages, ...r.messagesAfterPersist]).filter((x) => x.type === 'appResp' && !x.reject)).toEqual([]);
  });

  it('a snapshot whose term is above the message term is dropped', () => {
    const storage = storageWith(voters(1, 2, 3), [1, 1], { term: 3, commit: 1 });
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 1 });
    node.step({ type: 'snap', from: 1, to: 2, term: 3, snapshot: { meta: { index: 9, term: 4, conf: voters(1, 2, 3) }, data: new Uint8Array(0) } });
    drainInto(node, storage);
    expect(node.status()).toMatchObject({ lastIndex: 2, commit: 1 });
  });

  it.each([
    ['no voters', { voters: [], learners: [2] }],
    ['a duplicated voter (counted twice in quorums)', { voters: [1, 3, 3], learners: [] }],
    ['a node both voter and learner', { voters: [1, 2, 3], learners: [3] }],
  ])('a snapshot whose membership has %s is dropped', (_name, conf) => {
    const storage = storageWith(voters(1, 2, 3), [1, 1], { term: 3, commit: 1 });
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 1 });
    node.step({ type: 'snap', from: 1, to: 2, term: 3, snapshot: { meta: { index: 9, term: 3, conf }, data: new Uint8Array(0) } });
    drainInto(node, storage);
    expect(node.status()).toMatchObject({ lastIndex: 2, commit: 1, conf: voters(1, 2, 3) });
  });

  it('a conf change entry whose context is not bytes is dropped (sizes would become NaN)', () => {
    const storage = storageWith(voters(1, 2, 3), [1], { term: 1, commit: 1 });
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 1 });
    const bad = { type: 'confChange', index: 2, term: 1, change: { type: 'addLearner', nodeId: 4, context: 'x' }, conf: { voters: [1, 2, 3], learners: [4] } } as unknown as Entry;
    node.step(app(1, 2, 1, 1, 1, [bad], 0));
    drainInto(node, storage);
    expect(node.status().lastIndex).toBe(1);
  });
});

describe('large appends', () => {
  it('an append carrying 200k small entries does not overflow the call stack', () => {
    const storage = new MemoryStorage(voters(1, 2, 3));
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7) });
    const ents: Entry[] = [];
    const data = enc('');
    for (let i = 1; i <= 200_000; i++) ents.push({ type: 'normal', index: i, term: 1, data });
    expect(() => node.step(app(1, 2, 1, 0, 0, ents, 0))).not.toThrow();
    expect(node.status().lastIndex).toBe(200_000);
  });
});


// ---------------------------------------------------------------------------------------------
// Fuzz: a live cluster with a hostile peer injecting arbitrary messages
// ---------------------------------------------------------------------------------------------

const HUGE = Number.MAX_SAFE_INTEGER;
const anIndex = fc.oneof(fc.nat({ max: 12 }), fc.constantFrom(HUGE, -1, Number.NaN, 2.5));
// Terms stay small: a peer that may send any term can always exhaust the term space (every Raft
// trusts its peers' terms); that is for the transport's peer authentication to prevent.
const aTerm = fc.oneof(fc.nat({ max: 6 }), fc.constantFrom(-1, Number.NaN, 1.5));
const anId = fc.constantFrom(1, 2, 3, 4, 99, 0, -3);
const aConf = fc.constantFrom(voters(1, 2, 3), voters(1, 2), { voters: [1, 2, 3], learners: [4] }, { voters: [], learners: [] }, { voters: [1, 1], learners: [] });

const anEntryAt = (index: number): fc.Arbitrary<Entry> =>
  fc.oneof(
    fc.record({ type: fc.constant('normal' as const), index: fc.constant(index), term: aTerm, data: fc.constant(enc('h')) }),
    fc.record({
      type: fc.constant('confChange' as const),
      index: fc.constant(index),
      term: aTerm,
      change: fc.record({ type: fc.constantFrom('addVoter' as const, 'addLearner' as const, 'removeNode' as const), nodeId: anId }),
      conf: aConf,
    }),
  );

const hostileMessage = (to: number): fc.Arbitrary<Message> =>
  fc.oneof(
    fc.tuple(anId, aTerm, fc.nat({ max: 12 }), aTerm, anIndex, fc.nat({ max: 3 }), fc.boolean()).chain(([from, term, prevIndex, prevTerm, commit, n, skew]) =>
      fc.tuple(...Array.from({ length: n }, (_, k) => anEntryAt(prevIndex + 1 + k + (skew && k === 1 ? 1 : 0)))).map(
        (entries): Message => ({ type: 'app', from, to, term, prevIndex, prevTerm, entries, commit }),
      ),
    ),
    fc.record({ type: fc.constant('appResp' as const), from: anId, to: fc.constant(to), term: aTerm, index: anIndex, reject: fc.boolean(), hintIndex: anIndex, hintTerm: aTerm }),
    fc.record({ type: fc.constant('heartbeat' as const), from: anId, to: fc.constant(to), term: aTerm, commit: anIndex }),
    fc.record({ type: fc.constant('heartbeatResp' as const), from: anId, to: fc.constant(to), term: aTerm, context: fc.constantFrom('1:r0', '2:r1', 'zz') }),
    fc.record({ type: fc.constantFrom('vote' as const, 'preVote' as const), from: anId, to: fc.constant(to), term: aTerm, lastIndex: anIndex, lastTerm: aTerm, transfer: fc.boolean() }),
    fc.record({ type: fc.constantFrom('voteResp' as const, 'preVoteResp' as const), from: anId, to: fc.constant(to), term: aTerm, reject: fc.boolean() }),
    fc.record({
      type: fc.constant('snap' as const),
      from: anId,
      to: fc.constant(to),
      term: aTerm,
      snapshot: fc.record({ meta: fc.record({ index: anIndex, term: aTerm, conf: aConf }), data: fc.constant(new Uint8Array(0)) }),
    }),
    fc.record({ type: fc.constant('timeoutNow' as const), from: anId, to: fc.constant(to), term: aTerm }),
    fc.record({ type: fc.constant('readIndex' as const), from: anId, to: fc.constant(to), term: aTerm, requestId: fc.constantFrom('r0', 'r1', 'x') }),
    fc.record({ type: fc.constant('readIndexResp' as const), from: anId, to: fc.constant(to), term: aTerm, requestId: fc.constantFrom('r0', 'r1', 'x'), index: anIndex, reject: fc.boolean() }),
  );

describe('fuzz: hostile messages into a live cluster', () => {
  it('step() never throws and every node keeps its local invariants and the Ready contract', () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('inject' as const), to: fc.constantFrom(1, 2, 3) }).chain((a) => hostileMessage(a.to).map((m) => ({ ...a, m }))),
      fc.record({ kind: fc.constant('tick' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('propose' as const), at: fc.constantFrom(1, 2, 3) }),
      fc.record({ kind: fc.constant('read' as const), at: fc.constantFrom(1, 2, 3) }),
    );
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), (actions) => {
        const net = new Network([1, 2, 3]);
        net.elect(1);
        const last = new Map<number, { term: number; commit: number }>();
        let reads = 0;
        for (const a of actions) {
          if (a.kind === 'inject') net.raw(a.to).step(a.m);
          else if (a.kind === 'tick') net.tickAll(a.n);
          else if (a.kind === 'propose') net.raw(a.at).propose(enc(`p${reads++}`));
          else net.raw(a.at).readIndex(`q${reads++}`);
          // The network applies every Ready per the contract: it throws if a committed entry is
          // skipped or handed out twice, or if persisted entries leave a gap.
          net.stabilize();
          for (const [id, n] of net.nodes) {
            const s = n.node.status();
            expect(s.commit).toBeLessThanOrEqual(s.lastIndex);
            expect(s.applied).toBeLessThanOrEqual(s.commit);
            const prev = last.get(id) ?? { term: 0, commit: 0 };
            expect(s.term).toBeGreaterThanOrEqual(prev.term);
            expect(s.commit).toBeGreaterThanOrEqual(prev.commit);
            expect(Number.isSafeInteger(s.term) && Number.isSafeInteger(s.lastIndex)).toBe(true);
            last.set(id, { term: s.term, commit: s.commit });
          }
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300), seed: Number(process.env.FUZZ_SEED ?? 20261121) },
    );
  });
});

describe('local conf change proposals', () => {
  it('a conf change whose context is not bytes is refused, not replicated (peers would drop it forever)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const change = { type: 'addLearner', nodeId: 4, context: 'not-bytes' } as unknown as Parameters<RawNode['proposeConfChange']>[0];
    expect(net.raw(1).proposeConfChange(change)).toEqual({ ok: false, reason: 'invalidConfChange', leader: 1 });
    expect(net.raw(1).proposeConfChange({ type: 'addLearner', nodeId: 4, context: enc('addr') })).toMatchObject({ ok: true });
  });
});

describe('timeoutNow', () => {
  it('only the current leader can make a follower skip the lease and campaign (thesis §3.10)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'x');
    // Node 3 (a peer, not the leader) tells 2 to campaign at once: ignored.
    net.raw(2).step({ type: 'timeoutNow', from: 3, to: 2, term: net.raw(2).status().term });
    net.stabilize();
    expect(net.raw(1).status()).toMatchObject({ role: 'leader', term: 1 });
    expect(net.raw(2).status()).toMatchObject({ role: 'follower', leader: 1 });
    // A real transfer still works.
    expect(net.raw(1).transferLeadership(2)).toEqual({ ok: true });
    net.stabilize();
    expect(net.raw(2).status()).toMatchObject({ role: 'leader', term: 2 });
  });
});

describe('semantically wrong input the core already handles (guards)', () => {
  it('a snapshot older than the log’s first index is ignored and answered with the commit index', () => {
    const storage = storageWith(voters(1, 2, 3), [1, 1, 1, 1, 1, 1, 1, 1], { term: 1, commit: 7 });
    storage.createSnapshot(5, voters(1, 2, 3));
    const node = new RawNode({ id: 2, storage, rng: new SeededRng(7), applied: 7 });
    node.step({ type: 'snap', from: 1, to: 2, term: 1, snapshot: { meta: { index: 3, term: 1, conf: voters(1, 2) }, data: new Uint8Array(0) } });
    const rds = drainInto(node, storage);
    expect(rds.flatMap((r) => r.messagesAfterPersist)).toEqual([expect.objectContaining({ type: 'appResp', index: 7, reject: false })]);
    expect(rds.some((r) => r.snapshot !== undefined)).toBe(false);
    expect(node.status()).toMatchObject({ commit: 7, lastIndex: 8, conf: voters(1, 2, 3) });
  });

  it('a leader ignores acknowledgements beyond its log, from unknown nodes and from itself', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const before = net.raw(1).status();
    net.raw(1).step({ type: 'appResp', from: 2, to: 1, term: 1, index: 999, reject: false, hintIndex: 0, hintTerm: 0 });
    net.raw(1).step({ type: 'appResp', from: 9, to: 1, term: 1, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
    net.raw(1).step({ type: 'appResp', from: 1, to: 1, term: 1, index: 999, reject: false, hintIndex: 0, hintTerm: 0 });
    const after = net.raw(1).status();
    expect(after.commit).toBe(before.commit);
    expect(after.progress!.get(2)!.match).toBe(before.progress!.get(2)!.match);
    expect(after.progress!.has(9)).toBe(false);
  });

  it('a read answer for a request this node never forwarded is ignored', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.raw(2).step({ type: 'readIndexResp', from: 1, to: 2, term: 1, requestId: 'never-asked', index: 1, reject: false });
    net.stabilize();
    expect(net.get(2).readStates).toEqual([]);
    expect(net.get(2).rejectedReads).toEqual([]);
  });
});
