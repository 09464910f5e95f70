import type { RaftConfig } from '../config.js';
import type { RawNode } from '../raw-node.js';
import type { ConfChange, ConfState, Entry, HardState, Logger, LogLevel, Message, NodeId, ProposeResult, Ready, ReadState, RejectedRead, Role, Snapshot, Status, TransferResult } from '../types.js';
import { NONE } from '../types.js';
import type { SeededRng } from '../rng.js';
import type { SimNodeView } from './context.js';
import { SimDisk } from './disk.js';

/** Builds the core of one node; tests pass factories of deliberately broken nodes. */
export type NodeFactory = (config: RaftConfig) => RawNode;

/** How the driver handles Readies. */
export interface DriverOptions {
  /**
   * TEST SEAM (injected bug): send a Ready's `messagesAfterPersist` along with its `messages`,
   * before its entries and hard state are durable, so a crash can lose entries or a vote the node
   * already acknowledged. Never true in production.
   */
  readonly ackBeforePersist: boolean;
  /**
   * Whether messages and ticks reach the core while a Ready's write is pending (as with etcd's
   * RawNode, which accepts `step` between `ready` and `advance`). When false they queue until
   * the write completes, like a server that awaits its fsync before reading the next message.
   */
  readonly stepDuringPersist: boolean;
  /** Simulated fsync latency of a synced write, in time units (0 = completes at once). */
  fsyncDelay(): number;
  /** Take a snapshot (and compact the log) every this many applied entries; 0 = never. */
  readonly snapshotEvery: number;
}

/** What the node reports to the simulator, which checks invariants, counts and traces. */
export interface NodeObserver {
  /** A Ready came out of the core, before the driver handles it. */
  readyReceived(node: SimNode, ready: Ready): void;
  /** The persistent part of a Ready is durable. */
  persisted(node: SimNode, ready: Ready): void;
  /**
   * Messages leave the node: a Ready's `messages` as soon as it is taken, its
   * `messagesAfterPersist` once it is durable (before, with `ackBeforePersist`).
   */
  send(node: SimNode, messages: readonly Message[]): void;
  /** Schedule `node.diskDone(incarnation)` after `delay` time units. */
  scheduleDiskDone(node: SimNode, delay: number, incarnation: number): void;
  entryApplied(node: SimNode, entry: Entry, indexBefore: number): void;
  snapshotInstalled(node: SimNode, snapshot: Snapshot, appliedBefore: number): void;
  snapshotTaken(node: SimNode, snapshot: Snapshot): void;
  readState(node: SimNode, read: ReadState): void;
  readServed(node: SimNode, read: ReadState): void;
  readRejected(node: SimNode, read: RejectedRead): void;
  /**
   * The core broke its contract (it handed out an impossible batch), or logged an error-level
   * event (`coreError`: the event name and its fields), which an honest cluster never causes.
   */
  contractBroken(node: SimNode, kind: 'appliedRegressed' | 'contract' | 'coreError', message: string): void;
}

/**
 * The simulated process of one node: a real `RawNode` over a `SimDisk`, driven by the Ready
 * contract. Handling a Ready: (1) send its `messages`; (2) issue its snapshot, entries and hard
 * state as one disk write that stays pending until its simulated fsync completes; (3) only then
 * send its `messagesAfterPersist`, (4) apply committed entries to the state machine, (5) serve
 * reads and (6) `advance`. One Ready at a time, as in the server.
 * A crash drops the core, the pending write and the messages still waiting for it, while those
 * sent in step 1 are already on the network; `start` is the restart path: a new `RawNode` over
 * the storage view rebuilt from the disk and the durable applied index.
 */
export class SimNode implements SimNodeView {
  readonly disk: SimDisk;
  raw: RawNode | undefined;
  /** Bumped by every start and crash, so events of a dead incarnation are ignored. */
  incarnation = 0;
  /** The soft and hard state last announced by the current incarnation. */
  role: Role = 'follower';
  leader: NodeId = NONE;
  hard: HardState = { term: 0, vote: NONE, commit: 0 };
  private pending: Ready | undefined;
  /** The pending Ready's `messagesAfterPersist` were sent (early only with `ackBeforePersist`). */
  private released = false;
  private inbox: Message[] = [];
  private missedTicks = 0;
  private waitingReads: ReadState[] = [];

