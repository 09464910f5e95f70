/**
 * The command line the two simulator sweeps share (`pnpm sim:raft` over the Raft core's driver,
 * `pnpm sim` over the server's node core): parsed here, once, without touching the process, so
 * each CLI only prints and exits.
 */
import { REGIMES, type RegimeName } from './scenario.js';

export interface SimArgs {
  seeds: number;
  firstSeed: number;
  nodes: number;
  ticks: number;
  regime: RegimeName | 'random' | undefined;
  trace: number | undefined;
  /** The CLI's own boolean flags that were given (from `extraFlags`). */
  flags: ReadonlySet<string>;
}

/** Parsed options, a request for help, or what is wrong with the arguments. */
export type SimArgsOutcome = { readonly args: SimArgs } | { readonly help: true } | { readonly error: string };

/** The usage text for `command`, with its own boolean flags (`--flag` → what it does). */
export function simUsage(command: string, extraFlags: Readonly<Record<string, string>> = {}): string {
  const extra = Object.entries(extraFlags).map(([flag, what]) => `\n  ${flag}  ${what}`);
  return `usage: ${command} [--seeds N] [--seed S] [--nodes 3|5] [--ticks T] [--regime NAME] [--trace N]
  --seeds N     number of seeds to run (default 1 with --seed, else 100)
  --seed S      first seed (default 1)
  --nodes 3|5   initial cluster size (default 3)
  --ticks T     length of the fault phase in Raft ticks (default 300)
  --regime NAME force one fault regime for every seed (default: each seed picks):
                random, ${Object.keys(REGIMES).join(', ')}
  --trace N     events kept for failure reports; with one seed, print them even on success${extra.join('')}`;
}

/** Parses `argv` (flags as `--flag value` or `--flag=value`); `extraFlags` are the CLI's own boolean flags. */
export function parseSimArgs(argv: readonly string[], extraFlags: Readonly<Record<string, string>> = {}): SimArgsOutcome {
  const args: SimArgs = { seeds: NaN, firstSeed: 1, nodes: 3, ticks: 300, regime: undefined, trace: undefined, flags: new Set() };
  const flags = new Set<string>();
  let seedGiven = false;
  class Bad extends Error {}
  const int = (flag: string, value: string | undefined, min: number, max: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min || n > max) throw new Bad(`${flag} needs an integer in [${min}, ${max}], got ${value ?? 'nothing'}`);
    return n;
  };
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
      const value = (): string | undefined => inline ?? argv[++i];
      switch (flag) {
        case '--seeds':
          args.seeds = int(flag, value(), 1, 10_000_000);
          break;
        case '--seed':
          args.firstSeed = int(flag, value(), 0, 0xffff_ffff);
          seedGiven = true;
          break;
        case '--nodes':
          args.nodes = int(flag, value(), 3, 5);
          if (args.nodes === 4) throw new Bad('--nodes must be 3 or 5');
          break;
        case '--ticks':
          args.ticks = int(flag, value(), 1, 1_000_000);
          break;
        case '--trace':
          args.trace = int(flag, value(), 1, 100_000);
          break;
        case '--regime': {
          const name = value();
          if (name === undefined || (name !== 'random' && !(name in REGIMES))) throw new Bad(`unknown regime ${name ?? ''}`);
          args.regime = name as RegimeName | 'random';
          break;
        }
        case '--help':
        case '-h':
          return { help: true };
        default:
          if (flag in extraFlags && inline === undefined) flags.add(flag);
          else throw new Bad(`unknown argument ${arg}`);
      }
    }
  } catch (error) {
    if (error instanceof Bad) return { error: error.message };
    throw error;
  }
  if (Number.isNaN(args.seeds)) args.seeds = seedGiven ? 1 : 100;
  return { args: { ...args, flags } };
}
