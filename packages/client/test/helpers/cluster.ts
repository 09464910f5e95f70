/**
 * A real Keel cluster for tests: keel-server child processes (the built dist/) on free ports of
 * 127.0.0.1, each with its own data dir under one temp dir. `close()` kills every process it
 * started, by PID, and removes the temp dir; call it from afterEach/finally.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { freePorts } from '../../../../test-support/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeStatus } from '@keel/protocol';
import { KeelClient } from '@keel/client';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SERVER_BIN = join(ROOT, 'packages/kv-server/bin/keel-server.js');
export const KVCTL_BIN = join(ROOT, 'packages/client/bin/kvctl.js');
export const CLUSTER_SCRIPT = join(ROOT, 'scripts/cluster.mjs');

/** Fails loudly when the packages were not built (child processes run dist/). */
export function requireBuilt(): void {
  for (const f of ['packages/kv-server/dist/cli/main.js', 'packages/client/dist/cli/main.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npx tsc -b\` before these tests`);
  }
}

export { freePort } from '../../../../test-support/ports.js';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface TestNode {
  readonly id: number;
  readonly clientAddress: string;
  readonly peerAddress: string;
  readonly dataDir: string;
  /** Started with --join (empty, waiting to be added) rather than in the initial cluster. */
  readonly joins: boolean;
  process: ChildProcess | undefined;
  /** Everything the node printed (for failure messages). */
  log: string;
}

/** Server flags that make elections quick enough for tests. */
const FAST_RAFT = ['--tick-ms', '25', '--election-ticks', '20', '--heartbeat-ticks', '2'];

export class TestCluster {
  readonly dir: string;
  readonly nodes: TestNode[];
  private readonly exits = new Map<number, Promise<void>>();

  private constructor(dir: string, nodes: TestNode[]) {
    this.dir = dir;
    this.nodes = nodes;
  }

  /** Starts `size` nodes and waits for a leader. */
  static async start(size = 3): Promise<TestCluster> {
    requireBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'keel-client-test-'));
    const nodes: TestNode[] = [];
    const ports = await freePorts(2 * size);
    for (let id = 1; id <= size; id++) {
      nodes.push({
        id,
        clientAddress: `127.0.0.1:${ports[2 * (id - 1)]!}`,
        peerAddress: `127.0.0.1:${ports[2 * (id - 1) + 1]!}`,
        dataDir: join(dir, `node-${id}`),
        joins: false,
        process: undefined,
        log: '',
      });
    }
    const cluster = new TestCluster(dir, nodes);
    try {
      for (const n of nodes) cluster.startNode(n.id);
      await cluster.waitForLeader();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.nodes.map((n) => n.clientAddress);
  }

  node(id: number): TestNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Starts (or restarts, keeping its data) node `id`. */
  startNode(id: number): void {
    const n = this.node(id);
    if (n.process !== undefined) throw new Error(`node ${id} is already running`);
    const initialCluster = this.nodes
      .filter((m) => !m.joins)
      .map((m) => `${m.id}=${m.peerAddress}/${m.clientAddress}`)
      .join(',');
    // A joining node is given no --peers: it learns each member's addresses from the handshake
    // when that member connects to it.
    const membership = n.joins
      ? ['--join', '--listen-peer', n.peerAddress, '--listen-client', n.clientAddress]
      : ['--initial-cluster', initialCluster];
    const child = spawn(
      process.execPath,
      [SERVER_BIN, '--id', String(id), '--data-dir', n.dataDir, ...membership, '--log-level', 'info', ...FAST_RAFT],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    n.process = child;
    const append = (chunk: Buffer): void => {
      n.log = (n.log + chunk.toString()).slice(-200_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exits.set(
      id,
      new Promise((resolve) => {
        child.on('exit', () => {
          if (n.process === child) n.process = undefined;
          resolve();
        });
      }),
    );
  }

  /** Starts a new, empty node with --join (the next id); add it with memberAdd/memberAddLearner. */
  async startJoiningNode(): Promise<TestNode> {
    const id = Math.max(...this.nodes.map((n) => n.id)) + 1;
    const used = this.nodes.flatMap((n) => [n.clientAddress, n.peerAddress].map((a) => Number(a.split(':')[1])));
    const [clientPort, peerPort] = await freePorts(2, used);
    const node: TestNode = {
      id,
      clientAddress: `127.0.0.1:${clientPort!}`,
      peerAddress: `127.0.0.1:${peerPort!}`,
      dataDir: join(this.dir, `node-${id}`),
      joins: true,
      process: undefined,
      log: '',
    };
    this.nodes.push(node);
    this.startNode(id);
    return node;
  }

  /** Stops node `id` with `signal` (SIGKILL by default: a crash) and waits for it to exit. */
  async stopNode(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const n = this.node(id);
    const child = n.process;
    if (child === undefined || child.pid === undefined) return;
    const exited = this.exits.get(id);
    child.kill(signal);
    await exited;
  }

  /** Pauses node `id` (SIGSTOP): its sockets stay open but it never answers, like a partition. */
  pauseNode(id: number): void {
    this.node(id).process?.kill('SIGSTOP');
  }

  resumeNode(id: number): void {
    this.node(id).process?.kill('SIGCONT');
  }

  /** Polls status until a leader is acknowledged by a majority of the nodes that answer. */
  async waitForLeader(timeoutMs = 30_000): Promise<NodeStatus> {
    const client = new KeelClient({ endpoints: this.endpoints, timeoutMs: 1000, stallTimeoutMs: 500 });
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        const statuses = (await client.status()).flatMap((s) => (s.ok ? [s.status] : []));
        const leader = statuses.find((s) => s.role === 'leader');
        if (leader !== undefined && statuses.filter((s) => s.leader === leader.id).length > this.nodes.length / 2) return leader;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await client.close();
    }
    throw new Error(`no leader within ${timeoutMs} ms\n${this.logs()}`);
  }

  /** The last lines of every node's log. */
  logs(lines = 30): string {
    return this.nodes.map((n) => `--- node ${n.id} ---\n${n.log.split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  /** Kills every node still running (SIGCONT first, in case one is paused) and removes the temp dir. */
  async close(): Promise<void> {
    for (const n of this.nodes) {
      const child = n.process;
      if (child === undefined) continue;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await Promise.all([...this.exits.values()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
