/**
 * `pnpm sim` — sweep seeds of the server simulator: clusters of the production node core (state
 * machine, sessions, stores over memory-level on simulated disks) under the Raft simulator's
 * faults, with client histories checked for linearizability and exactly-once writes.
 * (`pnpm sim:raft` sweeps the Raft core alone, with its raft-only driver.)
 *
 *   pnpm sim --seeds 2000 --nodes 5          # seeds 1..2000
 *   pnpm sim --seed 1234 --nodes 3 --trace 200  # one seed, with its last 200 events
 *
 * Prints the seed range first, the report of every failing seed (seed, violations, scenario,
 * trace), and ends with ONE JSON summary line on stdout (the Raft counters plus client
 * operations, retries and history operations checked). Exit status: 0 when no seed violated an
 * invariant, 1 when one did, 2 on bad usage. Progress goes to stderr.
 */
import { parseSimArgs, simUsage, type SimArgs } from '@keel/raft/testing';
import { formatServerFailure, runServerSimulation, serverSweep, type ServerSimResult } from '@keel/kv-server/testing';

const EXTRA_FLAGS = {};

function parseArgs(argv: readonly string[]): SimArgs {
  const outcome = parseSimArgs(argv, EXTRA_FLAGS);
  if ('args' in outcome) return outcome.args;
  if ('help' in outcome) {
    process.stdout.write(`${simUsage('pnpm sim', EXTRA_FLAGS)}\n`);
    process.exit(0);
  }
  process.stderr.write(`pnpm sim: ${outcome.error}\n${simUsage('pnpm sim', EXTRA_FLAGS)}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const last = opts.firstSeed + opts.seeds - 1;
  process.stdout.write(
    `sim: seeds ${opts.firstSeed}..${last} nodes=${opts.nodes} ticks=${opts.ticks}${opts.regime === undefined ? '' : ` regime=${opts.regime}`}\n`,
  );
  const started = performance.now();
  const failing: number[] = [];
  const sim = {
    nodes: opts.nodes,
    ticks: opts.ticks,
    ...(opts.regime === undefined ? {} : { regime: opts.regime }),
    ...(opts.trace === undefined ? {} : { traceLength: opts.trace }),
  };
  const onResult = (result: ServerSimResult): void => {
    if (!result.ok) {
      failing.push(result.seed);
      process.stdout.write(`${formatServerFailure(result)}\n`);
    } else if (opts.seeds === 1 && opts.trace !== undefined) {
      process.stdout.write(`seed ${result.seed} ok; scenario ${JSON.stringify(result.scenario)}\n`);
      for (const line of result.trace) process.stdout.write(`  ${line}\n`);
    }
    const done = result.seed - opts.firstSeed + 1;
    if (done % 250 === 0 && done < opts.seeds) {
      process.stderr.write(`sim: ${done}/${opts.seeds} seeds, ${failing.length} failing, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }
  };
  const { counters } =
    opts.seeds === 1
      ? single(await runServerSimulation({ ...sim, seed: opts.firstSeed }), onResult)
      : await serverSweep({ ...sim, seeds: opts.seeds, firstSeed: opts.firstSeed, onResult });
  process.stderr.write(`sim: ${opts.seeds} seeds in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const summary = { nodes: opts.nodes, firstSeed: opts.firstSeed, ...counters, failingSeeds: failing.slice(0, 50) };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exitCode = counters.violations > 0 ? 1 : 0;
}

function single(result: ServerSimResult, onResult: (r: ServerSimResult) => void): { counters: ServerSimResult['counters'] } {
  onResult(result);
  return { counters: result.counters };
}

await main();
