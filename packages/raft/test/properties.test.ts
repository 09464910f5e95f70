/**
 * Property tests against naive oracles (etcd's quorum/quick_test.go style): the majority commit
 * index, vote tallies, the inflight window, and the log (RaftLog over MemoryStorage).
 */
import { MemoryStorage, applyConfChange, entrySize, majorityCommitIndex, majorityVoteResult, type ConfChange, type Entry } from '@keel/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inflights } from '../src/inflights.js';
import { RaftLog } from '../src/raft-log.js';
import { enc } from './support/network.js';

const configWithMatches = fc
  .uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 7 })
  .chain((voters) => fc.tuple(fc.constant(voters), fc.array(fc.nat({ max: 20 }), { minLength: voters.length, maxLength: voters.length })));

describe('quorum', () => {
  it('majority commit index equals the highest index held by more than half (oracle)', () => {
    fc.assert(
      fc.property(configWithMatches, ([voters, matches]) => {
        const match = new Map(voters.map((id, k) => [id, matches[k]!]));
        // Oracle: try every candidate index from the top.
        let oracle = 0;
        for (let i = 20; i >= 0; i--) {
          const holders = voters.filter((id) => match.get(id)! >= i).length;
          if (holders * 2 > voters.length) {
            oracle = i;
            break;
          }
        }
        expect(majorityCommitIndex(voters, (id) => match.get(id))).toBe(oracle);
      }),
    );
  });

  it('vote result: won iff granted > n/2, lost iff rejected >= ceil(n/2) with no way to win', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 7 }).chain((voters) =>
          fc.tuple(fc.constant(voters), fc.array(fc.constantFrom(true, false, undefined), { minLength: voters.length, maxLength: voters.length })),
        ),
        ([voters, votes]) => {
          const v = new Map(voters.map((id, k) => [id, votes[k]]));
          const granted = votes.filter((x) => x === true).length;
          const missing = votes.filter((x) => x === undefined).length;
          const q = Math.floor(voters.length / 2) + 1;
          const want = granted >= q ? 'won' : granted + missing >= q ? 'pending' : 'lost';
          expect(majorityVoteResult(voters, (id) => v.get(id))).toBe(want);
        },
      ),
    );
  });
});

describe('single-server membership changes', () => {
  it('change at most one member, never leave no voter, never overlap voters and learners (oracle)', () => {
    const ids = fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { maxLength: 6 });
    fc.assert(
      fc.property(ids, fc.nat({ max: 6 }), fc.constantFrom('addVoter', 'addLearner', 'removeNode'), fc.integer({ min: 0, max: 7 }), (members, split, type, nodeId) => {
        const voters = members.slice(0, Math.max(1, split));
        const learners = members.slice(Math.max(1, split));
        if (voters.length === 0) return;
        const conf = { voters, learners };
        const change = { type, nodeId } as ConfChange;
        const got = applyConfChange(conf, change);
        // Oracle: the set semantics of the three changes.
        const isV = voters.includes(nodeId);
        const isL = learners.includes(nodeId);
        let want: { voters: number[]; learners: number[] } | 'invalidConfChange';
        if (nodeId < 1) want = 'invalidConfChange';
        else if (type === 'addVoter') want = isV ? 'invalidConfChange' : { voters: [...voters, nodeId], learners: learners.filter((l) => l !== nodeId) };
        else if (type === 'addLearner') want = isV || isL ? 'invalidConfChange' : { voters, learners: [...learners, nodeId] };
        else if (!isV && !isL) want = 'invalidConfChange';
        else if (isV && voters.length === 1) want = 'invalidConfChange';
        else want = { voters: voters.filter((v) => v !== nodeId), learners: learners.filter((l) => l !== nodeId) };
        if (want === 'invalidConfChange') {
          expect(got).toBe('invalidConfChange');
          return;
        }
        expect(got).not.toBe('invalidConfChange');
        const c = got as { voters: number[]; learners: number[] };
        expect([...c.voters].sort()).toEqual([...want.voters].sort());
        expect([...c.learners].sort()).toEqual([...want.learners].sort());
        expect(c.voters.length).toBeGreaterThan(0);
        expect(c.voters.filter((v) => c.learners.includes(v))).toEqual([]);
        // Single-server: the voter sets differ by at most one member, so old and new majorities overlap.
        const diff = c.voters.filter((v) => !voters.includes(v)).length + voters.filter((v) => !c.voters.includes(v)).length;
        expect(diff).toBeLessThanOrEqual(1);
      }),
    );
  });
});

type InflightOp = { op: 'add'; bytes: number } | { op: 'free'; back: number } | { op: 'reset' };

describe('inflights', () => {
  it('behaves like a bounded FIFO of (index, bytes)', () => {
    const ops = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('add' as const), bytes: fc.nat({ max: 50 }) }),
        fc.record({ op: fc.constant('free' as const), back: fc.nat({ max: 5 }) }),
        fc.record({ op: fc.constant('reset' as const) }),
      ),
      { maxLength: 80 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.nat({ max: 120 }), ops, (cap, bytesMax, script: InflightOp[]) => {
        const inf = new Inflights(cap, bytesMax);
        let model: { index: number; bytes: number }[] = [];
        let next = 1;
        const full = (): boolean => model.length === cap || (bytesMax > 0 && model.reduce((a, b) => a + b.bytes, 0) >= bytesMax);
        for (const s of script) {
          if (s.op === 'add') {
            if (full()) {
              expect(inf.full()).toBe(true);
              expect(() => inf.add(next, s.bytes)).toThrow();
              continue;
            }
            inf.add(next, s.bytes);
            model.push({ index: next, bytes: s.bytes });
            next += 1 + (s.bytes % 3);
          } else if (s.op === 'free') {
            const upTo = next - 1 - s.back;
            inf.freeLE(upTo);
            model = model.filter((m) => m.index > upTo);
          } else {
            inf.reset();
            model = [];
          }
          expect(inf.count).toBe(model.length);
          expect(inf.bytes).toBe(model.reduce((a, b) => a + b.bytes, 0));
          expect(inf.full()).toBe(full());
          expect(inf.count).toBeLessThanOrEqual(cap);
        }
      }),
    );
  });
});

