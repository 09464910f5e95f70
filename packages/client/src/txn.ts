/**
 * Transactions as {@link KeelClient.txn} takes and answers them: the caller's form (strings or
 * bytes, ranges as in `scan` and `deleteRange`), its checks, and the translation to and from the
 * wire (`@keel/protocol`'s `TxnCompare`, `TxnOp`, `TxnOpResult`).
 */
import { KeelError, LIMITS } from '@keel/protocol';
import type { CompareNumberTarget, CompareOp, TxnCompare, TxnOp, TxnOpResult } from '@keel/protocol';
import { describeType, type BytesInput } from './bytes.js';
import { KvEntry } from './entry.js';
import {
  checkDeleteRange,
  checkInteger,
  checkLeaseId,
  checkKey,
  checkRequestSize,
  checkScanLimit,
  checkScanRange,
  checkValue,
  prefixBounds,
  type DeleteRange,
  type ScanRange,
} from './validate.js';

/**
 * A condition on one key's current state. `value` compares bytes in byte order and is false on a
 * key that does not exist, whatever `op`; `version` (writes since creation), `createRevision` and
 * `modRevision` are 0 for a key that does not exist; `exists` holds when the key's existence is
 * `value`.
 */
export type Compare =
  | { readonly key: BytesInput; readonly target: 'value'; readonly op: CompareOp; readonly value: BytesInput }
  | { readonly key: BytesInput; readonly target: CompareNumberTarget; readonly op: CompareOp; readonly value: number }
  | { readonly key: BytesInput; readonly target: 'exists'; readonly value: boolean };

/** One operation of a txn branch; ranges as in `deleteRange` and `scan` (`limit` default 1000). */
export type TxnOperation =
  | {
      readonly op: 'put';
      readonly key: BytesInput;
      readonly value: BytesInput;
      readonly prevKv?: boolean;
      /** Attach the key to this lease (an id or a `Lease`); absent: the key has no lease. */
      readonly lease?: number | { readonly id: number };
    }
  | { readonly op: 'delete'; readonly key: BytesInput; readonly prevKv?: boolean }
  | ({ readonly op: 'deleteRange'; readonly prevKv?: boolean } & DeleteRange)
  | { readonly op: 'get'; readonly key: BytesInput }
  | ({ readonly op: 'range'; readonly limit?: number } & ScanRange);

/** What {@link KeelClient.txn} takes: every compare must hold for `success` to run, else `failure` runs. */
export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOperation[];
  readonly failure?: readonly TxnOperation[];
}

/** The result of one operation, in the order of the branch that ran. */
export type TxnOperationResult =
  | { readonly op: 'put'; readonly prevKv?: KvEntry | null }
  | { readonly op: 'delete'; readonly deleted: boolean; readonly prevKv?: KvEntry | null }
  | { readonly op: 'deleteRange'; readonly deleted: number; readonly prevKvs?: readonly KvEntry[] }
  | { readonly op: 'get'; readonly entry: KvEntry | null }
  | { readonly op: 'range'; readonly entries: readonly KvEntry[]; readonly more: boolean };

export interface TxnResult {
  /** True when every compare held and `success` ran; false when `failure` ran. */
  readonly succeeded: boolean;
  /** Revision (log index) of the txn: every write it made has it, every read saw the state at it. */
  readonly revision: number;
  /**
   * One result per operation of the branch that ran. Absent only when the txn had already applied
   * and a retry was answered from the server's session table, which keeps no values.
   */
  readonly results?: readonly TxnOperationResult[];
}

const COMPARE_OPS: ReadonlySet<unknown> = new Set(['=', '!=', '<', '>']);
const NUMBER_TARGETS: ReadonlySet<unknown> = new Set(['version', 'createRevision', 'modRevision']);

