/**
 * The user data as the entries of one apply batch see it: the store as it was before the batch,
 * under an overlay of the values the batch's earlier entries left (null: deleted). The overlay
 * starts with every key the batch's single-key operations touch (read in one `getMany` before
 * `execute`); ranges are read from the store when they are needed, merged with the overlay.
 *
 * Each command's changes are held back until `commit()` reports them to the writer, so a command
 * refused half-way (a txn past a limit) is undone by `rollback()` and leaves no trace: the same
 * all-or-nothing outcome on every replica, however the entries were batched. The lease table's
 * attachments follow the keys (a put attaches or detaches, a delete detaches) and are committed
 * and rolled back with them.
 */
import type { LeaseTable } from './leases.js';
import { plainBytes } from './msgpack.js';
import type { Allocate } from './byte-region.js';
import { decodeStoredValue, encodeStoredValue, type StoredValue } from './stored-value.js';

/** Where the state machine reports the effects on user data and its history (history.ts). */
export interface ApplyWriter {
  /**
   * Bytes for the batch's stored values, which may share memory with each other and with its
   * history records: whoever keeps one beyond the batch copies it (the value cache does).
   */
  readonly allocate: Allocate;
  /** `absentBefore`: the key does not exist in the store (as far as this batch knows). `id` is `keyId(key)`. */
  putValue(id: string, key: Uint8Array, stored: Uint8Array, absentBefore: boolean): void;
  deleteValue(id: string, key: Uint8Array): void;
  /** One change at `revision`, in the order the command made them: `stored` undefined = delete; `prev` undefined = was absent. */
  recordChange(revision: number, key: Uint8Array, stored: Uint8Array | undefined, prev: Uint8Array | undefined): void;
  /** History below `revision` is compacted away (it is the oldest revision left). */
  compact(revision: number): void;
}

/**
 * What the state machine reads of the store for ranges: rows in byte order of the keys, from
 * `gte` (inclusive) to `lt` (exclusive, absent: to the last key), with their values.
 * The store's byte-keyed user-data sublevel is one.
 */
export interface RangeReader {
  iterator(options: { gte: Uint8Array; lt?: Uint8Array }): {
    nextv(size: number): Promise<Array<[Uint8Array, Uint8Array]>>;
    close(): Promise<void>;
  };
}

/** A key and its value (null: absent), with the value's stored bytes (encoded once, reused as a history record's previous value). */
interface Slot {
  readonly key: Uint8Array;
  readonly value: StoredValue | null;
  readonly bytes: Uint8Array | undefined;
}

/** A key and its value as a range yields it. */
export interface Row {
  readonly key: Uint8Array;
  readonly value: StoredValue;
}

/** Rows a range reads from the store at a time. */
const RANGE_READ_ROWS = 64;

type Pending = {
  readonly id: string;
  readonly key: Uint8Array;
  readonly stored: Uint8Array | undefined;
  readonly absentBefore: boolean;
  /** The stored bytes of the value before the change (undefined: absent). */
  readonly prev: Uint8Array | undefined;
};

export class KvState {
  private readonly overlay = new Map<string, Slot>();
  /** The overlay slots the current command replaced (undefined: the key was not in the overlay). */
  private readonly undo: Array<readonly [id: string, before: Slot | undefined]> = [];
  /** The current command's effects, in order, for the writer. */
  private readonly pending: Pending[] = [];

  /** `current[k]` is the stored value of `keys[k]` (whose `keyId` is `ids[k]`) before the batch (undefined when absent). */
  constructor(
    keys: readonly Uint8Array[],
    ids: readonly string[],
    current: ReadonlyArray<Uint8Array | undefined>,
    private readonly store: RangeReader,
    private readonly writer: ApplyWriter,
    readonly leases: LeaseTable,
  ) {
    keys.forEach((key, k) => {
      const bytes = current[k];
      this.overlay.set(ids[k]!, bytes === undefined ? { key, value: null, bytes } : { key, value: decodeStoredValue(bytes), bytes });
    });
  }

  /** The value of `key`, which must be one of the keys read before the batch or touched since. */
  get(key: Uint8Array): StoredValue | null {
    return this.slot(keyId(key)).value;
  }

