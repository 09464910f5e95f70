/**
 * @keel/raft/testing — the deterministic cluster simulator for the Raft core.
 *
 * One seed drives everything: the scenario (a fault regime, see `REGIMES`), the simulated
 * network (per-link delay, loss, duplication, reordering; symmetric, asymmetric and
 * isolate-the-leader partitions), the simulated disks (a Ready's write stays pending until its
 * fsync completes while its `messages` are already on the network; a crash loses it; a restart
 * rebuilds a `RawNode` from what is durable), the
 * nodes' election timers and the clients (writes, ReadIndex reads, leadership transfers,
 * membership changes, periodic snapshots with log compaction).
 *
 * Invariants are checked as each event happens (`ViolationKind` lists them): one leader per term,
 * log matching on durable logs, leader completeness, state machine safety, commit/applied/term
 * never moving back (also across restarts), no stale snapshot installs, linearizable ReadIndex
 * answers, one membership change at a time, and no error-level event logged by any node's core
 * (each simulated node gets a logger; the core logs at error level only what honest peers cannot
 * cause). A liveness phase then heals a majority of every configuration in play and requires a
 * proposal to commit within a bound.
 *
 * ```ts
 * import { runSimulation, sweep, formatFailure } from '@keel/raft/testing';
 * const result = runSimulation({ seed: 42, nodes: 5 });
 * if (!result.ok) console.log(formatFailure(result)); // seed, violations, scenario, last events
 * const { counters, failures } = sweep({ seeds: 200, nodes: 3, regime: 'snapshotLag' });
 * ```
 *
 * Test seams (never used in production): `nodeFactory` builds each node's core (tests pass
 * deliberately broken variants), `ackBeforePersist` makes the driver send a Ready's
 * `messagesAfterPersist` before persisting it.
 */
export { runSimulation, type SimOptions, type SimResult } from './simulator.js';
export { sweep, formatFailure, type SweepOptions, type SweepResult } from './sweep.js';
export { emptyCounters, addCounters, type SimCounters } from './summary.js';
export type { Violation, ViolationKind } from './invariants.js';
export { chooseScenario, describeFault, REGIMES, type RegimeName, type Scenario, type MembershipPlan, type FaultAction, type ScheduledFault } from './scenario.js';
export { SimNode, type NodeFactory, type DriverOptions, type NodeObserver } from './node-driver.js';
export { SimNetwork, CLEAN_LINK, CLOGGED_LINK, type LinkParams } from './network.js';
export { SimDisk, type DiskWrite } from './disk.js';
export { SimStateMachine, entryKey, encodeAscii, decodeAscii, mixDigest } from './state-machine.js';
export type { SimContext, SimNodeView } from './context.js';
export { parseSimArgs, simUsage, type SimArgs, type SimArgsOutcome } from './sim-args.js';
export { Nemesis } from './faults.js';
export { LivenessPhase, rawProposalProbe, type LivenessProbe } from './liveness.js';
export { Trace } from './trace.js';
export { EventQueue } from './event-queue.js';
export { InvariantChecker } from './invariants.js';
export { UNITS_PER_TICK } from './clock.js';
