/**
 * @keel/jepsen-style-tests — history files, checkers and reports for Jepsen-style runs.
 *
 * The runner records every operation as an invoke and a completion (`Op`, DESIGN §6) and
 * streams them to `history.jsonl` with a `HistoryWriter`; the checkers judge the history.
 */
// History format.
export type { Op, OpError, OpF, OpType, OpValue, Scalar } from './history/op.js';
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
export type { ConvergenceResult, NodeFinalState, NodeReport, NodeUnreachable } from './checker/convergence.js';
export { checkConvergence } from './checker/convergence.js';
export type { AvailabilityOptions, AvailabilityResult, MinorityAck, OutcomeCounts, Phase, Side } from './checker/availability.js';
export { checkAvailability } from './checker/availability.js';
