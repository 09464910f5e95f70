import type { AccountState, Op, TransferValue } from '../history/op.js';
import { pairOperations, type Operation } from '../history/operations.js';
import { formatAt, timeZero } from '../history/time.js';
import type { Verdict } from './verdict.js';

/**
 * The bank checker. Accounts start with the `init` balances; transfers move money between two
 * accounts, each a transaction that applies only if both accounts still hold what the transfer
 * expects; reads see every account at once. Jepsen's bank checker asks that every read sees the
 * exact total and no negative balance. This one asks that too, and because every account also
 * names the transfer that wrote it last, it reconstructs what was applied:
 *
 * - Each account's **chain**: from the final read (the last successful read), follow the transfer
 *   that wrote the account, then the state that transfer expected, back to the initial deposit.
 *   The chain is the sequence of transfers applied to the account, each exactly once, each over
 *   the state it expected. A state a transfer did not write (wrong balance, an unknown transfer, a
 *   transfer of other accounts) is a **phantom**.
 * - An acknowledged transfer must be on both its accounts' chains (else **lost**); a transfer
 *   that definitely failed on neither (**failed-applied**); an indeterminate one on both or on
 *   neither (**torn** otherwise). A transfer acknowledged after the final read began is concurrent
 *   with it and not checked.
 * - Every state a read saw must be on its account's chain (**diverged**: that write was later
 *   undone); with linearizable reads, no older than what a transfer or read that completed before
 *   the read began had already established (**stale**).
 * - Every read: one state per account (**missing-account**), no negative balance (**negative**),
 *   the total of the initial balances (**wrong-total**).
 *
 * Unknown when the history has no `init`, or no read succeeded.
 */

export type BankViolationKind = 'wrong-total' | 'negative' | 'missing-account' | 'phantom' | 'lost' | 'failed-applied' | 'torn' | 'diverged' | 'stale';

export interface BankViolation {
  readonly kind: BankViolationKind;
  /** The operation's line in history.jsonl. */
  readonly line: number;
  readonly text: string;
}

export interface BankOptions {
  /** Whether reads were linearizable: only then is a stale read a violation. Default true. */
  readonly linearizableReads?: boolean;
  /** Time zero for printed times (ns); default the history's first event. */
  readonly origin?: number;
}

export interface BankResult {
  readonly verdict: Verdict;
  /** Why the verdict is unknown, when it is. */
  readonly reason?: string;
  readonly accounts: number;
  readonly total: number;
  /** Reads by outcome, and how many successful ones the checks covered. */
  readonly reads: { readonly ok: number; readonly fail: number; readonly info: number };
  /**
   * Transfers by outcome; `applied`: on the final chains (acknowledged and indeterminate alike);
   * `recovered`: indeterminate ones among them; `concurrent`: acknowledged after the final read began.
   */
  readonly transfers: { readonly ok: number; readonly fail: number; readonly info: number; readonly applied: number; readonly recovered: number; readonly concurrent: number };
  /** The final read: its line and the balances it saw. */
  readonly finalRead?: { readonly line: number; readonly balances: readonly number[] };
  /** Violations per kind. */
  readonly counts: Readonly<Partial<Record<BankViolationKind, number>>>;
  /** The first `MAX_REPORTED` violations, in history order. */
  readonly violations: readonly BankViolation[];
}

export const MAX_REPORTED = 100;

const show = (s: AccountState | null | undefined): string => (s === null || s === undefined ? 'nothing' : `${s[0]} (from ${s[1] === 0 ? 'the initial deposit' : `transfer ${s[1]}`})`);

/** What `t` leaves in account `a` (one of its two). */
export function written(t: TransferValue, a: number): AccountState {
  return a === t.from ? [t.expect[0][0] - t.amount, t.id] : [t.expect[1][0] + t.amount, t.id];
}

/** What `t` expects account `a` (one of its two) to hold. */
export const expected = (t: TransferValue, a: number): AccountState => (a === t.from ? t.expect[0] : t.expect[1]);

