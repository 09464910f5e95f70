/**
 * @keel/kv-server/testing — the server simulator: clusters of the production node core (state
 * machine, session table, stores over memory-level on simulated disks) under the Raft
 * simulator's faults, with client histories checked for linearizability and exactly-once writes.
 *
 * ```ts
 * import { runServerSimulation, serverSweep } from '@keel/kv-server/testing';
 * const result = await runServerSimulation({ seed: 42, nodes: 5 });
 * const { counters, failures } = await serverSweep({ seeds: 200, nodes: 3 });
 * ```
 *
 * Test seams (never used in production): `rawNodeFactory` and `coreFactory` build deliberately
 * broken Raft cores and node cores.
 */
export { runServerSimulation, emptyServerCounters, addServerCounters } from './simulator.js';
export type { ServerSimOptions, ServerSimResult, ServerSimCounters } from './simulator.js';
export { serverSweep, formatServerFailure } from './sweep.js';
export type { ServerSweepOptions, ServerSweepResult } from './sweep.js';
export { checkRegister } from './linearizability.js';
export type { HistoryOp, RegisterOp, RegisterValue, CheckOutcome } from './linearizability.js';
export { SimDisk } from './sim-disk.js';
export type { CoreFactory, RawNodeFactory } from './sim-node.js';
