/**
 * How one user key's value is stored: a 24-byte header with the create revision, the modify
 * revision and the version (each an unsigned 64-bit big-endian integer, always below 2^53)
 * followed by the value bytes.
 * Fixed layout, no msgpack: decoding is two reads and a zero-copy view.
 */
import { readUint64, writeUint64 } from './byte-order.js';
import { newBytes, type Allocate } from './byte-region.js';
import { StateMachineError } from './errors.js';

export const STORED_VALUE_HEADER_BYTES = 24;

export interface StoredValue {
  readonly value: Uint8Array;
  /** Log index of the write that created the key (since its last delete). */
  readonly createRevision: number;
  /** Log index of the last write to the key. */
  readonly modRevision: number;
  /** Number of writes to the key since it was created: 1 for a new key. */
  readonly version: number;
}

export function encodeStoredValue(v: StoredValue, allocate: Allocate = newBytes): Uint8Array {
  const out = allocate(STORED_VALUE_HEADER_BYTES + v.value.byteLength);
  writeUint64(out, 0, v.createRevision);
  writeUint64(out, 8, v.modRevision);
  writeUint64(out, 16, v.version);
  out.set(v.value, STORED_VALUE_HEADER_BYTES);
  return out;
}

/** Throws `StateMachineError('MALFORMED_VALUE')` when the bytes are too short to hold the header. */
export function decodeStoredValue(bytes: Uint8Array): StoredValue {
  if (bytes.byteLength < STORED_VALUE_HEADER_BYTES) {
    throw new StateMachineError('MALFORMED_VALUE', `stored value of ${bytes.byteLength} bytes is shorter than its header`);
  }
  return {
    createRevision: readUint64(bytes, 0),
    modRevision: readUint64(bytes, 8),
    version: readUint64(bytes, 16),
    value: new Uint8Array(bytes.buffer, bytes.byteOffset + STORED_VALUE_HEADER_BYTES, bytes.byteLength - STORED_VALUE_HEADER_BYTES),
  };
}
