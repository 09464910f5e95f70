import type { RaftConfig } from './config.js';
import type {
  ConfChange,
  Message,
  NodeId,
  ProposeResult,
  Ready,
  Status,
  TransferResult,
} from './types.js';

/**
 * The application's handle on one Raft node (etcd's `RawNode`). Single-threaded and
 * synchronous: every input returns at once; work comes out through `ready()`.
 *
 * SKELETON: the contract below is fixed; the implementation is being written.
 */
export class RawNode {
  constructor(config: RaftConfig) {
    void config;
    throw new Error('RawNode: not implemented yet');
  }

  /** Advance logical time by one tick (election and heartbeat timers). */
  tick(): void {}

  /** Feed a message from a peer. Messages not addressed to this node, or malformed, are dropped (never thrown). */
  step(message: Message): void {
    void message;
  }

  /** Start an election now (PreVote first if enabled). No-op for a node that may not vote. */
  campaign(): void {}

  /** Append `data` to the log if this node is the leader. Never throws for a non-leader: see the result. */
  propose(data: Uint8Array): ProposeResult {
    void data;
    throw new Error('not implemented');
  }

  /** Propose one membership change (single-server, one at a time, after committing in this term). */
  proposeConfChange(change: ConfChange): ProposeResult {
    void change;
    throw new Error('not implemented');
  }

  /**
   * Ask for a linearizable read index. The answer comes in a later Ready as a `ReadState` or a
   * `RejectedRead` carrying the same `requestId`. Request ids must be unique for the node's life.
   */
  readIndex(requestId: string): void {
    void requestId;
  }

  /** Hand leadership to `to` (leader only): catch it up, then send TimeoutNow. */
  transferLeadership(to: NodeId): TransferResult {
    void to;
    throw new Error('not implemented');
  }

  /** The transport could not reach `id`: the leader falls back to probing it. */
  reportUnreachable(id: NodeId): void {
    void id;
  }

  /** The application finished (or failed) streaming a snapshot to `id`. */
  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void {
    void id;
    void status;
  }

  hasReady(): boolean {
    return false;
  }

  /** The next batch of work. Call `advance(ready)` once it is handled (see `Ready`). */
  ready(): Ready {
    throw new Error('not implemented');
  }

  advance(ready: Ready): void {
    void ready;
  }

  status(): Status {
    throw new Error('not implemented');
  }
}
