import type { RaftLog } from './raft-log.js';
import type { ConfChangeEntry, ConfState, Entry, NodeId } from './types.js';

/** Where the current membership comes from: the last configuration entry in the log. */
interface ConfSource {
  /** Index of the entry; 0 when the membership is the snapshot's. */
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  /** The entry removes the node itself. */
  readonly removesSelf: boolean;
}

/**
 * Tracks which configuration is in effect for one node. Raft thesis §4.1: a configuration takes
 * effect as soon as its entry is appended, so the membership is always the `conf` of the last
 * configuration entry in the log, else the snapshot's (`base`). Truncating that entry falls back
 * to the previous one.
 *
 * Invariant: `source.index === 0` or the log holds a configuration entry at
 * (`source.index`, `source.term`) and none after it.
 */
export class LogConf {
  private source: ConfSource;

  constructor(
    private readonly id: NodeId,
    private readonly log: RaftLog,
    /** The membership of the log's base (the snapshot). */
    private readonly base: () => ConfState,
  ) {
    this.source = this.lastBefore(log.lastIndex() + 1);
  }

  get conf(): ConfState {
    return this.source.conf;
  }

  /** Index of the last configuration entry (0 if the membership is the snapshot's). */
  get index(): number {
    return this.source.index;
  }

  /** The last configuration entry removes this node. */
  get removesSelf(): boolean {
    return this.source.removesSelf;
  }

  /** After a snapshot restore: the membership is the snapshot's. */
  resetToBase(): void {
    this.source = { index: 0, term: 0, conf: this.base(), removesSelf: false };
  }

  /**
   * `ents` were just appended (all of them are now in the log). Returns the new membership if it
   * changed, else undefined.
   */
  afterAppend(ents: readonly Entry[]): ConfState | undefined {
    const first = ents[0];
    if (first === undefined) return undefined;
    let next: ConfSource | undefined;
    let current = this.source;
    if (current.index >= first.index && this.log.term(current.index) !== current.term) {
      // The configuration entry was truncated away: fall back to the previous one.
      current = next = this.lastBefore(first.index);
    }
    for (const e of ents) {
      if (e.type === 'confChange' && e.index > current.index) current = next = this.fromEntry(e);
    }
    if (next === undefined) return undefined;
    this.source = next;
    return next.conf;
  }

  private fromEntry(e: ConfChangeEntry): ConfSource {
    return { index: e.index, term: e.term, conf: e.conf, removesSelf: e.change.type === 'removeNode' && e.change.nodeId === this.id };
  }

  /** The last configuration entry before index `hi`, else the base membership. */
  private lastBefore(hi: number): ConfSource {
    const first = this.log.firstIndex();
    let top = Math.min(hi - 1, this.log.lastIndex());
    while (top >= first) {
      const lo = Math.max(first, top - 255);
      const ents = this.log.slice(lo, top + 1);
      for (let k = ents.length - 1; k >= 0; k--) {
        const e = ents[k]!;
        if (e.type === 'confChange') return this.fromEntry(e);
      }
      top = lo - 1;
    }
    return { index: 0, term: 0, conf: this.base(), removesSelf: false };
  }
}
