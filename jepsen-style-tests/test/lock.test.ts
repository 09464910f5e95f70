/** The lock checker: fencing tokens unique and increasing, accepted writes never interleaved. */
import { describe, expect, it } from 'vitest';
import { checkLock, type LockResult } from '../src/checker/lock.js';
import { validateHistory } from '../src/history/validate.js';
import { acquire, fencedWrite, history, release, type OpSpec } from './support/build.js';

function check(...specs: OpSpec[]): LockResult {
  const h = history(...specs);
  expect(validateHistory(h)).toEqual([]);
  return checkLock(h);
}

const kinds = (r: LockResult): string[] => [...r.locks, ...r.resources].flatMap((x) => x.violations.map((v) => v.kind));

describe('lock checker', () => {
  it('valid: holders one after another, each writing under its token', () => {
    const r = check(
      acquire(1, 10, 0, 1),
      fencedWrite(1, 10, 1, 11, 2, 3),
      fencedWrite(1, 10, 2, 12, 4, 5),
      release(1, 10, 6, 7),
      acquire(2, 13, 5, 8),
      fencedWrite(2, 13, 3, 14, 9, 10),
      release(2, 13, 11, 12),
    );
    expect(r).toMatchObject({ verdict: 'valid', acquires: { ok: 2, fail: 0, info: 0 }, writes: { ok: 3, fail: 0, info: 0 }, overlappingHolds: 0 });
    expect(r.locks.map((l) => l.key)).toEqual(['lock']);
    expect(r.resources.map((l) => l.key)).toEqual(['res']);
  });

  it('holds that overlap in real time are counted, and valid while the fence keeps the old holder out', () => {
    // p1's lease ran out while it was paused; p2 acquired; p1's late write is refused by the fence.
    const r = check(
      acquire(1, 10, 0, 1),
      fencedWrite(1, 10, 1, 11, 2, 3),
      acquire(2, 20, 10, 11),
      fencedWrite(2, 20, 2, 21, 12, 13),
      fencedWrite(1, 10, 3, undefined, 14, 15, { type: 'fail' }),
      release(2, 20, 16, 17),
    );
    expect(r.verdict).toBe('valid');
    expect(r.overlappingHolds).toBe(1);
  });

  it('a hold abandoned after an indeterminate operation ends with its process\'s last operation', () => {
    const r = check(acquire(1, 10, 0, 1), fencedWrite(1, 10, 1, undefined, 2, 3, { type: 'info' }), acquire(2, 20, 4, 5), fencedWrite(2, 20, 2, 21, 6, 7), release(2, 20, 8, 9));
    expect(r).toMatchObject({ verdict: 'valid', overlappingHolds: 0 });
  });

  it('two holders\' writes interleaved: a lower token accepted after a higher one is invalid', () => {
    const r = check(
      acquire(1, 10, 0, 1),
      acquire(2, 20, 10, 11),
      fencedWrite(2, 20, 1, 21, 12, 13),
      fencedWrite(1, 10, 2, 22, 14, 15), // the fence should have refused it
    );
    expect(r.verdict).toBe('invalid');
    expect(kinds(r)).toEqual(['fencing']);
    expect(r.resources[0]!.violations[0]!.text).toBe('"res" accepted a write under token 10 (p1, line 7) at revision 22, after it had accepted token 20 (p2, line 5) at revision 21');
  });

  it('the order is the revisions\', not real time: concurrent writes accepted in token order are fine', () => {
    const r = check(acquire(1, 10, 0, 1), acquire(2, 20, 0, 2), fencedWrite(2, 20, 1, 31, 3, 10), fencedWrite(1, 10, 2, 30, 3, 10));
    expect(r.verdict).toBe('valid');
  });

  it('two acquires with one token, or a later acquire with a smaller token, are invalid', () => {
    expect(kinds(check(acquire(1, 10, 0, 1), acquire(2, 10, 0, 2)))).toEqual(['duplicate-token']);
    expect(kinds(check(acquire(1, 10, 0, 1), release(1, 10, 2, 3), acquire(2, 7, 4, 5)))).toEqual(['token-order']);
    // Concurrent acquires may get their tokens in either order.
    expect(check(acquire(1, 10, 0, 5), acquire(2, 7, 1, 6)).verdict).toBe('valid');
  });

  it('a refusal with no higher token about is invalid; an indeterminate higher write is a reason', () => {
    expect(kinds(check(acquire(1, 10, 0, 1), fencedWrite(1, 10, 1, undefined, 2, 3, { type: 'fail' })))).toEqual(['wrong-refusal']);
    const r = check(acquire(1, 10, 0, 1), acquire(2, 20, 0, 2), fencedWrite(2, 20, 1, undefined, 3, undefined), fencedWrite(1, 10, 2, undefined, 4, 5, { type: 'fail' }));
    expect(r.verdict).toBe('valid');
    // A write refused with an error (not leader, timeout) says nothing about the fence.
    const h = history(acquire(1, 10, 0, 1), fencedWrite(1, 10, 1, undefined, 2, 3, { type: 'fail' }));
    h[3] = { ...h[3]!, error: { code: 'NOT_LEADER', message: 'node 2 is not the leader' } };
    expect(validateHistory(h)).toEqual([]);
    expect(checkLock(h).verdict).toBe('valid');
  });

  it('two writes accepted at one revision are invalid', () => {
    expect(kinds(check(acquire(1, 10, 0, 1), fencedWrite(1, 10, 1, 11, 2, 3), fencedWrite(1, 10, 2, 11, 4, 5)))).toEqual(['revision-reuse']);
  });

  it('unknown when no acquire succeeded', () => {
    expect(check(acquire(1, undefined, 0, 1, { type: 'fail' }))).toMatchObject({ verdict: 'unknown', reason: 'no acquire succeeded' });
  });
});
