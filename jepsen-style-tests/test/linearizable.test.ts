/**
 * Hand-written histories: the classic non-linearizable shapes must fail (with an explanation a
 * person can follow), and linearizable ones — concurrency, indeterminate writes that take effect
 * late or never, failed operations — must pass.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizable, type KeyResult } from '../src/checker/linearizable.js';
import type { Op } from '../src/history/op.js';
import { validateHistory } from '../src/history/validate.js';
import { simulateRegisterHistory } from '../src/testing/simulate.js';
import { cas, del, history, read, write } from './support/build.js';

function check(h: Op[], options = {}): KeyResult {
  expect(validateHistory(h)).toEqual([]);
  const result = checkLinearizable(h, options);
  expect(result.keys).toHaveLength(1);
  return result.keys[0]!;
}

function explained(h: Op[]): string {
  const k = check(h);
  expect(k.verdict).toBe('invalid');
  return k.explanation!.lines.join('\n');
}

describe('non-linearizable histories fail', () => {
  it('stale read: a read that begins after a write completed returns the older value', () => {
    const text = explained(history(write(1, 1, 0, 10), write(2, 2, 20, 30), read(3, 1, 40, 50)));
    expect(text).toContain('#3 read 1, but #1 (write 1) was gone before #3 began: #2 (write 2) overwrote it, beginning after #1 completed and completing before #3 began.');
    expect(text).toContain('#1 completed before #2 began; #2 completed before #3 began');
  });

  it('lost write: an acknowledged write is gone and the key reads as absent', () => {
    const text = explained(history(write(1, 7, 0, 10), read(2, null, 20, 30)));
    expect(text).toContain('#2 read nil, but the key was no longer absent: #1 (write 7) overwrote it, completing before #2 began.');
  });

  it('lost write: a later read returns the value from before an acknowledged write', () => {
    const text = explained(history(write(1, 1, 0, 10), read(2, 1, 12, 14), write(1, 2, 20, 30), read(2, 1, 40, 50)));
    expect(text).toContain('#3 read 1, but #1 (write 1) was gone before #3 began: #2 (write 2) overwrote it');
    expect(text).toContain("The key's other 1 operation cannot resolve this");
  });

  it('cas succeeds on a stale value', () => {
    const text = explained(history(write(1, 1, 0, 10), write(2, 2, 20, 30), cas(3, 1, 3, 40, 50)));
    expect(text).toContain('#3 (cas 1→3) swapped on 1, but #1 (write 1) was gone before #3 began: #2 (write 2) overwrote it');
  });

  it('read of a value never written', () => {
    const text = explained(history(write(1, 1, 0, 10), read(2, 99, 20, 30)));
    expect(text).toContain('these operations cannot be linearized'.replace('these operations', 'this operation'));
    expect(text).toContain('no operation in the history ever tried to write 99');
  });

  it('read of a value whose write definitely failed', () => {
    const text = explained(history(write(1, 5, 0, 10, { type: 'fail' }), read(2, 5, 20, 30)));
    expect(text).toContain("p1's write 5 (line 1) failed, so it definitely did not take effect");
  });

  it('read of a value from the future: its write began after the read completed', () => {
    const text = explained(history(read(2, 5, 0, 10), write(1, 5, 20, 30)));
    expect(text).toContain("#1 read 5, but none of these operations writes 5: p1's write 5 (line 3) was invoked at 0.020000 s, after the read completed");
  });

  it('two readers observe two concurrent writes in opposite orders', () => {
    // Writes 1 and 2 overlap; p3 sees 1 then 2, p4 (strictly later) sees 2 then 1.
    const h = history(write(1, 1, 0, 100), write(2, 2, 0, 100), read(3, 1, 10, 20), read(3, 2, 30, 40), read(4, 2, 50, 60), read(4, 1, 70, 80));
    const text = explained(h);
    expect(text).toContain('#1  p1 write 1  invoked 0.000000 s, still running after the others completed (ok only at 0.100000 s)');
    expect(text).toContain('Why: #5 read 1, but #1 (write 1, still running) took effect before #3 completed, since #3 saw 1, and was gone before #5 began: #4 (read → 2) saw 2');
  });

  it('an indeterminate write that took effect cannot be undone', () => {
    // Write 2 timed out, yet a read saw it; a later read must not see the older 1 again.
    const h = history(write(1, 1, 0, 10), write(2, 2, 20, 30, { type: 'info' }), read(3, 2, 40, 50), read(3, 1, 60, 70));
    expect(check(h).verdict).toBe('invalid');
  });

  it('a delete that completed hides the old value', () => {
    const text = explained(history(write(1, 1, 0, 10), del(2, 20, 30), read(3, 1, 40, 50)));
    expect(text).toContain('#3 read 1, but #1 (write 1) was gone before #3 began: #2 (delete) overwrote it');
  });

  it('a failed cas never takes effect', () => {
    expect(check(history(write(1, 1, 0, 10), cas(2, 1, 2, 20, 30, { type: 'fail' }), read(3, 2, 40, 50))).verdict).toBe('invalid');
  });

  it('when no sentence fits, the furthest order is described', () => {
    // Each read alone is fine; together they need 1 before 2 and 2 before 1.
    const h = history(write(1, 1, 0, 100), write(2, 2, 0, 100), read(3, 1, 10, 20), read(4, 2, 10, 20), read(3, 2, 30, 40), read(4, 1, 30, 40));
    const text = explained(h);
    expect(text).toMatch(/Why: the furthest any order that respects real time gets is .*needs/);
  });
});

describe('linearizable histories pass', () => {
  it('sequential read / write / cas / delete', () => {
    const h = history(read(1, null, 0, 1), write(1, 1, 2, 3), read(1, 1, 4, 5), cas(1, 1, 2, 6, 7), read(1, 2, 8, 9), del(1, 10, 11), read(1, null, 12, 13));
    expect(check(h).verdict).toBe('valid');
  });

  it('a read concurrent with a write may return either value', () => {
    for (const seen of [null, 1]) expect(check(history(write(1, 1, 0, 10), read(2, seen, 5, 15))).verdict).toBe('valid');
  });

  it('intervals are closed: an operation ending at t is concurrent with one starting at t', () => {
    expect(check(history(read(2, 1, 0, 10), write(1, 1, 10, 20))).verdict).toBe('valid');
  });

  it('concurrent writes may land in either order, as long as every reader agrees', () => {
    const h = history(write(1, 1, 0, 100), write(2, 2, 0, 100), read(3, 2, 10, 20), read(3, 1, 30, 40), read(4, 1, 50, 60));
    expect(check(h).verdict).toBe('valid');
  });

  it('an indeterminate write may take effect long after its client gave up', () => {
    const h = history(write(1, 1, 0, 10), write(2, 2, 20, 30, { type: 'info' }), read(3, 1, 40, 50), read(3, 1, 60, 70), read(3, 2, 1000, 1010));
    expect(check(h).verdict).toBe('valid');
  });

  it('an indeterminate write may never take effect', () => {
    const h = history(write(1, 1, 0, 10), write(2, 2, 20, 30, { type: 'info' }), read(3, 1, 40, 50), read(3, 1, 1000, 1010));
    expect(check(h).verdict).toBe('valid');
  });

  it('an operation the history never completes counts as indeterminate', () => {
    const h = history(write(1, 1, 0, 10), write(2, 2, 20, undefined), read(3, 2, 40, 50));
    expect(check(h).verdict).toBe('valid');
  });

  it('an indeterminate cas may swap late, and only if the value matches', () => {
    const late = history(write(1, 1, 0, 10), cas(2, 1, 5, 20, 30, { type: 'info' }), read(3, 1, 40, 50), read(3, 5, 60, 70));
    expect(check(late).verdict).toBe('valid');
    const impossible = history(write(1, 1, 0, 10), write(1, 2, 15, 18), cas(2, 1, 5, 20, 30, { type: 'info' }), read(3, 5, 60, 70));
    expect(check(impossible).verdict).toBe('invalid');
  });

  it('failed operations and indeterminate reads are ignored', () => {
    const h = history(write(1, 1, 0, 10), write(2, 9, 12, 14, { type: 'fail' }), read(3, null, 20, 30, { type: 'info' }), read(4, 1, 40, 50));
    expect(check(h).verdict).toBe('valid');
  });

  it('simulated histories of an ideal store are valid', () => {
    const h = simulateRegisterHistory({ seed: 3, ops: 5000, keys: 4, clients: 8, infoRate: 0.05, failRate: 0.05 });
    const result = checkLinearizable(h);
    expect(result.verdict).toBe('valid');
    expect(result.counts).toEqual({ valid: 4, invalid: 0, unknown: 0 });
  });

  it('simulated stale reads are caught, each key explained by a three-operation slice', () => {
    const h = simulateRegisterHistory({ seed: 4, ops: 3000, keys: 3, clients: 6, staleReadRate: 0.05 });
    const result = checkLinearizable(h);
    expect(result.verdict).toBe('invalid');
    for (const k of result.keys.filter((x) => x.verdict === 'invalid')) {
      expect(k.explanation!.ops).toHaveLength(3);
      expect(k.explanation!.minimal).toBe(true);
    }
  });
});

describe('budget and composition', () => {
  it('a key whose search runs out of budget is unknown, never valid', () => {
    const h = simulateRegisterHistory({ seed: 5, ops: 400, keys: 1, clients: 6, infoRate: 0.1 });
    expect(checkLinearizable(h).verdict).toBe('valid');
    const k = check(h, { maxStepsPerKey: 50 });
    expect(k.verdict).toBe('unknown');
    expect(k.reason).toMatch(/search budget of 50 steps exhausted/);
  });

  it('a budget exhausted on an invalid history is unknown too', () => {
    const h = simulateRegisterHistory({ seed: 6, ops: 400, keys: 1, clients: 6, staleReadRate: 0.3 });
    expect(checkLinearizable(h).verdict).toBe('invalid');
    expect(check(h, { maxStepsPerKey: 5 }).verdict).toBe('unknown');
  });

  it('reads that fit are taken without branching: a key with 20 concurrent clients fits the default budget', () => {
    // Without that rule this history needed about 6.5 million steps; the count is deterministic.
    const h = simulateRegisterHistory({ seed: 2, ops: 2000, keys: 1, clients: 20, infoRate: 0 });
    const k = check(h);
    expect(k.verdict).toBe('valid');
    expect(k.steps).toBeLessThan(1_000_000);
  });

  it('keys are independent: one bad key does not taint another', () => {
    const h = history(write(1, 1, 0, 10, { key: 'a' }), read(2, 1, 20, 30, { key: 'a' }), write(3, 1, 0, 10, { key: 'b' }), read(4, 7, 20, 30, { key: 'b' }));
    const result = checkLinearizable(h);
    expect(result.verdict).toBe('invalid');
    expect(result.keys.map((k) => [k.key, k.verdict])).toEqual([
      ['b', 'invalid'],
      ['a', 'valid'],
    ]);
  });

  it('prints times relative to the given origin, with line numbers', () => {
    const h = history(write(1, 1, 1000, 1002), read(2, 9, 1003, 1004.5, { node: 2 }));
    const text = checkLinearizable(h, { origin: 1000 * 1e6 }).keys[0]!.explanation!.lines.join('\n');
    expect(text).toContain('#1  p2 read → 9  invoked 0.003000 s, ok 0.004500 s  (line 3, node 2)');
  });
});
