import type { Storage } from './storage.js';
import type { Logger, NodeId, Rng } from './types.js';

/**
 * Configuration of one Raft node. Times are in ticks (the application decides how long a tick
 * is); sizes in bytes. Validated once by `RawNode`'s constructor (`TypeError` on nonsense).
 */
export interface RaftConfig {
  /** This node's id: a positive integer, unique in the cluster. */
  readonly id: NodeId;
  /** The synchronous read-only view of durable state. */
  readonly storage: Storage;
  /** The only source of randomness (election timeout jitter). */
  readonly rng: Rng;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is
   * drawn uniformly from `[electionTick, 2 * electionTick)` each time. Default 10. Must exceed
   * `heartbeatTick`.
   */
  readonly electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  readonly heartbeatTick?: number;
  /** Run a PreVote round before a real election (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Most bytes of entries in one append message (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Most append messages in flight to one follower in replicate state. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Most bytes of entries in flight to one follower; 0 means no byte limit. Default 32 MiB. */
  readonly maxInflightBytes?: number;
  /**
   * Most bytes of client proposals a leader holds uncommitted (appended in its term, beyond the
   * commit index), counted with `entrySize` (payload plus 24 bytes of framing); past it `propose`
   * refuses with `uncommittedLimit` until the commit index catches up. The new leader's no-op and
   * membership changes do not count, and a proposal is always accepted when nothing counts yet,
   * so one entry larger than the limit still goes through (etcd's `MaxUncommittedEntriesSize`).
   * 0 means no limit. Default 64 MiB.
   */
  readonly maxUncommittedBytes?: number;
  /** Most bytes of committed entries handed out in one Ready. Default 8 MiB. */
  readonly maxCommittedSizePerReady?: number;
  /** A learner is promoted only when its match index is within this many entries of the commit index. Default 1000. */
  readonly promotionLagMax?: number;
  /** The index the application has applied (from durable state) when the node restarts. Default 0. */
  readonly applied?: number;
  readonly logger?: Logger;
}
