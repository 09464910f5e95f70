/**
 * `pnpm cluster`: a local Keel cluster of keel-server processes in one command, on the harness.
 *
 * Waits until a leader is elected, prints the endpoints and a ready kvctl example, streams the
 * nodes' logs prefixed by node id, takes commands on stdin (status, stop/kill/start/restart a
 * node), optionally restarts nodes that die, and on Ctrl-C / SIGINT / SIGTERM stops every node by
 * PID (SIGTERM, then SIGKILL after a grace period). Data persists across runs unless --fresh.
 *
 * Exit status: 0 after a clean stop; 1 if the cluster could not start (ports in use, data dir held
 * by a running node, a node failed, no leader in time) or a node had to be killed at the end;
 * 2 on a bad command line.
 */
import { mkdirSync } from 'node:fs';
import { ADMIN_PORT_OFFSET, Cluster, PEER_PORT_OFFSET } from '../cluster.js';
import type { ClusterNode } from '../cluster-node.js';
import { clearDataRoot } from '../data-root.js';
import { describeExit, type ExitInfo } from '../node-process.js';
import { requireBuilt } from '../paths.js';
import { kvctlTlsArgs } from '../tls/cluster-tls.js';
import { portsInUse } from '../ports.js';
import { Console } from './console.js';
import { checkLayout } from './layout.js';
import { USAGE, UsageError, parseCommandLine, type CliOptions } from './options.js';
import { nodePrefix, paint, prettyLine } from './pretty-log.js';

const HOST = '127.0.0.1';
/** How long to wait for a leader, in ms. */
const LEADER_WAIT_MS = 30_000;
/** How long a node gets to stop after SIGTERM before SIGKILL, in ms. */
const STOP_GRACE_MS = 10_000;
/** A second signal this soon after the first is the same request delivered twice (a terminal signals the whole group). */
const SAME_SIGNAL_MS = 500;
/** --restart-crashed: first delay, longest delay, and how long a node must live for the delay to reset. */
const RESTART_DELAY_MS_MIN = 1_000;
const RESTART_DELAY_MS_MAX = 30_000;
const RESTART_STABLE_MS = 10_000;
/** Node log lines kept in memory per process (the rest is on the terminal). */
const LOG_LINES_MAX = 1_000;

const COMMANDS_HELP = `commands: status | stop <id> | kill <id> | start <id> | restart <id> | help`;

function fail(message: string, status = 1): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(status);
}

class ClusterCli {
  private cluster: Cluster | undefined;
  private readonly console: Console;
  private stopping: Promise<void> | undefined;
  private firstSignalAt: number | undefined;
  private killed = false;
  /** Commands (typed, or restarts of crashed nodes) run one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private readonly restartDelay = new Map<number, number>();
  private readonly stopRequested: Promise<void>;
  private requestStop!: () => void;

  constructor(private readonly options: CliOptions) {
    this.stopRequested = new Promise((resolve) => (this.requestStop = resolve));
    this.console = Console.open({
      line: (text) => this.command(text),
      interrupt: () => this.onSignal('SIGINT'),
    });
    process.on('SIGINT', () => this.onSignal('SIGINT'));
    process.on('SIGTERM', () => this.onSignal('SIGTERM'));
  }

  /** Starts the cluster; `newData` says whether the data dir was just created. */
  async run(newData: boolean): Promise<void> {
    const o = this.options;
    this.say(`cluster: starting ${o.nodes} node(s) (${newData ? 'new data' : 'existing data'} in ${o.dataDir})\n`);
    let cluster: Cluster;
    try {
      cluster = await Cluster.start({
        nodes: o.nodes,
        basePort: o.basePort,
        dataRoot: o.dataDir,
        network: 'direct',
        admin: true,
        tuning: [],
        serverArgs: o.serverArgs,
        logLevel: o.logLevel,
        logLinesMax: LOG_LINES_MAX,
        waitForLeader: false,
        tls: o.tls,
        onLine: (id, line, stream) => {
          if (stream === 'stdout') this.say(`${prettyLine(nodePrefix(id), line)}\n`);
          else this.console.print(`${nodePrefix(id)} ${line}\n`, process.stderr);
        },
        onExit: (node, exit, expected) => this.onExit(node, exit, expected),
      });
    } catch (error) {
      return this.abort(`${firstLine(error)}; see the node logs above`);
    }
    this.cluster = cluster;
    if (this.stopping !== undefined) return;
    let leader;
    try {
      leader = await Promise.race([cluster.waitForLeader({ timeoutMs: LEADER_WAIT_MS }), this.stopRequested]);
    } catch (error) {
      return this.abort(`${firstLine(error)}; see the node logs above`);
    }
    if (leader === undefined) return; // a signal came first; the shutdown is under way
    this.banner(cluster, leader.id, leader.term);
  }

