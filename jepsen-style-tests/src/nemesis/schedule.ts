/**
 * The nemesis schedule: a pure function of the seed. It says which fault comes next, how long the
 * cluster stays quiet before it, how long it holds, how cut links fail, and the seed of the
 * fault's own choices (which follower, which halves, which membership change) — so a seed
 * reproduces the schedule exactly. Which node is "the leader" is only known when the fault
 * starts; the draws that resolve such roles come from the fault's seed, in a fixed order.
 *
 * Gaps are counted from the moment the previous fault finished healing, so slow restarts shift
 * the schedule instead of squeezing it; the run's time limit cuts the last fault short.
 */
import type { CutMode } from '@keel/test-support';
import { Rng } from '../rng.js';
import { SYMMETRIC_RING_NODES_MIN } from './grudge.js';
import { FAULTS, type FaultName, type NemesisName } from './names.js';

export interface FaultPlan {
  readonly fault: FaultName;
  /** Quiet time before the fault, after the previous one healed (or the workload began), in ms. */
  readonly gapMs: number;
  /** How long the fault holds, in ms (partitions: counted once the majority side has a leader). */
  readonly holdMs: number;
  /** How cut links fail (partitions). One-way cuts are always blackholes: a reset breaks both ways. */
  readonly mode: CutMode;
  /** Seed of the fault's own choices. */
  readonly seed: number;
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly nemesis: NemesisName;
  /** The workload's duration, in ms: no fault is planned to start after it. */
  readonly timeMs: number;
  /** Cluster size (the ring is one-way below 5 nodes). */
  readonly nodes: number;
  /** Every partition in this mode; default: drawn per fault. */
  readonly partitionMode?: CutMode;
}

/** Ranges [min, max) in ms: the first quiet period, later ones, and fault durations (long enough for an election under TEST_TUNING). */
export const SCHEDULE_MS = {
  firstGap: [2_000, 4_000],
  gap: [2_000, 5_000],
  hold: [3_000, 8_000],
} as const;

/** Whether a fault's cuts are one-way (asymmetric; a ring below 5 nodes): a reset would break both directions. */
function oneWay(fault: FaultName, nodes: number): boolean {
  return fault === 'asymmetric' || (fault === 'ring' && nodes < SYMMETRIC_RING_NODES_MIN);
}

export function planSchedule(options: ScheduleOptions): FaultPlan[] {
  const rng = Rng.derive(options.seed, `schedule ${options.nemesis}`);
  const plans: FaultPlan[] = [];
  let at = 0;
  for (;;) {
    const [gapMin, gapMax] = plans.length === 0 ? SCHEDULE_MS.firstGap : SCHEDULE_MS.gap;
    const gapMs = Math.round(rng.between(gapMin, gapMax));
    const holdMs = Math.round(rng.between(SCHEDULE_MS.hold[0], SCHEDULE_MS.hold[1]));
    const fault = options.nemesis === 'mixed' ? rng.pick(FAULTS) : options.nemesis;
    const drawn: CutMode = rng.chance(0.5) ? 'blackhole' : 'reset';
    const seed = rng.seed();
    if (at + gapMs >= options.timeMs) return plans;
    const mode = oneWay(fault, options.nodes) ? 'blackhole' : (options.partitionMode ?? drawn);
    plans.push({ fault, gapMs, holdMs, mode, seed });
    at += gapMs + holdMs;
  }
}
