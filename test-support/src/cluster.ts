/**
 * A cluster of real `keel-server` processes (the built `dist/`) on 127.0.0.1: the one harness
 * that the integration tests, the Jepsen-style runner, benchmarks and `pnpm cluster` share.
 *
 * ```ts
 * const cluster = await Cluster.start({ nodes: 3, network: 'proxy' });   // waits for a leader
 * try {
 *   const client = cluster.client();                          // a KeelClient, closed by destroy()
 *   await client.put('k', 'v');
 *   const { id: leader } = await cluster.waitForLeader();
 *   cluster.isolate(leader);                                   // blackhole every link to and from it
 *   await cluster.waitForLeader({ among: cluster.ids.filter((id) => id !== leader) });
 *   cluster.heal();
 *   await cluster.node(2).kill();  await cluster.node(2).start();
 *   const n4 = await cluster.join();                           // --join, add as learner, promote
 * } finally {
 *   await cluster.destroy();                                   // kills by PID, removes temp dirs
 * }
 * ```
 */
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeelClient, isKeelError, type ErrorCode, type KeelClientOptions, type NodeStatus, type TlsOptions } from '@keel/client';
import { ClusterNode, STOP_GRACE_MS, type Membership, type NodeHost, type NodeState } from './cluster-node.js';
import { clearDataRoot, nodeDataDir } from './data-root.js';
import { DirectNetwork } from './network/direct.js';
import { NETWORK_KINDS, splitAddress, type Cut, type CutMode, type FixedPorts, type Network, type NetworkKind, type NodeAddresses } from './network/network.js';
import { NetnsNetwork } from './network/netns.js';
import { ProxyNetwork } from './network/proxy.js';
import { isolationCuts, partitionCuts, type Link } from './network/topology.js';
import { NodeProcess, type ExitInfo, type OutputStream } from './node-process.js';
import { requireBuilt } from './paths.js';
import { freePorts } from './ports.js';
import { trackDir, untrackDir } from './reaper.js';
import { TEST_TUNING } from './tuning.js';
import { waitForProgress } from './wait.js';
import { treeCpuTicks } from './process-cpu.js';
import { serverTlsArgs, writeClusterTls, type ClusterTls } from './tls/cluster-tls.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** With `basePort`, node i's client port is base+i-1 and its peer port base+PEER_PORT_OFFSET+i-1. */
export const PEER_PORT_OFFSET = 100;
/** With `basePort` and `admin`, node i's admin listener (`--listen-metrics`) is on base+ADMIN_PORT_OFFSET+i-1. */
export const ADMIN_PORT_OFFSET = 200;

