import { describe, expect, it } from 'vitest';
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
