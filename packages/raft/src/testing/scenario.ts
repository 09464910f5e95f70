import type { SeededRng } from '../rng.js';
import type { NodeId } from '../types.js';
import type { LinkParams } from './network.js';

/** What the membership workload aims for during a run. */
export type MembershipPlan = 'none' | 'grow' | 'shrink' | 'replace' | 'random';

/**
 * The knobs of one run. As in TigerBeetle's VOPR (`options_swarm`), the seed draws a fault
 * regime, so a sweep explores calm runs, lossy networks, crash storms and everything between.
 * Rates are probabilities per Raft tick; durations are in ticks; latencies in time units
 * (`UNITS_PER_TICK` per tick).
 */
export interface Scenario {
  /** The named fault regime laid over the random draw, or 'random'. */
  readonly regime: string;
  // --- core configuration (production defaults are preVote and checkQuorum on) ---
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  /** 0 = no byte limit. */
  readonly maxInflightBytes: number;
  readonly maxCommittedSizePerReady: number;
  /** 0 = no limit. Small values make leaders refuse writes while followers lag (back-pressure). */
  readonly maxUncommittedBytes: number;
  // --- network ---
  readonly link: LinkParams;
  /** Chance per tick that a partition starts when none is active. */
  readonly partitionRate: number;
  readonly partitionTicksMin: number;
  readonly partitionTicksMax: number;
  /** Among partitions, the share that isolates the current leader. */
  readonly isolateLeaderShare: number;
  /** Among partitions, the share that cuts links one way only. */
  readonly asymmetricShare: number;
  /** Among partitions, the share that keeps a follower away until it needs a snapshot. */
  readonly lagForSnapshotShare: number;
  /**
   * Chance per tick that one directed link clogs (FoundationDB's swizzle-clogging): for a while
   * its messages take 3 to 15 ticks, so they arrive long after newer ones.
   */
  readonly clogRate: number;
  // --- processes and disks ---
  readonly crashRate: number;
  /** Among crashes, the share that hits the current leader. */
  readonly crashLeaderShare: number;
  readonly downTicksMin: number;
  readonly downTicksMax: number;
  readonly fsyncDelayMin: number;
  readonly fsyncDelayMax: number;
  readonly stepDuringPersist: boolean;
  /** Applied entries between snapshots; 0 disables snapshots. */
  readonly snapshotEvery: number;
  // --- workload ---
  /** Chance per tick that clients propose a batch of writes. */
  readonly proposeRate: number;
  readonly proposeBatchMax: number;
  readonly readRate: number;
  readonly transferRate: number;
  readonly membership: MembershipPlan;
  readonly confChangeRate: number;
  /** Chance that a membership change is followed at once by a second one (the core must refuse it). */
  readonly doubleConfChange: number;
}

/**
 * Named fault regimes, each aimed at one class of bug (TigerBeetle's VOPR picks a regime per
 * seed in the same way). A regime overrides part of the random draw.
 */
export const REGIMES = {
  /**
   * Leaders isolated or crashed soon after they win, small appends trickling over a slow lossy
   * network, deposed leaders that keep accepting writes: the divergent histories of the Raft
   * paper's Figure 8 (§5.4.2).
   */
  leaderFlapping: {
    preVote: false,
    checkQuorum: false,
    maxSizePerMsg: 64,
    maxInflightMsgs: 1,
    link: { delayMin: 1, delayMax: 30, loss: 0.1, duplicate: 0 },
    partitionRate: 0.3,
    partitionTicksMin: 3,
    partitionTicksMax: 15,
    isolateLeaderShare: 0.9,
    asymmetricShare: 0,
    lagForSnapshotShare: 0,
    crashRate: 0.05,
    crashLeaderShare: 1,
    downTicksMin: 2,
    downTicksMax: 15,
    fsyncDelayMin: 0,
    fsyncDelayMax: 5,
    proposeRate: 0.9,
    proposeBatchMax: 3,
  },
  /** Slow fsyncs and frequent crashes: writes are often pending when a node dies. */
  crashDuringFsync: {
    fsyncDelayMin: 10,
    fsyncDelayMax: 40,
    crashRate: 0.06,
    crashLeaderShare: 0.3,
    downTicksMin: 3,
    downTicksMax: 20,
    partitionRate: 0.05,
    proposeRate: 0.9,
    proposeBatchMax: 3,
  },
  /** Isolated leaders that do not step down (no CheckQuorum) while clients read on every node. */
  staleLeaderReads: {
    checkQuorum: false,
    partitionRate: 0.1,
    partitionTicksMin: 20,
    partitionTicksMax: 60,
    isolateLeaderShare: 0.8,
    readRate: 0.9,
    proposeRate: 0.9,
  },
  /** Membership changes proposed often, sometimes two at once. */
  membershipChurn: {
    membership: 'random',
    confChangeRate: 0.3,
    doubleConfChange: 0.5,
  },
  /** Frequent snapshots, followers kept away until they need one, delayed and duplicated messages. */
  snapshotLag: {
    snapshotEvery: 4,
    lagForSnapshotShare: 0.7,
    partitionRate: 0.08,
    partitionTicksMin: 5,
    partitionTicksMax: 30,
    link: { delayMin: 1, delayMax: 30, loss: 0.05, duplicate: 0.15 },
    proposeRate: 0.9,
  },
} as const satisfies Record<string, Partial<Scenario>>;

