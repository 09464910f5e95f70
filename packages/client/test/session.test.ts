import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WriteSessionTracker } from '../src/session.js';
import type { WriteTicket } from '../src/session.js';

function tracker(): { t: WriteSessionTracker; ids: string[] } {
  const ids: string[] = [];
  const t = new WriteSessionTracker(() => {
    const id = `client-${ids.length + 1}`;
    ids.push(id);
    return id;
  });
  return { t, ids };
}

describe('WriteSessionTracker', () => {
  it('numbers writes 1, 2, 3 under one client id and resends the same identity on retry', () => {
    const { t } = tracker();
    const a = t.begin();
    const b = t.begin();
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(a.clientId).toBe(b.clientId);
    const first = t.sessionFor(a);
    const retry = t.sessionFor(a);
    expect(retry.clientId).toBe(first.clientId);
    expect(retry.seq).toBe(first.seq);
  });

  it('ackedBelow is the lowest seq still unanswered, whatever order answers arrive in', () => {
    const { t } = tracker();
    const [w1, w2, w3, w4] = [t.begin(), t.begin(), t.begin(), t.begin()];
    expect(t.sessionFor(w4).ackedBelow).toBe(1);
    t.finish(w2, 'answered');
    t.finish(w3, 'answered');
    expect(t.sessionFor(w4).ackedBelow).toBe(1); // w1 is still in flight
    t.finish(w1, 'answered');
    expect(t.sessionFor(w4).ackedBelow).toBe(4);
    t.finish(w4, 'answered');
    const w5 = t.begin();
    expect(t.sessionFor(w5)).toMatchObject({ seq: 5, ackedBelow: 5 });
  });

  it('never acknowledges an indeterminate write, and starts a new session after one', () => {
    const { t, ids } = tracker();
    const w1 = t.begin();
    const w2 = t.begin();
    t.finish(w1, 'indeterminate');
    // w2 keeps its identity in the old session; that session's floor stays at w1.
    t.finish(w2, 'answered');
    const again = t.sessionFor(w2);
    expect(again).toEqual({ clientId: ids[0], seq: 2, ackedBelow: 1 });
    // New writes use a fresh client id, numbered from 1.
    const w3 = t.begin();
    expect(ids).toHaveLength(2);
    expect(t.sessionFor(w3)).toEqual({ clientId: ids[1], seq: 1, ackedBelow: 1 });
    expect(t.clientId).toBe(ids[1]);
  });

  it('an indeterminate write of a retired session does not retire the current one', () => {
    const { t, ids } = tracker();
    const old1 = t.begin();
    const old2 = t.begin();
    t.finish(old1, 'indeterminate'); // rotates to ids[1]
    t.finish(old2, 'indeterminate'); // belongs to ids[0]: no second rotation
    expect(ids).toHaveLength(2);
    expect(t.begin().clientId).toBe(ids[1]);
  });

  it('ackedBelow equals the lowest in-flight seq of a naive oracle, for any interleaving', () => {
    // Each step either starts a write (null) or answers the in-flight write at index i mod n.
    const steps = fc.array(fc.option(fc.nat(), { nil: null, freq: 2 }), { maxLength: 200 });
    fc.assert(
      fc.property(steps, (plan) => {
        const { t } = tracker();
        const inFlight: WriteTicket[] = [];
        for (const step of plan) {
          if (step === null || inFlight.length === 0) inFlight.push(t.begin());
          else t.finish(inFlight.splice(step % inFlight.length, 1)[0]!, 'answered');
          const probe = t.begin(); // also in flight while we look
          const lowest = Math.min(probe.seq, ...inFlight.map((w) => w.seq));
          expect(t.sessionFor(probe).ackedBelow).toBe(lowest);
          inFlight.push(probe);
        }
      }),
    );
  });
});
