import type { NodeId } from './types.js';

/** One ReadIndex request being confirmed by a heartbeat round (thesis §6.4). */
export interface PendingRead {
  /** The heartbeat context that confirms this request: unique per (from, requestId). */
  readonly context: string;
  readonly requestId: string;
  /** The leader's commit index when the request arrived: the read index. */
  readonly index: number;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  readonly from: NodeId;
  /** Members that acknowledged a heartbeat carrying `requestId`. */
  readonly acks: Set<NodeId>;
}

/**
 * The leader's ReadIndex requests awaiting leadership confirmation (etcd's `readOnly`).
 * Requests are confirmed in arrival order: a quorum acknowledging a later request's heartbeat
 * also confirms every earlier one.
 */
export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private readonly queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /**
   * Start confirming a request; returns the heartbeat context for it, or undefined for a
   * duplicate (the same requester reusing a pending id). Ids of different requesters never clash.
   */
  add(requestId: string, index: number, from: NodeId): string | undefined {
    const context = `${from}:${requestId}`;
    if (this.pending.has(context)) return undefined;
    this.pending.set(context, { context, requestId, index, from, acks: new Set() });
    this.queue.push(context);
    return context;
  }

  /** Record `from`'s acknowledgement of `context`; returns the request's acks, or undefined if unknown. */
  recvAck(from: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const req = this.pending.get(context);
    if (req === undefined) return undefined;
    req.acks.add(from);
    return req.acks;
  }

  /** The most recent pending context: a heartbeat carrying it confirms every pending read. */
  latest(): string | undefined {
    return this.queue[this.queue.length - 1];
  }

  /** Remove and return every request up to and including `context`, oldest first. */
  advance(context: string): PendingRead[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    return done.map((ctx) => {
      const req = this.pending.get(ctx)!;
      this.pending.delete(ctx);
      return req;
    });
  }

  /** Remove and return every pending request (leadership lost). */
  drain(): PendingRead[] {
    const all = this.queue.map((ctx) => this.pending.get(ctx)!);
    this.queue.length = 0;
    this.pending.clear();
    return all;
  }
}

/**
 * Reads a follower forwarded to its leader (thesis §6.4.1), awaiting the `readIndexResp`.
 * A request unanswered for `expiryTicks` is presumed lost, so the set stays bounded.
 */
export class ForwardedReads {
  /** request id -> the leader asked and the tick it was asked at. Insertion order is age order. */
  private readonly pending = new Map<string, { leader: NodeId; at: number }>();
  private now = 0;

  constructor(private readonly expiryTicks: number) {}

  add(requestId: string, leader: NodeId): void {
    this.pending.delete(requestId);
    this.pending.set(requestId, { leader, at: this.now });
  }

  /** Take the request answered by `leader`; false if unknown (expired, failed, or not asked of `leader`). */
  take(requestId: string, leader: NodeId): boolean {
    if (this.pending.get(requestId)?.leader !== leader) return false;
    this.pending.delete(requestId);
    return true;
  }

  /** Advance time by one tick; returns the ids that expired. */
  tick(): string[] {
    this.now++;
    const expired: string[] = [];
    for (const [requestId, f] of this.pending) {
      if (this.now - f.at < this.expiryTicks) break;
      this.pending.delete(requestId);
      expired.push(requestId);
    }
    return expired;
  }

  /** Remove and return every pending id (the leader is gone). */
  drain(): string[] {
    const ids = [...this.pending.keys()];
    this.pending.clear();
    return ids;
  }
}
