import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/** Why a storage read could not be answered. Stable codes; messages may change. */
export type StorageErrorCode =
  /** The requested index is at or below the snapshot: those entries were compacted away. */
  | 'COMPACTED'
  /** The requested index is beyond the last stored entry. */
  | 'UNAVAILABLE'
  /** The snapshot is being produced; ask again later. */
  | 'SNAPSHOT_TEMPORARILY_UNAVAILABLE';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The storage port the core reads: synchronous and read-only for the core (etcd's `Storage`).
 * In the server it is an in-memory view of the durable log, rebuilt from LevelDB at start-up
 * and updated by the server while it handles each `Ready`; the core never writes to it.
 *
 * Index space: entries `(snapshot.index, lastIndex]` are available; `term(snapshot.index)` is
 * the snapshot's term; `firstIndex() === snapshot.index + 1`.
 */
export interface Storage {
  /** Hard state and the membership of the snapshot (the base before any log entries). */
  initialState(): { hardState: HardState; conf: ConfState };
  /**
   * Entries in `[lo, hi)`, at least one if any is in range, then as many as fit in `maxBytes`.
   * Throws `StorageError('COMPACTED')` if `lo <= snapshot index`, `'UNAVAILABLE'` if `hi > lastIndex + 1`.
   */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of entry `i`, for `i` in `[firstIndex() - 1, lastIndex()]`; throws `StorageError` otherwise. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot. May throw `StorageError('SNAPSHOT_TEMPORARILY_UNAVAILABLE')`. */
  snapshot(): Snapshot;
}
