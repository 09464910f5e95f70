/**
 * Test harness: real `keel-server` processes (built code from dist/) on 127.0.0.1 with LevelDB in
 * temp dirs. Every process it spawns is killed by PID and every temp dir removed by `destroy()`,
 * which tests call from afterEach/finally.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeStatus } from '@keel/protocol';
import { WireClient } from './wire-client.js';

/**
 * Timing for tests on a shared 2-core machine: elections after 1–2 s of silence (as in
 * production), so a CPU-starved but healthy leader is not deposed in the middle of a test.
 */
export const TEST_TUNING: readonly string[] = ['--tick-ms', '25', '--election-ticks', '40', '--heartbeat-ticks', '4'];

export const SERVER_BIN = fileURLToPath(new URL('../../bin/keel-server.js', import.meta.url));

/** One parsed JSON log line. */
export interface LogLine {
  readonly ts: string;
  readonly level: string;
  readonly event: string;
  readonly nodeId: number;
  readonly term?: number;
  readonly role?: string;
  readonly [field: string]: unknown;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Run the server binary to completion (for configuration tests). */
export function runServer(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<ExitInfo & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER_BIN, ...args], {
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`keel-server ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' can come before the pipes drain: wait for 'close'.
      child.on('close', () => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** process.env without KEEL_* variables (so the developer's shell cannot leak into tests). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEL_')) env[k] = v;
  return env;
}

import { freePorts } from '../../../../test-support/ports.js';

export { freePort, freePorts } from '../../../../test-support/ports.js';

export interface NodeSpec {
  readonly id: number;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly dataDir: string;
}

export interface ClusterOptions {
  readonly size?: number;
  /** Extra CLI arguments for every node (tuning). */
  readonly args?: readonly string[];
  /** Extra CLI arguments for one node, decided once ports are known (e.g. --peers through a proxy). */
  readonly nodeArgs?: (id: number, cluster: TestCluster) => readonly string[] | Promise<readonly string[]>;
}

/** A running (or stopped) server process. */
export class ServerProcess {
  readonly logs: LogLine[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  private readonly waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];

  constructor(
    readonly spec: NodeSpec,
    readonly child: ChildProcess,
  ) {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.onLine(line);
      }
    });
    child.stderr!.on('data', (d: Buffer) => this.stderrLines.push(...d.toString().split('\n').filter((s) => s !== '')));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  private onLine(line: string): void {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      this.stderrLines.push(`(stdout, not JSON) ${line}`);
      return;
    }
    this.logs.push(parsed);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred(parsed)) {
        this.waiters.splice(i, 1);
        w.resolve(parsed);
      }
    }
  }

  /** The first log line (past or future) matching `pred`; rejects when the process exits first or after `timeoutMs`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`node ${this.spec.id}: no matching log line within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const waiter = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then((e) => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        clearTimeout(timer);
        reject(new Error(`node ${this.spec.id} exited (${e.code ?? e.signal}) before the awaited log line\n${this.tail()}`));
      });
    });
  }

  /** The last log lines, for failure messages. */
  tail(n = 15): string {
    return [...this.logs.slice(-n).map((l) => JSON.stringify(l)), ...this.stderrLines.slice(-5)].join('\n');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    if (this.exit === undefined) {
      try {
        process.kill(this.pid, signal);
      } catch {
        // already gone
      }
    }
    return this.exited;
  }
}

/** A set of nodes with fixed ids, ports and data dirs; processes come and go. */
export class TestCluster {
  readonly root: string;
  readonly specs: NodeSpec[] = [];
  readonly procs = new Map<number, ServerProcess>();
  private readonly clients: WireClient[] = [];
  /** Per-node extra arguments (ClusterOptions.nodeArgs), reused on restarts. */
  private readonly nodeArgs = new Map<number, readonly string[]>();
  /** Nodes started with --join (added by membership change, not bootstrapped). */
  private readonly joiners = new Set<number>();
  private readonly args: readonly string[];

  private constructor(root: string, args: readonly string[]) {
    this.root = root;
    this.args = args;
  }

