/**
 * Big-endian unsigned integers read and written straight on a `Uint8Array`.
 *
 * Not through a `DataView`: `new DataView(bytes.buffer, …)` allocates a view per call, and asking a
 * small typed array (64 bytes or less: keys, headers) for its `.buffer` makes V8 move its bytes
 * off the heap into a backing store of their own — a `calloc`, an ArrayBuffer for the scavenger to
 * sweep and a `free` later, for every log key and history key (about 7% of a node's main thread
 * at 256 puts in flight, plus the sweeping on V8's helper threads). Callers check lengths first:
 * reading past the end yields NaN, not an exception.
 */

const TWO_POW_32 = 2 ** 32;

export function writeUint32(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n >>> 24;
  bytes[at + 1] = n >>> 16;
  bytes[at + 2] = n >>> 8;
  bytes[at + 3] = n;
}

export function readUint32(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

/** Write a safe non-negative integer as 8 big-endian bytes. */
export function writeUint64(bytes: Uint8Array, at: number, n: number): void {
  writeUint32(bytes, at, Math.floor(n / TWO_POW_32));
  writeUint32(bytes, at + 4, n >>> 0);
}

export function readUint64(bytes: Uint8Array, at: number): number {
  return readUint32(bytes, at) * TWO_POW_32 + readUint32(bytes, at + 4);
}
