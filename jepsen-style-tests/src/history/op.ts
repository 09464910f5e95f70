/**
 * One event of a history: a line of `history.jsonl` (DESIGN §6).
 *
 * Every operation is recorded twice by the logical client (`process`) that performs it: an
 * `invoke` when it is sent, then one completion — `ok` (it took effect), `fail` (it definitely did
 * not take effect) or `info` (unknown: it may take effect at any later time, or never). A process
 * has at most one operation outstanding and never invokes again after an `info`; the workload
 * retires it and continues with a fresh process id (the Jepsen convention).
 *
 * Register workload (`f` = read | write | cas | delete), one register per `key`:
 * - `read`:   invoke value `null`; ok value = what was read, `null` if the key is absent.
 * - `write`:  value = the value written (unique per key), the same on the completion.
 * - `cas`:    value `[expected, new]` (`expected` `null` = the key must be absent); ok = swapped,
 *             fail = did not swap (or definitely not applied).
 * - `delete`: value `null`.
 *
 * Set workload (`f` = add | read), one set per key prefix:
 * - `add`:    key = the element's own key under the set's prefix (`set/17`), value = the element
 *             (`17`), unique across the run.
 * - `read`:   key = the set's prefix (`set/`), invoke value `null`; ok value = the elements found
 *             under the prefix, as a list (the workload's final read after healing).
 *
 * Bank workload (`f` = init | transfer | read), accounts `bank/0` … `bank/N-1` under the key
 * prefix `bank/`, every event's key; each account holds `[balance, transfer]`, the transfer
 * being the id of the transfer that wrote it last (0 for the initial deposit):
 * - `init`:     value = the initial balances, one per account; ok = created them all at once, fail
 *               without error = they existed already (an earlier attempt created them).
 * - `transfer`: value `{id, from, to, amount, expect}`: move `amount` from account `from` to `to`
 *               only if they still hold `expect` (`[[balance, transfer], [balance, transfer]]`,
 *               from's then to's); `id` is unique across the run. ok = applied, fail without
 *               error = an account had changed.
 * - `read`:     invoke value `null`; ok value = every account's `[balance, transfer]` read at once
 *               (one snapshot), `null` for an account that does not exist.
 *
 * Watch workload (`f` = change | watch), keys under a prefix such as `watch/`:
 * - `change`:  key = the key changed, value = the value put (unique across the run), or `null`
 *              for a delete; an ok completion carries `revision`, the change's revision (absent
 *              for a delete that found no key: nothing changed).
 * - `watch`:   key = the prefix watched; invoke value = the revision it watches from; the
 *              completion's value = the events it delivered, in delivery order, each
 *              `[revision, key, value]` (`null` value: a delete). `ok`: the workload ended it;
 *              `fail`/`info`: it ended with an error (e.g. COMPACTED), after those events.
 *
 * Lock workload (`f` = acquire | release | fenced-write), one lock per `key`:
 * - `acquire`:      value `null`; an ok completion carries `revision`: the fencing token.
 * - `release`:      value = the token released.
 * - `fenced-write`: key = the resource written, value `[token, n]` (`n` unique across the run):
 *                   a write that the store accepts only if no higher token was accepted before
 *                   (a txn on the resource's fence); ok carries `revision`, fail without error =
 *                   refused by the fence.
 *
 * Completions repeat the invoke's `f`, `key` and (except for an ok read and any watch) `value`.
 * A read that fails or is indeterminate has value `null`.
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** Register operations (linearizability), set operations (lost/phantom elements), bank operations. */
export type OpF = 'read' | 'write' | 'cas' | 'delete' | 'add' | 'init' | 'transfer' | 'change' | 'watch' | 'acquire' | 'release' | 'fenced-write';

/** A value held by a register or an element of a set. Workloads use integers. */
export type Scalar = number | string;

/** A bank account as stored: its balance, and the id of the transfer that wrote it last (0: the initial deposit). */
export type AccountState = readonly [balance: number, transfer: number];

/** A bank transfer (see above). */
export interface TransferValue {
  readonly id: number;
  readonly from: number;
  readonly to: number;
  readonly amount: number;
  /** What `from` and `to` must hold for the transfer to apply, in that order. */
  readonly expect: readonly [AccountState, AccountState];
}

/** A change a watch delivered: its revision, the key, the value put (`null`: deleted). */
export type WatchEvent = readonly [revision: number, key: string, value: Scalar | null];

/** `value` of an event; which shape depends on `f` and `type` (see above). */
export type OpValue =
  | Scalar
  | null
  | readonly [Scalar | null, Scalar]
  | readonly Scalar[]
  | readonly (AccountState | null)[]
  | TransferValue
  | readonly WatchEvent[];

/** Why an operation failed or is indeterminate: the client's stable error code and message. */
export interface OpError {
  readonly code: string;
  readonly message: string;
}

export interface Op {
  /** The logical client. */
  readonly process: number;
  readonly type: OpType;
  readonly f: OpF;
  readonly key: string;
  readonly value: OpValue;
  /** Monotonic clock, integer nanoseconds (the runner counts from the start of the run). */
  readonly time: number;
  /** The node the request was sent to, when the client is pinned to one node. */
  readonly node?: number;
  /** On `fail` and `info` only: the error that ended the operation. */
  readonly error?: OpError;
  /** On `ok` only, for the operations that say so (change, acquire, fenced-write): the store's revision of it. */
  readonly revision?: number;
}

export const OP_TYPES: readonly OpType[] = ['invoke', 'ok', 'fail', 'info'];
export const OP_FS: readonly OpF[] = ['read', 'write', 'cas', 'delete', 'add', 'init', 'transfer', 'change', 'watch', 'acquire', 'release', 'fenced-write'];

