import { Inflights } from './inflights.js';
import type { ProgressState, ProgressStatus } from './types.js';

/**
 * The leader's view of one follower (etcd's `tracker.Progress`).
 *
 * - `probe`: the leader does not know where the follower's log matches; it sends at most one
 *   append per heartbeat interval and waits for the answer.
 * - `replicate`: the follower is in step; appends are pipelined, bounded by `inflights`.
 * - `snapshot`: the follower needs a snapshot; nothing else is sent until it is reported.
 *
 * Invariants: `match < next`; `pendingSnapshot > 0` only in `snapshot` state.
 */
export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In `snapshot` state, the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from the follower since the last CheckQuorum round. */
  recentActive = false;
  /** No more appends until an answer arrives (probe: one in flight; replicate: inflights full). */
  msgAppFlowPaused = false;
  /** Highest commit index sent to the follower. */
  sentCommit = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflightMsgs: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * An append of `count` entries ending at `lastIndex` (totalling `bytes`) was sent.
   * In replicate state the leader optimistically moves `next` past it.
   */
  sentEntries(count: number, bytes: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      if (count > 0) this.msgAppFlowPaused = true;
    }
  }

  /** The follower acknowledged `index`. Returns false when the acknowledgement is stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`; `matchHint` is the highest index that may
   * match. Returns false when the rejection is stale (answers an older append).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.isStaleRejection(rejected)) return false;
    if (this.state === 'replicate') {
      this.next = this.match + 1;
      return true;
    }
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * A rejection of an append at `rejected` answers an older append (or was duplicated): in
   * replicate state it is at or below `match`, otherwise it is not the probe outstanding.
   */
  isStaleRejection(rejected: number): boolean {
    return this.state === 'replicate' ? rejected <= this.match : this.next - 1 !== rejected;
  }

  isPaused(): boolean {
    return this.state === 'snapshot' ? true : this.msgAppFlowPaused;
  }

  toStatus(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      inflightMsgs: this.inflights.count,
      isLearner: this.isLearner,
    };
  }
}