export interface ClusterOptions {
  /** Members bootstrapped with --initial-cluster, ids 1..nodes. Default 3. */
  readonly nodes?: number;
  /**
   * 'direct' (default: no network faults), 'proxy' (every peer link through the harness), 'netns'
   * (each node in its own network namespace, cuts as iptables rules: Linux, root; see
   * `NetnsNetwork.available()`), or a Network.
   */
  readonly network?: NetworkKind | Network;
  /** Fixed ports (see PEER_PORT_OFFSET); default: free ports, chosen again if one is taken before a node binds it. */
  readonly basePort?: number;
  /**
   * Give every node an admin listener (`--listen-metrics`: metrics, health, dashboard, backups) on a
   * port of its own, on its client address's host (base+ADMIN_PORT_OFFSET+i-1 with `basePort`).
   * Default false.
   */
  readonly admin?: boolean;
  /** Node i keeps its data in `<dataRoot>/node-<i>`. Default: a new temp dir that destroy() removes; a given root is kept. */
  readonly dataRoot?: string;
  /** Delete `dataRoot` first (refused while a running node holds a node dir in it). */
  readonly fresh?: boolean;
  /** Raft timing flags. Default TEST_TUNING; `[]` for the server's defaults. */
  readonly tuning?: readonly string[];
  /** More keel-server flags for every node (after the tuning). */
  readonly serverArgs?: readonly string[];
  /** More keel-server flags for one node. */
  readonly nodeArgs?: (id: number) => readonly string[];
  /** --cluster-id; default: the server's default. */
  readonly clusterId?: string;
  /** --log-level. Default 'info'. */
  readonly logLevel?: LogLevel;
  /** Also append each node's output to `<logDir>/node-<id>.log` (JSON lines), across restarts. */
  readonly logDir?: string;
  /** Every line a node prints, as it comes. */
  readonly onLine?: (id: number, line: string, stream: OutputStream) => void;
  /** Every node exit; `expected` when the harness asked for it (stop, kill, restart, destroy). */
  readonly onExit?: (node: ClusterNode, exit: ExitInfo, expected: boolean) => void;
  /** Most log lines kept in memory per process. Default: all. */
  readonly logLinesMax?: number;
  /** Wait for an agreed leader before `start` resolves. Default true. */
  readonly waitForLeader?: boolean;
  /**
   * Run every link over TLS with throwaway certificates written to `<dataRoot>/tls` (see
   * `cluster.tls`): mutual TLS between peers, TLS on the client ports, and client certificates
   * required unless `requireClientCerts` is false. The harness's own clients use them.
   */
  readonly tls?: boolean | { readonly requireClientCerts?: boolean };
}

/** One node's view for `statuses()`: what the harness knows, and the node's own status when it answered. */
export interface NodeReport {
  readonly id: number;
  readonly state: NodeState;
  readonly membership: Membership;
  readonly pid: number | undefined;
  readonly status?: NodeStatus;
  /** Why there is no status (not running, paused, or the request failed). */
  readonly error?: string;
}

/** A node could not bind its port (taken between the probe and the bind). */
class PortInUseError extends Error {}

const STATUS_POLL_MS = 25;
const LEADER_POLL_MS = 100;
const START_ATTEMPTS = 3;

export class Cluster {
  readonly network: Network;
  /** The TLS files every node and the harness's clients use (`tls` option), or undefined for plaintext. */
  readonly tls: ClusterTls | undefined;
  /** What the harness's clients pass as `tls`. */
  private readonly clientTls: TlsOptions | undefined;
  /** Where the nodes keep their data. */
  readonly dataRoot: string;
  private readonly ownsRoot: boolean;
  private readonly byId = new Map<number, ClusterNode>();
  private readonly probes = new Map<number, KeelClient>();
  private readonly deferred: Array<() => unknown> = [];
  private readonly logFiles = new Map<number, WriteStream>();
  private readonly host: NodeHost;
  private unexpectedExits: ClusterNode[] = [];
  private destroyed: Promise<void> | undefined;
  private linesPrinted = 0;

  private constructor(private readonly options: ClusterOptions) {
    this.network = resolveNetwork(options.network);
    if (options.dataRoot === undefined) {
      this.dataRoot = mkdtempSync(join(tmpdir(), 'keel-cluster-'));
      this.ownsRoot = true;
      trackDir(this.dataRoot);
    } else {
      this.dataRoot = options.dataRoot;
      this.ownsRoot = false;
      mkdirSync(this.dataRoot, { recursive: true });
    }
    if (options.logDir !== undefined) mkdirSync(options.logDir, { recursive: true });
    this.tls = options.tls === undefined || options.tls === false ? undefined : writeClusterTls(join(this.dataRoot, 'tls'));
    this.clientTls =
      this.tls === undefined
        ? undefined
        : { ca: readFileSync(this.tls.ca), cert: readFileSync(this.tls.clientCert), key: readFileSync(this.tls.clientKey) };
    this.host = {
      launch: (node, extraArgs) => this.launch(node, extraArgs),
      note: (node, event, fields) => this.note(node.id, 'info', event, fields),
    };
  }

