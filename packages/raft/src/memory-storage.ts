import { LogWindow, copyMeta } from './log-window.js';
import type { Entry, Snapshot } from './types.js';

/** Approximate encoded size of an entry, used for flow control and message size limits. */
export function entrySize(entry: Entry): number {
  // 24 bytes of framing (type, index, term) plus the payload.
  return 24 + (entry.type === 'normal' ? entry.data.byteLength : 64 + (entry.change.context?.byteLength ?? 0));
}

/**
 * An in-memory `Storage`: the synchronous view the core reads. The simulator keeps its "disk"
 * in one of these. Invariant: `log[k].index === snapshot.meta.index + 1 + k`.
 */
export class MemoryStorage extends LogWindow {
  private log: Entry[] = [];

  protected get length(): number {
    return this.log.length;
  }

  protected termAt(k: number): number {
    return this.log[k]!.term;
  }

  protected sizeAt(k: number): number {
    return entrySize(this.log[k]!);
  }

  protected entryAt(k: number): Entry {
    return this.log[k]!;
  }

  protected dropFront(n: number): void {
    this.log = this.log.slice(n);
  }

  /** All entries after the snapshot (for recovery scans and tests). */
  allEntries(): readonly Entry[] {
    return this.log;
  }

  /**
   * Append entries, discarding any stored entries at or after `entries[0].index`.
   * `entries[0].index` must be in `[firstIndex(), lastIndex() + 1]`; entries at or below the
   * snapshot are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const base = this.snap.meta.index;
    let from = 0;
    while (from < entries.length && entries[from]!.index <= base) from++;
    if (from === entries.length) return;
    const first = entries[from]!.index;
    if (first > this.lastIndex() + 1) {
      throw new Error(`MemoryStorage.append: gap: first ${first}, last ${this.lastIndex()}`);
    }
    this.log.length = first - base - 1;
    for (let k = from; k < entries.length; k++) {
      const entry = entries[k]!;
      if (entry.index !== base + 1 + this.log.length) {
        throw new Error(`MemoryStorage.append: entries not contiguous at ${entry.index}`);
      }
      this.log.push(entry);
    }
  }

  /**
   * Replace everything with a snapshot received from the leader (the log is discarded unless it
   * extends past the snapshot with a matching term, in which case the suffix is kept).
   */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    if (index <= this.snap.meta.index) return;
    let keep: Entry[] = [];
    if (index <= this.lastIndex() && this.term(index) === term) {
      keep = this.log.slice(index - this.snap.meta.index);
    }
    this.snap = { meta: copyMeta(snapshot.meta), data: snapshot.data };
    this.log = keep;
  }

  /** Deep-enough copy for the simulator's crash model (entries are immutable values). */
  clone(): MemoryStorage {
    const copy = new MemoryStorage();
    copy.hard = this.hard;
    copy.snap = this.snap;
    copy.log = this.log.slice();
    return copy;
  }
}
