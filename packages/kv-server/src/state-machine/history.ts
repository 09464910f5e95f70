/**
 * The history of changes to user data, by revision: what a watch replays. Every put and delete
 * an applied command makes is one history record, written in the same store batch as the change
 * itself (`ApplyWriter.recordChange`), under its own sublevel (`hs<N>`, storage/layout.ts):
 *
 *   key    revision (u64 big-endian) ‖ position within the revision (u32 big-endian)
 *   value  [1] ‖ key length (u32) ‖ stored value length (u32, 0xFFFFFFFF: a delete)
 *          ‖ previous stored value length (u32, 0xFFFFFFFF: absent) ‖ key ‖ stored value ‖ previous
 *
 * (Fixed layout: one allocation and three copies per change. Records written before it are
 * msgpack `[key, stored | null, previous | null]` — a fixarray, first byte 0x93 — and still decode,
 * so a store of format 3 keeps its history.)
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
import { plainBytes, unpack } from './msgpack.js';
import { readUint32, readUint64, writeUint32, writeUint64 } from './byte-order.js';
import { newBytes, type Allocate } from './byte-region.js';
import { decodeStoredValue } from './stored-value.js';

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
export function historyKey(revision: number, position: number, allocate: Allocate = newBytes): Uint8Array {
  const out = allocate(HISTORY_KEY_BYTES);
  writeUint64(out, 0, revision);
  writeUint32(out, 8, position);
  return out;
}

/** The smallest history key at `revision` (a range bound). */
export function revisionBound(revision: number): Uint8Array {
  return historyKey(revision, 0);
}

const RECORD_TAG = 1;
const RECORD_HEADER_BYTES = 13;
const ABSENT = 0xffffffff;

export function encodeHistoryRecord(key: Uint8Array, stored: Uint8Array | undefined, prev: Uint8Array | undefined, allocate: Allocate = newBytes): Uint8Array {
  const storedBytes = stored?.byteLength ?? 0;
  const out = allocate(RECORD_HEADER_BYTES + key.byteLength + storedBytes + (prev?.byteLength ?? 0));
  out[0] = RECORD_TAG;
  writeUint32(out, 1, key.byteLength);
  writeUint32(out, 5, stored === undefined ? ABSENT : storedBytes);
  writeUint32(out, 9, prev === undefined ? ABSENT : prev.byteLength);
  out.set(key, RECORD_HEADER_BYTES);
  if (stored !== undefined) out.set(stored, RECORD_HEADER_BYTES + key.byteLength);
  if (prev !== undefined) out.set(prev, RECORD_HEADER_BYTES + key.byteLength + storedBytes);
  return out;
}

/** The parts of a record: [key, stored | null, previous | null]; undefined when the bytes do not hold them. */
function recordParts(bytes: Uint8Array): [Uint8Array, Uint8Array | null, Uint8Array | null] | undefined {
  if (bytes.byteLength < RECORD_HEADER_BYTES) return undefined;
  const keyBytes = readUint32(bytes, 1);
  const storedBytes = readUint32(bytes, 5);
  const prevBytes = readUint32(bytes, 9);
  const length = (n: number): number => (n === ABSENT ? 0 : n);
  if (RECORD_HEADER_BYTES + keyBytes + length(storedBytes) + length(prevBytes) !== bytes.byteLength) return undefined;
  const part = (at: number, n: number): Uint8Array | null => (n === ABSENT ? null : bytes.subarray(at, at + n));
  const storedAt = RECORD_HEADER_BYTES + keyBytes;
  return [bytes.subarray(RECORD_HEADER_BYTES, storedAt), part(storedAt, storedBytes), part(storedAt + length(storedBytes), prevBytes)];
}

/** A record written as msgpack (before the fixed layout): its parts, or undefined. */
function msgpackRecordParts(bytes: Uint8Array): [Uint8Array, Uint8Array | null, Uint8Array | null] | undefined {
  let raw: unknown;
  try {
    raw = unpack(bytes);
  } catch {
    return undefined;
  }
  const isBytesOrNull = (v: unknown): v is Uint8Array | null => v === null || v instanceof Uint8Array;
  if (!Array.isArray(raw) || raw.length !== 3 || !(raw[0] instanceof Uint8Array) || !isBytesOrNull(raw[1]) || !isBytesOrNull(raw[2])) return undefined;
  return [raw[0], raw[1], raw[2]];
}

/** Decode one history row. Throws `StateMachineError('MALFORMED_HISTORY')` on anything invalid. */
export function decodeHistoryRecord(hkey: Uint8Array, bytes: Uint8Array): HistoryEvent {
  if (hkey.byteLength !== HISTORY_KEY_BYTES) throw new StateMachineError('MALFORMED_HISTORY', `history key of ${hkey.byteLength} bytes`);
  const revision = readUint64(hkey, 0);
  const parts = bytes[0] === RECORD_TAG ? recordParts(bytes) : msgpackRecordParts(bytes);
  if (parts === undefined) throw new StateMachineError('MALFORMED_HISTORY', `history record at revision ${revision} is not [key, value, prev]`);
  const [rawKey, stored, prev] = parts;
  const key = plainBytes(rawKey);
  const prevKv = prev === null ? null : toKeyValue(key, prev);
  if (stored === null) {
    return { type: 'delete', revision, kv: { key, value: new Uint8Array(0), createRevision: 0, modRevision: revision, version: 0 }, prevKv };
  }
  return { type: 'put', revision, kv: toKeyValue(key, stored), prevKv };
}

function toKeyValue(key: Uint8Array, stored: Uint8Array): KeyValue {
  const v = decodeStoredValue(plainBytes(stored));
  return { key, value: v.value, createRevision: v.createRevision, modRevision: v.modRevision, version: v.version };
}

/** The revision of a history key (no validation beyond length: keys come from the store). */
export function revisionOfHistoryKey(hkey: Uint8Array): number {
  return readUint64(hkey, 0);
}
