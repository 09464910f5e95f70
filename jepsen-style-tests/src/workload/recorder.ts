/**
 * Records the history as it happens: each event timestamped on one monotonic clock (ns since the
 * recorder was made), kept in memory for the checkers and streamed to `history.jsonl` so a runner
 * that dies loses nothing. Process ids are handed out here, once each: a process retired after an
 * `info` is never seen again.
 */
import type { HistoryWriter } from '../history/jsonl.js';
import type { Op, OpError, OpF, OpValue } from '../history/op.js';

/** What a logical client asks for. */
export interface Invocation {
  readonly f: OpF;
  readonly key: string;
  readonly value: OpValue;
}

/** How it ended: `value` is what came back (an ok read) or the invoke's value repeated. */
export interface Completion {
  readonly type: 'ok' | 'fail' | 'info';
  readonly value: OpValue;
  readonly error?: OpError;
  /** On ok, for change, acquire and fenced-write: the store's revision of the operation. */
  readonly revision?: number;
}

export type OutcomeCounts = Record<Completion['type'], number>;

export class Recorder {
  readonly history: Op[] = [];
  /** Completions so far, by type (for the progress line). */
  readonly counts: OutcomeCounts = { ok: 0, fail: 0, info: 0 };
  private readonly t0 = process.hrtime.bigint();
  private nextProcess = 0;

  constructor(private readonly writer?: HistoryWriter) {}

  /** Nanoseconds since the recorder was made. */
  now(): number {
    return Number(process.hrtime.bigint() - this.t0);
  }

  newProcess(): number {
    return this.nextProcess++;
  }

  invoke(process: number, call: Invocation, node?: number): Op {
    return this.append({ process, type: 'invoke', f: call.f, key: call.key, value: call.value, time: this.now(), ...(node === undefined ? {} : { node }) });
  }

  complete(invoke: Op, done: Completion): Op {
    this.counts[done.type]++;
    return this.append({
      process: invoke.process,
      type: done.type,
      f: invoke.f,
      key: invoke.key,
      value: done.value,
      time: this.now(),
      ...(invoke.node === undefined ? {} : { node: invoke.node }),
      ...(done.error === undefined ? {} : { error: done.error }),
      ...(done.revision === undefined ? {} : { revision: done.revision }),
    });
  }

  private append(op: Op): Op {
    this.history.push(op);
    this.writer?.append(op);
    return op;
  }
}