  private banner(cluster: Cluster, leader: number, term: number): void {
    const o = this.options;
    const endpoints = cluster.endpoints.join(',');
    const defaults = o.basePort === 7001 && o.nodes === 3;
    // `npx kvctl` finds the workspace's bin whether or not pnpm is installed globally.
    const tlsFlags = cluster.tls === undefined ? '' : ` ${kvctlTlsArgs(cluster.tls).join(' ')}`;
    const kv = `${defaults ? 'npx kvctl' : `npx kvctl --endpoints ${endpoints}`}${tlsFlags}`;
    const lines = [
      '',
      paint(1, `Keel cluster ready: ${o.nodes} node(s), leader n${leader} (term ${term})`),
      `  endpoints: ${endpoints}`,
      `  admin:     ${cluster.nodes.map((n) => `n${n.id}=http://${n.adminAddress}`).join(' ')}`,
      `  dashboard: http://${cluster.nodes[0]?.adminAddress}/   (metrics at /metrics, probes at /health and /ready)`,
      `  data dir:  ${o.dataDir}`,
      ...(cluster.tls === undefined ? [] : [`  TLS:       every link; CA, certificates and keys in ${cluster.tls.dir}`]),
      `  pids:      ${cluster.nodes.map((n) => `n${n.id}=${n.pid}`).join(' ')}`,
      '',
      'Try, in another terminal:',
      `  ${kv} put hello world`,
      `  ${kv} get hello`,
      `  ${kv} status`,
      ...(defaults ? [] : [`  (or: export KEEL_ENDPOINTS=${endpoints})`]),
      `Type a command here (${COMMANDS_HELP.slice('commands: '.length)}).`,
      `Ctrl-C (or kill -INT ${process.pid}) stops the cluster; the data stays in the data dir unless you restart with --fresh.`,
      '',
    ];
    this.say(lines.join('\n') + '\n');
  }

  // --- commands ---------------------------------------------------------------------------

