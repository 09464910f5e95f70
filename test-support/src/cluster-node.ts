/**
 * One node of a harness cluster: a fixed id, addresses and data dir, and the processes that run
 * it over time (`start`, `stop`, `kill`, `restart` keep the data; `pause`/`resume` freeze it).
 */
import type { NodeAddresses } from './network/network.js';
import { describeExit, type ExitInfo, type LogLine, type NodeProcess } from './node-process.js';

/** new: never started; running; paused (SIGSTOP); stopped: its last process exited. */
export type NodeState = 'new' | 'running' | 'paused' | 'stopped';

/**
 * What the harness knows of the node's place in the membership (changes made through the
 * harness; a test that changes membership another way keeps this up to date itself or ignores it).
 * `joining`: started with --join and not added yet.
 */
export type Membership = 'voter' | 'learner' | 'joining' | 'removed';

/** How long `stop()` waits after SIGTERM before SIGKILL, by default (the server's own limit is 15 s). */
export const STOP_GRACE_MS = 20_000;

/** What a node needs from its cluster. */
export interface NodeHost {
  /** Spawns the node's process with the cluster's arguments plus `extraArgs`, and waits until it serves. */
  launch(node: ClusterNode, extraArgs: readonly string[]): Promise<NodeProcess>;
  /** A harness action on the node (for its log file). */
  note(node: ClusterNode, event: string, fields?: Record<string, unknown>): void;
}

export class ClusterNode {
  membership: Membership;
  /** Every process that ran this node, oldest first. */
  readonly processes: NodeProcess[] = [];
  /** Processes the harness itself is stopping: their exit is expected. */
  private readonly stopping = new WeakSet<NodeProcess>();

  constructor(
    readonly id: number,
    readonly addresses: NodeAddresses,
    readonly dataDir: string,
    /** Started with --join (added by a membership change) rather than bootstrapped. */
    readonly joins: boolean,
    private readonly host: NodeHost,
    /** Where its admin listener (`--listen-metrics`) is, when the cluster gives it one ("host:port"). */
    readonly adminAddress?: string,
  ) {
    this.membership = joins ? 'joining' : 'voter';
  }

  /** Where clients reach the node ("host:port"). */
  get clientAddress(): string {
    return this.addresses.clientAddress;
  }

  /** The node's peer address in the membership ("host:port"). */
  get peerAddress(): string {
    return this.addresses.peerAddress;
  }

  /** The current (or last) process. */
  get process(): NodeProcess | undefined {
    return this.processes.at(-1);
  }

  get pid(): number | undefined {
    const p = this.process;
    return p?.running ? p.pid : undefined;
  }

  get state(): NodeState {
    const p = this.process;
    if (p === undefined) return 'new';
    if (!p.running) return 'stopped';
    return p.paused ? 'paused' : 'running';
  }

  /** Running and not paused: it can answer. */
  get serving(): boolean {
    return this.state === 'running';
  }

  /** The current process's log lines. */
  get logs(): readonly LogLine[] {
    return this.process?.logs ?? [];
  }

  /** Whether `proc`'s exit was asked for by the harness (stop, kill, restart, destroy). */
  expectedExit(proc: NodeProcess): boolean {
    return this.stopping.has(proc);
  }

  /** Starts the node (again, on the same data) and waits until it serves its client port. */
  async start(extraArgs: readonly string[] = []): Promise<NodeProcess> {
    const p = this.process;
    if (p?.running) throw new Error(`node ${this.id} is already running (pid ${p.pid})`);
    const proc = await this.host.launch(this, extraArgs);
    return proc;
  }

  /** Called by the host once a process is spawned. */
  adopt(proc: NodeProcess): void {
    this.processes.push(proc);
  }

  /** SIGTERM (SIGCONT first if paused), then SIGKILL if it is still running after `graceMs`. */
  async stop(graceMs = STOP_GRACE_MS): Promise<ExitInfo> {
    const p = this.process;
    if (p === undefined || !p.running) return p?.exit ?? { code: null, signal: null };
    this.stopping.add(p);
    this.host.note(this, 'harness.stop', { pid: p.pid });
    const exited = p.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([exited, late])) === 'late') {
      this.host.note(this, 'harness.kill', { pid: p.pid, reason: `not stopped ${graceMs} ms after SIGTERM` });
      p.kill('SIGKILL');
    }
    clearTimeout(timer);
    return exited;
  }

  /** SIGKILL: a crash. */
  kill(): Promise<ExitInfo> {
    const p = this.process;
    if (p === undefined || !p.running) return Promise.resolve(p?.exit ?? { code: null, signal: null });
    this.stopping.add(p);
    this.host.note(this, 'harness.kill', { pid: p.pid });
    return p.kill('SIGKILL');
  }

  /** SIGSTOP: the process keeps its sockets and answers nothing, like a long GC pause. */
  pause(): void {
    const p = this.runningProcess('pause');
    this.host.note(this, 'harness.pause', { pid: p.pid });
    p.pause();
  }

  /** SIGCONT. */
  resume(): void {
    const p = this.runningProcess('resume');
    this.host.note(this, 'harness.resume', { pid: p.pid });
    p.resume();
  }

  /** Stops the node (gracefully, or with SIGKILL when `kill`) and starts it again on the same data. */
  async restart(options: { kill?: boolean; args?: readonly string[] } = {}): Promise<NodeProcess> {
    if (options.kill === true) await this.kill();
    else await this.stop();
    return this.start(options.args);
  }

  /** The first line of the current process's log, past or future, matching `pred` (see `NodeProcess.waitForLog`). */
  waitForLog(pred: (l: LogLine) => boolean, stallMs?: number): Promise<LogLine> {
    const p = this.process;
    if (p === undefined) return Promise.reject(new Error(`node ${this.id} was never started`));
    return p.waitForLog(pred, stallMs);
  }

  /** Marks the running process's coming exit as expected (destroy). */
  expectExit(): void {
    const p = this.process;
    if (p !== undefined) this.stopping.add(p);
  }

  describe(): string {
    const p = this.process;
    const how = p === undefined ? 'never started' : p.running ? `pid ${p.pid}${p.paused ? ', paused' : ''}` : describeExit(p.exit!);
    return `node ${this.id} (${how})`;
  }

  private runningProcess(what: string): NodeProcess {
    const p = this.process;
    if (p === undefined || !p.running) throw new Error(`cannot ${what} node ${this.id}: it is not running`);
    return p;
  }
}
