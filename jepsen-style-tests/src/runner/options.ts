/** What a run is: the command line of `pnpm jepsen`, checked once here. */
import type { Consistency } from '@keel/client';
import type { CutMode } from '@keel/test-support';
import type { NemesisName } from '../nemesis/names.js';
import type { NetKind } from './network.js';

export const WORKLOADS = ['register', 'set', 'bank', 'lock', 'watch'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface RunOptions {
  readonly workload: WorkloadName;
  readonly nemesis: NemesisName;
  /** How long the workload runs, in seconds (healing, final reads and checking come after). */
  readonly timeSeconds: number;
  /** Drives the fault schedule and every client's choice of operations. */
  readonly seed: number;
  /** Voting members. */
  readonly nodes: number;
  /** Unpinned logical clients (one pinned probe per node comes on top). */
  readonly clients: number;
  /** How the workload reads: `serializable` reads may be stale, and the checkers say so. */
  readonly readMode: Consistency;
  readonly net: NetKind;
  /** Every partition in this mode; default: drawn per fault from the seed. */
  readonly partitionMode?: CutMode;
  /** Where run directories go. Default `jepsen-style-tests/store/`. */
  readonly storeDir?: string;
}

export const RUN_DEFAULTS = { workload: 'register', nodes: 3, clients: 10, readMode: 'linearizable', net: 'proxy' } as const satisfies Partial<RunOptions>;

export const NODES_MIN = 3;
export const NODES_MAX = 9;
export const CLIENTS_MAX = 200;