  constructor(
    readonly id: NodeId,
    conf: ConfState,
    private readonly options: DriverOptions,
    private readonly observer: NodeObserver,
    private readonly factory: NodeFactory,
    private readonly baseConfig: Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'rng'>,
    private readonly rng: SeededRng,
  ) {
    this.disk = new SimDisk(conf);
  }

  get up(): boolean {
    return this.raw !== undefined;
  }

  durableSnapshotIndex(): number {
    return this.disk.storage.snapshot().meta.index;
  }

  durableLastIndex(): number {
    return this.disk.storage.lastIndex();
  }

  durableConf(): ConfState {
    return this.disk.lastConf();
  }

  status(): Status | undefined {
    return this.raw?.status();
  }

  /** A Ready's write is waiting for its fsync. */
  get persisting(): boolean {
    return this.pending !== undefined;
  }

  /** Start (or restart) the process from what is on disk, through the production recovery path. */
  start(): void {
    if (this.raw !== undefined) throw new Error(`node ${this.id} is already up`);
    const { storage, applied } = this.disk.recover();
    this.incarnation++;
    this.role = 'follower';
    this.leader = NONE;
    this.hard = storage.hardState();
    this.raw = this.factory({ ...this.baseConfig, id: this.id, storage, applied, rng: this.rng.fork(), logger: this.logger(this.incarnation) });
  }

  /**
   * The core's logger for incarnation `incarnation`: error-level events become `coreError`
   * violations (the core logs at error level only what an honest cluster cannot cause); every
   * event also reaches the configured logger, if any. Events of a dead incarnation are ignored.
   */
  private logger(incarnation: number): Logger {
    const inner = this.baseConfig.logger;
    return {
      log: (level: LogLevel, event: string, fields?: Record<string, unknown>): void => {
        inner?.log(level, event, fields);
        if (level !== 'error' || incarnation !== this.incarnation) return;
        this.observer.contractBroken(this, 'coreError', `${event} ${JSON.stringify(fields ?? {})}`);
      },
    };
  }

  /** Kill the process: everything not yet on disk is gone. */
  crash(): void {
    this.raw = undefined;
    this.incarnation++;
    this.disk.crash();
    this.pending = undefined;
    this.released = false;
    this.inbox = [];
    this.missedTicks = 0;
    this.waitingReads = [];
    this.role = 'follower';
    this.leader = NONE;
  }

  tick(): void {
    if (this.raw === undefined) return;
    if (this.pending !== undefined && !this.options.stepDuringPersist) {
      this.missedTicks++;
      return;
    }
    this.raw.tick();
    this.pump();
  }

  /** A message arrives from the network. Returns false when the process is down. */
  receive(message: Message): boolean {
    if (this.raw === undefined) return false;
    if (this.pending !== undefined && !this.options.stepDuringPersist) {
      this.inbox.push(message);
      return true;
    }
    this.raw.step(message);
    this.pump();
    return true;
  }

  propose(data: Uint8Array): ProposeResult | undefined {
    return this.call((raw) => raw.propose(data));
  }

  proposeConfChange(change: ConfChange): ProposeResult | undefined {
    return this.call((raw) => raw.proposeConfChange(change));
  }

  readIndex(requestId: string): boolean {
    return this.call((raw) => (raw.readIndex(requestId), true)) ?? false;
  }

  transferLeadership(to: NodeId): TransferResult | undefined {
    return this.call((raw) => raw.transferLeadership(to));
  }

  campaign(): void {
    this.call((raw) => raw.campaign());
  }

  reportSnapshot(to: NodeId, status: 'finish' | 'failure'): void {
    this.call((raw) => raw.reportSnapshot(to, status));
  }

  reportUnreachable(to: NodeId): void {
    this.call((raw) => raw.reportUnreachable(to));
  }

  /** The simulated fsync of incarnation `incarnation` completed. */
  diskDone(incarnation: number): void {
    if (incarnation !== this.incarnation || this.pending === undefined) return;
    this.complete();
    this.pump();
  }

