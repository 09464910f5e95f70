import { StorageError, type Storage } from './storage.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from './types.js';

const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };
const EMPTY_DATA = new Uint8Array(0);

/** Approximate encoded size of an entry, used for flow control and message size limits. */
export function entrySize(entry: Entry): number {
  // 24 bytes of framing (type, index, term) plus the payload.
  return 24 + (entry.type === 'normal' ? entry.data.byteLength : 64 + (entry.change.context?.byteLength ?? 0));
}

/**
 * An in-memory `Storage`: the synchronous view the core reads. The simulator keeps its "disk"
 * in one of these; the server rebuilds one from LevelDB at start-up and keeps it in step with
 * every durable write. Invariant: `entries[k].index === snapshot.meta.index + 1 + k`.
 */
export class MemoryStorage implements Storage {
  private hard: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  private log: Entry[] = [];

  /** A fresh store whose base (index 0, term 0) has membership `conf`. */
  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.snap = { meta: { index: 0, term: 0, conf: copyConf(conf) }, data: EMPTY_DATA };
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: this.hard, conf: this.snap.meta.conf };
  }

  hardState(): HardState {
    return this.hard;
  }

  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  firstIndex(): number {
    return this.snap.meta.index + 1;
  }

  lastIndex(): number {
    return this.snap.meta.index + this.log.length;
  }

  term(i: number): number {
    const base = this.snap.meta.index;
    if (i === base) return this.snap.meta.term;
    if (i < base) throw new StorageError('COMPACTED', `term(${i}): compacted up to ${base}`);
    const entry = this.log[i - base - 1];
    if (entry === undefined) throw new StorageError('UNAVAILABLE', `term(${i}): last index is ${this.lastIndex()}`);
    return entry.term;
  }

  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const base = this.snap.meta.index;
    if (lo <= base) throw new StorageError('COMPACTED', `entries(${lo}, ${hi}): compacted up to ${base}`);
    if (hi > this.lastIndex() + 1) {
      throw new StorageError('UNAVAILABLE', `entries(${lo}, ${hi}): last index is ${this.lastIndex()}`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.log[i - base - 1]!;
      bytes += entrySize(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
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

  /**
   * Record a snapshot the application took at `index` (already applied) with membership `conf`,
   * and compact the log up to it. `index` must be in `[snapshot index, lastIndex()]`.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array = EMPTY_DATA): Snapshot {
    if (index < this.snap.meta.index) {
      throw new StorageError('COMPACTED', `createSnapshot(${index}): older than snapshot ${this.snap.meta.index}`);
    }
    if (index > this.lastIndex()) {
      throw new StorageError('UNAVAILABLE', `createSnapshot(${index}): last index is ${this.lastIndex()}`);
    }
    const term = this.term(index);
    const removed = index - this.snap.meta.index;
    this.snap = { meta: { index, term, conf: copyConf(conf) }, data };
    this.log = this.log.slice(removed);
    return this.snap;
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

function copyConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

function copyMeta(meta: SnapshotMeta): SnapshotMeta {
  return { index: meta.index, term: meta.term, conf: copyConf(meta.conf) };
}