export function checkBank(history: readonly Op[], options: BankOptions = {}): BankResult {
  const linearizableReads = options.linearizableReads ?? true;
  const origin = options.origin ?? timeZero(history, []);
  const ops = pairOperations(history);
  const reads = ops.filter((o) => o.f === 'read');
  const transferOps = ops.filter((o) => o.f === 'transfer');
  const tally = (xs: readonly Operation[]): { ok: number; fail: number; info: number } => ({
    ok: xs.filter((x) => x.outcome === 'ok').length,
    fail: xs.filter((x) => x.outcome === 'fail').length,
    info: xs.filter((x) => x.outcome === 'info').length,
  });
  const readCounts = tally(reads);
  const transferCounts = tally(transferOps);
  const inits = ops.filter((o) => o.f === 'init');
  const initial = inits[0]?.input as readonly number[] | undefined;
  const empty = { accounts: initial?.length ?? 0, total: 0, reads: readCounts, transfers: { ...transferCounts, applied: 0, recovered: 0, concurrent: 0 }, counts: {}, violations: [] };
  if (initial === undefined) return { verdict: 'unknown', reason: 'the history has no init: the initial balances are unknown', ...empty };
  if (inits.some((o) => JSON.stringify(o.input) !== JSON.stringify(initial))) {
    return { verdict: 'unknown', reason: 'the init attempts disagree about the initial balances', ...empty };
  }
  const n = initial.length;
  const total = initial.reduce((a, b) => a + b, 0);
  const okReads = reads.filter((r) => r.outcome === 'ok');
  if (okReads.length === 0) return { verdict: 'unknown', reason: 'no read succeeded', ...empty, total };

  const violations: BankViolation[] = [];
  const at = (t: number | undefined): string => (t === undefined ? 'never' : formatAt(t, origin));
  const report = (kind: BankViolationKind, op: Operation, text: string): void => {
    violations.push({ kind, line: op.line, text: `${text} (p${op.process}, invoked ${at(op.invokedAt)}, line ${op.line}${op.node === undefined ? '' : `, node ${op.node}`})` });
  };
  const transfers = new Map<number, Operation>();
  for (const t of transferOps) transfers.set((t.input as TransferValue).id, t);
  const value = (t: Operation): TransferValue => t.input as TransferValue;

  /** Why `state` of account `a` is not one a transfer (or the initial deposit) wrote, or undefined. */
  const phantom = (a: number, state: AccountState): string | undefined => {
    if (state[1] === 0) return state[0] === initial[a] ? undefined : `the initial deposit was ${initial[a]}`;
    const t = transfers.get(state[1]);
    if (t === undefined) return `no transfer ${state[1]} was attempted`;
    const v = value(t);
    if (a !== v.from && a !== v.to) return `transfer ${v.id} moved money between accounts ${v.from} and ${v.to}`;
    const w = written(v, a);
    return w[0] === state[0] ? undefined : `transfer ${v.id} left ${w[0]} there`;
  };

  // Every read on its own: one state per account, no negative balance, the total.
  const wellFormed = new Set<Operation>();
  for (const r of okReads) {
    const accounts = r.output as readonly (AccountState | null)[];
    if (accounts.length !== n || accounts.some((s) => s === null)) {
      const missing = accounts.flatMap((s, a) => (s === null ? [a] : []));
      report('missing-account', r, `a read saw ${accounts.length} accounts of ${n}${missing.length > 0 ? `, accounts ${missing.join(', ')} absent` : ''}`);
      continue;
    }
    wellFormed.add(r);
    const states = accounts as readonly AccountState[];
    const negative = states.flatMap((s, a) => (s[0] < 0 ? [`account ${a} = ${s[0]}`] : []));
    if (negative.length > 0) report('negative', r, `a read saw a negative balance: ${negative.join(', ')}`);
    const sum = states.reduce((x, s) => x + s[0], 0);
    if (sum !== total) report('wrong-total', r, `a read saw a total of ${sum}, not ${total}: ${states.map((s) => s[0]).join(' + ')}`);
    states.forEach((s, a) => {
      const why = phantom(a, s);
      if (why !== undefined) report('phantom', r, `a read saw account ${a} hold ${show(s)}, but ${why}`);
    });
  }

  // The final read and each account's chain back to the initial deposit.
  const final = okReads.reduce((x, y) => (y.invokedAt >= x.invokedAt ? y : x));
  let applied = 0;
  let recovered = 0;
  let concurrent = 0;
  if (wellFormed.has(final)) {
    const finalStates = final.output as readonly AccountState[];
    /** Per account: transfer id → position on the chain (1 = the first transfer; the initial deposit is 0). */
    const positions: Map<number, number>[] = finalStates.map((s, a) => chainOf(a, s));
    const onChains = (v: TransferValue): [boolean, boolean] => [positions[v.from]?.has(v.id) ?? false, positions[v.to]?.has(v.id) ?? false];

    for (const t of transferOps) {
      const v = value(t);
      const [onFrom, onTo] = v.from < n && v.to < n ? onChains(v) : [false, false];
      if (onFrom && onTo) applied++;
      if (t.outcome === 'ok') {
        if (t.completedAt! >= final.invokedAt) concurrent++;
        else if (!onFrom || !onTo) {
          const where = !onFrom && !onTo ? 'neither account' : `account ${onFrom ? v.to : v.from}`;
          report('lost', t, `transfer ${v.id} (${v.amount} from ${v.from} to ${v.to}) was acknowledged ${at(t.completedAt)}, yet the final read (line ${final.line}) shows it applied to ${where === 'neither account' ? where : `${onFrom ? v.from : v.to} only, not to ${where}`}`);
        }
      } else if (t.outcome === 'fail' && (onFrom || onTo)) {
        report('failed-applied', t, `transfer ${v.id} definitely failed${t.error === undefined ? ' (an account had changed)' : ` (${t.error.code})`}, yet the final read shows it applied`);
      } else if (t.outcome === 'info') {
        if (onFrom && onTo) recovered++;
        else if (onFrom !== onTo) report('torn', t, `indeterminate transfer ${v.id} applied to account ${onFrom ? v.from : v.to} but not to account ${onFrom ? v.to : v.from}`);
      }
    }

    // Each read's states on the chains, and (linearizable reads) never older than what completed before it began.
    type Known = { at: number; pos: readonly (readonly [number, number])[] };
    const completions: Known[] = [];
    for (const t of transferOps) {
      if (t.outcome !== 'ok') continue;
      const v = value(t);
      const pos = [v.from, v.to].flatMap((a) => (positions[a]?.has(v.id) === true ? [[a, positions[a]!.get(v.id)!] as const] : []));
      completions.push({ at: t.completedAt!, pos });
    }
    const readPositions = new Map<Operation, (number | undefined)[]>();
    for (const r of okReads) {
      if (!wellFormed.has(r)) continue;
      const states = r.output as readonly AccountState[];
      const pos = states.map((s, a) => (s[1] === 0 ? 0 : positions[a]!.get(s[1])));
      readPositions.set(r, pos);
      pos.forEach((p, a) => {
        if (p === undefined && phantom(a, states[a]!) === undefined) {
          report('diverged', r, `a read saw account ${a} hold ${show(states[a])}, which the final read (line ${final.line}) does not descend from: that write was undone`);
        }
      });
      completions.push({ at: r.completedAt!, pos: pos.flatMap((p, a) => (p === undefined ? [] : [[a, p] as const])) });
    }
    if (linearizableReads) {
      completions.sort((x, y) => x.at - y.at);
      const byInvoke = [...readPositions.keys()].sort((x, y) => x.invokedAt - y.invokedAt);
      const known: { pos: number; by: number }[] = Array.from({ length: n }, () => ({ pos: 0, by: -1 }));
      let next = 0;
      for (const r of byInvoke) {
        for (; next < completions.length && completions[next]!.at < r.invokedAt; next++) {
          for (const [a, p] of completions[next]!.pos) if (p > known[a]!.pos) known[a] = { pos: p, by: next };
        }
        const pos = readPositions.get(r)!;
        const states = r.output as readonly AccountState[];
        const a = pos.findIndex((p, i) => p !== undefined && p < known[i]!.pos);
        if (a >= 0) {
          const newer = [...positions[a]!].find(([, p]) => p === known[a]!.pos)![0];
          report('stale', r, `a read saw account ${a} hold ${show(states[a])}, but transfer ${newer} had already overwritten that before the read began`);
        }
      }
    }
  }

  violations.sort((x, y) => x.line - y.line);
  const counts: Partial<Record<BankViolationKind, number>> = {};
  for (const v of violations) counts[v.kind] = (counts[v.kind] ?? 0) + 1;
  const balances = wellFormed.has(final) ? (final.output as readonly AccountState[]).map((s) => s[0]) : [];
  return {
    verdict: violations.length > 0 ? 'invalid' : 'valid',
    accounts: n,
    total,
    reads: readCounts,
    transfers: { ...transferCounts, applied, recovered, concurrent },
    finalRead: { line: final.line, balances },
    counts,
    violations: violations.slice(0, MAX_REPORTED),
  };

  /**
   * Account `a`'s chain, from its final state back to the initial deposit: transfer id → position.
   * The final state itself is checked with its read; a transfer on the chain that expected a
   * state no transfer wrote (yet applied, so the store held it) is a phantom, and ends the walk.
   */
  function chainOf(a: number, last: AccountState): Map<number, number> {
    const ids: number[] = [];
    const seen = new Set<number>();
    let s: AccountState = last;
    if (phantom(a, s) !== undefined) return new Map();
    while (s[1] !== 0 && !seen.has(s[1])) {
      const t = transfers.get(s[1])!;
      ids.push(s[1]);
      seen.add(s[1]);
      s = expected(value(t), a);
      const why = phantom(a, s);
      if (why !== undefined) {
        report('phantom', t, `transfer ${value(t).id} applied over account ${a} holding ${show(s)}, but ${why}`);
        break;
      }
    }
    return new Map(ids.reverse().map((id, i) => [id, i + 1]));
  }
}
