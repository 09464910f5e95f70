/**
 * @keel/jepsen-style-tests — Jepsen-style runs of real Keel clusters: the runner (workloads,
 * nemeses, `pnpm jepsen`), history files, checkers and reports.
 *
 * `runJepsen(options, { out })` does a whole run and returns its verdict and run directory.
 * Underneath, the runner records every operation as an invoke and a completion (`Op`, DESIGN §6), streams
 * them to `history.jsonl`, records the nemesis timeline, asks the nodes for their final state,
 * then checks and writes the run directory:
 *
 * @example
 * ```ts
 * import { join } from 'node:path';
 * import { HistoryWriter, checkRun, createRunDir, newRunId, writeRun, RUN_FILES, type Op } from '@keel/jepsen-style-tests';
 *
 * const meta = { workload: 'register', nemesis: 'isolate-leader', seed: 42, nodes: 3, clients: 10 } as const;
 * const { id, dir } = await createRunDir(newRunId(meta));        // store/<id>/, store/latest -> <id>
 * const writer = HistoryWriter.open(join(dir, RUN_FILES.history));
 * const history: Op[] = [];
 * const record = (op: Op) => { history.push(op); writer.append(op); };
 * // … run the workload and the nemesis, record(…) each event, push NemesisIntervals …
 * writer.close();
 * const results = checkRun({ meta: { ...meta, id }, history, timeline, finalStates });
 * await writeRun(dir, { history, results });                      // results.json, report.html
 * process.exitCode = results.verdict === 'valid' ? 0 : results.verdict === 'invalid' ? 1 : 2;
 * ```
 */

// History format.
export type { AccountState, Op, OpError, OpF, OpType, OpValue, Scalar, TransferValue, WatchEvent } from './history/op.js';
export { OP_FS, OP_TYPES } from './history/op.js';
export type { NemesisInterval } from './history/timeline.js';
export { assertTimeline } from './history/timeline.js';
export type { HistoryProblem } from './history/validate.js';
export { HistoryError, describeProblem, opShapeProblem, validateHistory } from './history/validate.js';
export type { Operation, Outcome } from './history/operations.js';
export { pairOperations } from './history/operations.js';
export { HistoryWriter, formatEvent, parseHistory, readHistory, writeHistoryFile } from './history/jsonl.js';
export { formatAt, formatDuration, timeZero } from './history/time.js';

// Checkers.
export type { Verdict } from './checker/verdict.js';
export { combineVerdicts } from './checker/verdict.js';
export type { KeyResult, LinearizabilityOptions, LinearizabilityResult } from './checker/linearizable.js';
export { DEFAULT_MAX_SHRINK_CHECKS, DEFAULT_MAX_STEPS_PER_KEY, checkLinearizable } from './checker/linearizable.js';
export type { Explanation, SliceOp } from './checker/explain.js';
export type { SearchBudget, SearchOutcome } from './checker/search.js';
export { searchLinearization } from './checker/search.js';
export type { RegisterCall, RegisterF, RegisterValue } from './checker/register.js';
export { registerCalls } from './checker/register.js';
export type { SetReport, SetResult } from './checker/set.js';
export { checkSet } from './checker/set.js';
export type { BankOptions, BankResult, BankViolation, BankViolationKind } from './checker/bank.js';
export { checkBank } from './checker/bank.js';
export type { WatchResult, WatchViolation, WatchViolationKind, WatcherReport } from './checker/watch.js';
export { checkWatch } from './checker/watch.js';
export type { LockOptions, LockReport, LockResult, LockViolation, LockViolationKind } from './checker/lock.js';
export { checkLock } from './checker/lock.js';
export type { ConvergenceResult, NodeFinalState, NodeReport, NodeUnreachable } from './checker/convergence.js';
export { checkConvergence } from './checker/convergence.js';
export type { AvailabilityOptions, AvailabilityResult, MinorityAck, OutcomeCounts, Phase, Side } from './checker/availability.js';
export { checkAvailability } from './checker/availability.js';

// The runner: workloads, nemeses, the schedule, one run start to verdict.
export type { RunOptions, WorkloadName } from './runner/options.js';
export { RUN_DEFAULTS, WORKLOADS } from './runner/options.js';
export type { RunIo, RunOutcome } from './runner/run.js';
export { runJepsen } from './runner/run.js';
export type { FaultKind, FaultName, NemesisName } from './nemesis/names.js';
export { FAULTS, FAULT_KIND, NEMESES } from './nemesis/names.js';
export type { FaultPlan, ScheduleOptions } from './nemesis/schedule.js';
export { SCHEDULE_MS, planSchedule } from './nemesis/schedule.js';
export type { NetKind } from './runner/network.js';
export { NETS, NetworkUnavailableError, createNetwork } from './runner/network.js';

// Results, report and run directory.
export type { CheckRunInput, RunMeta, RunResults } from './report/results.js';
export { RESULTS_FORMAT, checkRun, countOutcomes } from './report/results.js';
export type { ReportInput } from './report/html.js';
export { renderReport } from './report/html.js';
export type { RunFilesInput } from './report/run-dir.js';
export { RUN_FILES, STORE_DIR, createRunDir, newRunId, writeRun } from './report/run-dir.js';
