/**
 * fast-check drives explicit fault schedules through the simulator (STYLE.md 15). A failing
 * schedule shrinks to a small counterexample, and fast-check prints the seed and path that
 * replay it: `fc.assert(..., { seed, path })`.
 */
import { describeFault, runSimulation, type FaultAction, type ScheduledFault, type Violation } from '@keel/raft/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const TICKS = 150;
/** Fixed so the shrinking demonstration is reproducible; the safety properties use fresh seeds. */
const FC_SEED = Number(process.env.SIM_FC_SEED ?? 20261121);
/** The shrinking demonstration keeps membership still, so the schedule is the only variable. */
const NO_MEMBERSHIP = { membership: 'none' } as const;

function faultAction(nodes: number): fc.Arbitrary<FaultAction> {
  const node = fc.integer({ min: 1, max: nodes });
  return fc.oneof(
    fc.record({ type: fc.constant('crash' as const), node }),
    fc.constant({ type: 'crashLeader' as const }),
    fc.record({ type: fc.constant('restart' as const), node }),
    fc.record({ type: fc.constant('isolate' as const), node }),
    fc.constant({ type: 'isolateLeader' as const }),
    fc.record({
      type: fc.constant('split' as const),
      minority: fc.uniqueArray(node, { minLength: 1, maxLength: Math.floor(nodes / 2) }),
    }),
    fc.record({ type: fc.constant('oneWay' as const), from: node, to: node }),
    fc.record({ type: fc.constant('clog' as const), from: node, to: node }),
    fc.constant({ type: 'heal' as const }),
  );
}

/** Crash-heavy actions: what it takes to lose writes that were acknowledged too early. */
function crashAction(nodes: number): fc.Arbitrary<FaultAction> {
  const node = fc.integer({ min: 1, max: nodes });
  return fc.oneof(
    { arbitrary: fc.record({ type: fc.constant('crash' as const), node }), weight: 3 },
    { arbitrary: fc.constant({ type: 'crashLeader' as const }), weight: 2 },
    { arbitrary: fc.record({ type: fc.constant('restart' as const), node }), weight: 1 },
    { arbitrary: fc.record({ type: fc.constant('split' as const), minority: fc.uniqueArray(node, { minLength: 1, maxLength: Math.floor(nodes / 2) }) }), weight: 2 },
    { arbitrary: fc.constant({ type: 'heal' as const }), weight: 1 },
  );
}

function schedule(nodes: number, maxLength: number, action = faultAction(nodes)): fc.Arbitrary<ScheduledFault[]> {
  return fc.array(fc.record({ tick: fc.integer({ min: 0, max: TICKS - 1 }), action }), { maxLength });
}

/** Slow disks, so writes are pending when a scheduled crash hits. */
const ACK_RUN = { regime: 'crashDuringFsync', scenario: NO_MEMBERSHIP } as const;

/** No safety violation (the ack bug may also just wedge the cluster; we want the safety failure: lostAck or worse). */
const safe = (violations: readonly Violation[]): boolean => violations.every((v) => v.kind === 'liveness');

const show = (s: readonly ScheduledFault[]): string =>
  [...s].sort((a, b) => a.tick - b.tick).map((f) => `@${f.tick} ${describeFault(f.action)}`).join('; ');

describe('fault schedules (fast-check)', () => {
  it.each([3, 5])('the correct core survives arbitrary fault schedules on %i nodes', (nodes) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fff_ffff }), schedule(nodes, 30), (seed, faults) => {
        const result = runSimulation({ seed, nodes, ticks: TICKS, schedule: faults });
        if (!result.ok) throw new Error(`seed ${seed}: ${result.violations[0]!.kind}: ${result.violations[0]!.message}\n  schedule: ${show(faults)}`);
        // Liveness held: the healed majority committed a proposal.
        expect(result.counters.livenessChecks).toBe(1);
      }),
      { numRuns: 40 },
    );
  });

  it('shrinks a schedule that breaks the ack-before-persist driver to a small counterexample', () => {
    const details = fc.check(
      fc.property(fc.integer({ min: 1, max: 0x7fff_ffff }), schedule(3, 20, crashAction(3)), (seed, faults) => {
        const result = runSimulation({ seed, nodes: 3, ticks: TICKS, schedule: faults, ackBeforePersist: true, ...ACK_RUN });
        return safe(result.violations);
      }),
      { numRuns: 1000, seed: FC_SEED },
    );
    expect(details.failed).toBe(true);
    const [seed, faults] = details.counterexample!;
    // What a developer gets to replay the failure.
    console.log(
      `fast-check seed=${details.seed} path=${details.counterexamplePath} runs=${details.numRuns} shrinks=${details.numShrinks}\n` +
        `  counterexample: sim seed ${seed}, schedule: ${show(faults)}`,
    );
    expect(faults.length).toBeLessThanOrEqual(6);
    const replay = runSimulation({ seed, nodes: 3, ticks: TICKS, schedule: faults, ackBeforePersist: true, ...ACK_RUN });
    expect(safe(replay.violations)).toBe(false);
    expect(faults.some((f) => f.action.type === 'crash' || f.action.type === 'crashLeader')).toBe(true);
    // The same schedule is harmless with the correct driver.
    expect(runSimulation({ seed, nodes: 3, ticks: TICKS, schedule: faults, ...ACK_RUN }).ok).toBe(true);
  });
});
