/**
 * The nemesis timeline of a run: one interval per fault, on the history's clock. The runner's
 * nemesis records an interval when it has put a fault fully in place and closes it when it
 * starts to heal, so any operation invoked at or after `start` and completed at or before `end`
 * ran entirely under the fault.
 */
export interface NemesisInterval {
  /** What happened, as the report shows it: `isolate-leader n1`, `kill-one n3`. */
  readonly label: string;
  /** The nemesis family: `partition`, `kill`, `pause`, `membership`, `transfer`, … */
  readonly kind: string;
  /** When the fault was fully in place (ns). */
  readonly start: number;
  /** When healing began (ns); absent if the history ends before the heal. */
  readonly end?: number;
  /**
   * Partitions only: the nodes cut off from every majority while the fault held. They must not
   * acknowledge writes or linearizable reads (the availability checker).
   */
  readonly minority?: readonly number[];
  /** The nodes the fault acted on (isolated, killed, paused, removed, …), for the report. */
  readonly nodes?: readonly number[];
}

/** Throws a TypeError for an interval that ends before it starts or has non-integer times. */
export function assertTimeline(timeline: readonly NemesisInterval[]): void {
  for (const iv of timeline) {
    if (!Number.isSafeInteger(iv.start) || (iv.end !== undefined && (!Number.isSafeInteger(iv.end) || iv.end < iv.start))) {
      throw new TypeError(`nemesis interval ${JSON.stringify(iv.label)} has bad times: start ${iv.start}, end ${iv.end}`);
    }
  }
}
