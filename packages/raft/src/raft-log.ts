import { entrySize } from './memory-storage.js';
import { StorageError, type Storage } from './storage.js';
import type { Entry, Snapshot } from './types.js';
import { Unstable } from './unstable.js';

/**
 * A node's view of its log: stable entries in `Storage` followed by `Unstable` ones
 * (etcd's `raftLog`).
 *
 * Invariants: `applied <= applying <= committed <= lastIndex()`;
 * `firstIndex() - 1 <= applied` (compacted entries were applied).
 */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed out to the application in a Ready. */
  applying: number;
  /** Highest index the application reported applied (via `advance`). */
  applied: number;

  constructor(readonly storage: Storage) {
    const first = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry `i`, or `undefined` if it is compacted or beyond the log. */
  term(i: number): number | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof StorageError) return undefined;
      throw err;
    }
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new Error(`RaftLog: no term for last index ${this.lastIndex()}`);
    return t;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** §5.4.1: a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Index of the first entry of `ents` whose term differs from ours (or that we lack), or 0 if
   * all are present with matching terms.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last index `<= index` whose term is `<= term`, with that term (fast back-off). When the
   * term is unknown (compacted) the index is returned with term 0.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * AppendEntries consistency check and append (§5.3). Returns the index of the last new
   * entry; `'mismatch'` if the log does not contain (`prevIndex`, `prevTerm`); `'committedConflict'`
   * (and changes nothing) if the entries would overwrite a committed entry — a safety violation
   * by the sender that the caller reports.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    committed: number,
    ents: readonly Entry[],
  ): number | 'mismatch' | 'committedConflict' {
    if (!this.matchTerm(prevIndex, prevTerm)) return 'mismatch';
    const lastNew = prevIndex + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) return 'committedConflict';
      this.append(ents.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Append entries (truncating any at or after the first). Returns the new last index. */
  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    if (first.index - 1 < this.committed) {
      throw new Error(`RaftLog.append: index ${first.index} would truncate committed ${this.committed}`);
    }
    if (first.index > this.lastIndex() + 1) {
      throw new Error(`RaftLog.append: gap after ${this.lastIndex()} (first ${first.index})`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Entries from `lo` to the end, as many as fit in `maxBytes` (at least one). */
  entries(lo: number, maxBytes: number): Entry[] {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  /**
   * Entries in `[lo, hi)`: at least one if the range is not empty, then as many as fit in
   * `maxBytes`. Throws `StorageError('COMPACTED')` if `lo` is compacted.
   */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo > hi) throw new Error(`RaftLog.slice: invalid range [${lo}, ${hi})`);
    if (lo < this.firstIndex()) throw new StorageError('COMPACTED', `slice(${lo}): first index is ${this.firstIndex()}`);
    if (hi > this.lastIndex() + 1) throw new StorageError('UNAVAILABLE', `slice(${hi}): last index is ${this.lastIndex()}`);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    let out: Entry[] = [];
    let bytes = 0;
    if (lo < offset) {
      const stableHi = Math.min(hi, offset);
      out = this.storage.entries(lo, stableHi, maxBytes);
      if (out.length < stableHi - lo) return out;
      for (const e of out) bytes += entrySize(e);
    }
    if (hi > offset) {
      for (const e of this.unstable.slice(Math.max(lo, offset), hi)) {
        bytes += entrySize(e);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }

  /** Committed entries not yet handed out, up to `maxBytes` (none while a snapshot is pending). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.unstable.snapshot !== undefined) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    return Math.max(this.applying + 1, this.firstIndex()) <= this.committed;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(`RaftLog.commitTo(${index}) beyond last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** The application was handed entries up to `index`. */
  acceptApplying(index: number): void {
    this.applying = Math.max(this.applying, index);
  }

  /** The application applied entries up to `index`. */
  appliedTo(index: number): void {
    if (index > this.committed) throw new Error(`RaftLog.appliedTo(${index}) beyond committed ${this.committed}`);
    this.applied = Math.max(this.applied, index);
    this.applying = Math.max(this.applying, this.applied);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** Replace the whole log with `snapshot` (it is pending until the application installs it). */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.applying = snapshot.meta.index;
    this.applied = snapshot.meta.index;
    this.unstable.restore(snapshot);
  }

  /** The snapshot to send to a follower: the pending one, else the stored one. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
}
