/**
 * The linearizability checker against a brute-force oracle (support/oracle.ts) on generated
 * tiny histories: the verdicts agree on every case, a valid verdict comes with a real
 * linearization, and every slice the explainer reports is itself non-linearizable.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cutAt, isWeakenable, smallestViolation, unobserved, weaken } from '../src/checker/explain.js';
import { checkLinearizable } from '../src/checker/linearizable.js';
import { registerCalls, type RegisterCall } from '../src/checker/register.js';
import { searchLinearization } from '../src/checker/search.js';
import type { Op } from '../src/history/op.js';
import { pairOperations } from '../src/history/operations.js';
import { validateHistory } from '../src/history/validate.js';
import { plausibleHistory, randomHistory } from './support/generate.js';
import { oracleLinearizable, toCalls } from './support/oracle.js';

const BIG = { maxSteps: 10_000_000 };

function oracle(history: readonly Op[]): boolean {
  return oracleLinearizable(toCalls(pairOperations(history)));
}

/** Replays a linearization independently: real-time order respected, every result explained. */
function replays(calls: readonly RegisterCall[], order: readonly number[]): boolean {
  const placed = order.map((i) => calls[i]!);
  if (calls.some((c) => c.definite && !placed.includes(c))) return false;
  for (let i = 0; i < placed.length; i++) for (let j = i + 1; j < placed.length; j++) if (placed[j]!.ret < placed[i]!.call) return false;
  let state: unknown = null;
  for (const c of placed) {
    if (c.f === 'read') {
      if (c.output !== state) return false;
    } else if (c.f === 'write') state = c.input;
    else if (c.f === 'delete') state = null;
    else {
      const [from, to] = c.input as [unknown, unknown];
      if (from === state) state = to;
      else if (c.definite) return false;
    }
  }
  return true;
}

function agrees(history: Op[]): void {
  expect(validateHistory(history)).toEqual([]);
  const want = oracle(history);
  const calls = registerCalls(pairOperations(history));
  const got = searchLinearization(calls, BIG);
  expect(got.verdict).toBe(want ? 'valid' : 'invalid');
  if (got.verdict === 'valid') {
    expect(replays(calls, got.order)).toBe(true);
  } else {
    const { slice } = smallestViolation(calls, { maxSteps: BIG.maxSteps, maxChecks: 1000 });
    expect(oracleLinearizable(slice)).toBe(false);
    const result = checkLinearizable(history);
    expect(result.verdict).toBe('invalid');
    expect(result.keys[0]!.explanation!.lines.length).toBeGreaterThan(1);
  }
}

describe('linearizability checker vs brute-force oracle', () => {
  it('agrees on histories with random results', () => {
    fc.assert(fc.property(randomHistory(), agrees), { numRuns: 600 });
  });

  it('agrees on histories computed from a linearization, some with one result corrupted', () => {
    fc.assert(fc.property(plausibleHistory(), agrees), { numRuns: 600 });
  });

  it('the shrinker only makes changes that keep a linearizable history linearizable', () => {
    // Soundness of the printed slice rests on this: cutting at a time, leaving out what
    // `unobserved` allows, and weakening a cas to a write never break a linearizable history.
    fc.assert(
      fc.property(plausibleHistory(), fc.nat(), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (h, pick, mask) => {
        const calls = registerCalls(pairOperations(h));
        if (!oracleLinearizable(calls)) return;
        const times = calls.map((c) => c.ret).filter((t) => Number.isFinite(t));
        if (times.length > 0) expect(oracleLinearizable(cutAt(calls, times[pick % times.length]!))).toBe(true);
        const kept = calls.filter((_, i) => mask[i]);
        const left = calls.filter((_, i) => !mask[i]);
        if (unobserved(left, kept).length === left.length) expect(oracleLinearizable(kept)).toBe(true);
        expect(oracleLinearizable(calls.map((c, i) => (isWeakenable(c) && mask[i] ? weaken(c) : c)))).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('checks keys independently: the history is valid iff every key is', () => {
    fc.assert(
      fc.property(plausibleHistory('a', 0), plausibleHistory('b', 100), (a, b) => {
        const merged = [...a, ...b].sort((x, y) => x.time - y.time);
        const result = checkLinearizable(merged);
        const want = { a: oracle(a), b: oracle(b) };
        for (const key of ['a', 'b'] as const) {
          const k = result.keys.find((r) => r.key === key);
          if (k !== undefined) expect(k.verdict).toBe(want[key] ? 'valid' : 'invalid');
        }
        expect(result.verdict).toBe(want.a && want.b ? 'valid' : 'invalid');
      }),
      { numRuns: 200 },
    );
  });
});
