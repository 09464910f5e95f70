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
 *
 * Each key keeps one buffer, and a write of a value that fits it is copied into it: the cache
 * allocates nothing per write to a cached key. (Keeping each write's own buffer made every write
 * leave an object that lived about as long as the key went unwritten — a second at thousands of
 * writes per second — so every one was promoted out of the young generation, and died old.)
 * Reads get a copy, so what a caller holds never changes under it.
 */
import { LruList, type LruLinks } from '../state-machine/lru-list.js';

interface Slot extends LruLinks<Slot> {
  readonly id: string;
  /** The value is `buffer[0..length)`. */
  buffer: Uint8Array;
  length: number;
}

export class ValueCache {
  /** Key identity (`keyId`) -> its slot. Changes only when a key comes in or leaves. */
  private readonly slots = new Map<string, Slot>();
  private readonly lru = new LruList<Slot>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Entries held (for tests and diagnostics). */
  get size(): number {
    return this.slots.size;
  }

  /** The stored value of the key whose identity is `id`, when the cache holds it (a copy). */
  get(id: string): Uint8Array | undefined {
    const slot = this.slots.get(id);
    if (slot === undefined) return undefined;
    this.lru.touch(slot);
    return copyOut(slot);
  }

  /** Like `get`, without making the key the most recently used (reads do not keep keys cached). */
  peek(id: string): Uint8Array | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : copyOut(slot);
  }

  /** The key whose identity is `id` now holds `value` (undefined: it was deleted). The cache keeps a copy. */
  set(id: string, value: Uint8Array | undefined): void {
    let slot = this.slots.get(id);
    if (value === undefined || id.length + value.byteLength + OVERHEAD > this.maxBytes) {
      if (slot !== undefined) this.remove(slot);
      return;
    }
    if (slot === undefined) {
      slot = { id, buffer: new Uint8Array(value), length: value.byteLength, older: undefined, newer: undefined };
      this.slots.set(id, slot);
      this.lru.append(slot);
    } else {
      this.bytes -= cost(slot);
      if (fits(slot.buffer, value.byteLength)) slot.buffer.set(value);
      else slot.buffer = new Uint8Array(value);
      slot.length = value.byteLength;
      this.lru.touch(slot);
    }
    this.bytes += cost(slot);
    while (this.bytes > this.maxBytes) this.remove(this.lru.oldest!);
  }

  /** Forget everything (the state was replaced). */
  clear(): void {
    this.slots.clear();
    this.lru.clear();
    this.bytes = 0;
  }

  private remove(slot: Slot): void {
    this.slots.delete(slot.id);
    this.lru.remove(slot);
    this.bytes -= cost(slot);
  }
}

/** Bytes of map and object overhead an entry is charged beside its key and buffer. */
const OVERHEAD = 64;

/** Bytes an entry is charged: key, buffer and overhead. */
function cost(slot: Slot): number {
  return slot.id.length + slot.buffer.byteLength + OVERHEAD;
}

/** A value of `length` bytes goes into `buffer` when it fits and leaves at most a quarter of it unused. */
function fits(buffer: Uint8Array, length: number): boolean {
  return length <= buffer.byteLength && buffer.byteLength - length <= buffer.byteLength >>> 2;
}

/** A copy of the slot's value (small ones from Node's buffer pool: no buffer of their own to track). */
function copyOut(slot: Slot): Uint8Array {
  const out = Buffer.allocUnsafe(slot.length);
  out.set(slot.length === slot.buffer.byteLength ? slot.buffer : slot.buffer.subarray(0, slot.length));
  return out;
}
