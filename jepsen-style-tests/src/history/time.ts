/** Human renderings of the history's nanosecond clock, used by the explanations and the report. */

const NS_PER_MS = 1e6;
const NS_PER_S = 1e9;

/**
 * A run's time zero: its earliest event or nemesis interval start (0 when there is none). The
 * report and the explanations print times relative to it.
 */
export function timeZero(history: readonly { readonly time: number }[], timeline: readonly { readonly start: number }[] = []): number {
  let min = Number.POSITIVE_INFINITY;
  for (const op of history) if (op.time < min) min = op.time;
  for (const iv of timeline) if (iv.start < min) min = iv.start;
  return min === Number.POSITIVE_INFINITY ? 0 : min;
}

/** `ns` as seconds since `origin`, to the microsecond: `1.204512 s`. */
export function formatAt(ns: number, origin: number): string {
  return `${((ns - origin) / NS_PER_S).toFixed(6)} s`;
}

/** A duration: `850 µs`, `12.3 ms`, `1.42 s`. */
export function formatDuration(ns: number): string {
  if (ns < NS_PER_MS) return `${Math.round(ns / 1e3)} µs`;
  if (ns < NS_PER_S) return `${(ns / NS_PER_MS).toPrecision(3)} ms`;
  return `${(ns / NS_PER_S).toPrecision(3)} s`;
}

export { NS_PER_MS, NS_PER_S };
