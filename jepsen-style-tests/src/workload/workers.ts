/**
 * The logical clients: `clients` unpinned ones, each with its own `KeelClient` on every member
 * (they fail over like any application; a new one when the members change), and one probe per node, pinned to it
 * (`followRedirects: false`) and recording its `node` in the history, so the availability checker
 * can see what a node cut off from the majority answered. Each loop draws its operations from its
 * own seeded stream, runs them one at a time, and continues under a new process id after an
 * `info`, as Jepsen does. A workload's background operations (watches) run beside the loops, each
 * with its own unpinned client, until the workload ends them after the final operations.
 */
import { KeelClient, type Consistency } from '@keel/client';
import type { Cluster, ClusterNode } from '@keel/test-support';
import type { Stopper } from '../stopper.js';
import { Rng } from '../rng.js';
import type { Completion, Invocation, Recorder } from './recorder.js';
import type { Role, Workload } from './workload.js';

/** Deadline of one operation, in ms: long enough to ride out an election, short enough to keep going. */
export const CLIENT_TIMEOUT_MS = 3_000;
/** Probes cannot fail over: a short deadline keeps them asking. */
export const PROBE_TIMEOUT_MS = 1_500;
/** Mean pause between one client's operations, in ms (uniform in [0, 2×mean]). */
const PACE_MS_MEAN = 10;
/** Attempts at each setup or final operation (a fresh process each time) before the run gives up on it. */
const SETTLE_ATTEMPTS = 5;
const SETTLE_TIMEOUT_MS = 10_000;

export interface WorkersOptions {
  readonly cluster: Cluster;
  readonly workload: Workload;
  readonly recorder: Recorder;
  readonly seed: number;
  /** Unpinned logical clients. */
  readonly clients: number;
  /** Pinned probes: probe i talks to the i-th member by id. */
  readonly probes: number;
  readonly consistency: Consistency;
  readonly stopper: Stopper;
  /** How long the clients run, in ms: background operations start in its first half. */
  readonly timeMs: number;
}

export class Workers {
  private epoch = 0;
  private readonly pinned = new Map<number, KeelClient>();
  private readonly open = new Set<KeelClient>();
  /** Background operations started (each resolves once recorded). */
  private readonly background: Promise<void>[] = [];

  constructor(private readonly o: WorkersOptions) {}

  /** Runs every logical client until the stopper stops them; resolves once each finished its last operation. */
  async run(): Promise<void> {
    const loops: Promise<void>[] = [];
    for (let i = 0; i < this.o.clients; i++) loops.push(this.loop('client', Rng.derive(this.o.seed, `client ${i}`), this.unpinned()));
    for (let i = 0; i < this.o.probes; i++) loops.push(this.loop('probe', Rng.derive(this.o.seed, `probe ${i}`), () => this.probe(i)));
    for (let i = 0; i < (this.o.workload.background?.count ?? 0); i++) this.background.push(this.startBackground(i, Rng.derive(this.o.seed, `background ${i}`)));
    await Promise.all(loops);
  }

  /** The members changed: unpinned clients reconnect to the new endpoints before their next operation. */
  membershipChanged(): void {
    this.epoch++;
  }

  /** Runs the workload's setup operations (before the clients start); false if one never settled. */
  setup(): Promise<boolean> {
    return this.settle(this.o.workload.setup);
  }

  /** Runs the workload's final operations (after healing), then ends its background operations; false if a final operation never settled. */
  async final(): Promise<boolean> {
    const settled = await this.settle(this.o.workload.final);
    const background = this.o.workload.background;
    if (background !== undefined) {
      const client = this.settleClient();
      await background.finish((call) => this.record(client, call));
      await Promise.all(this.background);
    }
    return settled;
  }

