/**
 * The watches a node serves, from the state it has applied: the state store tells the hub about
 * every applied batch (and about snapshots swapped in), and the hub hands the batch's history to
 * every live watcher (watcher.ts). One hub per node; client connections open watches through it.
 *
 * What a watch's start means on a node: `fromRevision` absent starts after this node's applied
 * index; a revision beyond it waits until the node applies that far. A follower behind the leader
 * thus delivers later, but never out of order and never with a gap.
 *
 * A node cut off from the cluster serves no watch (leader-loss.ts): the node ticks the hub, and
 * once the node has known no leader for `noLeaderTicks` ticks the hub ends every watch with
 * UNAVAILABLE and refuses new ones with it, until a leader is known again. The cost is per tick,
 * not per event.
 */
import type { ClientRequest, KeelError } from '@keel/protocol';
import { NONE, type Logger, type NodeId } from '@keel/raft';
import { decodeHistoryRecord, type HistoryEvent } from '../state-machine/history.js';
import type { HistoryListener } from '../storage/state-store.js';
import { asKeelError } from '../transport/errors.js';
import { LeaderLoss } from './leader-loss.js';
import { noLeaderError } from './watch-errors.js';
import { Watcher, type WatchSink, type WatchSource } from './watcher.js';
import { watchRange } from './watch-range.js';

/** What the hub knows of its node's leadership. */
export interface WatchHubLeadership {
  /** The node's leader now (`NONE`: none known). */
  leader(): NodeId;
  /** Length of the node's tick in ms. */
  readonly tickMs: number;
  /** Ticks without a leader after which the node serves no watch (the node's election timeout). */
  readonly noLeaderTicks: number;
}

export class WatchHub implements HistoryListener {
  private readonly watchers = new Set<Watcher>();
  private readonly leaderLoss: LeaderLoss;

  constructor(
    private readonly source: WatchSource & { setHistoryListener(listener: HistoryListener | undefined): void },
    private readonly logger: Logger,
    private readonly leadership: WatchHubLeadership,
  ) {
    this.leaderLoss = new LeaderLoss(leadership.noLeaderTicks);
    source.setHistoryListener(this);
  }

  /** Watches open now. */
  get size(): number {
    return this.watchers.size;
  }

  /** Open the watch `request` asks for, sending its frames to `sink`; it runs until `end()` or an error. */
  open(request: Extract<ClientRequest, { op: 'watch' }>, sink: WatchSink): Watcher {
    const from = request.fromRevision ?? this.source.appliedIndex() + 1;
    const watcher = new Watcher({ id: request.id, range: watchRange(request), from, prevKv: request.prevKv === true }, this.source, sink, (w) =>
      this.watchers.delete(w),
    );
    // The count moves on ticks only: a leader found since the last one serves the watch at once.
    if (this.leaderLoss.cutOff && this.leadership.leader() === NONE) {
      watcher.end(this.noLeader());
      return watcher;
    }
    this.watchers.add(watcher);
    watcher.start();
    return watcher;
  }

  /**
   * One tick of the node's logical time. While the node is cut off, every tick ends the watches
   * open (only a watch opened at a moment a leader was known, between two ticks, can be).
   */
  tick(): void {
    if (!this.leaderLoss.tick(this.leadership.leader()) || this.watchers.size === 0) return;
    this.logger.log('warn', 'watch.no_leader', { watches: this.watchers.size, leaderlessMs: this.leaderlessMs() });
    this.endAll(this.noLeader());
  }

  private noLeader(): KeelError {
    return noLeaderError(this.leaderlessMs());
  }

  private leaderlessMs(): number {
    return this.leaderLoss.limitTicks * this.leadership.tickMs;
  }

  applied(rows: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, applied: number): void {
    if (this.watchers.size === 0) return;
    let events: HistoryEvent[];
    try {
      // The records share their batch's chunks (WriteSet): events that wait in a watcher's queue
      // must not keep a whole chunk alive each, so they are decoded from copies.
      events = rows.map(([k, v]) => decodeHistoryRecord(k, v.slice()));
    } catch (error) {
      this.logger.log('error', 'watch.history.undecodable', { applied, error: String(error) });
      for (const w of [...this.watchers]) w.end(asKeelError(error, 'watch'));
      return;
    }
    for (const w of [...this.watchers]) w.offer(events, applied);
  }

  replaced(applied: number): void {
    for (const w of [...this.watchers]) w.replaced(applied);
  }

  /** End every watch (the listener stays: the store outlives the client port only briefly). */
  endAll(error: Parameters<Watcher['end']>[0]): void {
    for (const w of [...this.watchers]) w.end(error);
  }
}
