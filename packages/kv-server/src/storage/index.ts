/**
 * Durable storage of a Keel node: the log store (Raft log, hard state, snapshot meta) and the
 * state store (user data, sessions, applied index, membership, snapshots) over one
 * abstract-level database, and the snapshot wire format.
 */
export { openLevelStores, openNodeStores, persistReady } from './node-stores.js';
export type { NodeStores, OpenStoresOptions } from './node-stores.js';
export { LogStore } from './log-store.js';
export type { LogWrite } from './log-store.js';
export { PackedLog } from './packed-log.js';
export { StateStore } from './state-store.js';
export type { ScanRange, SnapshotStream, ApplyResult, SnapshotInstall } from './state-store.js';
export { levelDisk, batchInto, sublevelOf } from './layout.js';
export type { BatchOp, Db, Disk, RangeOptions } from './layout.js';
export { StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { SNAPSHOT_CHUNK_BYTES_MIN } from './snapshot-format.js';
export { DATA_DIR_LOCK_FILE, isProcessAlive, readDataDirLock } from './data-dir-lock.js';
export type { DataDirLock, DataDirLockState } from './data-dir-lock.js';
export { restoreBackup } from './restore.js';
export type { RestoreOptions } from './restore.js';
