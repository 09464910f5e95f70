/**
 * How a txn's compares and operations are encoded in its log entry (see commands.ts for the
 * entry): compact msgpackr arrays whose codes are stable (they are stored in every log).
 *
 *   compare:     [key, target, op, value]   target 0 value (bytes), 1 version, 2 createRevision,
 *                                           3 modRevision (numbers), 4 exists (op 0, value boolean);
 *                                           op 0 '=', 1 '!=', 2 '<', 3 '>'
 *   put:         [1, key, value, prevKv (0 or 1)]      (+ lease: attach the key to it)
 *   delete:      [2, key, prevKv]
 *   deleteRange: [4, start, end | null, prevKv]
 *   get:         [6, key]
 *   range:       [7, start, end | null, limit]
 *
 * Rules (as for the client API): keys 1..LIMITS.keyBytesMax bytes, range starts
 * 0..LIMITS.keyBytesMax and ends 1..LIMITS.keyBytesMax, values <= LIMITS.valueBytesMax, numbers
 * non-negative safe integers, a range limit in 1..LIMITS.scanLimitMax, at most
 * `LIMITS.txnOpsMax` compares and operations per branch.
 */
import { LIMITS, type CompareOp, type TxnCompare, type TxnOp } from '@keel/protocol';
import { isCount, keyProblem, leaseIdProblem, rangeProblem, valueProblem } from './field-rules.js';
import { plainBytes } from './msgpack.js';

const TARGETS = ['value', 'version', 'createRevision', 'modRevision', 'exists'] as const;
const OPS: readonly CompareOp[] = ['=', '!=', '<', '>'];
const TXN_PUT = 1;
const TXN_DELETE = 2;
const TXN_DELETE_RANGE = 4;
const TXN_GET = 6;
const TXN_RANGE = 7;

export function encodeCompares(compares: readonly TxnCompare[]): unknown[] {
  return compares.map((c) => [c.key, TARGETS.indexOf(c.target), c.target === 'exists' ? 0 : OPS.indexOf(c.op), c.value]);
}

export function encodeTxnOps(ops: readonly TxnOp[]): unknown[] {
  return ops.map((o) => {
    switch (o.op) {
      case 'put':
        return [TXN_PUT, o.key, o.value, o.prevKv === true ? 1 : 0, ...(o.lease !== undefined ? [o.lease] : [])];
      case 'delete':
        return [TXN_DELETE, o.key, o.prevKv === true ? 1 : 0];
      case 'deleteRange':
        return [TXN_DELETE_RANGE, o.start, o.end ?? null, o.prevKv === true ? 1 : 0];
      case 'get':
        return [TXN_GET, o.key];
      case 'range':
        return [TXN_RANGE, o.start, o.end ?? null, o.limit];
    }
  });
}

/** The compares of an entry, or undefined when the shape is wrong (the rules are checked by `txnProblem`). */
export function decodeCompares(raw: unknown): TxnCompare[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: TxnCompare[] = [];
  for (const c of raw) {
    if (!Array.isArray(c) || c.length !== 4) return undefined;
    const target = TARGETS[c[1] as number];
    const op = OPS[c[2] as number];
    if (target === undefined || op === undefined) return undefined;
    const key = bytes(c[0]);
    if (target === 'exists') {
      if (c[2] !== 0) return undefined;
      out.push({ key, target, value: c[3] as boolean });
    } else if (target === 'value') out.push({ key, target, op, value: bytes(c[3]) });
    else out.push({ key, target, op, value: c[3] as number });
  }
  return out;
}

export function decodeTxnOps(raw: unknown): TxnOp[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: TxnOp[] = [];
  for (const o of raw) {
    if (!Array.isArray(o)) return undefined;
    const flag = (at: number): { prevKv?: true } | undefined => (o[at] === 1 ? { prevKv: true } : o[at] === 0 ? {} : undefined);
    const end = (at: number): { end?: Uint8Array } => (o[at] === null ? {} : { end: bytes(o[at]) });
    let op: TxnOp | undefined;
    switch (o[0]) {
      case TXN_PUT: {
        const prevKv = flag(3);
        if ((o.length === 4 || o.length === 5) && prevKv !== undefined) {
          op = { op: 'put', key: bytes(o[1]), value: bytes(o[2]), ...prevKv, ...(o.length === 5 ? { lease: o[4] as number } : {}) };
        }
        break;
      }
      case TXN_DELETE: {
        const prevKv = flag(2);
        if (o.length === 3 && prevKv !== undefined) op = { op: 'delete', key: bytes(o[1]), ...prevKv };
        break;
      }
      case TXN_DELETE_RANGE: {
        const prevKv = flag(3);
        if (o.length === 4 && prevKv !== undefined) op = { op: 'deleteRange', start: bytes(o[1]), ...end(2), ...prevKv };
        break;
      }
      case TXN_GET:
        if (o.length === 2) op = { op: 'get', key: bytes(o[1]) };
        break;
      case TXN_RANGE:
        if (o.length === 4) op = { op: 'range', start: bytes(o[1]), ...end(2), limit: o[3] as number };
        break;
    }
    if (op === undefined) return undefined;
    out.push(op);
  }
  return out;
}

/** Why a txn's parts break the rules (see the module doc), or undefined when they are fine. */
export function txnProblem(compare: readonly TxnCompare[], success: readonly TxnOp[], failure: readonly TxnOp[]): string | undefined {
  if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) return 'txn compares and branches must be arrays';
  if (compare.length > LIMITS.txnOpsMax || success.length > LIMITS.txnOpsMax || failure.length > LIMITS.txnOpsMax) {
    return `a txn holds at most ${LIMITS.txnOpsMax} compares and operations per branch`;
  }
  for (const c of compare) {
    const problem =
      keyProblem(c.key) ??
      (c.target === 'exists'
        ? typeof c.value === 'boolean'
          ? undefined
          : 'an exists compare takes a boolean'
        : !OPS.includes(c.op)
          ? 'unknown compare op'
          : c.target === 'value'
            ? valueProblem(c.value)
            : TARGETS.includes(c.target)
              ? isCount(c.value)
                ? undefined
                : 'a numeric compare takes a non-negative integer'
              : 'unknown compare target');
    if (problem !== undefined) return problem;
  }
  for (const o of [...success, ...failure]) {
    const problem = opProblem(o);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function opProblem(o: TxnOp): string | undefined {
  switch (o.op) {
    case 'put':
      return keyProblem(o.key) ?? valueProblem(o.value) ?? (o.lease === undefined ? undefined : leaseIdProblem(o.lease));
    case 'delete':
    case 'get':
      return keyProblem(o.key);
    case 'deleteRange':
    case 'range': {
      const problem = rangeProblem(o.start, o.end);
      if (problem !== undefined) return problem;
      if (o.op === 'range' && !(isCount(o.limit) && o.limit >= 1 && o.limit <= LIMITS.scanLimitMax)) return `range limit must be in 1..${LIMITS.scanLimitMax}`;
      return undefined;
    }
    default:
      return 'unknown txn operation';
  }
}

function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? plainBytes(v) : (v as Uint8Array);
}
