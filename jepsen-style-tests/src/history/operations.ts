import type { Op, OpF, OpValue } from './op.js';
import { HistoryError } from './validate.js';

/** How an operation ended. An invoke the history never completes counts as `info`. */
export type Outcome = 'ok' | 'fail' | 'info';

/** An invoke paired with its completion: what the checkers and the report work on. */
export interface Operation {
  readonly process: number;
  readonly f: OpF;
  readonly key: string;
  /** The invoke's value (what was asked). */
  readonly input: OpValue;
  /** The completion's value (what came back); `null` when the history never completes it. */
  readonly output: OpValue;
  readonly outcome: Outcome;
  readonly invokedAt: number;
  /** When the completion was recorded; undefined if the history ends with the op outstanding. */
  readonly completedAt: number | undefined;
  readonly node?: number;
  readonly error?: { readonly code: string; readonly message: string };
  /** 1-based line of the invoke in `history.jsonl`. */
  readonly line: number;
  /** The ok completion's revision, for the operations that record one. */
  readonly revision?: number;
}

/**
 * Pairs each invoke with its process's next completion, in invoke order. Expects a history that
 * `validateHistory` accepts; throws `HistoryError` on a completion that answers no invoke.
 */
export function pairOperations(history: readonly Op[]): Operation[] {
  const ops: Operation[] = [];
  const open = new Map<number, { invoke: Op; line: number; slot: number }>();
  history.forEach((ev, i) => {
    if (ev.type === 'invoke') {
      open.set(ev.process, { invoke: ev, line: i + 1, slot: ops.length });
      ops.push(operation(ev, undefined, i + 1));
      return;
    }
    const pending = open.get(ev.process);
    if (pending === undefined) {
      throw new HistoryError([{ line: i + 1, process: ev.process, message: `${ev.type} ${ev.f} completes nothing` }]);
    }
    open.delete(ev.process);
    ops[pending.slot] = operation(pending.invoke, ev, pending.line);
  });
  return ops;
}

function operation(invoke: Op, completion: Op | undefined, line: number): Operation {
  const node = invoke.node ?? completion?.node;
  const error = completion?.error;
  const revision = completion?.revision;
  return {
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
    input: invoke.value,
    output: completion === undefined ? null : completion.value,
    outcome: completion === undefined || completion.type === 'invoke' ? 'info' : completion.type,
    invokedAt: invoke.time,
    completedAt: completion?.time,
    line,
    ...(node === undefined ? {} : { node }),
    ...(error === undefined ? {} : { error }),
    ...(revision === undefined ? {} : { revision }),
  };
}
