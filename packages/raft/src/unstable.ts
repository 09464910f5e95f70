import type { Entry, Snapshot } from './types.js';

/**
 * Entries and a snapshot that are not yet durable (etcd's `unstable`). They leave through
 * `Ready` and become stable on `advance`.
 *
 * Invariant: `entries[k].index === offset + k`; if `snapshot` is set, `offset === snapshot.meta.index + 1`
 * at the time it was restored.
 */
export class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];

  constructor(public offset: number) {}

  /** First index after a pending snapshot, if any. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.meta.index;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      return this.snapshot !== undefined && this.snapshot.meta.index === i ? this.snapshot.meta.term : undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Entries up to `(index, term)` were persisted; drop them unless they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const t = this.maybeTerm(index);
    if (t !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.meta.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Append `ents`, first discarding any unstable entries at or after `ents[0].index`. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    const from = first.index;
    if (from === this.offset + this.entries.length) {
      pushAll(this.entries, ents);
    } else if (from <= this.offset) {
      // Replace everything unstable; the application truncates storage from `from` when persisting.
      this.offset = from;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, from - this.offset);
      pushAll(this.entries, ents);
    }
  }

  /** Entries in `[lo, hi)`, which must lie within `[offset, offset + entries.length]`. */
  slice(lo: number, hi: number): Entry[] {
    if (lo < this.offset || hi > this.offset + this.entries.length || lo > hi) {
      throw new Error(`Unstable.slice(${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length}]`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

/** `target.push(...items)` without spreading: a spread of ~125k+ arguments overflows the stack. */
function pushAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}
