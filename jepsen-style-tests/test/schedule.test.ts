import { describe, expect, it } from 'vitest';
import { FAULTS, NEMESES } from '../src/nemesis/names.js';
import { SCHEDULE_MS, planSchedule } from '../src/nemesis/schedule.js';

describe('planSchedule', () => {
  it('is a function of the seed: the same seed gives the same schedule, another seed another one', () => {
    const a = planSchedule({ seed: 7, nemesis: 'mixed', timeMs: 600_000, nodes: 3 });
    expect(planSchedule({ seed: 7, nemesis: 'mixed', timeMs: 600_000, nodes: 3 })).toEqual(a);
    expect(planSchedule({ seed: 8, nemesis: 'mixed', timeMs: 600_000, nodes: 3 })).not.toEqual(a);
  });

  it('staggers faults within the documented ranges and plans none to start after the time limit', () => {
    for (const seed of [1, 2, 3, 99]) {
      const plans = planSchedule({ seed, nemesis: 'kill-one', timeMs: 60_000, nodes: 3 });
      expect(plans.length).toBeGreaterThan(2);
      let at = 0;
      plans.forEach((p, i) => {
        const [gapMin, gapMax] = i === 0 ? SCHEDULE_MS.firstGap : SCHEDULE_MS.gap;
        expect(p.gapMs).toBeGreaterThanOrEqual(gapMin);
        expect(p.gapMs).toBeLessThanOrEqual(gapMax);
        expect(p.holdMs).toBeGreaterThanOrEqual(SCHEDULE_MS.hold[0]);
        expect(p.holdMs).toBeLessThanOrEqual(SCHEDULE_MS.hold[1]);
        expect(at + p.gapMs).toBeLessThan(60_000);
        at += p.gapMs + p.holdMs;
        expect(p.fault).toBe('kill-one');
      });
    }
  });

  it('mixed draws every fault; one-way faults are blackholes; --partition-mode applies to the rest', () => {
    const mixed = planSchedule({ seed: 1, nemesis: 'mixed', timeMs: 3_600_000, nodes: 3 });
    expect(new Set(mixed.map((p) => p.fault))).toEqual(new Set(FAULTS));
    expect(new Set(mixed.map((p) => p.mode))).toEqual(new Set(['blackhole', 'reset']));
    const reset = planSchedule({ seed: 1, nemesis: 'mixed', timeMs: 3_600_000, nodes: 3, partitionMode: 'reset' });
    for (const p of reset) expect(p.mode).toBe(p.fault === 'asymmetric' || p.fault === 'ring' ? 'blackhole' : 'reset');
    // From 5 nodes on the ring is symmetric, so a reset ring is a real choice.
    const ring5 = planSchedule({ seed: 1, nemesis: 'ring', timeMs: 3_600_000, nodes: 5, partitionMode: 'reset' });
    for (const p of ring5) expect(p.mode).toBe('reset');
  });

  it('knows every nemesis the command line names', () => {
    for (const nemesis of NEMESES) expect(planSchedule({ seed: 3, nemesis, timeMs: 30_000, nodes: 5 }).length).toBeGreaterThan(0);
  });
});
