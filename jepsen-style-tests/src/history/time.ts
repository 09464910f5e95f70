/** Human renderings of the history's nanosecond clock, used by the explanations and the report. */

const NS_PER_MS = 1e6;
const NS_PER_S = 1e9;

/** The earliest time in a history (its natural time zero), 0 when it is empty. */
export function historyOrigin(history: readonly { readonly time: number }[]): number {
  let min = Number.POSITIVE_INFINITY;
  for (const op of history) if (op.time < min) min = op.time;
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
