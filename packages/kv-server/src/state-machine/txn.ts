/**
 * Transactions: if every compare holds on the keys' current state, the `success` operations run,
 * else the `failure` ones — in order, each seeing the effects of the ones before, all at the
 * txn's revision (its log index). One log entry, so atomic on every replica: a txn that passes a
 * limit part-way (`LIMITS.deleteRangeKeysMax` keys deleted, `LIMITS.txnResponseBytesMax` bytes
 * of entries returned) is answered TOO_LARGE and the caller undoes everything it did.
 *
 * Compares (etcd's semantics): `value` compares bytes in byte order and is false on a key that
 * does not exist, whatever the op; `version`, `createRevision` and `modRevision` are 0 for a key
 * that does not exist; `exists` holds when the key's existence is the compare's value.
 */
import { LIMITS, type ClientResults, type TxnCompare, type TxnOpResult, type WireError } from '@keel/protocol';
import type { Command } from './commands.js';
import type { KvState } from './kv-state.js';
import { Budget, applyOperation } from './operations.js';
import type { StoredValue } from './stored-value.js';

/** Whether `c` holds on a key whose current value is `current` (null: absent). */
export function compareHolds(c: TxnCompare, current: StoredValue | null): boolean {
  if (c.target === 'exists') return (current !== null) === c.value;
  let order: number;
  if (c.target === 'value') {
    if (current === null) return false;
    order = Buffer.compare(current.value, c.value);
  } else {
    order = Math.sign((current === null ? 0 : current[c.target]) - c.value);
  }
  switch (c.op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}

/** Run txn `c` at revision `index`: its answer, or the refusal of a limit (undo the txn then). */
export async function runTxn(c: Extract<Command, { op: 'txn' }>, index: number, state: KvState): Promise<ClientResults['txn'] | WireError> {
  const succeeded = c.compare.every((cmp) => compareHolds(cmp, state.get(cmp.key)));
  const budget = new Budget(LIMITS.deleteRangeKeysMax, LIMITS.txnResponseBytesMax, {
    keys: `the txn deletes more than ${LIMITS.deleteRangeKeysMax} keys; nothing was applied (delete in smaller ranges, or in several txns)`,
    bytes: `the txn's answer would exceed ${LIMITS.txnResponseBytesMax} bytes of entries; nothing was applied (read less per txn)`,
  });
  const results: TxnOpResult[] = [];
  for (const op of succeeded ? c.success : c.failure) {
    const r = await applyOperation(op, index, state, budget);
    if ('code' in r) return r;
    results.push(r);
  }
  return { revision: index, succeeded, results };
}

/** The keys of txn `c` to read before the batch applies: those of its compares and single-key operations. */
export function txnKeys(c: Extract<Command, { op: 'txn' }>): Uint8Array[] {
  const keys = c.compare.map((cmp) => cmp.key);
  for (const op of [...c.success, ...c.failure]) if (op.op === 'put' || op.op === 'delete' || op.op === 'get') keys.push(op.key);
  return keys;
}
