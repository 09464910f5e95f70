/**
 * @keel/raft — a pure Raft consensus core, modelled on the contract of etcd's raft library.
 * No I/O, no timers, no ambient randomness: time arrives as `tick()`, randomness from an
 * injected `Rng`, and all work leaves through `ready()`.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
 * const node = new RawNode({ id: 1, storage, rng: new SeededRng(42) });
 * node.tick();
 * if (node.hasReady()) {
 *   const rd = node.ready();
 *   // 1. send rd.messages (at once)  2. install rd.snapshot, persist rd.entries + rd.hardState
 *   // 3. then send rd.messagesAfterPersist  4. apply rd.committedEntries  5. serve rd.readStates
 *   node.advance(rd); // now the node counts its own write (see `Ready`)
 * }
 * ```
 */
export type * from './types.js';
export { NONE } from './types.js';
export type { Storage, StorageErrorCode } from './storage.js';
export { StorageError } from './storage.js';
export { MemoryStorage, entrySize } from './memory-storage.js';
export { LogWindow, copyConf, copyMeta } from './log-window.js';
export { SeededRng } from './rng.js';
export type { RaftConfig } from './config.js';
export { CONFIG_DEFAULTS, resolveConfig, type ResolvedConfig } from './resolved-config.js';
export { RawNode } from './raw-node.js';
export { Raft, type SnapshotAction } from './raft.js';
export { describeConf, describeEntry, describeHardState, describeMessage, describeReady, describeSoftState } from './describe.js';
export { majorityCommitIndex, majorityVoteResult, type VoteResult } from './quorum.js';
export { applyConfChange } from './conf-change.js';
