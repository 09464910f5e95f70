/**
 * `Progress` asserts its invariants after every transition (`match < next`, `pendingSnapshot`
 * exactly in snapshot state, appends in flight only in replicate state and within
 * `(match, next)`): any sequence of the leader's legal moves keeps them, and a move that would
 * break one throws at once instead of corrupting replication silently.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inflights } from '../src/inflights.js';
import { Progress } from '../src/progress.js';

/** What the leader may do to a follower's progress, as `raft.ts` does it. */
type Move =
  | { readonly kind: 'send'; readonly count: number }
  | { readonly kind: 'ack'; readonly back: number }
  | { readonly kind: 'reject'; readonly hint: number }
  | { readonly kind: 'heartbeatResp' }
  | { readonly kind: 'snapshot'; readonly ahead: number }
  | { readonly kind: 'snapshotDone'; readonly ok: boolean }
  | { readonly kind: 'unreachable' };

const move: fc.Arbitrary<Move> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), count: fc.nat({ max: 3 }) }),
  fc.record({ kind: fc.constant('ack' as const), back: fc.nat({ max: 4 }) }),
  fc.record({ kind: fc.constant('reject' as const), hint: fc.nat({ max: 30 }) }),
  fc.record({ kind: fc.constant('heartbeatResp' as const) }),
  fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('snapshotDone' as const), ok: fc.boolean() }),
  fc.record({ kind: fc.constant('unreachable' as const) }),
);

/** Apply `m` the way the leader does, against a leader log ending at `last` (which grows). */
function play(pr: Progress, m: Move, log: { last: number }): void {
  switch (m.kind) {
    case 'send': {
      if (pr.isPaused()) return;
      log.last += m.count;
      const count = pr.state === 'replicate' && pr.inflights.full() ? 0 : Math.min(m.count, log.last - pr.next + 1);
      if (count < 0) return;
      pr.sentEntries(count, 10 * count, pr.next - 1 + count);
      return;
    }
    case 'ack': {
      // An acknowledgement of something sent: at most next - 1, possibly an old one.
      const index = Math.max(0, pr.next - 1 - m.back);
      if (pr.maybeUpdate(index) && pr.state === 'probe') pr.becomeReplicate();
      return;
    }
    case 'reject':
      pr.maybeDecrTo(pr.next - 1, Math.min(m.hint, pr.next - 1));
      return;
    case 'heartbeatResp':
      pr.msgAppFlowPaused = false;
      return;
    case 'snapshot':
      if (pr.state !== 'snapshot') pr.becomeSnapshot(Math.max(pr.match, pr.next - 1) + m.ahead);
      return;
    case 'snapshotDone':
      if (pr.state !== 'snapshot') return;
      if (m.ok) pr.becomeProbe();
      else pr.snapshotFailed();
      return;
    case 'unreachable':
      if (pr.state === 'replicate') pr.becomeProbe();
      return;
  }
}

describe('Progress invariants', () => {
  it('hold under any sequence of the leader’s moves (they are asserted after each one)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(move, { maxLength: 200 }), (cap, moves) => {
        const log = { last: 5 };
        const pr = new Progress(log.last + 1, cap, 0, false);
        for (const m of moves) play(pr, m, log);
        const s = pr.toStatus();
        expect(s.match).toBeLessThan(s.next);
        expect(s.inflightMsgs).toBeLessThanOrEqual(cap);
        if (s.state !== 'replicate') expect(s.inflightMsgs).toBe(0);
        expect(pr.pendingSnapshot > 0).toBe(s.state === 'snapshot');
      }),
    );
  });

  it('a transition that would break one throws', () => {
    expect(() => new Progress(0, 4, 0, false)).toThrow(/match < next/);
    const snap = new Progress(5, 4, 0, false);
    expect(() => snap.becomeSnapshot(0)).toThrow(/pendingSnapshot/);
    const probing = new Progress(5, 4, 0, false);
    probing.becomeSnapshot(7);
    expect(() => probing.sentEntries(1, 10, 8)).toThrow(/snapshot state/);
    const pipelined = new Progress(5, 4, 0, false);
    pipelined.maybeUpdate(4);
    pipelined.becomeReplicate();
    // An append in flight must end after match: one ending at 3 is a bookkeeping bug.
    expect(() => pipelined.sentEntries(1, 10, 3)).toThrow(/invariant: Progress/);
  });

  it('the inflight window refuses to overflow or go backwards', () => {
    const inf = new Inflights(2, 0);
    inf.add(3, 1);
    expect(() => inf.add(3, 1)).toThrow(/not above/);
    inf.add(4, 1);
    expect(() => inf.add(5, 1)).toThrow(/full/);
    inf.freeLE(3);
    expect([inf.oldest(), inf.newest(), inf.count, inf.bytes]).toEqual([4, 4, 1, 1]);
  });
});

describe('CanBumpCommit', () => {
  it('asks for a commit-carrying append only when what is in flight does not carry it to next - 1', () => {
    const pr = new Progress(6, 4, 0, false);
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    pr.sentEntries(2, 20, 7); // entries 6..7 in flight
    pr.commitSent(5);
    expect(pr.canBumpCommit(5)).toBe(false); // nothing new
    expect(pr.canBumpCommit(7)).toBe(true); // the follower could commit 6..7
    pr.commitSent(7);
    expect(pr.canBumpCommit(8)).toBe(false); // the follower has nothing beyond 7 to commit
    // A rejection takes back what was in flight, and with it the commit sent beyond it.
    pr.maybeDecrTo(6, 5);
    expect(pr.state).toBe('probe');
    expect(pr.canBumpCommit(7)).toBe(false); // next - 1 = 5: nothing to bump until the probe lands
    // Reference: etcd raft tracker/progress.go CanBumpCommit
  });
});
