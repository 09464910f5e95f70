import { checkBank, type BankResult } from '../checker/bank.js';
import { checkLock, type LockResult } from '../checker/lock.js';
import { checkWatch, type WatchResult } from '../checker/watch.js';
import { checkAvailability, type AvailabilityResult, type OutcomeCounts } from '../checker/availability.js';
import { checkConvergence, type ConvergenceResult, type NodeReport } from '../checker/convergence.js';
import { checkLinearizable, type LinearizabilityOptions, type LinearizabilityResult } from '../checker/linearizable.js';
import { checkSet, type SetResult } from '../checker/set.js';
import { combineVerdicts, type Verdict } from '../checker/verdict.js';
import type { Op } from '../history/op.js';
import { pairOperations } from '../history/operations.js';
import { timeZero } from '../history/time.js';
import type { NemesisInterval } from '../history/timeline.js';
import { validateHistory, type HistoryProblem } from '../history/validate.js';

/** What the run was: the runner's command line and environment. Shown at the top of the report. */
export interface RunMeta {
  /** The run directory's name under `store/`. */
  readonly id: string;
  readonly workload: 'register' | 'set' | 'bank' | 'lock' | 'watch';
  readonly nemesis: string;
  readonly seed?: number;
  readonly nodes?: number;
  readonly clients?: number;
  readonly readMode?: 'linearizable' | 'serializable';
  /** The requested duration of the workload (s). */
  readonly timeSeconds?: number;
  /** Network fault mode: per-link proxies or Linux network namespaces. */
  readonly net?: 'proxy' | 'netns';
  /** Wall-clock start, ISO 8601. */
  readonly startedAt?: string;
  /** Anything else worth showing (git commit, host, …). */
  readonly extra?: Readonly<Record<string, string | number | boolean>>;
}

export const RESULTS_FORMAT = 'keel-jepsen-results/1';

/** The shape of `results.json`. */
export interface RunResults {
  readonly format: typeof RESULTS_FORMAT;
  readonly run: RunMeta;
  /**
   * The run's verdict: every checker combined. A malformed history makes it `unknown` (the
   * recording is broken, not necessarily Keel) and the other checkers do not run.
   */
  readonly verdict: Verdict;
  readonly checkers: {
    /** Well-formedness of history.jsonl (first 100 problems; `problemCount` has them all). */
    readonly history: { readonly verdict: 'valid' | 'invalid'; readonly problemCount: number; readonly problems: readonly HistoryProblem[] };
    /** Register workload. */
    readonly linearizable?: LinearizabilityResult;
    /** Set workload. */
    readonly set?: SetResult;
    /** Bank workload. */
    readonly bank?: BankResult;
    /** Lock workload. */
    readonly lock?: LockResult;
    /** Watch workload. */
    readonly watch?: WatchResult;
    /** When the runner obtained the nodes' final states. */
    readonly convergence?: ConvergenceResult;
    readonly availability?: AvailabilityResult;
  };
  /** Operations per `f` and outcome (an invoke never completed counts as info). */
  readonly counts: Readonly<Record<string, OutcomeCounts>>;
  readonly timeline: readonly NemesisInterval[];
  /** The run's first and last moments (ns), events and nemesis intervals alike; the report's time zero is `start`. */
  readonly span: { readonly start: number; readonly end: number };
}

export interface CheckRunInput {
  readonly meta: RunMeta;
  readonly history: readonly Op[];
  readonly timeline: readonly NemesisInterval[];
  /** Each node's final state after healing; omit when the runner could not get them. */
  readonly finalStates?: readonly NodeReport[];
  readonly linearizable?: LinearizabilityOptions;
}

/** Ops per f and outcome. */
export function countOutcomes(history: readonly Op[]): Record<string, OutcomeCounts> {
  const counts: Record<string, OutcomeCounts> = {};
  for (const op of pairOperations(history)) {
    counts[op.f] ??= { ok: 0, fail: 0, info: 0 };
    counts[op.f]![op.outcome]++;
  }
  return counts;
}

/** Runs every checker that applies to the run and assembles `results.json`. */
export function checkRun(input: CheckRunInput): RunResults {
  const { meta, history, timeline } = input;
  const start = timeZero(history, timeline);
  const end = Math.max(
    history.reduce((a, op) => Math.max(a, op.time), start),
    timeline.reduce((a, iv) => Math.max(a, iv.end ?? iv.start), start),
  );
  const problems = validateHistory(history);
  const base = { format: RESULTS_FORMAT, run: meta, timeline, span: { start, end } } as const;
  const historyCheck = { verdict: problems.length === 0 ? 'valid' : 'invalid', problemCount: problems.length, problems: problems.slice(0, 100) } as const;
  if (problems.length > 0) return { ...base, verdict: 'unknown', checkers: { history: historyCheck }, counts: {} };
  const linearizableReads = meta.readMode !== 'serializable';
  const checkers = {
    history: historyCheck,
    ...(meta.workload === 'register' ? { linearizable: checkLinearizable(history, { origin: start, ...input.linearizable }) } : {}),
    ...(meta.workload === 'set' ? { set: checkSet(history) } : {}),
    ...(meta.workload === 'bank' ? { bank: checkBank(history, { linearizableReads, origin: start }) } : {}),
    ...(meta.workload === 'lock' ? { lock: checkLock(history, { origin: start }) } : {}),
    ...(meta.workload === 'watch' ? { watch: checkWatch(history) } : {}),
    ...(input.finalStates === undefined ? {} : { convergence: checkConvergence(input.finalStates) }),
    availability: checkAvailability(history, timeline, { linearizableReads, origin: start }),
  };
  const verdicts = [checkers.linearizable, checkers.set, checkers.bank, checkers.lock, checkers.watch, checkers.convergence, checkers.availability].flatMap((c) => (c === undefined ? [] : [c.verdict]));
  return { ...base, verdict: combineVerdicts(verdicts), checkers, counts: countOutcomes(history) };
}
