/**
 * A workload: Jepsen's client and generator for one kind of test. The generator part is pure —
 * each call draws from the caller's seeded stream and the workload's own state, which changes
 * only through `observe` — and the client part maps one invocation onto `@keel/client`.
 */
import type { Consistency, KeelClient } from '@keel/client';
import type { Rng } from '../rng.js';
import type { Completion, Invocation } from './recorder.js';

/** Unpinned clients fail over; probes are pinned to one node each and lean towards reads. */
export type Role = 'client' | 'probe';

/**
 * Operations that outlive a step of a client loop (the watch workload's watchers). The runner
 * starts each once, the first at once and the others during the first half of the run, each with
 * its own process and client; its `execute` resolves when `finish` ends it, or on an error.
 */
export interface Background {
  readonly count: number;
  /** The i-th operation, drawn when it starts (it may depend on what the workload has seen). */
  next(rng: Rng, i: number): Invocation;
  /** After the final operations: ends the background operations; `record` runs and records one more operation (the watch workload's last changes). */
  finish(record: (call: Invocation) => Promise<Completion>): Promise<void>;
}

export interface Workload {
  readonly name: 'register' | 'set' | 'bank' | 'lock' | 'watch';
  /** The next operation for the logical client `process` in `role`. */
  next(rng: Rng, role: Role, process: number): Invocation;
  /** What an operation of `process` did, for the generator's state (a cas needs a value someone saw, a lock holder its token). */
  observe(call: Invocation, done: Completion, process: number): void;
  /** Runs `call` with `client` for a logical client in `role`; reads use `consistency`. */
  execute(client: KeelClient, call: Invocation, consistency: Consistency, role: Role): Promise<Completion>;
  /** Operations to run before the clients start (the bank's initial deposit); each retried until the store answers. */
  readonly setup: readonly Invocation[];
  /** Operations to run once the cluster is healed and quiet (the set's final read); each retried until the store answers. */
  readonly final: readonly Invocation[];
  readonly background?: Background;
}
