/**
 * The net effect of a batch of entries on user data: one change per key, whatever happened to it
 * in between. A key written by several entries of the batch is written once; a key created and
 * deleted within the batch is not written at all. Fewer operations, smaller LevelDB batch.
 */
import { keyId, type ApplyWriter } from './kv-state.js';

/** One record's net change: `value` undefined = delete. */
export interface RecordChange {
  readonly key: Uint8Array;
  value: Uint8Array | undefined;
  /** The record did not exist before the batch: deleting it again cancels the change. */
  readonly absentBefore: boolean;
}

export class WriteSet implements ApplyWriter {
  /** User data changes, by key identity. */
  readonly values = new Map<string, RecordChange>();

  putValue(key: Uint8Array, stored: Uint8Array, absentBefore: boolean): void {
    put(this.values, key, stored, absentBefore);
  }

  deleteValue(key: Uint8Array): void {
    del(this.values, key);
  }
}

function put(changes: Map<string, RecordChange>, key: Uint8Array, value: Uint8Array, absentBefore: boolean): void {
  const id = keyId(key);
  const change = changes.get(id);
  if (change === undefined) changes.set(id, { key, value, absentBefore });
  else change.value = value;
}

function del(changes: Map<string, RecordChange>, key: Uint8Array): void {
  const id = keyId(key);
  const change = changes.get(id);
  if (change === undefined) changes.set(id, { key, value: undefined, absentBefore: false });
  else if (change.absentBefore) changes.delete(id);
  else change.value = undefined;
}
