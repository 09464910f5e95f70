import type { Logger, Ready } from '@keel/raft';
import type { NodeObserver } from './ports.js';

/**
 * Counters of the Ready loop, printed as one `node.stats` line at debug level per interval while
 * there is traffic: how well writes batch (entries per Ready, per fsync) and where the time goes.
 * The process adapter's observer of the node core (wall-clock time is measured here, never in the core).
 */
export class ReadyStats implements NodeObserver {
  private readyAt = 0;
  private applyAt = 0;
  private readies = 0;
  private syncs = 0;
  private entries = 0;
  private committed = 0;
  private messages = 0;
  private persistMs = 0;
  private applyMs = 0;
  private elapsedMs = 0;

  constructor(
    private readonly logger: Logger,
    /** Length of one interval, in ms. */
    private readonly intervalMs: number,
  ) {}

  ready(rd: Ready): void {
    this.readyAt = performance.now();
    this.readies++;
    this.entries += rd.entries.length;
    this.messages += rd.messages.length + rd.messagesAfterPersist.length;
    this.committed += rd.committedEntries.length;
    if (rd.mustSync) this.syncs++;
  }

  persisted(): void {
    this.persistMs += performance.now() - this.readyAt;
  }

  /** The apply chain is serial: one apply is timed at a time. */
  applying(): void {
    this.applyAt = performance.now();
  }

  applied(): void {
    this.applyMs += performance.now() - this.applyAt;
  }

  /** Time passed (on the tick); logs and resets once an interval is complete. */
  tick(ms: number, pending: { proposals: number; reads: number }): void {
    this.elapsedMs += ms;
    if (this.elapsedMs < this.intervalMs) return;
    const seconds = this.elapsedMs / 1000;
    if (this.entries > 0 || this.committed > 0) {
      const r = Math.max(1, this.readies);
      this.logger.log('debug', 'node.stats', {
        seconds,
        readies: this.readies,
        syncs: this.syncs,
        entriesPerReady: round(this.entries / r),
        committedPerReady: round(this.committed / r),
        messagesPerReady: round(this.messages / r),
        persistMsAvg: round(this.persistMs / r),
        applyMsAvg: round(this.applyMs / r),
        appliedPerSec: Math.round(this.committed / seconds),
        pendingProposals: pending.proposals,
        pendingReads: pending.reads,
      });
    }
    this.readies = this.syncs = this.entries = this.committed = this.messages = 0;
    this.persistMs = this.applyMs = this.elapsedMs = 0;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
