/** The `pnpm cluster` command line. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ADMIN_PORT_OFFSET, PEER_PORT_OFFSET, type LogLevel } from '../cluster.js';

export const NODES_MAX = 9;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface CliOptions {
  readonly nodes: number;
  readonly basePort: number;
  readonly dataDir: string;
  readonly fresh: boolean;
  readonly logLevel: LogLevel;
  readonly restartCrashed: boolean;
  /** Every link over TLS, with throwaway certificates in <data-dir>/tls. */
  readonly tls: boolean;
  /** Everything after "--", for every keel-server. */
  readonly serverArgs: readonly string[];
}

export const USAGE = `Usage: pnpm cluster [options] [-- keel-server options]

Start a local Keel cluster and stream its logs; Ctrl-C stops it.

Options:
  --nodes <n>         number of nodes, 1-${NODES_MAX} (default 3)
  --base-port <port>  client port of node 1; node i listens for clients on base+i-1,
                      for peers on base+${PEER_PORT_OFFSET}+i-1 and serves its admin listener
                      (metrics, health, dashboard) on base+${ADMIN_PORT_OFFSET}+i-1 (default 7001)
  --data-dir <dir>    where the nodes keep their data, one subdirectory per node
                      (default ./.keel-data; kept across restarts)
  --fresh             delete the data dir first (start an empty cluster); refused
                      while a running node holds it
  --restart-crashed   start a node again when it exits without being asked to
  --tls               run every link over TLS: a throwaway CA and certificates are
                      written to <data-dir>/tls at each start (mutual TLS between
                      nodes, client certificates required); prints the kvctl flags
  --log-level <lvl>   node log level: debug, info, warn, error (default info)
  -h, --help          show this help

Commands, typed while it runs (one per line):
  status              every node's pid, state, role, term, leader and indexes
  stop <id>           stop node <id> gracefully (SIGTERM)
  kill <id>           kill node <id> (SIGKILL)
  start <id>          start a stopped node again
  restart <id>        stop node <id> and start it again on the same data
  help                list these commands

Examples:
  pnpm cluster
  pnpm cluster --nodes 5 --fresh
  pnpm cluster --base-port 8001 --data-dir /tmp/keel --restart-crashed
  pnpm cluster --tls --fresh
`;

/** A command line that cannot run: the message, and exit status 2. */
export class UsageError extends Error {}

/** Parses `argv`; undefined for --help. Throws UsageError on a bad command line. */
export function parseCommandLine(argv: readonly string[]): CliOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: 'string', default: '3' },
        'base-port': { type: 'string', default: '7001' },
        'data-dir': { type: 'string', default: '.keel-data' },
        fresh: { type: 'boolean', default: false },
        'restart-crashed': { type: 'boolean', default: false },
        tls: { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  const nodes = Number(values.nodes);
  if (!/^\d+$/.test(values.nodes) || nodes < 1 || nodes > NODES_MAX) throw new UsageError(`--nodes must be an integer in 1..${NODES_MAX}`);
  const basePort = Number(values['base-port']);
  if (!/^\d+$/.test(values['base-port']) || basePort < 1024 || basePort + ADMIN_PORT_OFFSET + nodes - 1 > 65535) {
    throw new UsageError(`--base-port must be an integer in 1024..${65535 - ADMIN_PORT_OFFSET - nodes + 1}`);
  }
  const logLevel = values['log-level'] as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError('--log-level must be debug, info, warn or error');
  return {
    nodes,
    basePort,
    dataDir: resolve(values['data-dir']),
    fresh: values.fresh,
    logLevel,
    restartCrashed: values['restart-crashed'],
    tls: values.tls,
    serverArgs: positionals,
  };
}
