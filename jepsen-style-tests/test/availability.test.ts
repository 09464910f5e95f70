/**
 * Availability: a node on the minority side of a partition never acknowledges a write or a
 * linearizable read; per-phase counts are reported for people.
 */
import { describe, expect, it } from 'vitest';
import { checkAvailability } from '../src/checker/availability.js';
import type { NemesisInterval } from '../src/history/timeline.js';
import { simulateRegisterHistory } from '../src/testing/simulate.js';
import { add, cas, history, read, write } from './support/build.js';

const MS = 1_000_000;
// Node 1 is cut off from 100 ms to 200 ms.
const cut: NemesisInterval = { label: 'isolate-leader n1', kind: 'partition', start: 100 * MS, end: 200 * MS, nodes: [1], minority: [1] };

describe('availability checker', () => {
  it('a write acknowledged by a minority node during the cut is invalid, with the details', () => {
    const h = history(write(1, 1, 120, 130, { node: 1 }), write(2, 2, 120, 130, { node: 2 }));
    const r = checkAvailability(h, [cut]);
    expect(r.verdict).toBe('invalid');
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatchObject({ node: 1, f: 'write', label: 'write 1', interval: 'isolate-leader n1', line: 1 });
    expect(r.violations[0]!.text).toBe(
      'node 1 was on the minority side of "isolate-leader n1" (from 0.000000 s to 0.100000 s), yet answered p1\'s write 1 on "k", invoked 0.020000 s and completed 0.030000 s (line 1)',
    );
  });

  it('adds, deletes and successful cas count as writes; a cas that "did not swap" is an answer too', () => {
    expect(checkAvailability(history(add(1, 5, 120, 130, { node: 1 })), [cut]).verdict).toBe('invalid');
    expect(checkAvailability(history(cas(1, 1, 2, 120, 130, { node: 1 })), [cut]).verdict).toBe('invalid');
    expect(checkAvailability(history(cas(1, 1, 2, 120, 130, { node: 1, type: 'fail' })), [cut]).verdict).toBe('invalid');
  });

  it('refusals and timeouts are what a minority should give', () => {
    const h = history(write(1, 1, 120, 130, { node: 1, type: 'info' }), read(2, null, 120, 130, { node: 1, type: 'fail' }));
    const withError = history(cas(3, 1, 2, 120, 130, { node: 1, type: 'fail' })).map((op) =>
      op.type === 'fail' ? { ...op, error: { code: 'UNAVAILABLE', message: 'no quorum' } } : op,
    );
    expect(checkAvailability([...h, ...withError].sort((a, b) => a.time - b.time), [cut]).verdict).toBe('valid');
  });

  it('linearizable reads must not be answered; serializable ones may be', () => {
    const h = history(read(1, 1, 120, 130, { node: 1 }));
    expect(checkAvailability(h, [cut]).verdict).toBe('invalid');
    expect(checkAvailability(h, [cut], { linearizableReads: false }).verdict).toBe('valid');
  });

  it('only operations entirely inside the cut are judged', () => {
    const straddling = history(write(1, 1, 90, 130, { node: 1 }), write(2, 2, 190, 210, { node: 1 }), write(3, 3, 250, 260, { node: 1 }));
    expect(checkAvailability(straddling, [cut]).verdict).toBe('valid');
    const unhealed = { ...cut, end: undefined };
    expect(checkAvailability(history(write(1, 1, 250, 260, { node: 1 })), [unhealed]).verdict).toBe('invalid');
  });

  it('counts completions per phase and side, and notes a majority that served nothing', () => {
    const h = history(
      write(1, 1, 10, 20, { node: 1 }),
      write(2, 2, 10, 20, { node: 2 }),
      write(1, 3, 120, 190, { node: 1, type: 'info' }),
      write(2, 4, 120, 190, { node: 2, type: 'info' }),
      read(3, null, 150, 160),
      write(4, 5, 250, 260, { node: 2 }),
    );
    const r = checkAvailability(h, [cut]);
    expect(r.phases.map((p) => [p.faults, p.minority, p.sides])).toEqual([
      [[], [], { majority: { ok: 2, fail: 0, info: 0 }, minority: { ok: 0, fail: 0, info: 0 }, unpinned: { ok: 0, fail: 0, info: 0 } }],
      [['isolate-leader n1'], [1], { majority: { ok: 0, fail: 0, info: 1 }, minority: { ok: 0, fail: 0, info: 1 }, unpinned: { ok: 1, fail: 0, info: 0 } }],
      [[], [], { majority: { ok: 1, fail: 0, info: 0 }, minority: { ok: 0, fail: 0, info: 0 }, unpinned: { ok: 0, fail: 0, info: 0 } }],
    ]);
    expect(r.notes).toEqual(['the majority side acknowledged nothing during isolate-leader n1 (100 ms from 0.090000 s)']);
    expect(r.verdict).toBe('valid');
  });

  it('a simulated cluster whose minority refuses is valid, and the majority keeps serving', () => {
    const S = 1_000_000_000;
    const timeline: NemesisInterval[] = [{ label: 'majority-split', kind: 'partition', start: 1 * S, end: 2 * S, nodes: [3], minority: [3] }];
    const h = simulateRegisterHistory({ seed: 9, ops: 6000, keys: 5, clients: 6, timeline });
    const r = checkAvailability(h, timeline);
    expect(r.verdict).toBe('valid');
    const during = r.phases.find((p) => p.faults.length > 0)!;
    expect(during.sides.minority.ok).toBe(0);
    expect(during.sides.majority.ok).toBeGreaterThan(0);
  });

  it('rejects an interval that ends before it starts', () => {
    expect(() => checkAvailability([], [{ ...cut, end: 50 * MS }])).toThrow(TypeError);
  });
});
