/**
 * Failures of the node store. Stable codes; messages may improve. Programmer mistakes (calls out
 * of order, bad arguments) stay `TypeError`/`Error`.
 */
export type StoreErrorCode =
  /** Stored bytes are not what this version of Keel writes: the data directory is damaged. */
  | 'CORRUPTED'
  /** The store was closed. */
  | 'CLOSED'
  /** Another live process holds the data directory (its `keel.lock`, or LevelDB's lock). */
  | 'LOCKED'
  /** An earlier write failed; the in-memory view may be ahead of the disk. Restart the node. */
  | 'FAILED'
  /** A snapshot chunk is not valid (garbage, wrong order, missing header or trailer). */
  | 'MALFORMED_SNAPSHOT'
  /** A snapshot chunk belongs to another snapshot than the one being installed. */
  | 'SNAPSHOT_MISMATCH'
  /** The snapshot is not newer than what this node already has (applied or committed). */
  | 'SNAPSHOT_STALE'
  /** The install was aborted or replaced by a newer one. */
  | 'SNAPSHOT_ABORTED'
  /** persist() got a Ready snapshot that no completed install matches. */
  | 'SNAPSHOT_NOT_STAGED'
  /** A backup is restored into a new data directory only, and this one holds a node's data. */
  | 'NOT_EMPTY'
  /** History was asked for below the compaction point (`StateStore.readHistory`). */
  | 'COMPACTED';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
