import type { NodeId } from '../types.js';
import type { InvariantChecker } from './invariants.js';
import type { SimNetwork } from './network.js';
import type { SimNode } from './node-driver.js';
import type { SimCounters } from './summary.js';

/** What the fault injector and the workload may see and do: the simulator implements it. */
export interface SimContext {
  /** Every node id of the run: the initial voters, then the spares membership changes may add. */
  readonly ids: readonly NodeId[];
  readonly network: SimNetwork;
  readonly counters: SimCounters;
  readonly checker: InvariantChecker;
  /** The current Raft tick. */
  readonly tick: number;
  node(id: NodeId): SimNode;
  /** The up node that announced leadership of the highest term, if any. */
  leader(): SimNode | undefined;
  /** Same, among `ids` only. */
  leaderAmong(ids: readonly NodeId[]): SimNode | undefined;
  /** Voters and learners of any configuration a node holds (what faults should target). */
  members(): NodeId[];
  crash(id: NodeId): void;
  restart(id: NodeId): void;
  note(text: string): void;
}
