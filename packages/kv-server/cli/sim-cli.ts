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
import { REGIMES, type RegimeName } from '@keel/raft/testing';
import { formatServerFailure, runServerSimulation, serverSweep, type ServerSimResult } from '@keel/kv-server/testing';

interface CliOptions {
  seeds: number;
  firstSeed: number;
  nodes: number;
  ticks: number;
  regime: RegimeName | 'random' | undefined;
  trace: number | undefined;
}

const USAGE = `usage: pnpm sim [--seeds N] [--seed S] [--nodes 3|5] [--ticks T] [--regime NAME] [--trace N]
  --seeds N     number of seeds to run (default 1 with --seed, else 100)
  --seed S      first seed (default 1)
  --nodes 3|5   initial cluster size (default 3)
  --ticks T     length of the fault phase in Raft ticks (default 300)
  --regime NAME force one fault regime for every seed (default: each seed picks):
                random, ${Object.keys(REGIMES).join(', ')}
  --trace N     events kept for failure reports; with one seed, print them even on success`;

function fail(message: string): never {
  process.stderr.write(`pnpm sim: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = { seeds: NaN, firstSeed: 1, nodes: 3, ticks: 300, regime: undefined, trace: undefined };
  let seedGiven = false;
  const int = (flag: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min || n > max) fail(`${flag} needs an integer in [${min}, ${max}], got ${value ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--seeds':
        opts.seeds = int(flag, value(), 1, 10_000_000);
        break;
      case '--seed':
        opts.firstSeed = int(flag, value(), 0, 0xffff_ffff);
        seedGiven = true;
        break;
      case '--nodes':
        opts.nodes = int(flag, value(), 3, 5);
        if (opts.nodes === 4) fail('--nodes must be 3 or 5');
        break;
      case '--ticks':
        opts.ticks = int(flag, value(), 1, 1_000_000);
        break;
      case '--trace':
        opts.trace = int(flag, value(), 1, 100_000);
        break;
      case '--regime': {
        const name = value();
        if (name === undefined || (name !== 'random' && !(name in REGIMES))) fail(`unknown regime ${name ?? ''}`);
        opts.regime = name as RegimeName | 'random';
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  if (Number.isNaN(opts.seeds)) opts.seeds = seedGiven ? 1 : 100;
  return opts;
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
