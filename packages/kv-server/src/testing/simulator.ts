/**
 * The server simulator: whole clusters of the production node core (`NodeCore` with the real
 * state machine, session table and stores over memory-level on simulated disks) in one process,
 * driven by one seed through the Raft simulator's machinery (`@keel/raft/testing`: scenarios and
 * fault regimes, the simulated network, the nemesis, the invariant checker, the liveness phase).
 *
 * On top of the Raft invariants it checks what clients see: every key's history of puts,
 * deletes, CAS, linearizable gets and scans must be linearizable; serializable gets may be stale
 * but return only values that were written; every client write (clientId, seq) takes effect at
 * most once however often it was retried; an acknowledged write names the entry that committed;
 * and every node that applies an entry answers it alike (the state machine is deterministic, so
 * a different answer — a range delete's count or deleted entries, a CAS outcome, a previous
 * entry — means the replicas' states differ).
 *
 * The node core sends a Ready's `messages` before its write and `messagesAfterPersist` after it,
 * so a crash while the write waits for its simulated fsync is a node dying with its messages out
 * and its write lost: for a leader, entries on followers that its own disk never got
 * (`leaderCrashesDuringPersist` counts those; `crashesDuringPersist` every crash with a Ready's
 * write in flight).
 *
 * Asynchrony is deterministic: every port the core awaits (disk writes, snapshot streams, the
 * scheduler) completes through the event queue, and after each event the run lets the promise
 * callbacks it released run to completion before taking the next event.
 */
import { KeelError, ERROR_CODES, type ClientRequest, type Member } from '@keel/protocol';
import { RawNode, SeededRng, type Entry, type LogLevel, type Logger, type Message, type NodeId, type Ready, type SnapshotMeta } from '@keel/raft';
import {
  EventQueue,
  InvariantChecker,
  LivenessPhase,
  Nemesis,
  SimNetwork,
  Trace,
  UNITS_PER_TICK,
  chooseScenario,
  emptyCounters,
  entryKey,
  mixDigest,
  type LivenessProbe,
  type RegimeName,
  type Scenario,
  type ScheduledFault,
  type SimContext,
  type SimCounters,
  type Violation,
  type ViolationKind,
} from '@keel/raft/testing';
import type { NodeCoreConfig } from '../node/config.js';
import { NodeCore } from '../node/node-core.js';
import type { NodeObserver, PeerSender } from '../node/ports.js';
import { isAuthCommand } from '../state-machine/auth-commands.js';
import { decodeCommand, encodeCommand, type Command } from '../state-machine/commands.js';
import { checkRegister } from './linearizability.js';
import { SimAdmin } from './sim-admin.js';
import { SimLessee } from './sim-lessee.js';
import { KEYS, SimClients, type ClientCounters } from './sim-clients.js';
import { SimServerNode, clientAddressOf, peerAddressOf, type CoreFactory, type RawNodeFactory, type SimNodeHost } from './sim-node.js';

export interface ServerSimOptions {
  readonly seed: number;
  /** Initial voters (3 or 5); spares for membership changes come on top. Default 3. */
  readonly nodes?: number;
  /** Length of the fault phase in Raft ticks. Default 300. */
  readonly ticks?: number;
  /** Ticks the healed majority gets to commit a write in the liveness phase. Default 300. */
  readonly livenessTicks?: number;
  /** TEST SEAM: builds each node's Raft core (deliberately broken variants). */
  readonly rawNodeFactory?: RawNodeFactory;
  /** TEST SEAM: builds each node's core (deliberately broken variants). */
  readonly coreFactory?: CoreFactory;
  readonly scenario?: Partial<Scenario>;
  readonly regime?: RegimeName | 'random';
  readonly schedule?: readonly ScheduledFault[];
  readonly disabledChecks?: readonly ViolationKind[];
  readonly traceLength?: number;
}

/** Nominal: the simulator's ticks have no length; lease TTLs count in ticks of this many ms. */
const SIM_TICK_MS = 50;

/** The Raft simulator's counters plus what the clients did and what was checked. */
export interface ServerSimCounters extends SimCounters, ClientCounters {
  /** History operations checked for linearizability (over all keys). */
  historyOpsChecked: number;
  /** Changes of the change history (what watches replay) compared across nodes at the end. */
  changesChecked: number;
  /** History compactions committed (the leaders' automatic ones). */
  compactions: number;
  /** Keys whose history search gave up (too many concurrent unknown outcomes): not counted as checked. */
  historyUnknown: number;
  serializableReadsChecked: number;
  /** Client writes that took effect (fresh applications, first node to apply). */
  writesApplied: number;
  /** Retried writes answered from the session table instead of applied again. */
  writesDeduplicated: number;
  /** Applications of a command entry whose answer was compared with the first application's. */
  answersCompared: number;
  /** Leases the simulated lessee was granted (never kept alive). */
  leasesGranted: number;
  /** Lease expiries the leaders put in the log (first application). */
  leasesExpired: number;
}