type LogOp =
  | { op: 'append'; back: number; terms: number[] }
  | { op: 'persist' }
  | { op: 'commit'; k: number }
  | { op: 'compact'; k: number }
  | { op: 'slice'; lo: number; len: number; maxBytes: number };

describe('RaftLog over MemoryStorage', () => {
  it('matches a naive array model through appends, truncations, persistence and compaction', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('append' as const), back: fc.nat({ max: 4 }), terms: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 }) }),
      fc.record({ op: fc.constant('persist' as const) }),
      fc.record({ op: fc.constant('commit' as const), k: fc.nat({ max: 10 }) }),
      fc.record({ op: fc.constant('compact' as const), k: fc.nat({ max: 10 }) }),
      fc.record({ op: fc.constant('slice' as const), lo: fc.nat({ max: 30 }), len: fc.nat({ max: 10 }), maxBytes: fc.integer({ min: 1, max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (script: LogOp[]) => {
        const storage = new MemoryStorage({ voters: [1], learners: [] });
        const log = new RaftLog(storage);
        // Model: the whole log as an array; model[i - 1] is entry i. Compacted prefix tracked apart.
        let model: Entry[] = [];
        let compacted = 0;
        let term = 1;
        for (const s of script) {
          if (s.op === 'append') {
            // Never truncate committed entries; terms never decrease along the log.
            const from = Math.max(log.committed + 1, model.length + 1 - s.back);
            const prevTerm = from > 1 ? model[from - 2]!.term : 0;
            term = Math.max(term, prevTerm);
            const ents: Entry[] = s.terms.map((dt, k) => ({ type: 'normal', index: from + k, term: (term += dt), data: enc(`${from + k}:${term}`) }));
            log.append(ents);
            model = [...model.slice(0, from - 1), ...ents];
          } else if (s.op === 'persist') {
            const un = log.unstable.entries;
            storage.append(un);
            const last = un[un.length - 1];
            if (last !== undefined) log.stableTo(last.index, last.term);
          } else if (s.op === 'commit') {
            const to = Math.min(model.length, log.committed + s.k);
            log.commitTo(to);
          } else if (s.op === 'compact') {
            // Only persisted, committed entries can be compacted: the stored entries the log still
            // overrides with unstable ones (a truncated suffix not yet rewritten) are not the log's.
            const upTo = Math.min(log.committed, log.unstable.offset - 1, compacted + s.k);
            if (upTo > compacted) {
              storage.createSnapshot(upTo, { voters: [1], learners: [] });
              compacted = upTo;
            }
          } else {
            const lo = Math.max(compacted + 1, s.lo);
            const hi = Math.min(model.length + 1, lo + s.len);
            if (lo > hi) continue;
            const got = log.slice(lo, hi, s.maxBytes);
            const want = model.slice(lo - 1, hi - 1);
            if (want.length === 0) expect(got).toEqual([]);
            else {
              expect(got.length).toBeGreaterThanOrEqual(1);
              expect(got).toEqual(want.slice(0, got.length));
              const bytes = got.reduce((a, e) => a + entrySize(e), 0);
              if (got.length > 1) expect(bytes).toBeLessThanOrEqual(s.maxBytes);
              if (got.length < want.length) expect(bytes + entrySize(want[got.length]!)).toBeGreaterThan(s.maxBytes);
            }
          }
          // Invariants after every step.
          expect(log.lastIndex()).toBe(model.length);
          expect(log.firstIndex()).toBe(compacted + 1);
          expect(log.committed).toBeLessThanOrEqual(log.lastIndex());
          for (let i = compacted + 1; i <= model.length; i++) expect(log.term(i)).toBe(model[i - 1]!.term);
          if (compacted > 0) expect(log.term(compacted - 1)).toBeUndefined();
          expect(log.term(model.length + 1)).toBeUndefined();
          // The stable part never contradicts the model.
          for (const e of storage.allEntries()) {
            if (e.index <= model.length && e.index < log.unstable.offset) expect(e).toEqual(model[e.index - 1]);
          }
        }
      }),
    );
  });

  it('findConflictByTerm returns the last index whose term is <= the given term', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 20 }), fc.nat({ max: 25 }), fc.nat({ max: 10 }), (deltas, idx, t) => {
        const storage = new MemoryStorage({ voters: [1], learners: [] });
        let term = 1;
        const ents: Entry[] = deltas.map((d, k) => ({ type: 'normal', index: k + 1, term: (term += d), data: enc('') }));
        storage.append(ents);
        const log = new RaftLog(storage);
        const index = Math.min(idx, ents.length);
        let want = { index: 0, term: 0 };
        for (let i = index; i > 0; i--) {
          if (ents[i - 1]!.term <= t) {
            want = { index: i, term: ents[i - 1]!.term };
            break;
          }
        }
        expect(log.findConflictByTerm(index, t)).toEqual(want);
      }),
    );
  });
});
