/**
 * The bank workload (Jepsen's `bank`): `accounts` accounts under `bank/` hold a fixed total;
 * transfers move money between two of them, reads see them all at once, and the bank checker
 * asks that every read sees the total, no balance goes negative, and every transfer applied as
 * its outcome says.
 *
 * An account's value is `<balance>:<transfer>`, the transfer being the id of the transfer that
 * wrote it last (0: the initial deposit), so that every read tells which transfers it saw and
 * the checker can follow each account's chain of transfers back to the deposit. A transfer is
 * one txn: compare both accounts' values with what the client last saw of them, then put both;
 * a compare that does not hold makes it a `fail` (the store said no). The initial deposit is a
 * txn that creates every account at once, only if none exists. A read sees every account at
 * once, two ways: unpinned clients (and the final read) run one txn whose only operation is a
 * range over `bank/` (through the log, answered at the txn's revision); probes, pinned to one node
 * each, scan `bank/` with the run's read mode (a single page, which the node reads from one
 * snapshot of its store).
 */
import type { Consistency, KeelClient, KvEntry } from '@keel/client';
import { expected, written } from '../checker/bank.js';
import type { AccountState, TransferValue } from '../history/op.js';
import type { Rng } from '../rng.js';
import { outcome } from './outcome.js';
import type { Completion, Invocation } from './recorder.js';
import type { Role, Workload } from './workload.js';

export const BANK_PREFIX = 'bank/';

export interface BankWorkloadOptions {
  /** Default 8 (as Jepsen). */
  readonly accounts?: number;
  /** Each account's initial balance. Default 10. */
  readonly balance?: number;
  /** The largest amount one transfer moves. Default 5. */
  readonly maxTransfer?: number;
}

const MIX: Readonly<Record<Role, Readonly<Record<'read' | 'transfer', number>>>> = {
  client: { read: 30, transfer: 70 },
  // Probes are pinned to one node each: mostly reads, so that a node cut off with stale data is asked often.
  probe: { read: 80, transfer: 20 },
};

export const accountKey = (a: number): string => `${BANK_PREFIX}${a}`;
export const encodeAccount = (s: AccountState): string => `${s[0]}:${s[1]}`;

/** An account's stored text as its state; anything else is not a value this workload writes. */
export function decodeAccount(text: string): AccountState {
  const m = /^(-?\d{1,15}):(\d{1,15})$/.exec(text);
  if (m === null) throw new TypeError(`a bank account holds "<balance>:<transfer>", got ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

export class BankWorkload implements Workload {
  readonly name = 'bank';
  readonly setup: readonly Invocation[];
  readonly final: readonly Invocation[] = [{ f: 'read', key: BANK_PREFIX, value: null }];
  private readonly accounts: number;
  private readonly maxTransfer: number;
  /** What the workload last saw of each account: transfers expect it. */
  private readonly seen: AccountState[];
  private nextId = 1;

  constructor(options: BankWorkloadOptions = {}) {
    this.accounts = options.accounts ?? 8;
    const balance = options.balance ?? 10;
    this.maxTransfer = options.maxTransfer ?? 5;
    this.seen = Array.from({ length: this.accounts }, () => [balance, 0] as const);
    this.setup = [{ f: 'init', key: BANK_PREFIX, value: this.seen.map((s) => s[0]) }];
  }

  next(rng: Rng, role: Role): Invocation {
    const funded = this.seen.flatMap((s, a) => (s[0] > 0 ? [a] : []));
    if (rng.weighted(MIX[role]) === 'read' || funded.length === 0) return { f: 'read', key: BANK_PREFIX, value: null };
    const from = rng.pick(funded);
    const to = (from + 1 + rng.int(this.accounts - 1)) % this.accounts;
    const amount = 1 + rng.int(Math.min(this.maxTransfer, this.seen[from]![0]));
    const value: TransferValue = { id: this.nextId++, from, to, amount, expect: [this.seen[from]!, this.seen[to]!] };
    return { f: 'transfer', key: BANK_PREFIX, value };
  }

  observe(call: Invocation, done: Completion): void {
    if (done.type !== 'ok') return;
    if (call.f === 'read') {
      const states = done.value as readonly (AccountState | null)[];
      states.forEach((s, a) => {
        if (s !== null && a < this.accounts) this.seen[a] = s;
      });
    } else if (call.f === 'transfer') {
      const t = call.value as TransferValue;
      for (const a of [t.from, t.to]) this.seen[a] = written(t, a);
    }
  }

  execute(client: KeelClient, call: Invocation, consistency: Consistency, role: Role): Promise<Completion> {
    switch (call.f) {
      case 'init': {
        const balances = call.value as readonly number[];
        return outcome(async () => {
          const { succeeded } = await client.txn({
            compare: balances.map((_, a) => ({ key: accountKey(a), target: 'exists', value: false }) as const),
            success: balances.map((b, a) => ({ op: 'put', key: accountKey(a), value: encodeAccount([b, 0]) }) as const),
          });
          return { type: succeeded ? 'ok' : 'fail', value: call.value };
        }, call.value);
      }
      case 'transfer': {
        const t = call.value as TransferValue;
        const accounts = [t.from, t.to];
        return outcome(async () => {
          const { succeeded } = await client.txn({
            compare: accounts.map((a) => ({ key: accountKey(a), target: 'value', op: '=', value: encodeAccount(expected(t, a)) }) as const),
            success: accounts.map((a) => ({ op: 'put', key: accountKey(a), value: encodeAccount(written(t, a)) }) as const),
          });
          return { type: succeeded ? 'ok' : 'fail', value: call.value };
        }, call.value);
      }
      case 'read':
        return outcome(async () => {
          const range = { prefix: BANK_PREFIX };
          const limit = this.accounts + 1;
          if (role === 'probe') return { type: 'ok', value: this.states((await client.scan(range, { limit, consistency })).entries) };
          const r = await client.txn({ success: [{ op: 'range', ...range, limit }] });
          const result = r.results?.[0];
          // A retry answered from the server's session table carries no results: what was read is unknown.
          if (result?.op !== 'range') return { type: 'info', value: null, error: { code: 'NO_RESULT', message: `the read txn applied at revision ${r.revision} before a retry, whose answer holds no results` } };
          return { type: 'ok', value: this.states(result.entries) };
        }, null);
      default:
        throw new TypeError(`the bank workload has no ${call.f} operation`);
    }
  }

  /** The accounts' states from the entries under `bank/` (every one of them an account). */
  private states(entries: readonly KvEntry[]): (AccountState | null)[] {
    const states: (AccountState | null)[] = Array.from({ length: this.accounts }, () => null);
    for (const e of entries) {
      const a = Number(e.keyText.slice(BANK_PREFIX.length));
      if (!Number.isSafeInteger(a) || a < 0 || a >= this.accounts) throw new TypeError(`the bank holds no account ${JSON.stringify(e.keyText)}`);
      states[a] = decodeAccount(e.text);
    }
    return states;
  }
}