  /** A local input (client call or transport report): reaches the core at once, then Readies are handled. */
  private call<T>(fn: (raw: RawNode) => T): T | undefined {
    if (this.raw === undefined) return undefined;
    const out = fn(this.raw);
    this.pump();
    return out;
  }

  /** Handle Readies until the core has none or a write is pending. */
  private pump(): void {
    while (this.raw !== undefined && this.pending === undefined && this.raw.hasReady()) {
      const ready = this.raw.ready();
      this.observer.readyReceived(this, ready);
      if (ready.softState !== undefined) {
        this.role = ready.softState.role;
        this.leader = ready.softState.leader;
      }
      if (ready.hardState !== undefined) this.hard = ready.hardState;
      this.pending = ready;
      this.released = false;
      if (ready.messages.length > 0) this.observer.send(this, ready.messages);
      if (this.options.ackBeforePersist) this.release(ready);
      this.disk.write(ready);
      const writes = ready.snapshot !== undefined || ready.entries.length > 0 || ready.hardState !== undefined;
      const delay = writes && ready.mustSync ? this.options.fsyncDelay() : 0;
      if (delay > 0) {
        this.observer.scheduleDiskDone(this, delay, this.incarnation);
        return;
      }
      this.complete();
    }
  }

  /** The pending Ready's write is durable: finish handling it and `advance`. */
  private complete(): void {
    const ready = this.pending!;
    const raw = this.raw!;
    const sm = this.disk.stateMachine;
    this.disk.sync();
    if (ready.snapshot !== undefined) {
      const appliedBefore = sm.applied;
      sm.restore(ready.snapshot);
      this.observer.snapshotInstalled(this, ready.snapshot, appliedBefore);
    }
    this.observer.persisted(this, ready);
    this.release(ready);
    let applied = false;
    for (const entry of ready.committedEntries) {
      const before = sm.applied;
      if (entry.index !== before + 1) {
        this.observer.contractBroken(this, 'appliedRegressed', `committed entry ${entry.index} handed out after applying ${before}`);
        if (entry.index <= before) continue;
      }
      sm.apply(entry);
      applied = true;
      this.observer.entryApplied(this, entry, before);
    }
    if (applied) this.maybeSnapshot();
    for (const read of ready.readStates) {
      this.observer.readState(this, read);
      this.waitingReads.push(read);
    }
    for (const read of ready.rejectedReads) this.observer.readRejected(this, read);
    this.serveReads();
    raw.advance(ready);
    this.pending = undefined;
    this.drainQueuedInputs();
  }

  /** Send the Ready's `messagesAfterPersist` (once). */
  private release(ready: Ready): void {
    if (this.released) return;
    this.released = true;
    if (ready.messagesAfterPersist.length > 0) this.observer.send(this, ready.messagesAfterPersist);
  }

  private maybeSnapshot(): void {
    const every = this.options.snapshotEvery;
    const sm = this.disk.stateMachine;
    if (every <= 0 || sm.applied - this.disk.storage.snapshot().meta.index < every) return;
    if (sm.applied > this.disk.storage.lastIndex()) {
      this.observer.contractBroken(this, 'contract', `applied ${sm.applied} beyond the durable log (last ${this.disk.storage.lastIndex()})`);
      return;
    }
    this.observer.snapshotTaken(this, this.disk.takeSnapshot());
  }

  private serveReads(): void {
    if (this.waitingReads.length === 0) return;
    const applied = this.disk.stateMachine.applied;
    const still: ReadState[] = [];
    for (const read of this.waitingReads) {
      if (read.index <= applied) this.observer.readServed(this, read);
      else still.push(read);
    }
    this.waitingReads = still;
  }

  private drainQueuedInputs(): void {
    const raw = this.raw;
    if (raw === undefined || (this.inbox.length === 0 && this.missedTicks === 0)) return;
    const inbox = this.inbox;
    this.inbox = [];
    for (const m of inbox) raw.step(m);
    for (; this.missedTicks > 0; this.missedTicks--) raw.tick();
  }
}