  /**
   * Runs each of `calls` until the store answers it — ok, or a fail without an error (the store
   * said no: the bank's deposit found the accounts made by an attempt that timed out) — at most
   * SETTLE_ATTEMPTS times, a fresh process each time.
   */
  private async settle(calls: readonly Invocation[]): Promise<boolean> {
    if (calls.length === 0) return true;
    const client = this.settleClient();
    for (const call of calls) {
      let done = false;
      for (let attempt = 0; attempt < SETTLE_ATTEMPTS && !done; attempt++) {
        const completion = await this.record(client, call);
        done = completion.type === 'ok' || (completion.type === 'fail' && completion.error === undefined);
      }
      if (!done) return false;
    }
    return true;
  }

  private settleClient(): KeelClient {
    return this.track(new KeelClient({ endpoints: this.o.cluster.endpoints, timeoutMs: SETTLE_TIMEOUT_MS }));
  }

  /** Runs `call` once as a fresh process, recorded and observed. */
  private async record(client: KeelClient, call: Invocation): Promise<Completion> {
    const invoke = this.o.recorder.invoke(this.o.recorder.newProcess(), call);
    const completion = await this.o.workload.execute(client, call, this.o.consistency, 'client');
    this.o.recorder.complete(invoke, completion);
    this.o.workload.observe(call, completion, invoke.process);
    return completion;
  }

  /** Closes every client (ending the operations in flight, background ones included), then waits until those are recorded. */
  async close(): Promise<void> {
    await Promise.all([...this.open].map((c) => c.close()));
    this.open.clear();
    this.pinned.clear();
    await Promise.all(this.background);
  }

  /** The i-th background operation: the first at once, the others during the first half of the run; not at all once the run stops. */
  private async startBackground(i: number, rng: Rng): Promise<void> {
    const { stopper, workload } = this.o;
    if (i > 0) await stopper.sleep(rng.between(0, this.o.timeMs / 2));
    if (stopper.stopped) return;
    const client = this.track(new KeelClient({ endpoints: this.o.cluster.endpoints, timeoutMs: CLIENT_TIMEOUT_MS }));
    await this.record(client, workload.background!.next(rng, i));
  }

  private async loop(role: Role, rng: Rng, target: () => { client: KeelClient; node?: number }): Promise<void> {
    const { recorder, workload, stopper } = this.o;
    let process = recorder.newProcess();
    while (!stopper.stopped) {
      const { client, node } = target();
      const call = workload.next(rng, role, process);
      const invoke = recorder.invoke(process, call, node);
      const completion = await workload.execute(client, call, this.o.consistency, role);
      recorder.complete(invoke, completion);
      workload.observe(call, completion, process);
      if (completion.type === 'info') process = recorder.newProcess();
      await stopper.sleep(rng.between(0, 2 * PACE_MS_MEAN));
    }
  }

  /** A client's own KeelClient on the current members, made again when the members change. */
  private unpinned(): () => { client: KeelClient } {
    let current: { client: KeelClient; epoch: number } | undefined;
    return () => {
      if (current?.epoch !== this.epoch) {
        if (current !== undefined) void this.untrack(current.client).close();
        current = { client: this.track(new KeelClient({ endpoints: this.o.cluster.endpoints, timeoutMs: CLIENT_TIMEOUT_MS })), epoch: this.epoch };
      }
      return { client: current.client };
    };
  }

  private probe(i: number): { client: KeelClient; node: number } {
    const members = [...this.o.cluster.members].sort((a, b) => a.id - b.id);
    const node: ClusterNode = members[i % members.length]!;
    let client = this.pinned.get(node.id);
    if (client === undefined) {
      client = this.track(new KeelClient({ endpoints: [node.clientAddress], followRedirects: false, timeoutMs: PROBE_TIMEOUT_MS }));
      this.pinned.set(node.id, client);
    }
    return { client, node: node.id };
  }

  private track(client: KeelClient): KeelClient {
    this.open.add(client);
    return client;
  }

  private untrack(client: KeelClient): KeelClient {
    this.open.delete(client);
    return client;
  }
}
