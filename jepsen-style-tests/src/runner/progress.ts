/** The line the runner prints every few seconds: time, throughput, outcomes so far, the fault in force. */
import { NS_PER_S } from '../history/time.js';
import type { OutcomeCounts } from '../workload/recorder.js';

export interface ProgressSource {
  /** The history's clock (ns). */
  readonly now: () => number;
  readonly counts: OutcomeCounts;
  readonly fault: () => { readonly label: string; readonly start: number } | undefined;
}

export const PROGRESS_EVERY_MS = 2_000;

/** Prints a progress line every `everyMs` until stopped. */
export function startProgress(source: ProgressSource, out: (line: string) => void, everyMs = PROGRESS_EVERY_MS): { stop(): void } {
  let last = { at: source.now(), done: 0 };
  const timer = setInterval(() => {
    const at = source.now();
    const { ok, fail, info } = source.counts;
    const done = ok + fail + info;
    const rate = ((done - last.done) * NS_PER_S) / Math.max(1, at - last.at);
    last = { at, done };
    const fault = source.fault();
    const faultText = fault === undefined ? 'no fault' : `${fault.label} for ${((at - fault.start) / NS_PER_S).toFixed(1)} s`;
    out(`${(at / NS_PER_S).toFixed(1).padStart(6)} s  ${rate.toFixed(0).padStart(5)} ops/s  ok ${ok}  fail ${fail}  info ${info}  | ${faultText}`);
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
