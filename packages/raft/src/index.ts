/**
 * @keel/raft — a pure Raft consensus core, modelled on the contract of etcd's raft library.
 * No I/O, no timers, no ambient randomness: time arrives as `tick()`, randomness from an
 * injected `Rng`, and all work leaves through `ready()`.
 */
export type * from './types.js';
export { NONE } from './types.js';
export type { Storage, StorageErrorCode } from './storage.js';
export { StorageError } from './storage.js';
export { MemoryStorage, entrySize } from './memory-storage.js';
export { SeededRng } from './rng.js';
export type { RaftConfig } from './config.js';
export { RawNode } from './raw-node.js';