export interface ServerSimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly counters: ServerSimCounters;
  readonly scenario: Scenario;
  readonly trace: readonly string[];
  readonly fingerprint: string;
}

export function emptyServerCounters(): ServerSimCounters {
  return {
    ...emptyCounters(),
    clientOps: 0,
    clientOk: 0,
    clientFailed: 0,
    clientUnknown: 0,
    clientAttempts: 0,
    clientRetries: 0,
    rangeDeletes: 0,
    txns: 0,
    historyOpsChecked: 0,
    changesChecked: 0,
    compactions: 0,
    historyUnknown: 0,
    serializableReadsChecked: 0,
    writesApplied: 0,
    writesDeduplicated: 0,
    answersCompared: 0,
    leasesGranted: 0,
    leasesExpired: 0,
  };
}

export function addServerCounters(a: ServerSimCounters, b: Readonly<ServerSimCounters>): ServerSimCounters {
  for (const key of Object.keys(a) as (keyof ServerSimCounters)[]) a[key] += b[key];
  return a;
}

/** Run one seed. Deterministic: the same options give the same result, trace and fingerprint. */
export function runServerSimulation(options: ServerSimOptions): Promise<ServerSimResult> {
  return new ServerSimulation(options).run();
}

const SPARES = 3;
const LIVENESS_FSYNC_MAX = 3;
const CLIENTS = 3;
/** Client ↔ node latency, in time units. */
const CLIENT_DELAY = 2;

type Event =
  | { readonly kind: 'director' }
  | { readonly kind: 'tick'; readonly node: NodeId }
  | { readonly kind: 'run'; readonly node: NodeId; readonly incarnation: number; readonly fn: () => void }
  | { readonly kind: 'fsync'; readonly done: () => void }
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'call'; readonly fn: () => void };

interface PendingRequest {
  readonly node: NodeId;
  readonly answer: (result: unknown, error: KeelError | undefined) => void;
}

class ServerSimulation implements SimContext<SimServerNode>, SimNodeHost {
  readonly ids: NodeId[];
  readonly network: SimNetwork;
  readonly counters = emptyServerCounters();
  readonly checker: InvariantChecker;
  readonly scenario: Scenario;
  tick = 0;
  now = 0;
  private readonly queue = new EventQueue<Event>();
  private readonly nodes = new Map<NodeId, SimServerNode>();
  private readonly trace: Trace;
  private readonly nemesis: Nemesis;
  private readonly clients: SimClients;
  private readonly admin: SimAdmin;
  private readonly lessee: SimLessee;
  /** When each lease's grant was first applied (any node), and its TTL. */
  private readonly leaseGrants = new Map<number, { readonly at: number; readonly ttl: number }>();
  private readonly liveness: LivenessPhase<SimServerNode>;
  private readonly faultTicks: number;
  private phase: 'faults' | 'liveness' | 'done' = 'faults';
  private readonly diskLatency = { min: 0, max: 0 };
  private readonly diskRng: SeededRng;
  private readonly crashRng: SeededRng;
  /** What each live incarnation acknowledged (promised durable). */
  private readonly acks = new Map<NodeId, { acked: number; vote?: { term: number; to: NodeId } }>();
  /** Acknowledgements of a crashed incarnation, checked against what its disk kept when it restarts. */
  private readonly crashedAcks = new Map<NodeId, { acked: number; vote?: { term: number; to: NodeId } }>();
  /** The Ready of each live incarnation whose snapshot, entries or hard state are being written (taken, not yet persisted). */
  private readonly writing = new Map<NodeId, Ready>();
  private readonly pending = new Set<PendingRequest>();
  /** Fresh applications per client write `clientId/seq`. */
  private readonly applications = new Map<string, number>();
  /** The answer of the first application of each command entry (`canonical`). */
  private readonly answers = new Map<number, string>();
  private membersCache: { tick: number; ids: NodeId[] } | undefined;

