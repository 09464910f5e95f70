import type { Logger, Ready } from '@keel/raft';
import type { NodeObserver } from './ports.js';

/**
 * Counters of the Ready loop, printed as one `node.stats` line at debug level per interval while
 * there is traffic: how well writes batch (entries per Ready, per fsync) and where the time goes.
 * Averages hide whether the pipeline stays full, so two histograms ride along: entries per
 * persisted batch (Readies that carried entries) and entries per append message sent, in
 * power-of-two buckets (`"4-7": 12` = twelve batches of 4 to 7 entries).
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
  private persistBatches = new Histogram();
  private appendSizes = new Histogram();

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
    if (rd.entries.length > 0) this.persistBatches.add(rd.entries.length);
    for (const m of rd.messages) if (m.type === 'app' && m.entries.length > 0) this.appendSizes.add(m.entries.length);
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
        entriesPerPersist: this.persistBatches.buckets(),
        entriesPerAppend: this.appendSizes.buckets(),
      });
    }
    this.readies = this.syncs = this.entries = this.committed = this.messages = 0;
    this.persistMs = this.applyMs = this.elapsedMs = 0;
    this.persistBatches = new Histogram();
    this.appendSizes = new Histogram();
  }
}

/** Counts in power-of-two buckets: 1, 2-3, 4-7, … */
class Histogram {
  private readonly counts: number[] = [];

  add(n: number): void {
    const b = 31 - Math.clz32(n);
    this.counts[b] = (this.counts[b] ?? 0) + 1;
  }

  /** Non-empty buckets in ascending order, labelled by their range. */
  buckets(): Record<string, number> {
    const out: Record<string, number> = {};
    this.counts.forEach((count, b) => {
      if (count > 0) out[b === 0 ? '1' : `${2 ** b}-${2 ** (b + 1) - 1}`] = count;
    });
    return out;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
