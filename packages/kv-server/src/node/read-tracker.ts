import type { KeelError } from '@keel/protocol';

/** A linearizable read waiting for its read index and then for the state machine to reach it. */
export interface PendingRead {
  deadlineTick: number;
  /** Run the read against the store and answer the caller (the index is safe to read). */
  readonly serve: () => void;
  readonly onFailed: (error: KeelError) => void;
}

/**
 * Linearizable reads in three stages: `queued` (not yet asked for), `asked` (one ReadIndex
 * request per batch, keyed by request id), `ready` (read index known, waiting for apply); plus
 * `deferred` (refused for a transient reason, asked again on the next tick).
 * Reads that arrive while a round is out share the next round (as etcd's server reads): one
 * round at a time, so under load each round carries every read that arrived during the one
 * before, and a cluster confirms leadership once per batch, not once per Ready. A round
 * unanswered for `patienceTicks` (a message lost) no longer holds the next one back. A read
 * never joins a round that was asked for before it arrived (that index could predate a write it
 * must see).
 */
export class ReadTracker {
  private queued: PendingRead[] = [];
  private deferred: PendingRead[] = [];
  private readonly asked = new Map<string, { readonly reads: PendingRead[]; readonly tick: number }>();
  private ready: Array<{ readonly index: number; readonly reads: PendingRead[] }> = [];
  private count = 0;

  /** `patienceTicks`: how long an unanswered round holds back the next one. */
  constructor(private readonly patienceTicks: number) {}

  get size(): number {
    return this.count;
  }

  enqueue(read: PendingRead): void {
    this.queued.push(read);
    this.count++;
  }

  /** Take the queued reads as one batch under `requestId`, asked for at `nowTick`; false when nothing is queued. */
  takeBatch(requestId: string, nowTick: number): boolean {
    if (this.queued.length === 0) return false;
    this.asked.set(requestId, { reads: this.queued, tick: nowTick });
    this.queued = [];
    return true;
  }

  /** Reads are queued and no round younger than the patience is out: time to ask for the next. */
  shouldAsk(nowTick: number): boolean {
    if (this.queued.length === 0) return false;
    for (const round of this.asked.values()) if (nowTick - round.tick < this.patienceTicks) return false;
    return true;
  }

  /** The core answered `requestId` with a read index. */
  indexKnown(requestId: string, index: number): void {
    const round = this.asked.get(requestId);
    if (round === undefined) return;
    this.asked.delete(requestId);
    this.ready.push({ index, reads: round.reads });
  }

  /** The core will never answer `requestId`. */
  rejected(requestId: string, error: KeelError): void {
    const round = this.asked.get(requestId);
    if (round === undefined) return;
    this.asked.delete(requestId);
    this.count -= round.reads.length;
    for (const r of round.reads) r.onFailed(error);
  }

  /**
   * The core refused `requestId` for a transient reason (a new leader that has not committed in
   * its term yet): keep its reads and ask again at the next `retryDeferred()` (on the tick).
   */
  defer(requestId: string): void {
    const round = this.asked.get(requestId);
    if (round === undefined) return;
    this.asked.delete(requestId);
    this.deferred.push(...round.reads);
  }

  /** Move deferred reads back to the queue; true when there were any. */
  retryDeferred(): boolean {
    if (this.deferred.length === 0) return false;
    this.queued.push(...this.deferred);
    this.deferred = [];
    return true;
  }

  /** Serve every read whose index the state machine has reached. */
  serveThrough(applied: number): void {
    if (this.ready.length === 0) return;
    const keep: typeof this.ready = [];
    for (const batch of this.ready) {
      if (batch.index > applied) {
        keep.push(batch);
        continue;
      }
      this.count -= batch.reads.length;
      for (const r of batch.reads) r.serve();
    }
    this.ready = keep;
  }

  expire(nowTick: number, error: () => KeelError): void {
    const alive = (r: PendingRead): boolean => {
      if (r.deadlineTick > nowTick) return true;
      this.count--;
      r.onFailed(error());
      return false;
    };
    this.queued = this.queued.filter(alive);
    this.deferred = this.deferred.filter(alive);
    for (const [id, round] of this.asked) {
      const left = round.reads.filter(alive);
      if (left.length === 0) this.asked.delete(id);
      else this.asked.set(id, { reads: left, tick: round.tick });
    }
    this.ready = this.ready.map((b) => ({ index: b.index, reads: b.reads.filter(alive) })).filter((b) => b.reads.length > 0);
  }

  failAll(error: () => KeelError): void {
    const all = [
      ...this.queued,
      ...this.deferred,
      ...[...this.asked.values()].flatMap((round) => round.reads),
      ...this.ready.flatMap((b) => b.reads),
    ];
    this.queued = [];
    this.deferred = [];
    this.asked.clear();
    this.ready = [];
    this.count = 0;
    for (const r of all) r.onFailed(error());
  }
}