/** The wire form of a txn request (compares and branches checked, bytes encoded). */
export function checkTxn(input: unknown): { compare: TxnCompare[]; success: TxnOp[]; failure: TxnOp[] } {
  if (typeof input !== 'object' || input === null) throw new TypeError(`txn must be an object, got ${describeType(input)}`);
  const t = input as Record<string, unknown>;
  let payload = 0;
  const count = (bytes: Uint8Array): Uint8Array => {
    payload += bytes.length;
    return bytes;
  };
  const list = <T>(name: string, item: (x: Record<string, unknown>, what: string) => T): T[] => {
    const xs = t[name] ?? [];
    if (!Array.isArray(xs)) throw new TypeError(`txn ${name} must be an array, got ${describeType(xs)}`);
    if (xs.length > LIMITS.txnOpsMax) throw new KeelError('INVALID_ARGUMENT', `txn ${name} holds ${xs.length} items; the limit is ${LIMITS.txnOpsMax}`);
    return xs.map((x: unknown, i) => {
      const what = `${name}[${i}]`;
      if (typeof x !== 'object' || x === null) throw new TypeError(`txn ${what} must be an object, got ${describeType(x)}`);
      return item(x as Record<string, unknown>, what);
    });
  };
  const compare = list('compare', (c, what): TxnCompare => {
    const key = count(checkKey(c['key'], `${what}.key`));
    const target = c['target'];
    if (target === 'exists') {
      if (typeof c['value'] !== 'boolean') throw new TypeError(`${what}.value must be a boolean for target 'exists', got ${describeType(c['value'])}`);
      return { key, target, value: c['value'] };
    }
    const op = c['op'];
    if (!COMPARE_OPS.has(op)) throw new TypeError(`${what}.op must be '=', '!=', '<' or '>', got ${JSON.stringify(op) ?? describeType(op)}`);
    if (target === 'value') return { key, target, op: op as CompareOp, value: count(checkValue(c['value'], `${what}.value`)) };
    if (!NUMBER_TARGETS.has(target)) {
      throw new TypeError(`${what}.target must be 'value', 'version', 'createRevision', 'modRevision' or 'exists', got ${JSON.stringify(target) ?? describeType(target)}`);
    }
    return { key, target: target as CompareNumberTarget, op: op as CompareOp, value: checkInteger(c['value'], `${what}.value`, 0) };
  });
  const operation = (o: Record<string, unknown>, what: string): TxnOp => {
    const prevKv = o['prevKv'];
    if (prevKv !== undefined && typeof prevKv !== 'boolean') throw new TypeError(`${what}.prevKv must be a boolean, got ${describeType(prevKv)}`);
    const flag = prevKv === true ? { prevKv } : {};
    switch (o['op']) {
      case 'put': {
        const lease = o['lease'] === undefined ? {} : { lease: checkLeaseId(o['lease'], `${what}.lease`) };
        return { op: 'put', key: count(checkKey(o['key'], `${what}.key`)), value: count(checkValue(o['value'], `${what}.value`)), ...flag, ...lease };
      }
      case 'delete':
        return { op: 'delete', key: count(checkKey(o['key'], `${what}.key`)), ...flag };
      case 'get':
        return { op: 'get', key: count(checkKey(o['key'], `${what}.key`)) };
      case 'deleteRange': {
        const { start, end } = checkDeleteRange(o);
        count(start);
        return { op: 'deleteRange', start, ...(end !== undefined ? { end: count(end) } : {}), ...flag };
      }
      case 'range': {
        const wire = checkScanRange(o);
        const bounds = wire.prefix !== undefined ? prefixBounds(wire.prefix) : { start: wire.start ?? new Uint8Array(0), ...(wire.end !== undefined ? { end: wire.end } : {}) };
        count(bounds.start);
        return { op: 'range', start: bounds.start, ...(bounds.end !== undefined ? { end: count(bounds.end) } : {}), limit: checkScanLimit(o['limit']) };
      }
      default:
        throw new TypeError(`${what}.op must be 'put', 'delete', 'deleteRange', 'get' or 'range', got ${JSON.stringify(o['op']) ?? describeType(o['op'])}`);
    }
  };
  const result = { compare, success: list('success', operation), failure: list('failure', operation) };
  checkRequestSize(payload);
  return result;
}

/** A wire operation result with entries as `KvEntry`s. */
export function txnOperationResult(r: TxnOpResult): TxnOperationResult {
  const entry = (kv: NonNullable<Extract<TxnOpResult, { op: 'get' }>['kv']> | null): KvEntry | null => (kv === null ? null : new KvEntry(kv));
  switch (r.op) {
    case 'put':
      return { op: 'put', ...(r.prevKv !== undefined ? { prevKv: entry(r.prevKv) } : {}) };
    case 'delete':
      return { op: 'delete', deleted: r.deleted, ...(r.prevKv !== undefined ? { prevKv: entry(r.prevKv) } : {}) };
    case 'deleteRange':
      return { op: 'deleteRange', deleted: r.deleted, ...(r.prevKvs !== undefined ? { prevKvs: r.prevKvs.map((kv) => new KvEntry(kv)) } : {}) };
    case 'get':
      return { op: 'get', entry: entry(r.kv) };
    case 'range':
      return { op: 'range', entries: r.kvs.map((kv) => new KvEntry(kv)), more: r.more };
  }
}
