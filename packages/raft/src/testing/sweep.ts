import { runSimulation, type SimOptions, type SimResult } from './simulator.js';
import { addCounters, emptyCounters, type SimCounters } from './summary.js';

export interface SweepOptions extends Omit<SimOptions, 'seed'> {
  /** How many seeds to run. */
  readonly seeds: number;
  /** The first seed; seeds run `firstSeed, firstSeed + 1, …`. Default 1. */
  readonly firstSeed?: number;
  /** Stop at the first failing seed. Default false. */
  readonly stopOnFailure?: boolean;
  /** Called after each seed (progress output, early inspection). */
  readonly onResult?: (result: SimResult) => void;
}

export interface SweepResult {
  /** Counters summed over every seed run. */
  readonly counters: SimCounters;
  readonly failures: readonly SimResult[];
}

/** Run consecutive seeds and sum their counters. */
export function sweep(options: SweepOptions): SweepResult {
  const { seeds, firstSeed = 1, stopOnFailure = false, onResult, ...sim } = options;
  const counters = emptyCounters();
  const failures: SimResult[] = [];
  for (let k = 0; k < seeds; k++) {
    const result = runSimulation({ ...sim, seed: firstSeed + k });
    addCounters(counters, result.counters);
    onResult?.(result);
    if (!result.ok) {
      failures.push(result);
      if (stopOnFailure) break;
    }
  }
  return { counters, failures };
}

/** The report printed for a failing seed: seed, violations, scenario and the last events. */
export function formatFailure(result: SimResult): string {
  const lines = [`FAILED seed=${result.seed} nodes=${result.nodes}`];
  for (const v of result.violations) lines.push(`  violation ${v.kind}: ${v.message}`);
  lines.push(`  scenario ${JSON.stringify(result.scenario)}`);
  lines.push(`  last ${result.trace.length} events:`);
  for (const line of result.trace) lines.push(`    ${line}`);
  lines.push(`  reproduce: pnpm sim:raft --seed ${result.seed} --nodes ${result.nodes}`);
  return lines.join('\n');
}
