/**
 * Durable storage of a Keel node: the LevelDB-backed `NodeStore` (Raft log, hard state, applied
 * index, membership, user data, sessions, snapshots) and the snapshot wire format.
 */
export { NodeStore } from './node-store.js';
export type { OpenStoreOptions, ScanRange, SnapshotStream, ApplyResult, SnapshotInstall } from './node-store.js';
export { StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { SNAPSHOT_CHUNK_BYTES_MIN } from './snapshot-format.js';
export { DATA_DIR_LOCK_FILE, isProcessAlive, readDataDirLock } from './data-dir-lock.js';
export type { DataDirLock, DataDirLockState } from './data-dir-lock.js';
