import { RawNode } from '../raw-node.js';
import { SeededRng } from '../rng.js';
import type { ConfState, Entry, Message, NodeId, Ready, ReadState, RejectedRead, Snapshot } from '../types.js';
import { UNITS_PER_TICK } from './clock.js';
import type { SimContext } from './context.js';
import { EventQueue } from './event-queue.js';
import { Nemesis } from './faults.js';
import { InvariantChecker, type Violation, type ViolationKind } from './invariants.js';
import { LivenessPhase, rawProposalProbe } from './liveness.js';
import { SimNetwork } from './network.js';
import { SimNode, type NodeFactory, type NodeObserver } from './node-driver.js';
import { chooseScenario, type RegimeName, type Scenario, type ScheduledFault } from './scenario.js';
import { emptyCounters, type SimCounters } from './summary.js';
import { Trace } from './trace.js';
import { Workload } from './workload.js';

/** Options of one simulated run. Only `seed` is required; everything else has a default. */
export interface SimOptions {
  readonly seed: number;
  /** Initial voters (3 or 5). Spare nodes for membership changes come on top. Default 3. */
  readonly nodes?: number;
  /** Length of the fault phase in Raft ticks. Default 300. */
  readonly ticks?: number;
  /** Ticks the healed majority gets to commit a proposal in the liveness phase. Default 300. */
  readonly livenessTicks?: number;
  /** Builds each node's core. Default `new RawNode(config)`. Tests pass deliberately broken nodes. */
  readonly nodeFactory?: NodeFactory;
  /** TEST SEAM (injected bug): the driver sends a Ready's `messagesAfterPersist` before persisting it. */
  readonly ackBeforePersist?: boolean;
  /** Overrides of the scenario the seed draws (applied after the draw, so the seed's streams stay). */
  readonly scenario?: Partial<Scenario>;
  /** Force this named fault regime ('random': none) instead of the seed's choice; `scenario` still applies on top. */
  readonly regime?: RegimeName | 'random';
  /** An explicit fault schedule; replaces the scenario's random partitions and crashes. */
  readonly schedule?: readonly ScheduledFault[];
  /**
   * Invariants not to report. Only for demonstrating that the remaining ones still catch a bug
   * (e.g. that a lost acknowledgement also breaks leader completeness); never in sweeps.
   */
  readonly disabledChecks?: readonly ViolationKind[];
  /** Events kept for the failure trace. Default 60. */
  readonly traceLength?: number;
}

export interface SimResult {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly counters: SimCounters;
  readonly scenario: Scenario;
  /** The last events before the run ended, one line each. */
  readonly trace: readonly string[];
  /** A digest of the whole run: equal fingerprints for equal seeds is the determinism check. */
  readonly fingerprint: string;
}

type SimEvent =
  | { readonly kind: 'director' }
  | { readonly kind: 'tick'; readonly node: NodeId }
  | { readonly kind: 'deliver'; readonly message: Message; readonly senderIncarnation: number }
  | { readonly kind: 'disk'; readonly node: NodeId; readonly incarnation: number }
  | {
      readonly kind: 'report';
      readonly node: NodeId;
      readonly incarnation: number;
      readonly to: NodeId;
      readonly what: 'snapshotFinish' | 'snapshotFailure' | 'unreachable';
    };

/** Run one seed. Deterministic: the same options give the same result, trace and fingerprint. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

/** Spare node ids available to membership changes, on top of the initial voters. */
const SPARES = 3;
/** Slowest fsync (time units) in the liveness phase. */
const LIVENESS_FSYNC_MAX = 3;

/**
 * One simulated cluster: nodes, network, nemesis, workload and checker around one event queue.
 * Phase 1 (faults) runs the nemesis and the workload for `ticks`; phase 2 (`LivenessPhase`)
 * heals a majority and demands that a proposal to its leader commits within `livenessTicks`.
 */
