/**
 * The server simulator in the default suite: a smoke sweep of the production node core on 3 and
 * 5 nodes (no violations, client histories checked, every feature exercised), determinism, the
 * regression of `pnpm sim --seed 10354 --nodes 5`, and proof that it has teeth: bugs planted in
 * the node layer and in the Raft core are caught, and the same seeds pass with the real code.
 * The long sweep is `pnpm sim --seeds 2000 [--nodes 5]`.
 */
import { describe, expect, it } from 'vitest';
import type { ViolationKind } from '@keel/raft/testing';
import { BUGGY_NODES } from '../../raft/test/support/buggy-nodes.js';
import { formatServerFailure, runServerSimulation, serverSweep, type ServerSimCounters, type ServerSimOptions, type ServerSimResult } from '../src/testing/index.js';
import { BUGGY_CORES } from './support/buggy-cores.js';

const FEATURES: readonly (keyof ServerSimCounters)[] = [
  'elections',
  'committed',
  'crashes',
  'leaderCrashesDuringPersist',
  'restarts',
  'partitions',
  'messagesDuplicated',
  'snapshotsTaken',
  'snapshotsSent',
  'snapshotsInstalled',
  'transfers',
  'confChangesProposed',
  'clientRetries',
  'clientUnknown',
  'historyOpsChecked',
  'serializableReadsChecked',
  'writesApplied',
  'writesDeduplicated',
  'rangeDeletes',
  'txns',
  'answersCompared',
  'leasesGranted',
  'leasesExpired',
];

describe('server simulator smoke sweep', () => {
  it.each([
    [3, 60],
    [5, 30],
  ])('%i nodes, %i seeds: no violations, client histories checked, every feature exercised', async (nodes, seeds) => {
    const { counters, failures } = await serverSweep({ seeds, nodes });
    expect(failures, failures.map(formatServerFailure).join('\n\n')).toEqual([]);
    expect(counters.livenessChecks).toBe(seeds);
    for (const feature of FEATURES) expect(counters[feature], feature).toBeGreaterThan(0);
    expect(counters.historyOpsChecked).toBeGreaterThan(seeds * 50);
    expect(counters.historyUnknown).toBe(0);
  }, 300_000);
});

describe('server simulator determinism', () => {
  it.each([
    [3, 11],
    [5, 7],
  ])('nodes=%i seed=%i: same seed, same counters, trace and fingerprint', async (nodes, seed) => {
    const a = await runServerSimulation({ seed, nodes, traceLength: 200 });
    const b = await runServerSimulation({ seed, nodes, traceLength: 200 });
    expect(a.ok).toBe(true);
    expect(b.counters).toEqual(a.counters);
    expect(b.trace).toEqual(a.trace);
    expect(b.fingerprint).toBe(a.fingerprint);
  });
});

describe('server simulator regressions', () => {
  it('seed 1938 on 3 nodes: a follower refusing a snapshot it already committed answers with its commit (no resend loop)', async () => {
    // The receiver refused the stale snapshot in the store before the core saw it, so the
    // follower never answered and the leader re-sent it forever: no liveness.
    const result = await runServerSimulation({ seed: 1938, nodes: 3 });
    expect(result.ok, formatServerFailure(result)).toBe(true);
  });

  it('seed 10354 on 5 nodes: a node that joined empty learns the configuration from the log (no voter-less snapshot)', async () => {
    // Found by the Raft simulator when bootstrap membership was not in the log: a joined node
    // snapshotted below the first configuration entry it knew and sent a snapshot with no voters.
    for (const run of [runServerSimulation({ seed: 10354, nodes: 5 }), runServerSimulation({ seed: 10354, nodes: 5, regime: 'snapshotLag', scenario: { membership: 'grow', confChangeRate: 0.3 } })]) {
      const result = await run;
      expect(result.ok, formatServerFailure(result)).toBe(true);
    }
  });
});

/** The bound: a bug the simulator cannot find within this many seeds counts as missed. */
const MAX_SEEDS = 200;

interface PlantedBug {
  readonly name: string;
  readonly inject: Pick<ServerSimOptions, 'coreFactory' | 'rawNodeFactory' | 'disabledChecks'>;
  readonly regime: NonNullable<ServerSimOptions['regime']>;
  readonly kinds: readonly ViolationKind[];
}

const SAFETY_LOSS: readonly ViolationKind[] = ['leaderCompleteness', 'stateMachineSafety', 'logMatching', 'electionSafety', 'commitRegressed', 'linearizability'];

