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
 * Invariants, asserted after every transition (`check`, always on: a few comparisons):
 * - `0 <= match < next`: entries in `(match, next)` are in flight;
 * - `snapshot` state: `pendingSnapshot > 0`; any other state: `pendingSnapshot === 0`;
 * - `replicate` state: every append in flight ends in `(match, next)`; other states track none.
 */
export class Progress {
  /** Highest index known to be replicated on the follower. */
  private matchNow = 0;
  /** Index of the next entry to send. */
  private nextNow: number;
  private stateNow: ProgressState = 'probe';
  /** In `snapshot` state, the index of the snapshot being sent. */
  private pendingSnapshotNow = 0;
  /**
   * Highest commit index in flight to the follower. It may regress when `next` does (a probe, a
   * rejection): what was sent beyond the follower's log did not take effect.
   */
  private sentCommitNow = 0;
  /** Heard from the follower since the last CheckQuorum round. */
  recentActive = false;
  /** No more appends until an answer arrives (probe: one in flight; replicate: inflights full). */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflightMsgs: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.nextNow = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
    this.check('constructor');
  }

  get match(): number {
    return this.matchNow;
  }

  get next(): number {
    return this.nextNow;
  }

  get state(): ProgressState {
    return this.stateNow;
  }

  get pendingSnapshot(): number {
    return this.pendingSnapshotNow;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshotNow = 0;
    this.stateNow = state;
    this.inflights.reset();
  }

  /** Probe from `match + 1` (or, after a snapshot, from just past it). */
  becomeProbe(): void {
    if (this.stateNow === 'snapshot') {
      const pending = this.pendingSnapshotNow;
      this.resetState('probe');
      this.nextNow = Math.max(this.matchNow + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.nextNow = this.matchNow + 1;
    }
    this.sentCommitNow = Math.min(this.sentCommitNow, this.nextNow - 1);
    this.check('becomeProbe');
  }

  /** The snapshot transfer failed: probe from `match + 1`, as if it had never been sent. */
  snapshotFailed(): void {
    if (this.stateNow !== 'snapshot') return;
    this.resetState('probe');
    this.nextNow = this.matchNow + 1;
    this.sentCommitNow = Math.min(this.sentCommitNow, this.nextNow - 1);
    this.check('snapshotFailed');
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.nextNow = this.matchNow + 1;
    this.check('becomeReplicate');
  }

  /** A snapshot at `snapshotIndex` (above `match`) is being sent: the follower's log will continue after it. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshotNow = snapshotIndex;
    this.nextNow = snapshotIndex + 1;
    this.sentCommitNow = snapshotIndex;
    this.check('becomeSnapshot');
  }

  /**
   * An append of `count` entries ending at `lastIndex` (totalling `bytes`) was sent.
   * In replicate state the leader optimistically moves `next` past it.
   */
  sentEntries(count: number, bytes: number, lastIndex: number): void {
    if (this.stateNow === 'replicate') {
      if (count > 0) {
        this.nextNow = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.stateNow === 'probe') {
      if (count > 0) this.msgAppFlowPaused = true;
    } else {
      throw new Error(`invariant: append sent to a follower in ${this.stateNow} state`);
    }
    this.check('sentEntries');
  }

  /** A message carrying commit index `commit` was sent. */
  commitSent(commit: number): void {
    this.sentCommitNow = Math.max(this.sentCommitNow, commit);
  }

  /**
   * Could sending commit index `commit` move the follower's commit forward (etcd's
   * `CanBumpCommit`)? A follower commits at most up to the end of what it was sent, `next - 1`:
   * send again only if what is in flight does not already carry it that far.
   */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommitNow && this.sentCommitNow < this.nextNow - 1;
  }

  /**
   * The follower acknowledged `index`: `match` moves up and, in replicate state, the appends it
   * covers leave the inflights. Returns false when the acknowledgement is stale.
   */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.matchNow < index) {
      this.matchNow = index;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.nextNow = Math.max(this.nextNow, index + 1);
    if (this.stateNow === 'replicate') this.inflights.freeLE(this.matchNow);
    this.check('maybeUpdate');
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`; `matchHint` is the highest index that may
   * match. Returns false when the rejection is stale (answers an older append). A genuine
   * rejection in replicate state falls back to probing from `match + 1`.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.isStaleRejection(rejected)) return false;
    if (this.stateNow === 'replicate') {
      this.becomeProbe();
      return true;
    }
    this.nextNow = Math.max(Math.min(rejected, matchHint + 1), this.matchNow + 1);
    this.sentCommitNow = Math.min(this.sentCommitNow, this.nextNow - 1);
    this.msgAppFlowPaused = false;
    this.check('maybeDecrTo');
    return true;
  }

  /**
   * A rejection of an append at `rejected` answers an older append (or was duplicated): in
   * replicate state it is at or below `match`, otherwise it is not the probe outstanding.
   */
  isStaleRejection(rejected: number): boolean {
    return this.stateNow === 'replicate' ? rejected <= this.matchNow : this.nextNow - 1 !== rejected;
  }

  isPaused(): boolean {
    return this.stateNow === 'snapshot' ? true : this.msgAppFlowPaused;
  }

  toStatus(): ProgressStatus {
    return {
      match: this.matchNow,
      next: this.nextNow,
      state: this.stateNow,
      recentActive: this.recentActive,
      inflightMsgs: this.inflights.count,
      isLearner: this.isLearner,
    };
  }

  /** The invariants of the class doc; a failure is a bug in the core, never bad input. */
  private check(after: string): void {
    const { matchNow: match, nextNow: next, stateNow: state, pendingSnapshotNow: pending } = this;
    let problem: string | undefined;
    if (!(match >= 0 && match < next)) problem = 'match < next';
    else if (state === 'snapshot' ? pending <= 0 : pending !== 0) problem = 'pendingSnapshot > 0 exactly in snapshot state';
    else if (state !== 'replicate' && this.inflights.count > 0) problem = 'inflights only in replicate state';
    else if (state === 'replicate' && this.inflights.count > 0) {
      const oldest = this.inflights.oldest()!;
      const newest = this.inflights.newest()!;
      if (!(oldest > match && newest < next)) problem = `inflights [${oldest}, ${newest}] within (match, next)`;
    }
    if (problem !== undefined) {
      throw new Error(`invariant: Progress ${problem} broken after ${after}: ${state} match=${match} next=${next} pendingSnapshot=${pending}`);
    }
  }
}