  /**
   * Starts `nodes` members, waits until each serves its client port and (by default) until they
   * agree on a leader. With free ports, a port taken by someone else before a node bound it makes
   * the whole cluster start again on other ports (up to 3 times).
   */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    requireBuilt();
    const count = options.nodes ?? 3;
    if (!Number.isSafeInteger(count) || count < 1) throw new TypeError(`nodes must be a positive integer, got ${count}`);
    for (let attempt = 1; ; attempt++) {
      if (options.fresh === true && options.dataRoot !== undefined) await clearDataRoot(options.dataRoot);
      const cluster = new Cluster(options);
      try {
        for (let id = 1; id <= count; id++) await cluster.addNode(id, false);
        await Promise.all(cluster.nodes.map((n) => n.start()));
        if (options.waitForLeader !== false) await cluster.waitForLeader();
        return cluster;
      } catch (error) {
        await cluster.destroy();
        const retry = error instanceof PortInUseError && options.basePort === undefined && (cluster.ownsRoot || options.fresh === true);
        if (!retry || attempt >= START_ATTEMPTS) throw error;
      }
    }
  }

  // --- nodes ------------------------------------------------------------------------------

  /** Every node the harness started or prepared, by id. */
  get nodes(): ClusterNode[] {
    return [...this.byId.values()];
  }

  get ids(): number[] {
    return [...this.byId.keys()];
  }

  node(id: number): ClusterNode {
    const n = this.byId.get(id);
    if (n === undefined) throw new Error(`no node ${id} in this cluster (nodes: ${this.ids.join(', ')})`);
    return n;
  }

  /** Nodes not removed from the membership (as far as the harness knows). */
  get members(): ClusterNode[] {
    return this.nodes.filter((n) => n.membership !== 'removed' && n.membership !== 'joining');
  }

  /** Client addresses of every node not removed, for `@keel/client` and kvctl. */
  get endpoints(): string[] {
    return this.nodes.filter((n) => n.membership !== 'removed').map((n) => n.clientAddress);
  }

  /** The bootstrap membership the members were started with: `--initial-cluster`'s value. */
  get initialCluster(): string {
    return this.nodes
      .filter((n) => !n.joins)
      .map((n) => `${n.id}=${n.peerAddress}/${n.clientAddress}`)
      .join(',');
  }

  /** A KeelClient on `endpoints` (with the cluster's TLS client certificate, if any), closed by destroy(). */
  client(options: Omit<KeelClientOptions, 'endpoints'> & { endpoints?: readonly string[] } = {}): KeelClient {
    const client = new KeelClient({ endpoints: this.endpoints, ...this.tlsOption(), ...options });
    this.defer(() => client.close());
    return client;
  }

  /** Runs `cleanup` first thing in destroy() (close connections a test opened, …). */
  defer(cleanup: () => unknown): void {
    this.deferred.push(cleanup);
  }

  // --- leader and status ------------------------------------------------------------------

  /** Every node: its state, and its own status when it is running and answered. */
  async statuses(): Promise<NodeReport[]> {
    return Promise.all(
      this.nodes.map(async (n): Promise<NodeReport> => {
        const base = { id: n.id, state: n.state, membership: n.membership, pid: n.pid };
        if (!n.serving) return { ...base, error: n.state };
        const answer = (await this.probe(n.id).status())[0]!;
        return answer.ok ? { ...base, status: answer.status } : { ...base, error: `${answer.error.code}: ${answer.error.message}` };
      }),
    );
  }

  /** The node that says it leads in the highest term among those that answer now, if any. */
  async findLeader(): Promise<NodeStatus | undefined> {
    let best: NodeStatus | undefined;
    for (const r of await this.statuses()) {
      if (r.status?.role === 'leader' && (best === undefined || r.status.term > best.term)) best = r.status;
    }
    return best;
  }

  /**
   * Polls until one node leads and every node of `among` answers naming it as leader; resolves
   * with the leader's status. `among` defaults to every running, unpaused member; pass the
   * majority side during a partition. Fails when a node exits unexpectedly meanwhile, and when
   * the nodes stand still (no output, no change in what they answer) for `waitForProgress`'s
   * stall period; given `timeoutMs`, after it instead (runs that measure availability, never tests).
   */
  async waitForLeader(options: { timeoutMs?: number; among?: readonly number[] } = {}): Promise<NodeStatus> {
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const crashedBefore = this.unexpectedExits.length;
    let last: NodeReport[] = [];
    const seen = (): string =>
      last.map((r) => (r.status === undefined ? `${r.id}: ${r.error}` : `${r.id}: ${r.status.role}, leader ${r.status.leader}, term ${r.status.term}`)).join('; ');
    return waitForProgress(
      async () => {
        const crashed = this.unexpectedExits[crashedBefore];
        if (crashed !== undefined) throw crashed.process!.exitedError('while the harness waited for a leader');
        const among = new Set(options.among ?? this.members.filter((n) => n.serving).map((n) => n.id));
        last = (await this.statuses()).filter((r) => among.has(r.id));
        const leader = last.find((r) => r.status?.role === 'leader')?.status;
        if (leader !== undefined && among.size > 0 && last.every((r) => r.status?.leader === leader.id)) return leader;
        if (deadline !== undefined && Date.now() > deadline) throw new Error(`no agreed leader within ${options.timeoutMs} ms (${seen()})\n${this.tail()}`);
        return undefined;
      },
      () => [this.linesPrinted, last.map((r) => r.status ?? r.error)],
      () => `an agreed leader (${seen()})\n${this.tail()}`,
      // With a deadline, the deadline alone decides (as the availability runs expect).
      { pollMs: LEADER_POLL_MS, ...(deadline === undefined ? {} : { stallMs: Infinity }) },
    );
  }

  // --- membership -------------------------------------------------------------------------

  /** Starts a new, empty node with --join (the next free id unless given); add it with addLearner. */
  async startJoiner(id = Math.max(0, ...this.ids) + 1): Promise<ClusterNode> {
    if (this.byId.has(id)) throw new Error(`node ${id} exists already`);
    for (let attempt = 1; ; attempt++) {
      const node = await this.addNode(id, true);
      try {
        await node.start();
        return node;
      } catch (error) {
        // Not a member yet, so its addresses may still change: choose again if a port was taken.
        if (!(error instanceof PortInUseError) || this.options.basePort !== undefined || attempt >= START_ATTEMPTS) throw error;
        this.byId.delete(id);
        await this.network.removeNode(id);
        rmSync(node.dataDir, { recursive: true, force: true });
      }
    }
  }

  /** Adds node `id` (started with startJoiner) as a learner. */
  async addLearner(id: number): Promise<void> {
    const n = this.node(id);
    await this.admin(`add node ${id} as a learner`, ['CONF_CHANGE_PENDING'], (c) =>
      c.memberAddLearner({ id, peerAddress: n.peerAddress, clientAddress: n.clientAddress }),
    );
    n.membership = 'learner';
  }

  /** Promotes learner `id` to voter, retrying while the leader says it has not caught up. */
  async promote(id: number): Promise<void> {
    const n = this.node(id);
    if (n.membership !== 'learner') throw new Error(`node ${id} is not a learner (it is ${n.membership})`);
    await this.admin(`promote node ${id}`, ['CONF_CHANGE_PENDING', 'INVALID_MEMBERSHIP'], (c) => c.memberPromote(id));
    n.membership = 'voter';
  }

  /** Removes member `id` (its process keeps running; stop it if you like). */
  async removeMember(id: number): Promise<void> {
    const n = this.node(id);
    await this.admin(`remove node ${id}`, ['CONF_CHANGE_PENDING'], (c) => c.memberRemove(id));
    n.membership = 'removed';
  }

  /** A new member: startJoiner, addLearner, and (unless `learner`) promote. */
  async join(options: { id?: number; learner?: boolean } = {}): Promise<ClusterNode> {
    const node = await this.startJoiner(options.id);
    await this.addLearner(node.id);
    if (options.learner !== true) await this.promote(node.id);
    return node;
  }

  /** Replaces member `id`: a new voter joins first, then `id` is removed and stopped. Resolves with the new node. */
  async replace(id: number): Promise<ClusterNode> {
    const fresh = await this.join();
    await this.removeMember(id);
    await this.node(id).stop();
    return fresh;
  }

  // --- network faults ---------------------------------------------------------------------

  /** From now on `to` receives nothing from `from` (the network must be able to cut: 'proxy' or 'netns'). */
  cut(from: number, to: number, mode: CutMode = 'blackhole'): void {
    this.applyCuts([[from, to]], mode);
  }

  /** Cuts both directions between `a` and `b`. */
  cutBoth(a: number, b: number, mode: CutMode = 'blackhole'): void {
    this.applyCuts([[a, b], [b, a]], mode);
  }

  /** Cuts every link to and from `id`. */
  isolate(id: number, mode: CutMode = 'blackhole'): void {
    this.applyCuts(isolationCuts(id, this.ids), mode);
  }

  /** Two nodes keep their links only when some group holds both (see topology.ts: split, bridge, ring). */
  partition(groups: readonly (readonly number[])[], mode: CutMode = 'blackhole'): void {
    this.applyCuts(partitionCuts(groups, this.ids), mode);
  }

  /** Restores every link. */
  heal(): void {
    this.network.heal();
    for (const id of this.ids) this.note(id, 'info', 'harness.heal');
  }

  /** The links cut now. */
  cuts(): Cut[] {
    return this.network.cuts();
  }

  // --- teardown ---------------------------------------------------------------------------

  /**
   * Stops every running node gracefully (SIGTERM; SIGKILL after `graceMs`), all at once. Resolves
   * with each stopped node's exit; data and temp dirs stay.
   */
  async stopAll(graceMs = STOP_GRACE_MS): Promise<Map<number, ExitInfo>> {
    const running = this.nodes.filter((n) => n.process?.running === true);
    const exits = await Promise.all(running.map((n) => n.stop(graceMs)));
    return new Map(running.map((n, i) => [n.id, exits[i]!]));
  }

  /**
   * Runs deferred cleanups, kills every process still running by PID (SIGCONT first, then
   * SIGKILL), closes the network and the log files, and removes the temp data root (a given
   * data root is kept). Safe to call twice; also done at process exit if never called.
   */
  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      for (const cleanup of this.deferred.splice(0).reverse()) {
        try {
          await cleanup();
        } catch {
          // a cleanup failing must not leave processes behind
        }
      }
      for (const probe of this.probes.values()) await probe.close();
      this.probes.clear();
      for (const n of this.nodes) n.expectExit();
      await Promise.all(this.nodes.map((n) => n.process?.kill('SIGKILL')));
      await this.network.close();
      await Promise.all([...this.logFiles.values()].map((f) => new Promise((resolve) => f.end(resolve))));
      if (this.ownsRoot) {
        rmSync(this.dataRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
        untrackDir(this.dataRoot);
      }
    })();
    return this.destroyed;
  }

  /**
   * Lines the nodes have printed so far, every process the cluster started counted: what
   * `waitForProgress` may watch while it waits on the cluster (nodes that campaign, dial, apply,
   * snapshot or fail say so in their logs).
   */
  get outputLines(): number {
    return this.linesPrinted;
  }

  /** The last lines of every node's log, for failure messages. */
  tail(lines = 15): string {
    return this.nodes.map((n) => `--- ${n.describe()} ---\n${n.process?.tail(lines) ?? ''}`).join('\n');
  }

  // --- internals --------------------------------------------------------------------------

  private async addNode(id: number, joins: boolean): Promise<ClusterNode> {
    const base = this.options.basePort;
    const fixed: FixedPorts | undefined =
      base === undefined ? undefined : { clientPort: base + id - 1, peerPort: base + PEER_PORT_OFFSET + id - 1 };
    const addresses = await this.network.addNode(id, fixed);
    const adminAddress = this.options.admin === true ? await this.adminAddressFor(id, addresses) : undefined;
    const node = new ClusterNode(id, addresses, nodeDataDir(this.dataRoot, id), joins, this.host, adminAddress);
    this.byId.set(id, node);
    return node;
  }

  /** An admin address for node `id` on its client host: the fixed port with `basePort`, else a free one. */
  private async adminAddressFor(id: number, addresses: NodeAddresses): Promise<string> {
    const { host } = splitAddress(addresses.listenClient);
    const base = this.options.basePort;
    if (base !== undefined) return `${host}:${base + ADMIN_PORT_OFFSET + id - 1}`;
    const taken = [...this.nodes.map((n) => n.addresses), addresses].flatMap((a) => [a.listenClient, a.listenPeer, a.peerAddress]);
    for (const n of this.nodes) if (n.adminAddress !== undefined) taken.push(n.adminAddress);
    const used = taken.map((a) => splitAddress(a).port);
    const [port] = await freePorts(1, used);
    return `${host}:${port}`;
  }

  private args(node: ClusterNode, extraArgs: readonly string[]): string[] {
    const o = this.options;
    const { listenPeer, listenClient } = node.addresses;
    return [
      '--id',
      String(node.id),
      '--data-dir',
      node.dataDir,
      ...(node.joins ? ['--join'] : ['--initial-cluster', this.initialCluster]),
      '--listen-peer',
      listenPeer,
      '--listen-client',
      listenClient,
      ...(node.adminAddress !== undefined ? ['--listen-metrics', node.adminAddress] : []),
      ...(o.clusterId === undefined ? [] : ['--cluster-id', o.clusterId]),
      '--log-level',
      o.logLevel ?? 'info',
      ...(o.tuning ?? TEST_TUNING),
      ...(this.tls !== undefined ? serverTlsArgs(this.tls, typeof o.tls === 'object' ? o.tls : {}) : []),
      ...(o.serverArgs ?? []),
      ...(o.nodeArgs?.(node.id) ?? []),
      ...extraArgs,
    ];
  }

  private async launch(node: ClusterNode, extraArgs: readonly string[]): Promise<NodeProcess> {
    if (this.destroyed !== undefined) throw new Error('the cluster was destroyed');
    const id = node.id;
    const proc = NodeProcess.spawn({
      args: this.args(node, extraArgs),
      command: (argv) => this.network.command(id, argv),
      label: `node ${id}`,
      ...(this.options.logLinesMax === undefined ? {} : { logLinesMax: this.options.logLinesMax }),
      onLine: (line, stream) => {
        this.linesPrinted++;
        this.options.onLine?.(id, line, stream);
        this.logFile(id)?.write(stream === 'stdout' ? `${line}\n` : `${logRecord(id, 'error', 'process.stderr', { line })}\n`);
      },
    });
    node.adopt(proc);
    this.note(id, 'info', 'harness.spawn', { pid: proc.pid });
    void proc.exited.then((exit) => {
      const expected = node.expectedExit(proc);
      this.note(id, expected ? 'info' : 'warn', 'harness.exit', { pid: proc.pid, ...exit, expected });
      if (!expected) this.unexpectedExits.push(node);
      this.options.onExit?.(node, exit, expected);
    });
    await this.serving(node, proc);
    return proc;
  }

  /**
   * Resolves once `proc` answers a status request as node `id`; rejects if it exits first, or
   * kills it when it stands still (prints nothing and uses no CPU) for the stall period.
   */
  private async serving(node: ClusterNode, proc: NodeProcess): Promise<void> {
    const probe = this.probe(node.id);
    try {
      await waitForProgress(
        async () => {
          if (!proc.running) return true;
          const [answer] = await probe.status();
          return answer?.ok === true && answer.status.id === node.id;
        },
        () => [proc.outputLines, treeCpuTicks(proc.pid)],
        () => `node ${node.id} serving its client port\n${proc.tail()}`,
        { pollMs: STATUS_POLL_MS },
      );
    } catch (error) {
      node.expectExit();
      await proc.kill('SIGKILL');
      throw error;
    }
    if (proc.running) return;
    await proc.exited;
    const output = [...proc.logs.map((l) => JSON.stringify(l)), ...proc.stderrLines];
    if (output.some((line) => line.includes('EADDRINUSE'))) {
      throw new PortInUseError(`node ${node.id}: a port was taken before it could bind it\n${proc.tail()}`);
    }
    throw proc.exitedError('before it served its client port');
  }

  /** The `tls` client option of the harness's clients. */
  private tlsOption(): { tls?: TlsOptions } {
    return this.clientTls === undefined ? {} : { tls: this.clientTls };
  }

  /** A client for node `id`'s status alone. */
  private probe(id: number): KeelClient {
    let probe = this.probes.get(id);
    if (probe === undefined) {
      probe = new KeelClient({ endpoints: [this.node(id).clientAddress], timeoutMs: 2000, stallTimeoutMs: 1000, ...this.tlsOption() });
      this.probes.set(id, probe);
    }
    return probe;
  }

  /**
   * Runs a membership change through the members, again while the leader answers one of
   * `retryable` and the nodes keep working (their output moves).
   */
  private async admin(what: string, retryable: readonly ErrorCode[], change: (c: KeelClient) => Promise<unknown>): Promise<void> {
    const client = new KeelClient({ endpoints: this.members.map((n) => n.clientAddress), timeoutMs: 10_000, ...this.tlsOption() });
    let refusal: unknown;
    try {
      await waitForProgress(
        async () => {
          try {
            await change(client);
            return true;
          } catch (error) {
            if (!isKeelError(error) || !retryable.includes(error.code)) throw new Error(`could not ${what}: ${String(error)}`, { cause: error });
            refusal = error;
            return false;
          }
        },
        () => this.linesPrinted,
        () => `${what} (the leader answers ${String(refusal)})`,
        { pollMs: LEADER_POLL_MS },
      );
    } finally {
      await client.close();
    }
  }

  private applyCuts(links: readonly Link[], mode: CutMode): void {
    for (const [from, to] of links) {
      this.network.cut(from, to, mode);
      this.note(to, 'info', 'harness.cut', { from, to, mode });
    }
  }

  private logFile(id: number): WriteStream | undefined {
    const dir = this.options.logDir;
    if (dir === undefined) return undefined;
    let file = this.logFiles.get(id);
    if (file === undefined) {
      file = createWriteStream(join(dir, `node-${id}.log`), { flags: 'a' });
      this.logFiles.set(id, file);
    }
    return file;
  }

  /** A harness event in node `id`'s log file. */
  private note(id: number, level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    this.logFile(id)?.write(`${logRecord(id, level, event, fields)}\n`);
  }
}

function resolveNetwork(network: ClusterOptions['network'] = 'direct'): Network {
  if (typeof network !== 'string') return network;
  if (network === 'direct') return new DirectNetwork();
  if (network === 'proxy') return new ProxyNetwork();
  if (network === 'netns') return new NetnsNetwork();
  throw new TypeError(`network must be ${NETWORK_KINDS.join(', ')} or a Network, got ${String(network)}`);
}

/** A JSON log line in the nodes' own format. */
function logRecord(nodeId: number, level: LogLevel, event: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ ts: new Date().toISOString(), level, event, nodeId, ...fields });
}
