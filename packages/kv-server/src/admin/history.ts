/**
 * The last minutes of a node, one sample a second, for the dashboard's charts: the writes and
 * reads this node answered per second and their latency percentiles (from the request
 * histogram's buckets, interpolated as Prometheus's `histogram_quantile` does), and the commit
 * and applied indexes (whose rate is the cluster's write throughput, seen from this node).
 * Status and membership requests are left out: dashboards and probes send them all the time.
 */
import type { RequestTotals } from './node-metrics.js';

/** One second of a node. */
export interface Sample {
  /** End of the second, in ms since the epoch. */
  readonly t: number;
  readonly commit: number;
  readonly applied: number;
  /** Writes (put, delete, cas) answered per second. */
  readonly writesPerSec: number;
  /** Reads (get, scan) answered per second. */
  readonly readsPerSec: number;
  /** Latency percentiles of those writes and reads, in ms; null when there were none. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Samples kept: five minutes. */
export const HISTORY_SAMPLES = 300;
export const SAMPLE_INTERVAL_MS = 1_000;

export const WRITE_OPS: ReadonlySet<string> = new Set(['put', 'delete', 'cas']);
export const READ_OPS: ReadonlySet<string> = new Set(['get', 'scan']);
const DATA_OPS: ReadonlySet<string> = new Set([...WRITE_OPS, ...READ_OPS]);

export interface HistorySource {
  indexes(): { readonly commit: number; readonly applied: number };
  /** Requests of the operations `ops` answered so far (`NodeMetrics.requestTotals`). */
  requestTotals(ops: ReadonlySet<string>): Promise<RequestTotals>;
}

interface Totals {
  readonly writes: number;
  readonly reads: number;
  readonly all: RequestTotals;
}

export class History {
  private readonly samples: Sample[] = [];
  private previous: { readonly at: number; readonly totals: Totals } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly source: HistorySource) {}

  /** Sample every second from now on. */
  start(): void {
    this.timer ??= setInterval(() => void this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The samples, oldest first. */
  list(): readonly Sample[] {
    return this.samples;
  }

  private async sample(): Promise<void> {
    const [writes, reads, all] = await Promise.all([WRITE_OPS, READ_OPS, DATA_OPS].map((ops) => this.source.requestTotals(ops)));
    const totals: Totals = { writes: writes!.count, reads: reads!.count, all: all! };
    const at = performance.now();
    const previous = this.previous;
    this.previous = { at, totals };
    if (previous === undefined) return;
    const seconds = (at - previous.at) / 1000;
    const rate = (now: number, before: number): number => (seconds > 0 ? round((now - before) / seconds) : 0);
    const delta = totals.all.buckets.map(([le, n], i): [number, number] => [le, n - (previous.totals.all.buckets[i]?.[1] ?? 0)]);
    this.samples.push({
      t: Date.now(),
      ...this.source.indexes(),
      writesPerSec: rate(totals.writes, previous.totals.writes),
      readsPerSec: rate(totals.reads, previous.totals.reads),
      p50Ms: quantileMs(0.5, delta),
      p99Ms: quantileMs(0.99, delta),
    });
    if (this.samples.length > HISTORY_SAMPLES) this.samples.splice(0, this.samples.length - HISTORY_SAMPLES);
  }
}

/**
 * The `q` quantile, in ms, of the observations counted in cumulative `buckets` (upper bound in
 * seconds, cumulative count; the last bound +Inf), interpolated linearly within its bucket, as
 * Prometheus's `histogram_quantile`; null without observations. A quantile in the +Inf bucket is
 * the highest finite bound.
 */
export function quantileMs(q: number, buckets: ReadonlyArray<readonly [number, number]>): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return round(lowerBound * 1000);
      const within = count - lowerCount;
      const fraction = within > 0 ? (rank - lowerCount) / within : 1;
      return round((lowerBound + (bound - lowerBound) * fraction) * 1000);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return round(lowerBound * 1000);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