const BUGS: readonly PlantedBug[] = [
  // Node layer: a write answered before it applied — caught by the acknowledgement check…
  { name: 'answersWritesAtAppend', inject: { coreFactory: BUGGY_CORES.answersWritesAtAppend }, regime: 'leaderFlapping', kinds: ['ackNotApplied'] },
  // …and, with that check off, by what clients see.
  {
    name: 'answersWritesAtAppend (client histories)',
    inject: { coreFactory: BUGGY_CORES.answersWritesAtAppend, disabledChecks: ['ackNotApplied'] },
    regime: 'leaderFlapping',
    kinds: ['linearizability', 'exactlyOnce'],
  },
  // State machine: range deletes that forget the stored rows answer by apply batch, which differs
  // from replica to replica (a restarted node re-applies many entries at once) — caught by
  // comparing every replica's answer to each entry…
  {
    name: 'rangeDeletesIgnoreTheStore',
    inject: { coreFactory: BUGGY_CORES.rangeDeletesIgnoreTheStore, disabledChecks: ['linearizability'] },
    regime: 'crashDuringFsync',
    kinds: ['stateMachineSafety'],
  },
  // …and, with that check off, by what clients see.
  {
    name: 'rangeDeletesIgnoreTheStore (client histories)',
    inject: { coreFactory: BUGGY_CORES.rangeDeletesIgnoreTheStore, disabledChecks: ['stateMachineSafety'] },
    regime: 'crashDuringFsync',
    kinds: ['linearizability'],
  },
  // Node layer: a linearizable read served before its read index applied (thesis §6.4).
  { name: 'servesReadsBeforeApplied', inject: { coreFactory: BUGGY_CORES.servesReadsBeforeApplied }, regime: 'staleLeaderReads', kinds: ['linearizability'] },
  // Raft core bugs, found through the server: §5.4.1, §5.4.2 (Figure 8), thesis §6.4.
  { name: 'voteWithoutLogCheck', inject: { rawNodeFactory: BUGGY_NODES.voteWithoutLogCheck }, regime: 'leaderFlapping', kinds: SAFETY_LOSS },
  { name: 'readIndexWithoutHeartbeat', inject: { rawNodeFactory: BUGGY_NODES.readIndexWithoutHeartbeat }, regime: 'staleLeaderReads', kinds: ['linearizability', 'staleRead'] },
  // The Raft core files acknowledgements with the messages that leave before the write (§5.3):
  // the node core sends them early, as the contract lets it; a crash loses what was acknowledged…
  { name: 'acksBeforePersist', inject: { rawNodeFactory: BUGGY_NODES.acksBeforePersist }, regime: 'crashDuringFsync', kinds: ['lostAck'] },
  // …and, with that check off, by the damage it does.
  {
    name: 'acksBeforePersist (consequences)',
    inject: { rawNodeFactory: BUGGY_NODES.acksBeforePersist, disabledChecks: ['lostAck'] },
    regime: 'crashDuringFsync',
    kinds: ['coreError', ...SAFETY_LOSS],
  },
];

async function firstSafetyFailure(options: Omit<ServerSimOptions, 'seed'>): Promise<ServerSimResult | undefined> {
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    const result = await runServerSimulation({ ...options, seed });
    if (result.violations.some((v) => v.kind !== 'liveness')) return result;
  }
  return undefined;
}

describe('the server simulator catches planted bugs', () => {
  it.each(BUGS)('$name', async ({ name, inject, regime, kinds }) => {
    const caught = await firstSafetyFailure({ nodes: 3, regime, ...inject });
    expect(caught, `not caught within ${MAX_SEEDS} seeds`).toBeDefined();
    const violation = caught!.violations.find((v) => v.kind !== 'liveness')!;
    console.log(`${name} (regime ${regime}): caught at seed ${caught!.seed}: ${violation.kind}: ${violation.message.slice(0, 200)}`);
    expect(kinds).toContain(violation.kind);
    expect(caught!.trace.at(-1)).toContain('VIOLATION');
    const failing: string[] = [];
    for (let seed = 1; seed <= Math.max(caught!.seed, 20); seed++) {
      const result = await runServerSimulation({ seed, nodes: 3, regime });
      if (!result.ok) failing.push(`${seed}:${result.violations[0]!.kind}`);
    }
    expect(failing, `correct node, regime ${regime}`).toEqual([]);
  }, 300_000);
});
