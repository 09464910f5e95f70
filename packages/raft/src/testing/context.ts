import type { ConfState, NodeId, Role, Status } from '../types.js';
import type { InvariantChecker } from './invariants.js';
import type { SimNetwork } from './network.js';
import type { SimNode } from './node-driver.js';
import type { SimCounters } from './summary.js';

/**
 * What the fault injector and the liveness phase see of one simulated node. The raft-level
 * driver (`SimNode`) and the server's node-core simulator (in `@keel/kv-server`) both offer it.
 */
export interface SimNodeView {
  readonly id: NodeId;
  /** The process is running. */
  readonly up: boolean;
  /** The role the current incarnation last announced. */
  readonly role: Role;
  readonly hard: { readonly term: number; readonly commit: number };
  /** Index of the durable log's snapshot (its base). */
  durableSnapshotIndex(): number;
  /** Last index of the durable log. */
  durableLastIndex(): number;
  /** The membership of the durable log: its last configuration entry, else the snapshot's. */
  durableConf(): ConfState;
  /** The core's status, while up. */
  status(): Status | undefined;
}

/** What the fault injector and the workload may see and do: the simulator implements it. */
export interface SimContext<N extends SimNodeView = SimNode> {
  /** Every node id of the run: the initial voters, then the spares membership changes may add. */
  readonly ids: readonly NodeId[];
  readonly network: SimNetwork;
  readonly counters: SimCounters;
  readonly checker: InvariantChecker;
  /** The current Raft tick. */
  readonly tick: number;
  node(id: NodeId): N;
  /** The up node that announced leadership of the highest term, if any. */
  leader(): N | undefined;
  /** Same, among `ids` only. */
  leaderAmong(ids: readonly NodeId[]): N | undefined;
  /** Voters and learners of any configuration a node holds (what faults should target). */
  members(): NodeId[];
  crash(id: NodeId): void;
  restart(id: NodeId): void;
  note(text: string): void;
}
