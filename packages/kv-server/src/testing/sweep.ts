import { addServerCounters, emptyServerCounters, runServerSimulation, type ServerSimCounters, type ServerSimOptions, type ServerSimResult } from './simulator.js';

export interface ServerSweepOptions extends Omit<ServerSimOptions, 'seed'> {
  readonly seeds: number;
  /** The first seed; seeds run `firstSeed, firstSeed + 1, …`. Default 1. */
  readonly firstSeed?: number;
  readonly stopOnFailure?: boolean;
  readonly onResult?: (result: ServerSimResult) => void;
}

export interface ServerSweepResult {
  readonly counters: ServerSimCounters;
  readonly failures: readonly ServerSimResult[];
}

/** Run consecutive seeds and sum their counters. */
export async function serverSweep(options: ServerSweepOptions): Promise<ServerSweepResult> {
  const { seeds, firstSeed = 1, stopOnFailure = false, onResult, ...sim } = options;
  const counters = emptyServerCounters();
  const failures: ServerSimResult[] = [];
  for (let k = 0; k < seeds; k++) {
    const result = await runServerSimulation({ ...sim, seed: firstSeed + k });
    addServerCounters(counters, result.counters);
    onResult?.(result);
    if (!result.ok) {
      failures.push(result);
      if (stopOnFailure) break;
    }
  }
  return { counters, failures };
}

/** The report printed for a failing seed: seed, violations, scenario and the last events. */
export function formatServerFailure(result: ServerSimResult): string {
  const lines = [`FAILED seed=${result.seed} nodes=${result.nodes}`];
  for (const v of result.violations) lines.push(`  violation ${v.kind}: ${v.message}`);
  lines.push(`  scenario ${JSON.stringify(result.scenario)}`);
  lines.push(`  last ${result.trace.length} events:`);
  for (const line of result.trace) lines.push(`    ${line}`);
  lines.push(`  reproduce: pnpm sim --seed ${result.seed} --nodes ${result.nodes}`);
  return lines.join('\n');
}
