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
 * driver feeds it apply results and ticks. Invariant: every proposal is settled exactly once
 * (applied, failed or expired).
 *
 * One index can hold proposals of several terms: when this node's entry (i, t1) is truncated and
 * it later proposes again at i in term t2, the (i, t1) entry may survive on other nodes and still
 * commit (Raft §5.4.2, Figure 8), so reusing the slot decides nothing. Only the entry that applies
 * at i decides: the proposal of its term succeeded, every other one definitely did not (§5.4.3).
 */
export class ProposalTracker<R> {
  /** Proposals per index, in increasing term order. */
  private readonly byIndex = new Map<number, Array<PendingProposal<R>>>();
  private count = 0;
  private totalBytes = 0;

  get size(): number {
    return this.count;
  }

  /** Payload bytes of all pending proposals. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Track `proposal`. Proposing an index twice in one term (or in an older term than a tracked one) is a bug. */
  add(proposal: PendingProposal<R>): void {
    const list = this.byIndex.get(proposal.index);
    const newest = list?.[list.length - 1];
    if (newest !== undefined && newest.term >= proposal.term) {
      throw new Error(`ProposalTracker: index ${proposal.index} proposed twice in term ${proposal.term} (tracked term ${newest.term})`);
    }
    if (list === undefined) this.byIndex.set(proposal.index, [proposal]);
    else list.push(proposal);
    this.count++;
    this.totalBytes += proposal.bytes;
  }

  /**
   * The entry at `index` applied with `term`: settle the proposals waiting there, if any. The one
   * proposed in `term` succeeded; `lost` builds the error for the others (their entry was replaced
   * by another term's entry: definitely not applied).
   */
  applied(index: number, term: number, result: R, lost: (p: PendingProposal<R>) => KeelError): void {
    for (const p of this.take(index)) {
      if (p.term === term) p.onApplied(result);
      else p.onFailed(lost(p));
    }
  }

  /** Fail every proposal at or below `index` (a snapshot replaced those entries: outcome unknown). */
  failThrough(index: number, error: (p: PendingProposal<R>) => KeelError): void {
    for (const i of [...this.byIndex.keys()]) {
      if (i > index) continue;
      for (const p of this.take(i)) p.onFailed(error(p));
    }
  }

  /** Bring every deadline forward to at most `tick` (used when this node loses leadership). */
  capDeadlines(tick: number): void {
    for (const list of this.byIndex.values()) for (const p of list) p.deadlineTick = Math.min(p.deadlineTick, tick);
  }

  /** Fail proposals whose deadline has passed. */
  expire(nowTick: number, error: (p: PendingProposal<R>) => KeelError): void {
    const expired: Array<PendingProposal<R>> = [];
    for (const [i, list] of this.byIndex) {
      const alive = list.filter((p) => p.deadlineTick > nowTick);
      if (alive.length === list.length) continue;
      for (const p of list) if (p.deadlineTick <= nowTick) expired.push(p);
      if (alive.length === 0) this.byIndex.delete(i);
      else this.byIndex.set(i, alive);
    }
    for (const p of expired) {
      this.count--;
      this.totalBytes -= p.bytes;
      p.onFailed(error(p));
    }
  }

  failAll(error: (p: PendingProposal<R>) => KeelError): void {
    const all = [...this.byIndex.values()].flat();
    this.byIndex.clear();
    this.count = 0;
    this.totalBytes = 0;
    for (const p of all) p.onFailed(error(p));
  }

  private take(index: number): ReadonlyArray<PendingProposal<R>> {
    const list = this.byIndex.get(index);
    if (list === undefined) return [];
    this.byIndex.delete(index);
    this.count -= list.length;
    for (const p of list) this.totalBytes -= p.bytes;
    return list;
  }
}