  constructor(private readonly options: ServerSimOptions) {
    const n = options.nodes ?? 3;
    if (!Number.isInteger(n) || n < 1 || n > 9) throw new RangeError(`nodes must be an integer in [1, 9], got ${n}`);
    this.checker = new InvariantChecker(options.disabledChecks);
    const root = new SeededRng(options.seed);
    const scenarioRng = root.fork();
    const networkRng = root.fork();
    const nodeRng = root.fork();
    this.diskRng = root.fork();
    const nemesisRng = root.fork();
    const clientRng = root.fork();
    const livenessRng = root.fork();
    this.crashRng = root.fork();
    this.scenario = { ...chooseScenario(scenarioRng, n, options.regime), ...options.scenario };
    const s = this.scenario;
    this.faultTicks = options.ticks ?? 300;
    this.trace = new Trace(options.traceLength ?? 60);
    this.network = new SimNetwork(networkRng, s.link);
    this.diskLatency.min = s.fsyncDelayMin;
    this.diskLatency.max = s.fsyncDelayMax;

    const spares = s.membership === 'none' ? 0 : SPARES;
    this.ids = Array.from({ length: n + spares }, (_, i) => i + 1);
    const bootstrap: Member[] = Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      role: 'voter',
      peerAddress: peerAddressOf(i + 1),
      clientAddress: clientAddressOf(i + 1),
    }));
    const raft = {
      electionTick: s.electionTick,
      heartbeatTick: s.heartbeatTick,
      preVote: s.preVote,
      checkQuorum: s.checkQuorum,
      maxSizePerMsg: s.maxSizePerMsg,
      maxInflightMsgs: s.maxInflightMsgs,
      maxInflightBytes: s.maxInflightBytes,
      maxCommittedSizePerReady: s.maxCommittedSizePerReady,
      maxUncommittedBytes: s.maxUncommittedBytes,
    };
    const rawNodeFactory = options.rawNodeFactory ?? ((config) => new RawNode(config));
    const coreFactory = options.coreFactory ?? ((config, raw, ports) => new NodeCore(config, raw, ports));
    for (const id of this.ids) {
      const core: NodeCoreConfig = {
        id,
        tickMs: SIM_TICK_MS,
        electionTicks: s.electionTick,
        snapshotEntries: s.snapshotEvery > 0 ? s.snapshotEvery : 1_000_000,
        snapshotCatchUpEntries: Math.floor((s.snapshotEvery > 0 ? s.snapshotEvery : 0) / 2),
        // Small, so that compactions (and snapshots that carry compacted history) happen in every run.
        historyRetention: 40,
        historyCheckTicks: 10,
        requestTimeoutTicks: 4 * s.electionTick,
        sweepTicks: 2,
        pendingProposalsMax: 1000,
        pendingProposalBytesMax: 1 << 20,
        pendingReadsMax: 1000,
        snapshotChunkBytes: 1024,
        applyBacklogMax: 8192,
        peerDial: new Map(),
      };
      const setup = { id, bootstrap: id <= n ? bootstrap : undefined, raft, core, rng: nodeRng.fork(), rawNodeFactory, coreFactory };
      this.nodes.set(id, new SimServerNode(setup, { fsync: (done) => this.fsync(done) }, this));
    }
    this.nemesis = new Nemesis(nemesisRng, s, this, options.schedule);
    this.clients = new SimClients(CLIENTS, clientRng, this.clientWorld(), this.counters, Math.min(0.9, s.proposeRate + 0.1));
    this.admin = new SimAdmin(
      clientRng.fork(),
      s,
      {
        leader: () => this.leader(),
        ids: this.ids,
        send: (node, request, answer) => this.clientRequest(node, request, answer),
        note: (text) => this.note(text),
      },
      this.counters,
      bootstrap.map((m) => m.id),
    );
    this.lessee = new SimLessee(
      { leader: () => this.leader(), send: (node, request, answer) => this.clientRequest(node, request, answer), note: (text) => this.note(text) },
      this.counters,
    );
    const probe: LivenessProbe<SimServerNode> = (leader, payload) => this.probe(leader, payload);
    this.liveness = new LivenessPhase(this, livenessRng, options.livenessTicks ?? 300, () => {
      this.diskLatency.min = 0;
      this.diskLatency.max = Math.min(this.diskLatency.max, LIVENESS_FSYNC_MAX);
    }, probe);
    for (const id of this.ids) this.queue.push(1 + nodeRng.nextInt(UNITS_PER_TICK - 1), { kind: 'tick', node: id });
    this.queue.push(0, { kind: 'director' });
  }

  async run(): Promise<ServerSimResult> {
    this.counters.seeds = 1;
    for (const id of this.ids) this.startNode(id);
    await this.settle();
    while (this.phase !== 'done' && this.checker.ok) {
      const next = this.queue.pop();
      if (next === undefined) break;
      this.now = next.time;
      this.checker.now = next.time;
      this.counters.events++;
      this.guard(() => this.dispatch(next.item));
      await this.settle();
    }
    this.clients.finish();
    if (this.checker.ok) this.checkHistories();
    if (this.checker.ok) await this.checkChangeHistories();
    for (const v of this.checker.violations) this.trace.note(v.time, `VIOLATION ${v.kind}: ${v.message}`);
    this.counters.violations = this.checker.violations.length;
    return {
      seed: this.options.seed,
      nodes: this.options.nodes ?? 3,
      ok: this.checker.ok,
      violations: this.checker.violations,
      counters: this.counters,
      scenario: this.scenario,
      trace: this.trace.lines(),
      fingerprint: this.fingerprint(),
    };
  }

  /** Let every promise callback released by the last event run before the next event. */
  private async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // ------------------------------------------------------------------------------------------
  // SimContext
  // ------------------------------------------------------------------------------------------

  node(id: NodeId): SimServerNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RangeError(`no node ${id}`);
    return node;
  }

  leader(): SimServerNode | undefined {
    return this.leaderAmong(this.ids);
  }

  leaderAmong(ids: readonly NodeId[]): SimServerNode | undefined {
    let best: SimServerNode | undefined;
    for (const id of ids) {
      const node = this.nodes.get(id)!;
      if (node.up && node.role === 'leader' && (best === undefined || node.hard.term > best.hard.term)) best = node;
    }
    return best;
  }

  members(): NodeId[] {
    if (this.membersCache?.tick === this.tick) return this.membersCache.ids;
    const set = new Set<NodeId>();
    for (const node of this.nodes.values()) {
      const conf = node.durableConf();
      for (const id of conf.voters) set.add(id);
      for (const id of conf.learners) set.add(id);
    }
    const ids = this.ids.filter((id) => set.has(id));
    this.membersCache = { tick: this.tick, ids };
    return ids;
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    const ack = this.acks.get(id);
    this.acks.delete(id);
    if (ack !== undefined) this.crashedAcks.set(id, ack);
    const writing = this.writing.get(id);
    this.writing.delete(id);
    const wasLeader = node.role === 'leader';
    // Power loss: any prefix of the unsynced writes survives (LevelDB's log is ordered).
    node.crash((unsynced) => this.crashRng.nextInt(unsynced + 1));
    for (const p of [...this.pending]) {
      if (p.node !== id) continue;
      this.pending.delete(p);
      p.answer(undefined, new KeelError(ERROR_CODES.CONNECTION_LOST, `node ${id} died`, { definite: false }));
    }
    this.counters.crashes++;
    if (writing === undefined) {
      this.trace.note(this.now, `crash ${id}`);
      return;
    }
    // The Ready's `messages` left before its write: a leader dies with its appends out there.
    this.counters.crashesDuringPersist++;
    const entries = writing.entries;
    if (wasLeader && entries.length > 0) this.counters.leaderCrashesDuringPersist++;
    const lost = entries.length > 0 ? ` entries ${entries[0]!.index}..${entries[entries.length - 1]!.index}` : '';
    this.trace.note(this.now, `crash ${id}${wasLeader ? ' (leader)' : ''} before its write completed:${lost}${writing.hardState === undefined ? '' : ' hard state'}${writing.snapshot === undefined ? '' : ' snapshot'}`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    this.startNode(id);
    this.counters.restarts++;
    this.trace.note(this.now, `restart ${id}`);
  }

  note(text: string): void {
    this.trace.note(this.now, text);
  }

  private startNode(id: NodeId): void {
    const node = this.node(id);
    // Starting is asynchronous (the stores recover through the simulated disk): it completes
    // through the event queue like any other I/O.
    node.start((i) => this.checker.committedAt(i)?.digest).then(
      () => this.started(node),
      (err: unknown) => this.checker.report('contract', `node ${id} failed to start: ${String(err)}`),
    );
  }

  /** A restarted node: what it acknowledged before its crash must have survived on its disk. */
  private started(node: SimServerNode): void {
    const ack = this.crashedAcks.get(node.id);
    this.crashedAcks.delete(node.id);
    const log = node.log;
    if (ack !== undefined && log !== undefined) {
      this.checker.crashed(node.id, ack.acked, ack.vote, log.raftStorage.lastIndex(), log.raftStorage.hardState());
    }
  }

  // ------------------------------------------------------------------------------------------
  // Events
  // ------------------------------------------------------------------------------------------

  private dispatch(event: Event): void {
    switch (event.kind) {
      case 'director':
        this.direct();
        return;
      case 'tick':
        this.node(event.node).core?.tick();
        this.queue.push(this.now + UNITS_PER_TICK, event);
        return;
      case 'run': {
        const node = this.node(event.node);
        if (node.incarnation === event.incarnation && node.up) event.fn();
        return;
      }
      case 'fsync':
        event.done();
        return;
      case 'deliver':
        this.deliver(event.message);
        return;
      case 'call':
        event.fn();
        return;
    }
  }

  private direct(): void {
    this.counters.ticks++;
    if (this.phase === 'faults' && this.tick >= this.faultTicks) {
      this.phase = 'liveness';
      this.liveness.start(this.tick);
    }
    if (this.phase === 'faults') {
      this.nemesis.onTick(this.tick);
      this.clients.onTick(true);
      this.admin.onTick();
      this.lessee.onTick(this.tick);
    } else {
      this.clients.onTick(false);
      if (this.liveness.onTick(this.tick)) {
        this.phase = 'done';
        return;
      }
    }
    this.tick++;
    this.queue.push(this.tick * UNITS_PER_TICK, { kind: 'director' });
  }

  private fsync(done: () => void): void {
    const { min, max } = this.diskLatency;
    this.queue.push(this.now + min + this.diskRng.nextInt(max - min + 1), { kind: 'fsync', done });
  }

  private deliver(message: Message): void {
    const to = this.nodes.get(message.to);
    if (to === undefined || !to.up || this.network.isBlocked(message.from, message.to)) {
      this.counters.messagesDropped++;
      this.trace.message(this.now, to?.up === false ? 'drop(down)' : 'drop(cut)', message);
      return;
    }
    this.trace.message(this.now, 'deliver', message);
    this.counters.messagesDelivered++;
    to.core!.step(message);
  }

  /** Run `guard`ed: an exception out of the core is a contract violation. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      this.checker.report('contract', `threw ${e.name}: ${e.message} ${e.stack?.split('\n')[1]?.trim() ?? ''}`);
    }
  }

  // ------------------------------------------------------------------------------------------
  // SimNodeHost: the ports of one incarnation
  // ------------------------------------------------------------------------------------------

  peers(node: SimServerNode, incarnation: number): PeerSender {
    const alive = (): boolean => node.incarnation === incarnation && node.up;
    return {
      send: (messages) => {
        if (!alive()) return;
        for (const m of messages) this.route(node, m);
      },
      sendSnapshot: (to, meta, chunks) => (alive() ? this.sendSnapshot(node, to, meta, chunks) : new Promise<void>(() => undefined)),
      setPeers: () => undefined,
    };
  }

  soon(node: SimServerNode, incarnation: number, run: () => void): void {
    this.queue.push(this.now, { kind: 'run', node: node.id, incarnation, fn: run });
  }

  logger(node: SimServerNode, incarnation: number): Logger {
    return {
      log: (level: LogLevel, event: string, fields?: Record<string, unknown>): void => {
        if (level !== 'error' || incarnation !== node.incarnation) return;
        this.checker.report('coreError', `node ${node.id}: ${event} ${safeJson(fields)}`);
      },
    };
  }

  fatal(node: SimServerNode, error: unknown): void {
    this.checker.report('contract', `node ${node.id} failed: ${String(error)}`);
  }

  observer(node: SimServerNode, incarnation: number): NodeObserver {
    const current = (): boolean => node.incarnation === incarnation;
    return {
      ready: (rd) => {
        if (current()) this.readyTaken(node, rd);
      },
      persisted: (rd) => {
        if (current()) this.persisted(node, rd);
      },
      sent: (messages) => {
        if (!current()) return;
        for (const m of messages) {
          if ((m.type === 'appResp' && !m.reject) || (m.type === 'voteResp' && !m.reject)) this.acknowledged(node.id, m);
        }
      },
      applied: (entries, results) => {
        if (current()) this.applied(node, entries, results);
      },
      snapshotTaken: () => {
        if (current()) this.counters.snapshotsTaken++;
      },
      snapshotInstalled: (meta, appliedBefore) => {
        if (current()) this.snapshotInstalled(node, meta, appliedBefore);
      },
    };
  }

  private readyTaken(node: SimServerNode, rd: Ready): void {
    if (rd.snapshot !== undefined || rd.entries.length > 0 || rd.hardState !== undefined) this.writing.set(node.id, rd);
    if (rd.hardState !== undefined) {
      this.checker.hardState(node.id, rd.hardState, node.hard);
      node.hard = { ...rd.hardState };
    }
    if (rd.softState !== undefined && rd.softState.role !== node.role) {
      if (rd.softState.role === 'candidate') this.counters.elections++;
      if (rd.softState.role === 'leader') this.leaderElected(node, rd);
    }
    if (rd.softState !== undefined) node.role = rd.softState.role;
  }

  private leaderElected(node: SimServerNode, rd: Ready): void {
    this.counters.leaderChanges++;
    const term = node.hard.term;
    this.trace.note(this.now, `node ${node.id} is leader of term ${term}`);
    const storage = node.log!.raftStorage;
    const first = rd.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    const termAt = (i: number): number | undefined => {
      if (i >= first) return rd.entries[i - first]?.term;
      if (i < storage.firstIndex() - 1 || i > storage.lastIndex()) return undefined;
      return storage.term(i);
    };
    this.checker.leaderElected(node.id, term, storage.snapshot().meta.index, termAt);
  }

  private persisted(node: SimServerNode, rd: Ready): void {
    this.writing.delete(node.id);
    const storage = node.log!.raftStorage;
    if (rd.entries.length > 0) this.checker.durableEntries(node.id, rd.entries, storage.firstIndex(), (i) => storage.term(i));
    if (rd.hardState !== undefined && rd.mustSync) this.checker.durableHardState(node.id, rd.hardState, storage.lastIndex());
    const ack = this.acks.get(node.id);
    if (ack !== undefined && ack.acked > storage.lastIndex()) ack.acked = storage.lastIndex();
  }

  private acknowledged(id: NodeId, m: Message): void {
    let ack = this.acks.get(id);
    if (ack === undefined) this.acks.set(id, (ack = { acked: 0 }));
    if (m.type === 'appResp') ack.acked = Math.max(ack.acked, m.index);
    else ack.vote = { term: m.term, to: m.to };
  }

  private applied(node: SimServerNode, entries: readonly Entry[], results: readonly { readonly index: number; readonly kind: string; readonly result?: unknown }[]): void {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      if (e.index !== node.applied + 1) {
        this.checker.report('appliedRegressed', `node ${node.id} applied ${e.index} after ${node.applied}`);
      }
      node.applied = e.index;
      node.digest = mixDigest(node.digest, entryKey(e));
      const first = this.checker.applied(node.id, e, node.digest, node.hard.term);
      this.answeredAlike(node, e.index, results[k], first);
      if (!first) continue;
      if (e.type === 'confChange') {
        this.counters.confChanges++;
        this.trace.note(this.now, `committed ${e.index}/${e.term} ${e.change.type}(${e.change.nodeId})`);
        continue;
      }
      if (e.data.byteLength === 0) continue;
      this.counters.committed++;
      this.exactlyOnce(e, results[k]);
    }
  }

  /**
   * Every application of an entry (on any node, or again after a crash) answers as the first did:
   * the answer is a function of the state before it, so a difference means diverged state.
   */
  private answeredAlike(node: SimServerNode, index: number, result: { readonly kind: string; readonly result?: unknown } | undefined, first: boolean): void {
    if (result?.kind !== 'command') return;
    const answer = canonical(result.result);
    if (first) {
      this.answers.set(index, answer);
      return;
    }
    const before = this.answers.get(index);
    if (before === undefined) return;
    this.counters.answersCompared++;
    if (before !== answer) {
      this.checker.report('stateMachineSafety', `node ${node.id} answered entry ${index} with ${answer}, another node with ${before}`);
    }
  }

  /** A client write is applied fresh at most once: a retry that reaches the log again is answered from the session table. */
  private exactlyOnce(e: Entry & { type: 'normal' }, result: { readonly kind: string; readonly result?: unknown } | undefined): void {
    let logged;
    try {
      logged = decodeCommand(e.data);
    } catch {
      return; // liveness probes and the like are commands too; anything else is not a client write
    }
    const command = logged.op === 'authorized' ? logged.command : logged;
    if (isAuthCommand(command)) return; // an auth change: no write session
    if (command.op === 'compact') {
      this.counters.compactions++; // not a session write
      return;
    }
    this.leaseTiming(e, command);
    if (command.op === 'leaseExpire') return; // the leader's, not a client write
    this.firstApplied.set(e.index, { clientId: command.session.clientId, seq: command.session.seq });
    const r = result?.result as { revision?: number } | undefined;
    if (r?.revision === undefined) return;
    if (r.revision !== e.index) {
      this.counters.writesDeduplicated++;
      return;
    }
    this.counters.writesApplied++;
    const id = `${command.session.clientId}/${command.session.seq}`;
    const before = this.applications.get(id);
    if (before !== undefined) this.checker.report('exactlyOnce', `write ${id} took effect at ${before} and again at ${e.index}`);
    else this.applications.set(id, e.index);
  }

  /**
   * No lease ends before its TTL: the leader starts a lease's clock no earlier than it applies the
   * grant, which is no earlier than the grant's first application anywhere, so the expiry's first
   * application comes at least a TTL (less one tick: nodes tick out of phase) after that.
   */
  private leaseTiming(e: Entry, command: Command): void {
    if (command.op === 'leaseGrant') this.leaseGrants.set(e.index, { at: this.now, ttl: command.ttl });
    if (command.op !== 'leaseExpire') return;
    this.counters.leasesExpired++;
    const grant = this.leaseGrants.get(command.lease);
    if (grant === undefined) return; // granted before a snapshot this run did not see applied
    const ttlUnits = Math.ceil((grant.ttl * 1000) / SIM_TICK_MS) * UNITS_PER_TICK;
    if (this.now - grant.at < ttlUnits - UNITS_PER_TICK) {
      this.checker.report('contract', `lease ${command.lease} expired at ${this.now}, ${this.now - grant.at} time units after its grant applied, before its TTL (${ttlUnits})`);
    }
  }

  private snapshotInstalled(node: SimServerNode, meta: SnapshotMeta, appliedBefore: number): void {
    this.counters.snapshotsInstalled++;
    this.trace.note(this.now, `node ${node.id} installed snapshot ${meta.index}/${meta.term} (applied was ${appliedBefore})`);
    const digest = this.checker.committedAt(meta.index)?.digest;
    this.checker.snapshotInstalled(node.id, meta.index, meta.term, digest ?? node.digest, appliedBefore);
    node.applied = meta.index;
    if (digest !== undefined) node.digest = digest;
  }

  // ------------------------------------------------------------------------------------------
  // Network
  // ------------------------------------------------------------------------------------------

  private route(from: SimServerNode, m: Message): void {
    const delays = this.network.route(m);
    if (delays.length === 0) {
      this.counters.messagesDropped++;
      const cut = this.network.isBlocked(m.from, m.to);
      this.trace.message(this.now, cut ? 'drop(cut)' : 'drop(lost)', m);
      if (cut && m.type === 'app') {
        const incarnation = from.incarnation;
        this.queue.push(this.now + 1, {
          kind: 'call',
          fn: () => {
            if (from.incarnation === incarnation) from.core?.unreachable(m.to);
          },
        });
      }
      return;
    }
    if (delays.length > 1) this.counters.messagesDuplicated++;
    for (const delay of delays) this.queue.push(this.now + delay, { kind: 'deliver', message: m });
  }

  /**
   * A snapshot stream: the chunks are read now (the sender's consistent view), travel as one
   * delivery, and the receiver installs them through its production path; the sender's promise
   * settles with the receiver's outcome, or fails when the link is cut or either side dies.
   */
  private async sendSnapshot(from: SimServerNode, to: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const collected: Uint8Array[] = [];
    for await (const c of chunks) collected.push(c);
    this.counters.snapshotsSent++;
    const message: Message = { type: 'snap', from: from.id, to, term: from.hard.term, snapshot: { meta, data: new Uint8Array(0) } };
    this.trace.message(this.now, 'send', message);
    const delays = this.network.route(message);
    if (delays.length === 0) throw new Error(`snapshot to ${to} lost`);
    return new Promise<void>((resolve, reject) => {
      this.queue.push(this.now + delays[0]!, {
        kind: 'call',
        fn: () => {
          const target = this.nodes.get(to);
          if (target?.core === undefined || this.network.isBlocked(from.id, to)) {
            reject(new Error(`snapshot to ${to} not delivered`));
            return;
          }
          const incarnation = target.incarnation;
          async function* replay(): AsyncGenerator<Uint8Array> {
            yield* collected;
          }
          target.core.receiveSnapshot(from.id, meta, replay()).then(resolve, reject);
          // A receiver that dies mid-install never answers: fail the stream as a broken connection would.
          const watch = (): void => {
            if (target.incarnation !== incarnation) reject(new Error(`node ${to} died while installing`));
            else this.queue.push(this.now + 10 * UNITS_PER_TICK, { kind: 'call', fn: watch });
          };
          this.queue.push(this.now + 10 * UNITS_PER_TICK, { kind: 'call', fn: watch });
        },
      });
    });
  }

  // ------------------------------------------------------------------------------------------
  // Clients
  // ------------------------------------------------------------------------------------------

  private clientWorld(): ConstructorParameters<typeof SimClients>[2] {
    const sim = this;
    return {
      get now() {
        return sim.now;
      },
      leader: () => sim.leader()?.id,
      upNodes: () => sim.members().filter((id) => sim.node(id).up),
      send: (node, request, answer) => sim.clientRequest(node, request, answer),
      acknowledged: (clientId, seq, revision) => sim.writeAcknowledged(clientId, seq, revision),
    };
  }

  private clientRequest(id: NodeId, request: ClientRequest, answer: PendingRequest['answer']): void {
    const pending: PendingRequest = { node: id, answer };
    this.pending.add(pending);
    const reply = (result: unknown, error: KeelError | undefined): void => {
      this.queue.push(this.now + CLIENT_DELAY, {
        kind: 'call',
        fn: () => {
          if (!this.pending.delete(pending)) return; // the connection broke first
          answer(result, error);
        },
      });
    };
    this.queue.push(this.now + CLIENT_DELAY, {
      kind: 'call',
      fn: () => {
        const core = this.node(id).core;
        if (core === undefined) return; // answered CONNECTION_LOST by the crash
        core.handle(request).then(
          (result) => reply(result, undefined),
          (err: unknown) => reply(undefined, err instanceof KeelError ? err : new KeelError(ERROR_CODES.INTERNAL, String(err), { definite: false })),
        );
      },
    });
  }

  /** An acknowledged write names its entry: the one committed at `revision` must be this write. */
  private writeAcknowledged(clientId: string, seq: number, revision: number): void {
    const rec = this.firstApplied.get(revision);
    if (rec === undefined || rec.clientId !== clientId || rec.seq !== seq) {
      this.checker.report(
        'ackNotApplied',
        `write ${clientId}/${seq} was acknowledged at revision ${revision}, but ${rec === undefined ? 'nothing is committed there' : `${rec.clientId}/${rec.seq} is`}`,
      );
    }
  }

  /** The client write committed at each index, recorded at its first application. */
  private readonly firstApplied = new Map<number, { clientId: string; seq: number }>();

  /** The liveness write: a real client put through the core; its entry is found by its log index. */
  private probe(leader: SimServerNode, payload: string): { index: number; key: string } | undefined {
    const core = leader.core;
    const status = leader.status();
    if (core === undefined || status === undefined) return undefined;
    const command = { op: 'put' as const, key: new TextEncoder().encode('liveness'), value: new TextEncoder().encode(payload), session: { clientId: 'liveness', seq: Number(payload.slice(1)), ackedBelow: 0 } };
    core.handle({ id: 0, ...command }).catch(() => undefined);
    const after = leader.status()!;
    if (after.lastIndex !== status.lastIndex + 1) return undefined;
    const data = encodeCommand(command);
    return { index: after.lastIndex, key: entryKey({ type: 'normal', index: after.lastIndex, term: after.term, data }) };
  }

  /**
   * Every running node holds the same history of changes (what watches replay) over the
   * revisions they all still keep: compactions go through the log, snapshots carry the history.
   */
  private async checkChangeHistories(): Promise<void> {
    const states = [...this.nodes.values()].flatMap((n) => (n.state === undefined ? [] : [[n.id, n.state] as const]));
    if (states.length < 2) return;
    const from = Math.max(...states.map(([, s]) => s.compactRevision()));
    const through = Math.min(...states.map(([, s]) => s.appliedIndex()));
    if (from > through) return;
    const shown = await Promise.all(
      states.map(async ([id, s]) => {
        const read = await s.readHistory(from, through, Number.MAX_SAFE_INTEGER);
        this.counters.changesChecked += read.events.length;
        return [id, JSON.stringify(read.events.map((e) => [e.revision, e.type, Buffer.from(e.kv.key).toString('hex'), Buffer.from(e.kv.value).toString('hex'), e.prevKv?.modRevision ?? 0]))] as const;
      }),
    );
    const [firstId, first] = shown[0]!;
    for (const [id, history] of shown.slice(1)) {
      if (history !== first) this.checker.report('stateMachineSafety', `nodes ${firstId} and ${id} hold different change histories over revisions ${from}..${through}`);
    }
  }

  private checkHistories(): void {
    for (const key of KEYS) {
      const history = this.clients.history.get(key)!;
      const outcome = checkRegister(history);
      if (outcome.ok === 'unknown') {
        this.counters.historyUnknown++;
        continue;
      }
      this.counters.historyOpsChecked += history.length;
      if (!outcome.ok) {
        const ops = history.map((h) => `${h.label} ${JSON.stringify(h.op)} [${h.call},${h.ret}]`).slice(-12).join('; ');
        this.checker.report('linearizability', `key ${key}: no linearization of ${history.length} operations (last: ${ops})`);
      }
    }
    for (const r of this.clients.serializableReads) {
      this.counters.serializableReadsChecked++;
      if (!this.clients.mayHold(r.key, r.value)) {
        this.checker.report('linearizability', `${r.label} read ${r.key} = ${JSON.stringify(r.value)}, a value never written`);
      }
    }
  }

  private fingerprint(): string {
    const nodes = this.ids.map((id) => {
      const node = this.node(id);
      return `${id}:${node.up ? 'up' : 'down'}:${node.hard.term}:${node.applied}:${node.digest}`;
    });
    return `${this.now}|${JSON.stringify(this.counters)}|${nodes.join(';')}|${this.trace.recorded}`;
  }
}

/** A text form of an answer that is equal for equal answers: object keys sorted, bytes as hex. */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k]; // before toJSON: a Buffer and a Uint8Array of the same bytes are one answer
    if (raw instanceof Uint8Array) return `0x${Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex')}`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }) ?? 'undefined';
}

function safeJson(fields: Record<string, unknown> | undefined): string {
  try {
    return JSON.stringify(fields ?? {}, (_k, v: unknown) => (v instanceof Error ? v.message : v));
  } catch {
    return '{}';
  }
}

