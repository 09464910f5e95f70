/**
 * The operations on user data that every write is made of — put, delete, range delete, and a
 * txn's get and range — applied to the batch's `KvState`, each at revision `index` (the entry's
 * log index). A put, a delete and a range delete sent alone are operations of their own; a txn
 * runs a list of them (txn.ts).
 *
 * Semantics:
 *  - put: sets the value; createRevision is kept if the key exists, else the index; version is
 *    one more than before (1 for a new key). With `prevKv`: the entry it replaced (null if none).
 *    With `lease`: the key is attached to that lease (LEASE_NOT_FOUND when it does not exist);
 *    without: the key is detached from any lease it had.
 *  - delete, deleteRange: a deleted key is detached from its lease.
 *  - delete: removes the key; `deleted` says whether it existed. With `prevKv`: the entry.
 *  - deleteRange: removes every key in [start, end) that exists; `deleted` counts them, `prevKvs`
 *    (with `prevKv`) lists them in key order.
 *  - get: the key's entry (null if none); range: the entries of [start, end) in key order, at
 *    most `limit`, `more` when there are others.
 * What an operation deletes and returns is charged to a `Budget`: past it the operation answers
 * TOO_LARGE, having read no further, and the caller undoes the whole write (`KvState.rollback`).
 */
import { ERROR_CODES, LIMITS, type KeyValue, type TxnOp, type TxnOpResult, type WireError } from '@keel/protocol';
import type { KvState, Row } from './kv-state.js';
import type { StoredValue } from './stored-value.js';

/** Allowance per returned entry for its revisions and encoding (as for scans). */
export const ROW_OVERHEAD_BYTES = 64;

/**
 * How many keys (and bytes of entries, `LIMITS.deleteRangeBytesMax`) one write may delete by
 * range and how many bytes of entries its answer may carry.
 */
export class Budget {
  private keysLeft: number;
  private bytesLeft: number;
  private deletedBytesLeft: number = LIMITS.deleteRangeBytesMax;

  constructor(
    keysMax: number,
    bytesMax: number,
    /** The refusal messages: past `keysMax` deleted keys, past `bytesMax` returned bytes. */
    private readonly refusals: { readonly keys: string; readonly bytes: string },
  ) {
    this.keysLeft = keysMax;
    this.bytesLeft = bytesMax;
  }

  /** Charge one entry deleted by range; the refusal past either limit. */
  deleted(row: Row): WireError | undefined {
    if (--this.keysLeft < 0) return tooLarge(this.refusals.keys);
    this.deletedBytesLeft -= row.key.byteLength + row.value.value.byteLength + ROW_OVERHEAD_BYTES;
    return this.deletedBytesLeft < 0
      ? tooLarge(`the range holds more than ${LIMITS.deleteRangeBytesMax} bytes of entries (the history records each one); nothing was deleted (delete it in smaller ranges)`)
      : undefined;
  }

  /** Charge one returned entry; the refusal past the limit. */
  returned(key: Uint8Array, v: StoredValue): WireError | undefined {
    this.bytesLeft -= key.byteLength + v.value.byteLength + ROW_OVERHEAD_BYTES;
    return this.bytesLeft < 0 ? tooLarge(this.refusals.bytes) : undefined;
  }
}

/** An operation on one key: applied without waiting for the store (its key was read before the batch). */
export type KeyOp = Extract<TxnOp, { op: 'put' | 'delete' | 'get' }>;

/** Apply `op` at revision `index`: its result, or the refusal of a limit (undo the write then). */
export async function applyOperation(op: TxnOp, index: number, state: KvState, budget: Budget): Promise<TxnOpResult | WireError> {
  switch (op.op) {
    case 'put':
    case 'delete':
    case 'get':
      return applyKeyOperation(op, index, state, budget);
    case 'deleteRange': {
      const prevKv = op.prevKv === true;
      const doomed: Row[] = [];
      // Values are read even without prevKv: the history records each deleted entry.
      for await (const row of state.range(op.start, op.end)) {
        const refusal = budget.deleted(row) ?? (prevKv ? budget.returned(row.key, row.value) : undefined);
        if (refusal !== undefined) return refusal;
        doomed.push(row);
      }
      for (const row of doomed) state.remove(row.key, row.value);
      return { op: 'deleteRange', deleted: doomed.length, ...(prevKv ? { prevKvs: doomed.map((r) => toKeyValue(r.key, r.value)) } : {}) };
    }
    case 'range': {
      const kvs: KeyValue[] = [];
      let more = false;
      for await (const row of state.range(op.start, op.end)) {
        if (kvs.length === op.limit) {
          more = true;
          break;
        }
        const refusal = budget.returned(row.key, row.value);
        if (refusal !== undefined) return refusal;
        kvs.push(toKeyValue(row.key, row.value));
      }
      return { op: 'range', kvs, more };
    }
  }
}

/** Apply the one-key operation `op` at revision `index` (see `applyOperation`). */
export function applyKeyOperation(op: KeyOp, index: number, state: KvState, budget: Budget): TxnOpResult | WireError {
  switch (op.op) {
    case 'put': {
      if (op.lease !== undefined && state.leases.get(op.lease) === undefined) return leaseNotFound(op.lease);
      const before = state.put(op.key, op.value, index, op.lease);
      if (op.prevKv !== true) return { op: 'put' };
      return returning(budget, op.key, before, (prevKv) => ({ op: 'put', prevKv }));
    }
    case 'delete': {
      const before = state.get(op.key);
      if (before !== null) state.remove(op.key, before);
      if (op.prevKv !== true) return { op: 'delete', deleted: before !== null };
      return returning(budget, op.key, before, (prevKv) => ({ op: 'delete', deleted: before !== null, prevKv }));
    }
    case 'get':
      return returning(budget, op.key, state.get(op.key), (kv) => ({ op: 'get', kv }));
  }
}

/** `make(entry)` for a returned entry (null: none), charged to `budget`. */
function returning(budget: Budget, key: Uint8Array, v: StoredValue | null, make: (kv: KeyValue | null) => TxnOpResult): TxnOpResult | WireError {
  if (v === null) return make(null);
  return budget.returned(key, v) ?? make(toKeyValue(key, v));
}

export function leaseNotFound(lease: number): WireError {
  return { code: ERROR_CODES.LEASE_NOT_FOUND, message: `lease ${lease} does not exist (never granted, revoked, or expired)`, definite: true };
}

export function tooLarge(message: string): WireError {
  return { code: ERROR_CODES.TOO_LARGE, message, definite: true };
}

export function toKeyValue(key: Uint8Array, v: StoredValue): KeyValue {
  return { key, value: v.value, createRevision: v.createRevision, modRevision: v.modRevision, version: v.version };
}
