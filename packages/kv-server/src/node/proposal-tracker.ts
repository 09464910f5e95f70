import type { KeelError } from '@keel/protocol';

/**
 * A proposal the core accepted at `(index, term)`, waiting to learn its fate. It committed if and
 * only if the entry later applied at `index` has `term` (see `ProposeResult`).
 */
export interface PendingProposal<R> {
  readonly index: number;
  readonly term: number;
  /** Size of the proposed entry's payload, for the node's byte bound. */
  readonly bytes: number;
  /** Tick count after which the caller is answered TIMEOUT. */
  deadlineTick: number;
  /** Called with the apply result when the entry at `index` applied with `term`. */
  readonly onApplied: (result: R) => void;
  readonly onFailed: (error: KeelError) => void;
}

/**
 * Proposals waiting for apply, keyed by log index. Pure bookkeeping (no timers, no I/O): the
 * driver feeds it apply results and ticks. Invariant: at most one pending proposal per index,
 * and every proposal is settled exactly once (applied, failed or expired).
 */
export class ProposalTracker<R> {
  private readonly byIndex = new Map<number, PendingProposal<R>>();
  private totalBytes = 0;

  get size(): number {
    return this.byIndex.size;
  }

  /** Payload bytes of all pending proposals. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Track `proposal`; a proposal it displaces at the same index (older term) fails with `displaced`. */
  add(proposal: PendingProposal<R>, displaced: (p: PendingProposal<R>) => KeelError): void {
    const previous = this.byIndex.get(proposal.index);
    if (previous !== undefined) {
      // The log was truncated and the index reused by a newer term: the older proposal lost.
      if (previous.term >= proposal.term) {
        throw new Error(`ProposalTracker: index ${proposal.index} proposed twice in term ${proposal.term}`);
      }
      this.take(proposal.index);
      previous.onFailed(displaced(previous));
    }
    this.byIndex.set(proposal.index, proposal);
    this.totalBytes += proposal.bytes;
  }

  /**
   * The entry at `index` applied with `term`: settle the proposal waiting there, if any.
   * `lost` builds the error for a proposal whose entry was replaced by another term's entry
   * (definitely not applied).
   */
  applied(index: number, term: number, result: R, lost: (p: PendingProposal<R>) => KeelError): void {
    const p = this.take(index);
    if (p === undefined) return;
    if (p.term === term) p.onApplied(result);
    else p.onFailed(lost(p));
  }

  /** Fail every proposal at or below `index` (a snapshot replaced those entries: outcome unknown). */
  failThrough(index: number, error: (p: PendingProposal<R>) => KeelError): void {
    for (const [i, p] of this.byIndex) {
      if (i > index) continue;
      this.take(i);
      p.onFailed(error(p));
    }
  }

  /** Bring every deadline forward to at most `tick` (used when this node loses leadership). */
  capDeadlines(tick: number): void {
    for (const p of this.byIndex.values()) p.deadlineTick = Math.min(p.deadlineTick, tick);
  }

  /** Fail proposals whose deadline has passed. */
  expire(nowTick: number, error: (p: PendingProposal<R>) => KeelError): void {
    for (const [i, p] of this.byIndex) {
      if (p.deadlineTick > nowTick) continue;
      this.take(i);
      p.onFailed(error(p));
    }
  }

  failAll(error: (p: PendingProposal<R>) => KeelError): void {
    const all = [...this.byIndex.values()];
    this.byIndex.clear();
    this.totalBytes = 0;
    for (const p of all) p.onFailed(error(p));
  }

  private take(index: number): PendingProposal<R> | undefined {
    const p = this.byIndex.get(index);
    if (p === undefined) return undefined;
    this.byIndex.delete(index);
    this.totalBytes -= p.bytes;
    return p;
  }
}
