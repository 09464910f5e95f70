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
 * Completions repeat the invoke's `f`, `key` and (except for an ok read) `value`. A read that
 * fails or is indeterminate has value `null`.
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** Register operations (linearizability) and set operations (lost/phantom elements). */
export type OpF = 'read' | 'write' | 'cas' | 'delete' | 'add';

/** A value held by a register or an element of a set. Workloads use integers. */
export type Scalar = number | string;

/** `value` of an event; which shape depends on `f` and `type` (see above). */
export type OpValue = Scalar | null | readonly [Scalar | null, Scalar] | readonly Scalar[];

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
}

export const OP_TYPES: readonly OpType[] = ['invoke', 'ok', 'fail', 'info'];
export const OP_FS: readonly OpF[] = ['read', 'write', 'cas', 'delete', 'add'];