  /**
   * Start a cluster and wait until every node listens. Ports are picked by the OS; if one was
   * taken in between (EADDRINUSE), the whole cluster is restarted on fresh ports (up to 3 times).
   */
  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    for (let attempt = 1; ; attempt++) {
      const cluster = new TestCluster(mkdtempSync(join(tmpdir(), 'keel-test-')), options.args ?? []);
      try {
        await cluster.allocate(options.size ?? 3);
        for (const s of cluster.specs) cluster.nodeArgs.set(s.id, (await options.nodeArgs?.(s.id, cluster)) ?? []);
        await Promise.all(cluster.specs.map((s) => cluster.startNode(s.id)));
        return cluster;
      } catch (err) {
        const inUse = [...cluster.procs.values()].some((p) =>
          p.logs.some((l) => l.event === 'node.start_failed' && JSON.stringify(l).includes('EADDRINUSE')),
        );
        await cluster.destroy();
        if (!inUse || attempt >= 3) throw err;
      }
    }
  }

  private async allocate(size: number): Promise<void> {
    const list = await freePorts(2 * size);
    for (let id = 1; id <= size; id++) {
      this.specs.push({
        id,
        peerPort: list[2 * (id - 1)]!,
        clientPort: list[2 * (id - 1) + 1]!,
        dataDir: join(this.root, `node${id}`),
      });
    }
  }

  spec(id: number): NodeSpec {
    const s = this.specs.find((x) => x.id === id);
    if (s === undefined) throw new Error(`no node ${id}`);
    return s;
  }

  initialCluster(): string {
    return this.specs.filter((s) => !this.joiners.has(s.id)).map((s) => `${s.id}=127.0.0.1:${s.peerPort}/127.0.0.1:${s.clientPort}`).join(',');
  }

  /** Ports and a data dir for a node that will join the running cluster (not in the initial cluster). */
  async addSpec(id: number): Promise<NodeSpec> {
    const used = new Set(this.specs.flatMap((s) => [s.peerPort, s.clientPort]));
    const ports = await freePorts(2, used);
    const spec = { id, peerPort: ports[0]!, clientPort: ports[1]!, dataDir: join(this.root, `node${id}`) };
    this.joiners.add(id);
    this.specs.push(spec);
    return spec;
  }

  /** Spawn node `id` (again) and wait for its `node.started` line. */
  async startNode(id: number, extraArgs: readonly string[] = []): Promise<ServerProcess> {
    const s = this.spec(id);
    const old = this.procs.get(id);
    if (old !== undefined && old.running) throw new Error(`node ${id} is already running (pid ${old.pid})`);
    const membership = this.joiners.has(id)
      ? [
          '--join',
          '--listen-peer',
          `127.0.0.1:${s.peerPort}`,
          '--listen-client',
          `127.0.0.1:${s.clientPort}`,
          '--peers',
          this.specs
            .filter((x) => !this.joiners.has(x.id))
            .map((x) => `${x.id}=127.0.0.1:${x.peerPort}`)
            .join(','),
        ]
      : ['--initial-cluster', this.initialCluster()];
    const args = [
      SERVER_BIN,
      '--id',
      String(id),
      '--cluster-id',
      'test',
      '--data-dir',
      s.dataDir,
      ...membership,
      ...this.args,
      ...(this.nodeArgs.get(id) ?? []),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new ServerProcess(s, child);
    this.procs.set(id, proc);
    await proc.waitForLog((l) => l.event === 'node.started', 30_000);
    return proc;
  }

  proc(id: number): ServerProcess {
    const p = this.procs.get(id);
    if (p === undefined) throw new Error(`node ${id} was never started`);
    return p;
  }

  /** A connection to node `id`'s client port, closed by `destroy()`. */
  async client(id: number): Promise<WireClient> {
    const c = await WireClient.connect(this.spec(id).clientPort);
    this.clients.push(c);
    return c;
  }

  /** Status of every running node (nodes that do not answer are left out). */
  async statuses(): Promise<NodeStatus[]> {
    const out: NodeStatus[] = [];
    for (const s of this.specs) {
      const p = this.procs.get(s.id);
      if (p === undefined || !p.running) continue;
      let c: WireClient | undefined;
      try {
        c = await WireClient.connect(s.clientPort);
        out.push(await c.call({ op: 'status' }));
      } catch {
        // not answering
      } finally {
        c?.close();
      }
    }
    return out;
  }

  /**
   * Poll until the running nodes agree on one leader that is itself running and says it leads;
   * returns its id. `timeoutMs` bounds the wait (a failure, not a timed assertion on speed).
   */
  async waitForLeader(timeoutMs = 30_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    let last: NodeStatus[] = [];
    while (Date.now() < until) {
      last = await this.statuses();
      const leader = last.find((s) => s.role === 'leader');
      if (leader !== undefined && last.every((s) => s.leader === leader.id)) return leader.id;
      await sleep(100);
    }
    throw new Error(`no agreed leader within ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  /** Kill every process (SIGKILL, by PID), close clients, remove the temp dir. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await Promise.all([...this.procs.values()].map((p) => p.kill('SIGKILL')));
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
