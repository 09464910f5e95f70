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
 * Proposals waiting for apply, in log order. Pure bookkeeping (no timers, no I/O): the driver
 * feeds it apply results and ticks. Invariant: every proposal is settled exactly once (applied,
 * failed or expired).
 *
 * One index can hold proposals of several terms: when this node's entry (i, t1) is truncated and
 * it later proposes again at i in term t2, the (i, t1) entry may survive on other nodes and still
 * commit (Raft §5.4.2, Figure 8), so reusing the slot decides nothing. Only the entry that applies
 * at i decides: the proposal of its term succeeded, every other one definitely did not (§5.4.3).
 *
 * The proposals are a queue sorted by (index, term) in an array read from `head` (entries apply in
 * index order, so they leave at the front; a new proposal goes to the back but for the rare
 * reused index). Not a Map from index: one in old space whose keys come and go rehashes its table
 * every few dozen writes, and each table it leaves behind keeps the proposals it held (with their
 * requests and promises) alive until the next full collection — on the leader, most of what the
 * scavenges promoted.
 */
export class ProposalTracker<R> {
  /** Pending proposals at `queue[head..]`, in increasing (index, term) order; slots before `head` are empty. */
  private queue: Array<PendingProposal<R> | undefined> = [];
  private head = 0;
  private totalBytes = 0;

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Payload bytes of all pending proposals. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Track `proposal`. Proposing an index twice in one term (or in an older term than a tracked one) is a bug. */
  add(proposal: PendingProposal<R>): void {
    const queue = this.queue;
    // After the last proposal with a lower index, and after those at the same index (older terms).
    let at = queue.length;
    while (at > this.head && queue[at - 1]!.index > proposal.index) at--;
    const newest = at > this.head ? queue[at - 1]! : undefined;
    if (newest !== undefined && newest.index === proposal.index && newest.term >= proposal.term) {
      throw new Error(`ProposalTracker: index ${proposal.index} proposed twice in term ${proposal.term} (tracked term ${newest.term})`);
    }
    if (at === queue.length) queue.push(proposal);
    else queue.splice(at, 0, proposal);
    this.totalBytes += proposal.bytes;
  }

  /**
   * The entry at `index` applied with `term`: settle the proposals waiting there, if any. The one
   * proposed in `term` succeeded; `lost` builds the error for the others (their entry was replaced
   * by another term's entry: definitely not applied).
   */
  applied(index: number, term: number, result: R, lost: (p: PendingProposal<R>) => KeelError): void {
    const queue = this.queue;
    let from = this.head;
    while (from < queue.length && queue[from]!.index < index) from++;
    let to = from;
    while (to < queue.length && queue[to]!.index === index) to++;
    if (to === from) return;
    for (const p of this.take(from, to)) {
      if (p.term === term) p.onApplied(result);
      else p.onFailed(lost(p));
    }
  }

  /** Fail every proposal at or below `index` (a snapshot replaced those entries: outcome unknown). */
  failThrough(index: number, error: (p: PendingProposal<R>) => KeelError): void {
    let to = this.head;
    while (to < this.queue.length && this.queue[to]!.index <= index) to++;
    for (const p of this.take(this.head, to)) p.onFailed(error(p));
  }

  /** Bring every deadline forward to at most `tick` (used when this node loses leadership). */
  capDeadlines(tick: number): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const p = this.queue[i]!;
      p.deadlineTick = Math.min(p.deadlineTick, tick);
    }
  }

  /** Fail proposals whose deadline has passed. */
  expire(nowTick: number, error: (p: PendingProposal<R>) => KeelError): void {
    const queue = this.queue;
    let i = this.head;
    while (i < queue.length && queue[i]!.deadlineTick > nowTick) i++;
    if (i === queue.length) return;
    const expired: Array<PendingProposal<R>> = [];
    const alive: Array<PendingProposal<R> | undefined> = queue.slice(this.head, i);
    for (; i < queue.length; i++) {
      const p = queue[i]!;
      if (p.deadlineTick > nowTick) alive.push(p);
      else expired.push(p);
    }
    this.queue = alive;
    this.head = 0;
    for (const p of expired) {
      this.totalBytes -= p.bytes;
      p.onFailed(error(p));
    }
  }

  failAll(error: (p: PendingProposal<R>) => KeelError): void {
    for (const p of this.take(this.head, this.queue.length)) p.onFailed(error(p));
  }

  /** Take the proposals at `queue[from..to)` out of the tracker (before any of them is settled). */
  private take(from: number, to: number): Array<PendingProposal<R>> {
    const queue = this.queue;
    let taken: Array<PendingProposal<R>>;
    if (from === this.head) {
      taken = queue.slice(from, to) as Array<PendingProposal<R>>;
      queue.fill(undefined, from, to);
      this.head = to;
      if (to === queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (to >= 1024 && to * 2 >= queue.length) {
        // Drop the consumed front once it is most of the array (amortized O(1)).
        this.queue = queue.slice(to);
        this.head = 0;
      }
    } else {
      taken = queue.splice(from, to - from) as Array<PendingProposal<R>>;
    }
    for (const p of taken) this.totalBytes -= p.bytes;
    return taken;
  }
}
