/**
 * Proof that the simulator has teeth: each test injects one real Raft bug through a test-only
 * seam (a buggy node factory from `support/buggy-nodes.ts`, or the driver's `ackBeforePersist`)
 * and requires the simulator to report the violation it causes within a bounded number of seeds,
 * under the fault regime aimed at that class of bug. The same seeds and regime with the correct
 * node report nothing, so the violation is the bug's and not the regime's.
 */
import { runSimulation, type NodeFactory, type RegimeName, type SimOptions, type SimResult, type ViolationKind } from '@keel/raft/testing';
import { describe, expect, it } from 'vitest';
import { BUGGY_NODES } from './support/buggy-nodes.js';

/** The bound: a bug the simulator cannot find within this many seeds counts as missed. */
const MAX_SEEDS = 500;
/** The correct node runs at least this many seeds of the same regime. */
const MIN_CLEAN_SEEDS = 40;

interface InjectedBug {
  readonly name: string;
  readonly inject: Pick<SimOptions, 'nodeFactory' | 'ackBeforePersist' | 'disabledChecks' | 'scenario'>;
  readonly regime: RegimeName;
  /** The violations this bug may legitimately surface as. */
  readonly kinds: readonly ViolationKind[];
}

const SAFETY_LOSS: readonly ViolationKind[] = ['leaderCompleteness', 'stateMachineSafety', 'logMatching', 'electionSafety', 'commitRegressed'];

const bug = (name: string, factory: NodeFactory, regime: RegimeName, kinds: readonly ViolationKind[]): InjectedBug => ({
  name,
  inject: { nodeFactory: factory },
  regime,
  kinds,
});

const BUGS: readonly InjectedBug[] = [
  // Issue 2 (a) — Reference: §5.4.1 (election restriction).
  bug('voteWithoutLogCheck', BUGGY_NODES.voteWithoutLogCheck, 'leaderFlapping', SAFETY_LOSS),
  // Issue 2 (b) — Reference: §5.4.2, Figure 8.
  bug('commitPreviousTermByCounting', BUGGY_NODES.commitPreviousTermByCounting, 'leaderFlapping', SAFETY_LOSS),
  // Issue 2 (c) — Reference: §5.3 / Ready contract: the driver sends `messagesAfterPersist` before
  // the write is durable. Caught directly: a crash loses an entry or vote the node had acknowledged…
  { name: 'ackBeforePersist', inject: { ackBeforePersist: true }, regime: 'crashDuringFsync', kinds: ['lostAck'] },
  // …with that check switched off, by the core's error log: a leader's heartbeat carries a commit
  // index beyond the log of the follower that lost what it acknowledged…
  {
    name: 'ackBeforePersist (core error log)',
    inject: { ackBeforePersist: true, disabledChecks: ['lostAck'] },
    regime: 'crashDuringFsync',
    kinds: ['coreError', ...SAFETY_LOSS],
  },
  // …and, with both switched off, by what the loss does to the committed history.
  {
    name: 'ackBeforePersist (consequences)',
    inject: { ackBeforePersist: true, disabledChecks: ['lostAck', 'coreError'] },
    regime: 'crashDuringFsync',
    kinds: SAFETY_LOSS,
  },
  // Issue 10 — Reference: §5.2, §5.3 / Ready contract (only acknowledgements wait for the write).
  // The core files append and vote responses with the messages that leave before the write, so
  // a correct driver sends them early. Caught directly: a crash loses what was acknowledged…
  bug('acksBeforePersist', BUGGY_NODES.acksBeforePersist, 'crashDuringFsync', ['lostAck']),
  // …and, with that check off, by the damage it does.
  {
    name: 'acksBeforePersist (consequences)',
    inject: { nodeFactory: BUGGY_NODES.acksBeforePersist, disabledChecks: ['lostAck'] },
    regime: 'crashDuringFsync',
    kinds: ['coreError', ...SAFETY_LOSS],
  },
  // Issue 3 (a) — Reference: thesis §6.4 (ReadIndex confirms leadership with a heartbeat round).
  bug('readIndexWithoutHeartbeat', BUGGY_NODES.readIndexWithoutHeartbeat, 'staleLeaderReads', ['staleRead']),
  // Issue 3 (b) — Reference: thesis §4.1 (one membership change at a time).
  // Caught directly by the one-change-at-a-time check…
  bug('concurrentConfChanges', BUGGY_NODES.concurrentConfChanges, 'membershipChurn', ['confChangeOverlap']),
  // …and, with that check off, by the split-brain it allows (disjoint quorums of overlapping configurations).
  {
    name: 'concurrentConfChanges (consequences)',
    inject: {
      nodeFactory: BUGGY_NODES.concurrentConfChanges,
      disabledChecks: ['confChangeOverlap'],
      scenario: { membership: 'random', confChangeRate: 0.3, doubleConfChange: 0.8 },
    },
    regime: 'membershipChurn',
    kinds: SAFETY_LOSS,
  },
  // Issue 3 (c) — Reference: §7 (a follower never discards committed state for an older snapshot).
  bug('installStaleSnapshot', BUGGY_NODES.installStaleSnapshot, 'snapshotLag', ['staleSnapshot', 'appliedRegressed', 'commitRegressed']),
];

/** The first seed in `1..MAX_SEEDS` whose run reports a violation other than liveness. */
function firstSafetyFailure(options: Omit<SimOptions, 'seed'>): SimResult | undefined {
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    const result = runSimulation({ ...options, seed });
    if (result.violations.some((v) => v.kind !== 'liveness')) return result;
  }
  return undefined;
}

describe('the simulator catches injected bugs', () => {
  for (const nodes of [3, 5]) {
    it.each(BUGS)(`$name on ${nodes} nodes`, ({ name, inject, regime, kinds }) => {
      const caught = firstSafetyFailure({ nodes, regime, ...inject });
      expect(caught, `not caught within ${MAX_SEEDS} seeds`).toBeDefined();
      const violation = caught!.violations.find((v) => v.kind !== 'liveness')!;
      console.log(`${name} (${nodes} nodes, regime ${regime}): caught at seed ${caught!.seed}: ${violation.kind}: ${violation.message}`);
      expect(kinds).toContain(violation.kind);
      // The failure report carries the seed and the events that led to it.
      expect(caught!.trace.at(-1)).toContain('VIOLATION');

      const seeds = Math.max(caught!.seed, MIN_CLEAN_SEEDS);
      const failing: string[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const result = runSimulation({ seed, nodes, regime, ...(inject.scenario === undefined ? {} : { scenario: inject.scenario }) });
        if (!result.ok) failing.push(`${seed}:${result.violations[0]!.kind}`);
      }
      expect(failing, `correct node, regime ${regime}`).toEqual([]);
    });
  }
});
