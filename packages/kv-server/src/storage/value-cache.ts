/**
 * The stored values of recently written or read keys, as of the last applied batch: what an apply
 * needs of a key it changes (its create revision, version and previous value) without asking
 * LevelDB. Every change to user data goes through `StateStore.apply`, which tells the cache each
 * key's new stored value (or its deletion) from the batch's write set; a snapshot swap replaces
 * the whole state and empties it. So a key the cache holds has exactly the value the store holds
 * once the batch that last changed it is written, and a key it does not hold is read from the
 * store. Gets read it too (`peek`): a key written by a computed batch whose store write is still
 * under way is answered with its new value, which is committed (a linearizable read waits for
 * its read index to be applied anyway; a serializable read sees the write a little sooner).
 * It is bounded by the bytes of keys and values it holds; the least recently used keys go first.
 * Absent keys are not cached (the store answers them).
 */
export class ValueCache {
  /** Key identity (`keyId`) -> stored value; Map order is least recently used first. */
  private readonly values = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Entries held (for tests and diagnostics). */
  get size(): number {
    return this.values.size;
  }

  /** The stored value of the key whose identity is `id`, when the cache holds it. */
  get(id: string): Uint8Array | undefined {
    const value = this.values.get(id);
    if (value !== undefined) {
      this.values.delete(id);
      this.values.set(id, value);
    }
    return value;
  }

  /** Like `get`, without making the key the most recently used (reads do not keep keys cached). */
  peek(id: string): Uint8Array | undefined {
    return this.values.get(id);
  }

  /** The key whose identity is `id` now holds `value` (undefined: it was deleted). */
  set(id: string, value: Uint8Array | undefined): void {
    const old = this.values.get(id);
    if (old !== undefined) {
      this.values.delete(id);
      this.bytes -= cost(id, old);
    }
    if (value === undefined) return;
    const bytes = cost(id, value);
    if (bytes > this.maxBytes) return;
    this.values.set(id, value);
    this.bytes += bytes;
    for (const [lru, v] of this.values) {
      if (this.bytes <= this.maxBytes) break;
      this.values.delete(lru);
      this.bytes -= cost(lru, v);
    }
  }

  /** Forget everything (the state was replaced). */
  clear(): void {
    this.values.clear();
    this.bytes = 0;
  }
}

/** Bytes an entry is charged: key, value and about 64 bytes of map and object overhead. */
function cost(id: string, value: Uint8Array): number {
  return id.length + value.byteLength + 64;
}
