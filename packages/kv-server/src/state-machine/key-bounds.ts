/** Byte-order bounds of key ranges: the one place for the arithmetic of "every key with this prefix". */

/** The smallest key greater than every key starting with `prefix`, or undefined (all 0xff: no such key). */
export function prefixUpperBound(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.byteLength;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  // A copy, never a view: Buffer#slice (unlike Uint8Array#slice) would share memory and the
  // increment below would corrupt the caller's prefix.
  const out = new Uint8Array(prefix.subarray(0, end));
  out[end - 1]! += 1;
  return out;
}

/** The smallest key after `key`: `key` followed by a zero byte. */
export function keySuccessor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.byteLength + 1);
  out.set(key);
  return out;
}