  private command(text: string): void {
    const [verb, arg, ...extra] = text.trim().split(/\s+/);
    if (verb === undefined || verb === '') return;
    this.enqueue(async () => {
      const cluster = this.cluster;
      if (cluster === undefined || this.stopping !== undefined) return this.say('cluster: not running\n');
      if (verb === 'help') return this.say(`${COMMANDS_HELP}\n`);
      if (verb === 'status' && arg === undefined) return this.say(await statusTable(cluster));
      const action = NODE_COMMANDS[verb];
      if (action === undefined || arg === undefined || extra.length > 0) return this.say(`cluster: unknown command "${text.trim()}"; ${COMMANDS_HELP}\n`);
      const id = Number(arg);
      if (!cluster.ids.includes(id)) return this.say(`cluster: no node ${arg} (nodes: ${cluster.ids.join(', ')})\n`);
      this.say(`cluster: ${await action(cluster.node(id))}\n`);
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => this.say(`cluster: ${firstLine(error)}\n`));
  }

  // --- nodes that exit on their own --------------------------------------------------------

  private onExit(node: ClusterNode, exit: ExitInfo, expected: boolean): void {
    if (expected || this.stopping !== undefined) return;
    this.console.print(`cluster: node ${node.id} (pid ${node.process?.pid}) exited (${describeExit(exit)})\n`, process.stderr);
    if (!this.options.restartCrashed || this.cluster === undefined) return;
    const lived = Date.now() - (node.process?.startedAt ?? 0);
    const previous = this.restartDelay.get(node.id);
    const delay = previous === undefined || lived >= RESTART_STABLE_MS ? RESTART_DELAY_MS_MIN : Math.min(2 * previous, RESTART_DELAY_MS_MAX);
    this.restartDelay.set(node.id, delay);
    this.say(`cluster: restarting node ${node.id} in ${delay / 1000} s (--restart-crashed)\n`);
    setTimeout(
      () =>
        this.enqueue(async () => {
          if (this.stopping !== undefined || node.process?.running === true) return;
          const proc = await node.start();
          this.say(`cluster: node ${node.id} restarted (pid ${proc.pid})\n`);
        }),
      delay,
    ).unref();
  }

  // --- stopping ---------------------------------------------------------------------------

  private onSignal(signal: NodeJS.Signals): void {
    if (this.firstSignalAt === undefined) {
      this.firstSignalAt = Date.now();
      void this.shutdown(`${signal} received`, 0);
      return;
    }
    if (Date.now() - this.firstSignalAt < SAME_SIGNAL_MS) return;
    process.stderr.write('cluster: second signal; killing the nodes now\n');
    this.killed = true;
    for (const n of this.cluster?.nodes ?? []) void n.kill();
  }

  private abort(message: string): Promise<void> {
    process.stderr.write(`cluster: ${message}\n`);
    return this.shutdown('start-up failed', 1);
  }

  private shutdown(reason: string, status: number): Promise<void> {
    this.stopping ??= (async () => {
      this.requestStop();
      const cluster = this.cluster;
      const running = cluster?.nodes.filter((n) => n.process?.running === true) ?? [];
      this.say(`\ncluster: ${reason}; stopping ${running.length} node(s)…\n`);
      await this.queue;
      const exits = (await cluster?.stopAll(STOP_GRACE_MS)) ?? new Map<number, ExitInfo>();
      let clean = true;
      for (const n of cluster?.nodes ?? []) {
        const exit = exits.get(n.id);
        if (exit?.signal === 'SIGKILL' && !this.killed) this.say(`cluster: node ${n.id} did not stop within ${STOP_GRACE_MS} ms; killed it\n`);
        if (exit !== undefined && exit.code !== 0) clean = false;
        const last = n.process;
        if (last?.exit !== undefined) this.say(`cluster: n${n.id} (pid ${last.pid}) stopped (${describeExit(last.exit)})\n`);
      }
      await cluster?.destroy();
      this.console.close();
      process.exit(clean && !this.killed ? status : 1);
    })();
    return this.stopping;
  }

  private say(text: string): void {
    this.console.print(text);
  }
}

/** The per-node commands: what each does, and what it reports. */
const NODE_COMMANDS: Record<string, (node: ClusterNode) => Promise<string>> = {
  stop: async (n) => `node ${n.id} stopped (${describeExit(await n.stop(STOP_GRACE_MS))})`,
  kill: async (n) => `node ${n.id} killed (${describeExit(await n.kill())})`,
  start: async (n) => `node ${n.id} started (pid ${(await n.start()).pid})`,
  restart: async (n) => `node ${n.id} restarted (pid ${(await n.restart()).pid})`,
};

async function statusTable(cluster: Cluster): Promise<string> {
  const rows = [['ID', 'PID', 'STATE', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED']];
  for (const r of await cluster.statuses()) {
    const s = r.status;
    rows.push([
      String(r.id),
      String(r.pid ?? '-'),
      r.state,
      s?.role ?? (r.state === 'running' ? 'unreachable' : '-'),
      String(s?.term ?? '-'),
      String(s?.leader ?? '-'),
      String(s?.commit ?? '-'),
      String(s?.applied ?? '-'),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd() + '\n').join('');
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]!;
}

async function main(): Promise<void> {
  let options: CliOptions | undefined;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) fail(error.message, 2);
    throw error;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  try {
    requireBuilt();
  } catch {
    fail('the packages are not built; run `npx --yes pnpm@10 build` (pnpm cluster builds first)');
  }
  const ports = Array.from({ length: options.nodes }, (_, i) =>
    [0, PEER_PORT_OFFSET, ADMIN_PORT_OFFSET].map((offset) => options.basePort + offset + i),
  ).flat();
  const busy = await portsInUse(ports);
  if (busy.length > 0) {
    fail(
      `port(s) ${busy.join(', ')} on ${HOST} are already in use (another cluster running?). ` +
        `Stop it, or pick other ports with --base-port (e.g. --base-port ${options.basePort + 1000}).`,
    );
  }
  if (options.fresh) {
    try {
      await clearDataRoot(options.dataDir);
    } catch (error) {
      fail(`--fresh refused: ${firstLine(error)}`);
    }
  }
  mkdirSync(options.dataDir, { recursive: true });
  let newData = false;
  try {
    newData = checkLayout(options.dataDir, { nodes: options.nodes, basePort: options.basePort });
  } catch (error) {
    fail(firstLine(error));
  }
  await new ClusterCli(options).run(newData);
}

await main();
