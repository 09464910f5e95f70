/**
 * The history of changes to user data, by revision: what a watch replays. Every put and delete
 * an applied command makes is one history record, written in the same store batch as the change
 * itself (`ApplyWriter.recordChange`), under its own sublevel (`hs<N>`, storage/layout.ts):
 *
 *   key    revision (u64 big-endian) ‖ position within the revision (u32 big-endian)
 *   value  msgpack [key, stored value | null (a delete), previous stored value | null (absent)]
 *
 * so the records sort by revision and, within one revision (a txn or a range delete changes
 * several keys at one revision), in the order the command made the changes. A txn that writes
 * one key twice leaves two records at the same revision. The previous value is stored with each
 * record so that a watch can answer `prevKv` from any revision; history costs about twice the
 * bytes of the changes it holds until compaction.
 *
 * Compaction (the `compact` command, op 6) moves the oldest available revision forward: records
 * below it are garbage (cleared after the batch that moves it; reads never return them).
 */
import type { KeyValue } from '@keel/protocol';
import { StateMachineError } from './errors.js';
import { pack, plainBytes, unpack } from './msgpack.js';
import { decodeStoredValue, readUint64, writeUint64 } from './stored-value.js';

export const HISTORY_KEY_BYTES = 12;

/** One change to one key, as a watch delivers it. */
export interface HistoryEvent {
  readonly type: 'put' | 'delete';
  /** The revision (log index) of the write. */
  readonly revision: number;
  /** The key and, for a put, its new value and revisions (a delete: empty value, revisions of the delete). */
  readonly kv: KeyValue;
  /** The key's entry before the change (null: it did not exist). */
  readonly prevKv: KeyValue | null;
}

/** The history key of the `position`-th change at `revision`. */
export function historyKey(revision: number, position: number): Uint8Array {
  const out = new Uint8Array(HISTORY_KEY_BYTES);
  const view = new DataView(out.buffer);
  writeUint64(view, 0, revision);
  view.setUint32(8, position);
  return out;
}

/** The smallest history key at `revision` (a range bound). */
export function revisionBound(revision: number): Uint8Array {
  return historyKey(revision, 0);
}

export function encodeHistoryRecord(key: Uint8Array, stored: Uint8Array | undefined, prev: Uint8Array | undefined): Uint8Array {
  return pack([key, stored ?? null, prev ?? null]);
}

/** Decode one history row. Throws `StateMachineError('MALFORMED_HISTORY')` on anything invalid. */
export function decodeHistoryRecord(hkey: Uint8Array, bytes: Uint8Array): HistoryEvent {
  if (hkey.byteLength !== HISTORY_KEY_BYTES) throw new StateMachineError('MALFORMED_HISTORY', `history key of ${hkey.byteLength} bytes`);
  const revision = readUint64(new DataView(hkey.buffer, hkey.byteOffset, hkey.byteLength), 0);
  let raw: unknown;
  try {
    raw = unpack(bytes);
  } catch (cause) {
    throw new StateMachineError('MALFORMED_HISTORY', `history record at revision ${revision} is not valid msgpack`, { cause });
  }
  const isBytesOrNull = (v: unknown): v is Uint8Array | null => v === null || v instanceof Uint8Array;
  if (!Array.isArray(raw) || raw.length !== 3 || !(raw[0] instanceof Uint8Array) || !isBytesOrNull(raw[1]) || !isBytesOrNull(raw[2])) {
    throw new StateMachineError('MALFORMED_HISTORY', `history record at revision ${revision} is not [key, value, prev]`);
  }
  const key = plainBytes(raw[0]);
  const prevKv = raw[2] === null ? null : toKeyValue(key, raw[2]);
  if (raw[1] === null) {
    return { type: 'delete', revision, kv: { key, value: new Uint8Array(0), createRevision: 0, modRevision: revision, version: 0 }, prevKv };
  }
  return { type: 'put', revision, kv: toKeyValue(key, raw[1]), prevKv };
}

function toKeyValue(key: Uint8Array, stored: Uint8Array): KeyValue {
  const v = decodeStoredValue(plainBytes(stored));
  return { key, value: v.value, createRevision: v.createRevision, modRevision: v.modRevision, version: v.version };
}

/** The revision of a history key (no validation beyond length: keys come from the store). */
export function revisionOfHistoryKey(hkey: Uint8Array): number {
  return readUint64(new DataView(hkey.buffer, hkey.byteOffset, hkey.byteLength), 0);
}
