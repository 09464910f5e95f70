/** The `pnpm jepsen` command line. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CUT_MODES, type CutMode } from '@keel/test-support';
import { NEMESES, isNemesisName } from '../nemesis/names.js';
import { NETS, type NetKind } from '../runner/network.js';
import { CLIENTS_MAX, RUN_DEFAULTS, NODES_MAX, NODES_MIN, WORKLOADS, type RunOptions, type WorkloadName } from '../runner/options.js';

export const USAGE = `Usage: pnpm jepsen [--workload register|set|bank|lock|watch] --nemesis <name> --time <s> [--seed <n>] [options]

Run a Jepsen-style test against a real Keel cluster: logical clients run the workload while the
nemesis injects faults on a schedule drawn from the seed; then the cluster is healed and the
history is checked. Every run writes jepsen-style-tests/store/<run-id>/ (history.jsonl,
results.json, report.html, each node's log); store/latest points at the newest.

Options:
  --workload <w>        register (default: per-key read/write/cas, linearizability), set
                        (unique adds, a final read: lost and phantom elements) or bank
                        (transfers as txns, snapshot reads: totals, negative balances, each
                        transfer applied as its outcome says) or lock (holders write under
                        their fencing tokens: tokens increase, no two holders' writes interleave)
                        or watch (puts and deletes under watch/, watchers from chosen revisions:
                        each delivers exactly the committed changes of its prefix, in order)
  --nemesis <name>      ${NEMESES.join(', ')}
  --time <s>            how long the workload runs, in seconds
  --seed <n>            drives the fault schedule and the operations (default: random, printed)
  --nodes <n>           cluster size, ${NODES_MIN}-${NODES_MAX} (default ${RUN_DEFAULTS.nodes}; 3 and 5 are the tested sizes)
  --clients <n>         unpinned logical clients (default ${RUN_DEFAULTS.clients}); one probe pinned to each node comes on top
  --read-mode <m>       linearizable (default) or serializable (may be stale: the checkers say so)
  --net <kind>          proxy (default: every peer link through a proxy of the harness) or netns
                        (a network namespace per node, cuts by iptables in the kernel: Linux, root)
  --partition-mode <m>  blackhole or reset for every partition (default: drawn per fault)
  --store <dir>         where run directories go (default jepsen-style-tests/store)
  -h, --help            show this help

Exit status: 0 valid, 1 invalid, 2 unknown, the run itself broke, or it cannot run here.

Examples:
  pnpm jepsen --workload register --nemesis isolate-leader --time 30 --seed 1
  pnpm jepsen --workload set --nemesis kill-majority --time 60 --seed 7 --nodes 5
  pnpm jepsen --workload bank --nemesis mixed --time 150 --seed 3
  pnpm jepsen --workload watch --nemesis kill-leader --time 60 --seed 4
  pnpm jepsen --nemesis mixed --time 600          # a long soak: register workload, a random seed
`;

/** A command line that cannot run: the message, and exit status 2. */
export class UsageError extends Error {}

function integer(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${flag} must be an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  return n;
}

function oneOf<T extends string>(text: string, flag: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

/** Parses `argv`; undefined for --help. Throws UsageError on a bad command line. */
export function parseCommandLine(argv: readonly string[], randomSeed: () => number = () => Math.floor(Math.random() * 1_000_000)): RunOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        workload: { type: 'string', default: RUN_DEFAULTS.workload },
        nemesis: { type: 'string' },
        time: { type: 'string' },
        seed: { type: 'string' },
        nodes: { type: 'string', default: String(RUN_DEFAULTS.nodes) },
        clients: { type: 'string', default: String(RUN_DEFAULTS.clients) },
        'read-mode': { type: 'string', default: RUN_DEFAULTS.readMode },
        net: { type: 'string', default: RUN_DEFAULTS.net },
        'partition-mode': { type: 'string' },
        store: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return undefined;
  for (const flag of ['nemesis', 'time'] as const) {
    if (values[flag] === undefined) throw new UsageError(`--${flag} is required\n\n${USAGE}`);
  }
  const nemesis = values.nemesis!;
  if (!isNemesisName(nemesis)) throw new UsageError(`--nemesis must be one of ${NEMESES.join(', ')}, got ${JSON.stringify(nemesis)}`);
  const partitionMode = values['partition-mode'];
  return {
    workload: oneOf<WorkloadName>(values.workload, '--workload', WORKLOADS),
    nemesis,
    timeSeconds: integer(values.time!, '--time', 1, 86_400),
    seed: values.seed === undefined ? randomSeed() : integer(values.seed, '--seed', 0, Number.MAX_SAFE_INTEGER),
    nodes: integer(values.nodes, '--nodes', NODES_MIN, NODES_MAX),
    clients: integer(values.clients, '--clients', 1, CLIENTS_MAX),
    readMode: oneOf(values['read-mode'], '--read-mode', ['linearizable', 'serializable'] as const),
    net: oneOf<NetKind>(values.net, '--net', NETS),
    ...(partitionMode === undefined ? {} : { partitionMode: oneOf<CutMode>(partitionMode, '--partition-mode', CUT_MODES) }),
    ...(values.store === undefined ? {} : { storeDir: resolve(values.store) }),
  };
}