export type RegimeName = keyof typeof REGIMES;

/** Share of seeds that run one of the named regimes instead of a purely random draw. */
const REGIME_SHARE = 0.3;

/**
 * Draw the regime of one run from the seed's scenario stream: a random draw, and for a share of
 * seeds one of the named regimes over it. `regime` forces a named regime (or none: 'random').
 */
export function chooseScenario(rng: SeededRng, nodes: number, regime?: RegimeName | 'random'): Scenario {
  const random = drawScenario(rng, nodes);
  const names = Object.keys(REGIMES) as RegimeName[];
  const drawn = rng.chance(REGIME_SHARE) ? names[rng.nextInt(names.length)]! : 'random';
  // Drawn last, so that adding it left every earlier draw of a seed as it was.
  const maxUncommittedBytes = [0, 120, 1000, 64 << 20][rng.nextInt(4)]!;
  const chosen = regime ?? drawn;
  return chosen === 'random' ? { ...random, maxUncommittedBytes } : { ...random, maxUncommittedBytes, ...REGIMES[chosen], regime: chosen };
}

function drawScenario(rng: SeededRng, nodes: number): Omit<Scenario, 'maxUncommittedBytes'> {
  const pick = <T>(xs: readonly T[]): T => xs[rng.nextInt(xs.length)]!;
  const delayMax = pick([4, 8, 15, 30]);
  const calm = rng.chance(0.15);
  return {
    regime: 'random',
    electionTick: pick([8, 10, 10, 15]),
    heartbeatTick: pick([1, 1, 2]),
    preVote: rng.chance(0.8),
    checkQuorum: rng.chance(0.8),
    maxSizePerMsg: pick([64, 1024, 1 << 20]),
    maxInflightMsgs: pick([1, 4, 256]),
    maxInflightBytes: pick([0, 200, 32 << 20]),
    maxCommittedSizePerReady: pick([64, 8 << 20]),
    link: {
      delayMin: 1,
      delayMax,
      loss: pick([0, 0, 0.01, 0.05, 0.15]),
      duplicate: pick([0, 0.01, 0.05]),
    },
    partitionRate: calm ? 0 : pick([0.01, 0.03, 0.06]),
    partitionTicksMin: 10,
    partitionTicksMax: pick([30, 60, 120]),
    isolateLeaderShare: 0.3,
    asymmetricShare: 0.2,
    lagForSnapshotShare: 0.2,
    clogRate: calm ? 0 : pick([0, 0.02, 0.05]),
    crashRate: calm ? 0 : pick([0, 0.005, 0.01, 0.03]),
    crashLeaderShare: 0.4,
    downTicksMin: 5,
    downTicksMax: pick([20, 60]),
    fsyncDelayMin: 0,
    fsyncDelayMax: pick([0, 3, 10, 20]),
    stepDuringPersist: rng.chance(0.5),
    snapshotEvery: pick([0, 8, 16, 32]),
    proposeRate: pick([0.2, 0.5, 0.9]),
    proposeBatchMax: pick([1, 3]),
    readRate: pick([0, 0.1, 0.3]),
    transferRate: pick([0, 0.01, 0.03]),
    membership: pick(nodes === 3 ? ['none', 'grow', 'replace', 'random'] : ['none', 'shrink', 'replace', 'random']),
    confChangeRate: pick([0.05, 0.2]),
    doubleConfChange: pick([0, 0.3]),
  };
}

/** One fault, for explicit schedules (fast-check) and for the trace. */
export type FaultAction =
  | { readonly type: 'crash'; readonly node: NodeId }
  | { readonly type: 'crashLeader' }
  | { readonly type: 'restart'; readonly node: NodeId }
  | { readonly type: 'isolate'; readonly node: NodeId }
  | { readonly type: 'isolateLeader' }
  /** Symmetric split: `minority` on one side, everybody else on the other. */
  | { readonly type: 'split'; readonly minority: readonly NodeId[] }
  | { readonly type: 'oneWay'; readonly from: NodeId; readonly to: NodeId }
  /** Slow the link `from -> to` down (messages take 3 to 15 ticks) until the next heal. */
  | { readonly type: 'clog'; readonly from: NodeId; readonly to: NodeId }
  | { readonly type: 'heal' };

/** A fault at a given tick of the fault phase. */
export interface ScheduledFault {
  readonly tick: number;
  readonly action: FaultAction;
}

export function describeFault(action: FaultAction): string {
  switch (action.type) {
    case 'crash':
    case 'restart':
    case 'isolate':
      return `${action.type} ${action.node}`;
    case 'split':
      return `split {${action.minority.join(',')}} | rest`;
    case 'oneWay':
      return `block ${action.from}->${action.to}`;
    case 'clog':
      return `clog ${action.from}->${action.to}`;
    default:
      return action.type;
  }
}