class Simulation implements SimContext, NodeObserver {
  readonly ids: NodeId[];
  readonly network: SimNetwork;
  readonly counters = emptyCounters();
  readonly checker: InvariantChecker;
  readonly scenario: Scenario;
  tick = 0;
  private now = 0;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly trace: Trace;
  private readonly nemesis: Nemesis;
  private readonly workload: Workload;
  private readonly faultTicks: number;
  private phase: 'faults' | 'liveness' | 'done' = 'faults';
  private readonly liveness: LivenessPhase<SimNode>;
  private membersCache: { tick: number; ids: NodeId[] } | undefined;
  /** What each live incarnation acknowledged (promised durable): see `InvariantChecker.crashed`. */
  private readonly acks = new Map<NodeId, { acked: number; vote?: { term: number; to: NodeId } }>();
  /** fsync latency range in time units: the scenario's in phase 1, fast disks in the liveness phase. */
  private readonly diskLatency = { min: 0, max: 0 };

  constructor(private readonly options: SimOptions) {
    const n = options.nodes ?? 3;
    if (!Number.isInteger(n) || n < 1 || n > 9) throw new RangeError(`nodes must be an integer in [1, 9], got ${n}`);
    this.checker = new InvariantChecker(options.disabledChecks);
    const root = new SeededRng(options.seed);
    const scenarioRng = root.fork();
    const networkRng = root.fork();
    const nodeRng = root.fork();
    const diskRng = root.fork();
    const nemesisRng = root.fork();
    const workloadRng = root.fork();
    const livenessRng = root.fork();
    this.scenario = { ...chooseScenario(scenarioRng, n, options.regime), ...options.scenario };
    const s = this.scenario;
    this.faultTicks = options.ticks ?? 300;
    this.trace = new Trace(options.traceLength ?? 60);
    this.network = new SimNetwork(networkRng, s.link);

    const voters = Array.from({ length: n }, (_, i) => i + 1);
    const spares = s.membership === 'none' ? 0 : SPARES;
    this.ids = Array.from({ length: n + spares }, (_, i) => i + 1);
    const factory = options.nodeFactory ?? ((config) => new RawNode(config));
    const disks = this.diskLatency;
    disks.min = s.fsyncDelayMin;
    disks.max = s.fsyncDelayMax;
    const driver = {
      ackBeforePersist: options.ackBeforePersist ?? false,
      stepDuringPersist: s.stepDuringPersist,
      snapshotEvery: s.snapshotEvery,
      fsyncDelay: () => disks.min + diskRng.nextInt(disks.max - disks.min + 1),
    };
    const raftConfig = {
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
    for (const id of this.ids) {
      const conf: ConfState = id <= n ? { voters, learners: [] } : { voters: [], learners: [] };
      this.nodes.set(id, new SimNode(id, conf, driver, this, factory, raftConfig, nodeRng.fork()));
    }
    this.nemesis = new Nemesis(nemesisRng, s, this, options.schedule);
    this.workload = new Workload(workloadRng, s, this, voters);
    this.liveness = new LivenessPhase(this, livenessRng, options.livenessTicks ?? 300, () => {
      disks.min = 0;
      disks.max = Math.min(disks.max, LIVENESS_FSYNC_MAX);
    }, rawProposalProbe);
    // Each node ticks at its own phase within the tick, so timers of different nodes interleave.
    for (const id of this.ids) this.queue.push(1 + nodeRng.nextInt(UNITS_PER_TICK - 1), { kind: 'tick', node: id });
    this.queue.push(0, { kind: 'director' });
  }

  run(): SimResult {
    this.counters.seeds = 1;
    this.guard(() => {
      for (const node of this.nodes.values()) node.start();
    });
    while (this.phase !== 'done' && this.checker.ok) {
      const next = this.queue.pop();
      if (next === undefined) break;
      this.now = next.time;
      this.checker.now = next.time;
      this.counters.events++;
      this.guard(() => this.dispatch(next.item));
    }
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

  // ------------------------------------------------------------------------------------------
  // SimContext
  // ------------------------------------------------------------------------------------------

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RangeError(`no node ${id}`);
    return node;
  }

  leader(): SimNode | undefined {
    return this.leaderAmong(this.ids);
  }

  members(): NodeId[] {
    if (this.membersCache?.tick === this.tick) return this.membersCache.ids;
    const set = new Set<NodeId>();
    for (const node of this.nodes.values()) {
      const conf = node.disk.lastConf();
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
    if (ack !== undefined) {
      this.checker.crashed(id, ack.acked, ack.vote, node.disk.storage.lastIndex(), node.disk.storage.hardState());
      this.acks.delete(id);
    }
    const unsynced = node.disk.pending;
    const wasLeader = node.role === 'leader';
    node.crash();
    this.counters.crashes++;
    if (unsynced === undefined) {
      this.trace.note(this.now, `crash ${id}`);
      return;
    }
    // The Ready's `messages` left before its write: a leader dies with its appends out there.
    this.counters.crashesDuringPersist++;
    const entries = unsynced.entries;
    if (wasLeader && entries.length > 0) this.counters.leaderCrashesDuringPersist++;
    const lost = entries.length > 0 ? ` entries ${entries[0]!.index}..${entries[entries.length - 1]!.index}` : '';
    this.trace.note(this.now, `crash ${id}${wasLeader ? ' (leader)' : ''} before its fsync: lost${lost}${unsynced.hardState === undefined ? '' : ' hard state'}${unsynced.snapshot === undefined ? '' : ' snapshot'}`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) return;
    node.start();
    this.counters.restarts++;
    this.trace.note(this.now, `restart ${id} (commit=${node.hard.commit} applied=${node.disk.stateMachine.applied})`);
  }

  note(text: string): void {
    this.trace.note(this.now, text);
  }

  // ------------------------------------------------------------------------------------------
  // Events
  // ------------------------------------------------------------------------------------------

  private dispatch(event: SimEvent): void {
    switch (event.kind) {
      case 'director':
        this.direct();
        return;
      case 'tick':
        this.node(event.node).tick();
        this.queue.push(this.now + UNITS_PER_TICK, event);
        return;
      case 'deliver':
        this.deliver(event.message, event.senderIncarnation);
        return;
      case 'disk':
        this.node(event.node).diskDone(event.incarnation);
        return;
      case 'report': {
        const node = this.node(event.node);
        if (node.incarnation !== event.incarnation) return;
        if (event.what === 'unreachable') node.reportUnreachable(event.to);
        else node.reportSnapshot(event.to, event.what === 'snapshotFinish' ? 'finish' : 'failure');
        return;
      }
    }
  }

  /** Once per tick: faults and clients in phase 1, the progress check in phase 2. */
  private direct(): void {
    this.counters.ticks++;
    if (this.phase === 'faults' && this.tick >= this.faultTicks) {
      this.phase = 'liveness';
      this.liveness.start(this.tick);
    }
    if (this.phase === 'faults') {
      this.nemesis.onTick(this.tick);
      this.workload.onTick(this.tick);
    } else if (this.liveness.onTick(this.tick)) {
      this.phase = 'done';
      return;
    }
    this.tick++;
    this.queue.push(this.tick * UNITS_PER_TICK, { kind: 'director' });
  }

  private deliver(message: Message, senderIncarnation: number): void {
    const to = this.nodes.get(message.to);
    const isSnapshot = message.type === 'snap';
    if (to === undefined || !to.up || this.network.isBlocked(message.from, message.to)) {
      this.counters.messagesDropped++;
      this.trace.message(this.now, to?.up === false ? 'drop(down)' : 'drop(cut)', message);
      if (isSnapshot) this.report(message.from, senderIncarnation, message.to, 'snapshotFailure', 0);
      return;
    }
    this.trace.message(this.now, 'deliver', message);
    this.counters.messagesDelivered++;
    to.receive(message);
    if (isSnapshot) this.report(message.from, senderIncarnation, message.to, 'snapshotFinish', 0);
  }

  private report(node: NodeId, incarnation: number, to: NodeId, what: 'snapshotFinish' | 'snapshotFailure' | 'unreachable', delay: number): void {
    this.queue.push(this.now + delay, { kind: 'report', node, incarnation, to, what });
  }

  /** Run `fn`; an exception out of the core or the driver is a contract violation. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      const where = e.stack?.split('\n')[1]?.trim() ?? '';
      this.checker.report('contract', `threw ${e.name}: ${e.message} ${where}`);
    }
  }

  // ------------------------------------------------------------------------------------------
  // NodeObserver
  // ------------------------------------------------------------------------------------------

  readyReceived(node: SimNode, ready: Ready): void {
    if (ready.hardState !== undefined) this.checker.hardState(node.id, ready.hardState, node.hard);
    const term = ready.hardState?.term ?? node.hard.term;
    const role = ready.softState?.role ?? node.role;
    if (ready.softState !== undefined && role !== node.role) {
      if (role === 'candidate') this.counters.elections++;
      if (role === 'leader') this.leaderElected(node, ready, term);
    }
    if (role === 'leader') this.checkConfChangeOverlap(node, ready, term);
  }

  persisted(node: SimNode, ready: Ready): void {
    const storage = node.disk.storage;
    if (ready.entries.length > 0) {
      this.checker.durableEntries(node.id, ready.entries, storage.firstIndex(), (i) => storage.term(i));
    }
    if (ready.hardState !== undefined) this.checker.durableHardState(node.id, ready.hardState, storage.lastIndex());
    // A write may shrink the log (a conflicting suffix replaced, a snapshot installed): what was
    // acknowledged beyond the new end was legitimately superseded.
    const ack = this.acks.get(node.id);
    if (ack !== undefined && ack.acked > storage.lastIndex()) ack.acked = storage.lastIndex();
  }

  send(node: SimNode, messages: readonly Message[]): void {
    for (const m of messages) {
      if ((m.type === 'appResp' && !m.reject) || (m.type === 'voteResp' && !m.reject)) this.acknowledged(node.id, m);
      if (m.type === 'snap') {
        this.counters.snapshotsSent++;
        this.trace.message(this.now, 'send', m);
      }
      const delays = this.network.route(m);
      if (delays.length === 0) {
        this.counters.messagesDropped++;
        const cut = this.network.isBlocked(m.from, m.to);
        this.trace.message(this.now, cut ? 'drop(cut)' : 'drop(lost)', m);
        // The transport notices a cut link (connection refused); a lost packet goes unnoticed.
        if (cut && m.type === 'app') this.report(node.id, node.incarnation, m.to, 'unreachable', 1);
        if (m.type === 'snap') this.report(node.id, node.incarnation, m.to, 'snapshotFailure', 1);
        continue;
      }
      if (delays.length > 1) this.counters.messagesDuplicated++;
      for (const delay of delays) {
        this.queue.push(this.now + delay, { kind: 'deliver', message: m, senderIncarnation: node.incarnation });
      }
    }
  }

  private acknowledged(id: NodeId, m: Message): void {
    let ack = this.acks.get(id);
    if (ack === undefined) this.acks.set(id, (ack = { acked: 0 }));
    if (m.type === 'appResp') ack.acked = Math.max(ack.acked, m.index);
    else ack.vote = { term: m.term, to: m.to };
  }

  scheduleDiskDone(node: SimNode, delay: number, incarnation: number): void {
    this.queue.push(this.now + delay, { kind: 'disk', node: node.id, incarnation });
  }

  entryApplied(node: SimNode, entry: Entry): void {
    const first = this.checker.applied(node.id, entry, node.disk.stateMachine.digest, node.hard.term);
    if (!first) return;
    this.workload.entryCommitted(entry);
    if (entry.type === 'confChange') {
      this.counters.confChanges++;
      this.trace.note(this.now, `committed ${entry.index}/${entry.term} ${entry.change.type}(${entry.change.nodeId}) -> voters=${entry.conf.voters.join(',')} learners=${entry.conf.learners.join(',')}`);
    } else if (entry.data.byteLength > 0) this.counters.committed++;
  }

  snapshotInstalled(node: SimNode, snapshot: Snapshot, appliedBefore: number): void {
    this.counters.snapshotsInstalled++;
    this.trace.note(this.now, `node ${node.id} installed snapshot ${snapshot.meta.index}/${snapshot.meta.term} (applied was ${appliedBefore})`);
    this.checker.snapshotInstalled(node.id, snapshot.meta.index, snapshot.meta.term, node.disk.stateMachine.digest, appliedBefore);
  }

  snapshotTaken(): void {
    this.counters.snapshotsTaken++;
  }

  readState(node: SimNode, read: ReadState): void {
    const floor = this.workload.readFloor(read.requestId);
    if (floor === undefined) {
      this.checker.report('contract', `node ${node.id} answered unknown read ${read.requestId}`);
      return;
    }
    if (read.index < floor) {
      this.checker.report('staleRead', `node ${node.id} answered read ${read.requestId} at index ${read.index}, but commit index ${floor} was reached before the read began`);
    }
  }

  readServed(node: SimNode, read: ReadState): void {
    this.workload.readDone(read.requestId);
    this.counters.readsServed++;
    // The value read is the state machine at `applied`: it must be the committed history's state.
    const sm = node.disk.stateMachine;
    const rec = this.checker.committedAt(sm.applied);
    if (rec !== undefined && rec.digest !== sm.digest) {
      this.checker.report('staleRead', `node ${node.id} served read ${read.requestId} from a state that is not the committed log's at ${sm.applied}`);
    }
  }

  readRejected(_node: SimNode, read: RejectedRead): void {
    this.workload.readDone(read.requestId);
    this.counters.readsRejected++;
  }

  contractBroken(node: SimNode, kind: 'appliedRegressed' | 'contract' | 'coreError', message: string): void {
    this.checker.report(kind, `node ${node.id}: ${message}`);
  }

  // ------------------------------------------------------------------------------------------
  // Checks that need the simulator's view
  // ------------------------------------------------------------------------------------------

  private leaderElected(node: SimNode, ready: Ready, term: number): void {
    this.counters.leaderChanges++;
    this.trace.note(this.now, `node ${node.id} is leader of term ${term}`);
    const storage = node.disk.storage;
    const first = ready.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    const termAt = (i: number): number | undefined => {
      if (i >= first) return ready.entries[i - first]?.term;
      if (i < storage.firstIndex() - 1 || i > storage.lastIndex()) return undefined;
      return storage.term(i);
    };
    this.checker.leaderElected(node.id, term, storage.snapshot().meta.index, termAt);
    this.workload.leaderElected(node.id, this.tick);
  }

  /** Thesis §4.1: a leader appends a configuration entry only once the previous one committed. */
  private checkConfChangeOverlap(node: SimNode, ready: Ready, term: number): void {
    const entries = ready.entries;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      if (e.type !== 'confChange' || e.term !== term) continue;
      const commit = ready.hardState?.commit ?? node.hard.commit;
      const previous = this.previousConfIndex(node, entries, k);
      if (previous > commit) {
        this.checker.report('confChangeOverlap', `leader ${node.id} appended conf change ${e.index} (${e.change.type} ${e.change.nodeId}) while conf change ${previous} was uncommitted (commit ${commit})`);
        return;
      }
    }
  }

  private previousConfIndex(node: SimNode, entries: readonly Entry[], k: number): number {
    for (let j = k - 1; j >= 0; j--) if (entries[j]!.type === 'confChange') return entries[j]!.index;
    const storage = node.disk.storage;
    const base = storage.firstIndex() - 1;
    const log = storage.allEntries();
    const from = Math.min(entries[k]!.index - 1, storage.lastIndex());
    for (let i = from; i > base; i--) if (log[i - base - 1]!.type === 'confChange') return i;
    return 0;
  }

  leaderAmong(ids: readonly NodeId[]): SimNode | undefined {
    let best: SimNode | undefined;
    for (const id of ids) {
      const node = this.nodes.get(id)!;
      if (node.up && node.role === 'leader' && (best === undefined || node.hard.term > best.hard.term)) best = node;
    }
    return best;
  }

  private fingerprint(): string {
    const nodes = this.ids.map((id) => {
      const node = this.node(id);
      const sm = node.disk.stateMachine;
      return `${id}:${node.up ? 'up' : 'down'}:${node.hard.term}:${sm.applied}:${sm.digest}`;
    });
    return `${this.now}|${JSON.stringify(this.counters)}|${nodes.join(';')}|${this.trace.recorded}`;
  }
}
