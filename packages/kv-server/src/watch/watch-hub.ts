/**
 * The watches a node serves, from the state it has applied: the state store tells the hub about
 * every applied batch (and about snapshots swapped in), and the hub hands the batch's history to
 * every live watcher (watcher.ts). One hub per node; client connections open watches through it.
 *
 * What a watch's start means on a node: `fromRevision` absent starts after this node's applied
 * index; a revision beyond it waits until the node applies that far. A follower behind the leader
 * thus delivers later, but never out of order and never with a gap.
 */
import type { ClientRequest } from '@keel/protocol';
import type { Logger } from '@keel/raft';
import { decodeHistoryRecord, type HistoryEvent } from '../state-machine/history.js';
import type { HistoryListener } from '../storage/state-store.js';
import { asKeelError } from '../transport/errors.js';
import { Watcher, type WatchSink, type WatchSource } from './watcher.js';
import { watchRange } from './watch-range.js';

export class WatchHub implements HistoryListener {
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly source: WatchSource & { setHistoryListener(listener: HistoryListener | undefined): void },
    private readonly logger: Logger,
  ) {
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
    this.watchers.add(watcher);
    watcher.start();
    return watcher;
  }

  applied(rows: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, applied: number): void {
    if (this.watchers.size === 0) return;
    let events: HistoryEvent[];
    try {
      events = rows.map(([k, v]) => decodeHistoryRecord(k, v));
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