  /**
   * Writes `value` under `key` at revision `index`, attached to `lease` (which must exist) or to
   * none; returns what the key held before.
   */
  put(key: Uint8Array, value: Uint8Array, index: number, lease: number | undefined): StoredValue | null {
    const id = keyId(key);
    const slot = this.slot(id);
    const before = slot.value;
    if (lease === undefined) this.leases.detach(key, id);
    else this.leases.attach(key, lease);
    const next: StoredValue = { value, createRevision: before?.createRevision ?? index, modRevision: index, version: (before?.version ?? 0) + 1 };
    const stored = encodeStoredValue(next, this.writer.allocate);
    this.change(id, { key, value: next, bytes: stored });
    this.pending.push({ id, key, stored, absentBefore: before === null, prev: slot.bytes });
    return before;
  }

  /** Deletes `key`, which holds `before` (a value the overlay knows, or a row a range just read with its value). */
  remove(key: Uint8Array, before: StoredValue): void {
    const id = keyId(key);
    const known = this.overlay.get(id);
    const prev = known !== undefined && known.value === before ? known.bytes : encodeStoredValue(before, this.writer.allocate);
    this.leases.detach(key, id);
    this.change(id, { key, value: null, bytes: undefined });
    this.pending.push({ id, key, stored: undefined, absentBefore: false, prev });
  }

  /**
   * The keys in `[start, end)` (no end: to the last key) that hold a value, in byte order, with
   * their values. Stop iterating early to read no further; do not change the state while iterating.
   */
  async *range(start: Uint8Array, end: Uint8Array | undefined): AsyncGenerator<Row> {
    if (end !== undefined && Buffer.compare(start, end) >= 0) return;
    const inRange = (key: Uint8Array): boolean => Buffer.compare(key, start) >= 0 && (end === undefined || Buffer.compare(key, end) < 0);
    const known = [...this.overlay.values()].filter((s) => inRange(s.key)).sort((a, b) => Buffer.compare(a.key, b.key));
    let j = 0;
    const it = this.store.iterator({ gte: start, ...(end !== undefined ? { lt: end } : {}) });
    try {
      for (;;) {
        const rows = await it.nextv(RANGE_READ_ROWS);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          while (j < known.length && Buffer.compare(known[j]!.key, k) < 0) {
            const slot = known[j++]!;
            if (slot.value !== null) yield { key: slot.key, value: slot.value };
          }
          if (j < known.length && Buffer.compare(known[j]!.key, k) === 0) {
            const slot = known[j++]!; // the batch's own value wins
            if (slot.value !== null) yield { key: slot.key, value: slot.value };
            continue;
          }
          yield { key: plainBytes(k), value: decodeStoredValue(v) };
        }
      }
    } finally {
      await it.close();
    }
    for (; j < known.length; j++) {
      const slot = known[j]!;
      if (slot.value !== null) yield { key: slot.key, value: slot.value };
    }
  }

  /** Report the current command's effects, made at `revision`, to the writer: values and history. */
  commit(revision: number): void {
    for (const p of this.pending) {
      if (p.stored === undefined) this.writer.deleteValue(p.id, p.key);
      else this.writer.putValue(p.id, p.key, p.stored, p.absentBefore);
      this.writer.recordChange(revision, p.key, p.stored, p.prev);
    }
    this.pending.length = 0;
    this.undo.length = 0;
    this.leases.commit();
  }

  /** Undo the current command's effects: the state is as before it. */
  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const [id, before] = this.undo[i]!;
      if (before === undefined) this.overlay.delete(id);
      else this.overlay.set(id, before);
    }
    this.pending.length = 0;
    this.undo.length = 0;
    this.leases.rollback();
  }

  /** The overlay slot of the key whose identity is `id`. */
  private slot(id: string): Slot {
    const slot = this.overlay.get(id);
    if (slot === undefined) throw new Error(`KvState: key ${id} was not read before apply`);
    return slot;
  }

  private change(id: string, slot: Slot): void {
    this.undo.push([id, this.overlay.get(id)]);
    this.overlay.set(id, slot);
  }
}

/** A string identity for a key (map keys). */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
