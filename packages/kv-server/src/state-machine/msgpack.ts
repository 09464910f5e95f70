import { Packr } from 'msgpackr';

/**
 * The one msgpackr configuration for everything Keel stores or snapshots. Records/structures are
 * off: shared structure definitions would have to be stored too, and a byte string written today
 * must decode the same way after a restart or on another node.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Encode one value. The result is a fresh view that stays valid (msgpackr never reuses it). */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Decode one value; throws on malformed input (callers wrap it in their typed error).
 * msgpackr hangs a `DataView` on the buffer it decodes (`source.dataView`), so it is given a fresh
 * view of the bytes rather than `bytes` itself: the view and its DataView die young, while a log
 * entry's data (decoded at apply, then kept in the in-memory log for seconds) would otherwise carry
 * two more objects into the old generation and change its hidden class. Decoded byte strings are
 * views of the same memory as before.
 */
export function unpack(bytes: Uint8Array): unknown {
  return packr.unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** A plain `Uint8Array` view of the same bytes (msgpackr and LevelDB hand out `Buffer`s). */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
