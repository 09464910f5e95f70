/** The bank checker: totals, negative balances, and each transfer applied as its outcome says. */
import { describe, expect, it } from 'vitest';
import { checkBank, type BankResult } from '../src/checker/bank.js';
import { renderReport } from '../src/report/html.js';
import { checkRun } from '../src/report/results.js';
import { validateHistory } from '../src/history/validate.js';
import { history, init, readBank, transfer, type OpSpec } from './support/build.js';

/** Three accounts of 10; transfer 1 moves 3 from account 0 to 1 (acknowledged at 3 ms). */
const start: OpSpec[] = [init(0, [10, 10, 10], 0, 1), transfer(1, { id: 1, from: 0, to: 1, amount: 3, expect: [[10, 0], [10, 0]] }, 2, 3)];

function check(...specs: OpSpec[]): BankResult {
  const h = history(...specs);
  expect(validateHistory(h)).toEqual([]);
  return checkBank(h);
}

const kinds = (r: BankResult): string[] => Object.keys(r.counts).sort();

describe('bank checker', () => {
  it('valid: reads see the total, acknowledged transfers applied, failed ones not, an indeterminate one either way', () => {
    const r = check(
      ...start,
      readBank(2, [[7, 1], [13, 1], [10, 0]], 4, 5),
      transfer(3, { id: 2, from: 1, to: 2, amount: 2, expect: [[13, 1], [10, 0]] }, 6, 7, { type: 'info' }),
      transfer(4, { id: 3, from: 0, to: 2, amount: 1, expect: [[10, 0], [10, 0]] }, 6, 7, { type: 'fail' }),
      transfer(5, { id: 4, from: 2, to: 0, amount: 1, expect: [[10, 0], [7, 1]] }, 6, undefined),
      readBank(2, [[7, 1], [11, 2], [12, 2]], 10, 11),
    );
    expect(r).toMatchObject({ verdict: 'valid', accounts: 3, total: 30, violations: [], counts: {} });
    expect(r.reads).toEqual({ ok: 2, fail: 0, info: 0 });
    expect(r.transfers).toEqual({ ok: 1, fail: 1, info: 2, applied: 2, recovered: 1, concurrent: 0 });
    expect(r.finalRead).toEqual({ line: 12, balances: [7, 11, 12] });
  });

  it('a read that sees a wrong total is invalid', () => {
    // Transfer 1 seen on account 0 but not yet on account 1: not one snapshot.
    const r = check(...start, readBank(2, [[7, 1], [10, 0], [10, 0]], 2.5, 2.8), readBank(2, [[7, 1], [13, 1], [10, 0]], 10, 11));
    expect(r.verdict).toBe('invalid');
    expect(kinds(r)).toEqual(['wrong-total']);
    expect(r.violations[0]!.text).toMatch(/^a read saw a total of 27, not 30: 7 \+ 10 \+ 10 \(p2, invoked .* line 4\)$/);
  });

  it('a read that sees a negative balance is invalid', () => {
    const r = check(init(0, [10, 10, 10], 0, 1), transfer(1, { id: 1, from: 0, to: 1, amount: 12, expect: [[10, 0], [10, 0]] }, 2, 3), readBank(2, [[-2, 1], [22, 1], [10, 0]], 4, 5));
    expect(r.verdict).toBe('invalid');
    expect(kinds(r)).toEqual(['negative']);
    expect(r.violations[0]!.text).toContain('a read saw a negative balance: account 0 = -2');
  });

  it('an acknowledged transfer missing from the final state is lost', () => {
    const r = check(...start, readBank(2, [[10, 0], [10, 0], [10, 0]], 10, 11));
    expect(kinds(r)).toEqual(['lost']);
    expect(r.violations[0]!.text).toContain('transfer 1 (3 from 0 to 1) was acknowledged');
  });

  it('two acknowledged transfers over the same state: the compare let both through, one is lost', () => {
    const r = check(
      ...start,
      transfer(3, { id: 2, from: 0, to: 2, amount: 5, expect: [[10, 0], [10, 0]] }, 2, 3),
      readBank(2, [[5, 2], [13, 1], [15, 2]], 10, 11), // the total is 33
    );
    expect(r.verdict).toBe('invalid');
    expect(kinds(r)).toEqual(['lost', 'wrong-total']);
    expect(r.violations.find((v) => v.kind === 'lost')!.text).toContain('shows it applied to 1 only, not to account 0');
  });

  it('a transfer that definitely failed must not apply', () => {
    const r = check(init(0, [10, 10, 10], 0, 1), transfer(1, { id: 1, from: 0, to: 1, amount: 3, expect: [[10, 0], [10, 0]] }, 2, 3, { type: 'fail' }), readBank(2, [[7, 1], [13, 1], [10, 0]], 10, 11));
    expect(kinds(r)).toEqual(['failed-applied']);
  });

  it('an indeterminate transfer applied to one account only is torn', () => {
    const r = check(init(0, [10, 10, 10], 0, 1), transfer(1, { id: 1, from: 0, to: 1, amount: 3, expect: [[10, 0], [10, 0]] }, 2, undefined), readBank(2, [[7, 1], [10, 0], [10, 0]], 10, 11));
    expect(kinds(r)).toEqual(['torn', 'wrong-total']);
    expect(r.violations.find((v) => v.kind === 'torn')!.text).toContain('indeterminate transfer 1 applied to account 0 but not to account 1');
  });

  it('a state no transfer wrote is a phantom: a wrong balance, an unknown transfer, another pair of accounts', () => {
    const r = check(...start, readBank(2, [[7, 1], [12, 1], [11, 0]], 4, 5), readBank(2, [[7, 1], [13, 1], [10, 99]], 6, 7), readBank(2, [[7, 1], [13, 1], [10, 1]], 10, 11));
    expect(r.verdict).toBe('invalid');
    const phantoms = r.violations.filter((v) => v.kind === 'phantom').map((v) => v.text);
    expect(phantoms).toEqual([
      expect.stringContaining('account 1 hold 12 (from transfer 1), but transfer 1 left 13 there'),
      expect.stringContaining('account 2 hold 11 (from the initial deposit), but the initial deposit was 10'),
      expect.stringContaining('account 2 hold 10 (from transfer 99), but no transfer 99 was attempted'),
      expect.stringContaining('account 2 hold 10 (from transfer 1), but transfer 1 moved money between accounts 0 and 1'),
    ]);
  });

  it('a state the final read does not descend from was undone (diverged)', () => {
    const r = check(
      init(0, [10, 10, 10], 0, 1),
      transfer(1, { id: 1, from: 0, to: 1, amount: 3, expect: [[10, 0], [10, 0]] }, 2, 3, { type: 'info' }),
      readBank(2, [[7, 1], [13, 1], [10, 0]], 4, 5),
      readBank(2, [[10, 0], [10, 0], [10, 0]], 10, 11),
    );
    expect(kinds(r)).toEqual(['diverged']);
    expect(r.violations).toHaveLength(2);
  });

  it('a read older than a transfer acknowledged before it began is stale, unless reads were serializable', () => {
    const specs = [...start, readBank(2, [[10, 0], [10, 0], [10, 0]], 4, 5), readBank(2, [[7, 1], [13, 1], [10, 0]], 10, 11)];
    const r = check(...specs);
    expect(kinds(r)).toEqual(['stale']);
    expect(r.violations[0]!.text).toContain('a read saw account 0 hold 10 (from the initial deposit), but transfer 1 had already overwritten that');
    expect(checkBank(history(...specs), { linearizableReads: false }).verdict).toBe('valid');
    // A read concurrent with the transfer may see either state.
    expect(check(...start, readBank(2, [[10, 0], [10, 0], [10, 0]], 2.5, 5), readBank(2, [[7, 1], [13, 1], [10, 0]], 10, 11)).verdict).toBe('valid');
  });

  it('a read older than an earlier read is stale too', () => {
    const r = check(
      init(0, [10, 10, 10], 0, 1),
      transfer(1, { id: 1, from: 0, to: 1, amount: 3, expect: [[10, 0], [10, 0]] }, 2, undefined),
      readBank(2, [[7, 1], [13, 1], [10, 0]], 4, 5),
      readBank(3, [[10, 0], [10, 0], [10, 0]], 6, 7),
      readBank(2, [[7, 1], [13, 1], [10, 0]], 10, 11),
    );
    expect(kinds(r)).toEqual(['stale']);
  });

  it('an acknowledged transfer that completed after the final read began is concurrent, not lost', () => {
    const r = check(init(0, [10, 10, 10], 0, 1), transfer(1, { id: 1, from: 0, to: 1, amount: 3, expect: [[10, 0], [10, 0]] }, 2, 12), readBank(2, [[10, 0], [10, 0], [10, 0]], 10, 11));
    expect(r.verdict).toBe('valid');
    expect(r.transfers.concurrent).toBe(1);
  });

  it('a read missing an account is invalid', () => {
    const r = check(...start, readBank(2, [[7, 1], [13, 1], null], 10, 11));
    expect(kinds(r)).toEqual(['missing-account']);
  });

  it('unknown without an init or without a successful read', () => {
    expect(check(readBank(2, [[10, 0]], 10, 11))).toMatchObject({ verdict: 'unknown', reason: 'the history has no init: the initial balances are unknown' });
    expect(check(...start, readBank(2, [], 10, 11, { type: 'fail' }))).toMatchObject({ verdict: 'unknown', reason: 'no read succeeded', total: 30 });
  });

  it('is the bank run\'s checker in results.json and the report; an invalid one makes the run invalid', () => {
    const h = history(...start, readBank(2, [[7, 1], [10, 0], [10, 0]], 2.5, 2.8), readBank(2, [[7, 1], [13, 1], [10, 0]], 10, 11));
    const results = checkRun({ meta: { id: 'bank-test', workload: 'bank', nemesis: 'none' }, history: h, timeline: [] });
    expect(results.verdict).toBe('invalid');
    expect(results.checkers.bank).toMatchObject({ verdict: 'invalid', counts: { 'wrong-total': 1 } });
    expect(results.counts['transfer']).toEqual({ ok: 1, fail: 0, info: 0 });
    const html = renderReport({ results, history: h });
    expect(html).toContain('Bank');
    expect(html).toContain('wrong-total: a read saw a total of 27, not 30');
  });
});
