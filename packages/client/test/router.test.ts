import { describe, expect, it } from 'vitest';
import { connectFailureKind, refusalKind } from '../src/dial-failure.js';
import { Router } from '../src/router.js';

const A = '127.0.0.1:1';
const B = '127.0.0.1:2';
const C = '127.0.0.1:3';

describe('Router', () => {
  it('goes round the endpoints until it knows the leader, then sticks to it', () => {
    const r = new Router([A, B, C]);
    expect([r.pick(0), r.pick(0), r.pick(0), r.pick(0)]).toEqual([A, B, C, A]);
    r.succeeded(B, true);
    expect([r.pick(0), r.pick(0)]).toEqual([B, B]);
  });

  it('spreads reads over every usable node in turn, on a rotation apart from the leader search', () => {
    const r = new Router([A, B, C], { avoidMs: 100 });
    r.succeeded(B, true);
    expect([r.spread(0), r.spread(0), r.spread(0), r.spread(0)]).toEqual([A, B, C, A]);
    expect(r.pick(0)).toBe(B);
    expect(r.next(0)).toBe(A); // the search's own rotation did not move
    r.failed(C, 0);
    expect([r.spread(50), r.spread(50), r.spread(50)]).toEqual([B, A, B]);
    expect(r.spread(100)).toBe(C); // the cool-down is over
  });

  it('serializable successes do not make a node the leader', () => {
    const r = new Router([A, B]);
    r.succeeded(B, false);
    expect(r.leaderAddress).toBeUndefined();
  });

  it('follows hints, learning addresses it was not given', () => {
    const r = new Router([A]);
    r.redirected(A, C);
    expect(r.leaderAddress).toBe(C);
    expect(r.known()).toEqual([A, C]);
    expect(r.pick(0)).toBe(C);
  });

  it('ignores hints that are not usable addresses', () => {
    const r = new Router([A, B]);
    r.redirected(A, '');
    expect(r.leaderAddress).toBeUndefined();
    expect(r.known()).toEqual([A, B]);
  });

  it('avoids failed nodes for the cool-down period, unless every node failed', () => {
    const r = new Router([A, B, C], { avoidMs: 100 });
    r.succeeded(A, true);
    r.failed(A, 0);
    expect(r.leaderAddress).toBeUndefined();
    const picks = [r.pick(50), r.pick(50), r.pick(50)];
    expect(picks).not.toContain(A);
    r.failed(B, 10);
    r.failed(C, 20);
    expect(r.pick(50)).toBe(A); // all avoided: the one whose cool-down ends first
    expect([r.pick(150), r.pick(150), r.pick(150)].sort()).toEqual([A, B, C]);
  });
});

describe('Router: dials after a failed connection', () => {
  const refused = { kind: 'refused', detail: 'ECONNREFUSED' } as const;
  const tuning = { avoidMs: 100, reconnectBackoffBaseMs: 100, reconnectBackoffMaxMs: 400 };

  it('waits a backoff that doubles per failed dial in a row, capped, with jitter in its upper half', () => {
    const low = new Router([A], { ...tuning, random: () => 0 });
    const high = new Router([A], { ...tuning, random: () => 0.999999 });
    const waits = (r: Router): number[] =>
      Array.from({ length: 5 }, () => {
        r.dialFailed(A, refused, 0);
        return Math.round(r.dialWaitMs(A, 0));
      });
    expect(waits(low)).toEqual([50, 100, 200, 200, 200]);
    expect(waits(high)).toEqual([100, 200, 400, 400, 400]);
  });

  it('an answer resets the backoff; other nodes are picked while one waits', () => {
    const r = new Router([A, B], { ...tuning, random: () => 0 });
    r.dialFailed(A, refused, 0);
    r.dialFailed(A, refused, 0);
    expect(r.dialWaitMs(A, 0)).toBe(100);
    expect([r.pick(10), r.pick(10)]).toEqual([B, B]);
    r.answered(A);
    expect(r.dialWaitMs(A, 0)).toBe(0);
    r.dialFailed(A, refused, 0);
    expect(r.dialWaitMs(A, 0)).toBe(50);
  });

  it('when every node waits, picks the one that may be dialled first', () => {
    const r = new Router([A, B, C], { ...tuning, random: () => 0 });
    r.dialFailed(A, refused, 0);
    r.dialFailed(A, refused, 0);
    r.dialFailed(B, refused, 0);
    r.dialFailed(C, refused, 20);
    expect(r.pick(30)).toBe(B);
    expect(r.dialWaitMs(B, 30)).toBe(20);
  });

  it('is hopeless only when every node failed in a way no retry fixes', () => {
    const r = new Router([A, B], tuning);
    r.dialFailed(A, { kind: 'unresolvable', detail: 'ENOTFOUND' }, 0);
    expect(r.hopeless()).toBeUndefined(); // B untried
    r.dialFailed(B, { kind: 'overloaded', detail: 'busy' }, 0);
    expect(r.hopeless()).toBeUndefined(); // B is there, just busy
    r.dialFailed(B, refused, 0);
    expect(r.hopeless()?.map(([a, f]) => [a, f.kind])).toEqual([
      [A, 'unresolvable'],
      [B, 'refused'],
    ]);
  });

  it('every node refusing is not hopeless for a client that has reached the cluster before', () => {
    const r = new Router([A, B], tuning);
    r.answered(A);
    r.dialFailed(A, refused, 0);
    r.dialFailed(B, refused, 0);
    expect(r.hopeless()).toBeUndefined();
    r.dialFailed(A, { kind: 'rejected', detail: 'a peer port' }, 0);
    r.dialFailed(B, { kind: 'unresolvable', detail: 'ENOTFOUND' }, 0);
    expect(r.hopeless()).toHaveLength(2);
  });
});

describe('dial failure kinds', () => {
  it('tell "nothing there" and "no such host" from transient failures', () => {
    expect(connectFailureKind('ECONNREFUSED')).toBe('refused');
    expect(connectFailureKind('ENOTFOUND')).toBe('unresolvable');
    expect(connectFailureKind('EAI_AGAIN')).toBe('unreachable'); // the DNS server failed: try again
    expect(connectFailureKind('EHOSTUNREACH')).toBe('unreachable');
    expect(connectFailureKind(undefined)).toBe('unreachable'); // connect timeout
    expect(refusalKind('OVERLOADED')).toBe('overloaded');
    expect(refusalKind('SHUTTING_DOWN')).toBe('overloaded');
    expect(refusalKind('INVALID_ARGUMENT')).toBe('rejected');
  });
});
