import { StorageError, type Storage } from './storage.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from './types.js';

const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };
export const EMPTY_DATA = new Uint8Array(0);

/**
 * What every in-memory `Storage` shares: the hard state, the snapshot (the log's base) and the
 * index checks of `term`, `entries` and `createSnapshot`, over entries `(snapshot index,
 * lastIndex]` that a subclass keeps as it likes (`MemoryStorage`: objects; the server's packed
 * log: bytes). Position `k` is entry `snapshot index + 1 + k`.
 */
export abstract class LogWindow implements Storage {
  protected hard: HardState = EMPTY_HARD_STATE;
  protected snap: Snapshot;

  /** A fresh store whose base (index 0, term 0) has membership `conf`. */
  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.snap = { meta: { index: 0, term: 0, conf: copyConf(conf) }, data: EMPTY_DATA };
  }

  /** Entries held after the snapshot. */
  protected abstract get length(): number;
  /** Term of the entry at position `k` (in range). */
  protected abstract termAt(k: number): number;
  /** `entrySize` of the entry at position `k` (in range). */
  protected abstract sizeAt(k: number): number;
  /** The entry at position `k` (in range), which is entry `index`. */
  protected abstract entryAt(k: number, index: number): Entry;
  /** Forget the first `n` entries (at most all): the base moves past them. */
  protected abstract dropFront(n: number): void;

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
    return this.snap.meta.index + this.length;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  term(i: number): number {
    const base = this.snap.meta.index;
    if (i === base) return this.snap.meta.term;
    if (i < base) throw new StorageError('COMPACTED', `term(${i}): compacted up to ${base}`);
    if (i > base + this.length) throw new StorageError('UNAVAILABLE', `term(${i}): last index is ${this.lastIndex()}`);
    return this.termAt(i - base - 1);
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
      const k = i - base - 1;
      bytes += this.sizeAt(k);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(this.entryAt(k, i));
    }
    return out;
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
    this.dropFront(index - this.snap.meta.index);
    this.snap = { meta: { index, term, conf: copyConf(conf) }, data };
    return this.snap;
  }
}

export function copyConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

export function copyMeta(meta: SnapshotMeta): SnapshotMeta {
  return { index: meta.index, term: meta.term, conf: copyConf(meta.conf) };
}
