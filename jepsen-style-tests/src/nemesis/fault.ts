/**
 * What a fault gets to work with, and what it reports. A fault is one async function that runs
 * its whole life: make the fault, `begin` (its interval in the timeline starts), `hold`, `end`
 * (the interval ends: healing begins), heal. The nemesis runs one fault at a time.
 */
import type { Cluster, ClusterNode } from '@keel/test-support';
import type { Rng } from '../rng.js';
import type { FaultKind } from './names.js';
import type { FaultPlan } from './schedule.js';

/** What the timeline records of a fault. */
export interface FaultInfo {
  /** `isolate-leader n1 (blackhole)`. */
  readonly label: string;
  readonly kind: FaultKind;
  /** The nodes the fault acted on. */
  readonly nodes: readonly number[];
  /** Partitions: the nodes cut off from every majority. */
  readonly minority?: readonly number[];
}

export interface FaultRun {
  readonly cluster: Cluster;
  readonly plan: FaultPlan;
  /** The fault's own choices, from `plan.seed`. */
  readonly rng: Rng;
  /** Waits `ms`, or less once the run is ending. */
  hold(ms: number): Promise<void>;
  /** The fault is in place (membership, transfer: under way); its interval starts now. */
  begin(info: FaultInfo): void;
  /** Healing begins; the interval ends now. `update` completes what `begin` could not know yet. */
  end(update?: Partial<FaultInfo>): void;
  /** True once the run is ending: finish the fault and heal. */
  readonly stopping: boolean;
  /** The members changed: the workload's clients take the new endpoints. */
  membershipChanged(): void;
  /** A line for the progress output. */
  log(message: string): void;
}

export type Fault = (run: FaultRun) => Promise<void>;

/** How long a fault waits for a leader it needs (to target it, or before healing counts). */
export const LEADER_WAIT_MS = 30_000;

/** Voting members whose process runs, by id. */
export function runningVoters(cluster: Cluster): ClusterNode[] {
  return cluster.members.filter((n) => n.membership === 'voter' && n.state === 'running').sort((a, b) => a.id - b.id);
}

/** The agreed leader and the other running voters (fails if no leader emerges in LEADER_WAIT_MS). */
export async function roles(cluster: Cluster): Promise<{ leader: ClusterNode; followers: ClusterNode[] }> {
  const { id } = await cluster.waitForLeader({ timeoutMs: LEADER_WAIT_MS });
  const voters = runningVoters(cluster);
  return { leader: cluster.node(id), followers: voters.filter((n) => n.id !== id) };
}
