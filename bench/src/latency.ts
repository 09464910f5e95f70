/**
 * Latencies of one measured phase in HDR histograms (hdr-histogram-js): constant memory however
 * long a run lasts, 3 significant digits from 1 µs to an hour, one histogram per operation kind.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import { round3 } from './proc-stats.js';

/** Percentiles of a set of latencies, in ms (the etcd generators' shape). */
export interface LatencySummary {
  readonly n: number;
  readonly p50ms: number;
  readonly p90ms: number;
  readonly p99ms: number;
  readonly p999ms: number;
  readonly maxms: number;
  readonly meanms: number;
}

const HOUR_US = 3_600_000_000;

export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: HOUR_US, numberOfSignificantValueDigits: 3 });
}

/** Records `ms` (from performance.now() differences) in µs, clamped to the histogram's range. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.min(HOUR_US, Math.max(1, Math.round(ms * 1000))));
}

/** The summary of `h`; null when it is empty. */
export function summarize(h: Histogram): LatencySummary | null {
  if (h.totalCount === 0) return null;
  const ms = (us: number): number => round3(us / 1000);
  // A percentile is its bucket's highest equivalent value, which may lie above the largest value recorded.
  const at = (p: number): number => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return {
    n: h.totalCount,
    p50ms: at(50),
    p90ms: at(90),
    p99ms: at(99),
    p999ms: at(99.9),
    maxms: ms(h.maxValue),
    meanms: ms(h.mean),
  };
}

/** One histogram holding every value of `parts`. */
export function merged(parts: readonly Histogram[]): Histogram {
  const all = newHistogram();
  for (const h of parts) all.add(h);
  return all;
}
