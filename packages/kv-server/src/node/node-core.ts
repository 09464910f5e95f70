import { KeelError, LIMITS } from '@keel/protocol';
import type { ClientRequest, ClientResults, KeyValue, Member, NodeStatus, WireError } from '@keel/protocol';
import type { ConfChange, Entry, Message, NodeId, RawNode, Ready, Role, Snapshot, SnapshotMeta, SoftState } from '@keel/raft';
import { encodeAuthCommand, type AuthCommand } from '../state-machine/auth-commands.js';
import { encodeCommand, type AuthorizedAs, type AuthorizedCommand, type Command } from '../state-machine/commands.js';
import { persistReady } from '../storage/node-stores.js';
import type { ApplyResult, SnapshotStream } from '../storage/state-store.js';
import type { PeerAddresses } from '../transport/index.js';
import { AddressBook } from './address-book.js';
import { dispatch, encodeOrReject, type AnyResult, type NodeOperations, type ScanRange, type WriteResult } from './client-requests.js';
import type { NodeCoreConfig } from './config.js';
import {
  displacedError,
  indeterminateError,
  internalError,
  leaseNotFoundError,
  invalidArgumentError,
  notLeaderError,
  overloadedError,
  proposalRejectionError,
  readRejectionError,
  shuttingDownError,
  timeoutError,
  transferRejectionError,
  transferTimeoutError,
  type LeaderHint,
} from './errors.js';
import { Lessor } from './lessor.js';
import { membershipProblem } from './membership-checks.js';
import type { NodeCorePorts } from './ports.js';
import { ProposalTracker, type PendingProposal } from './proposal-tracker.js';
import { ReadTracker } from './read-tracker.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { SnapshotSender } from './snapshot-sender.js';

type Results = ClientResults;

const EMPTY = new Uint8Array(0);
/**
 * Ticks an unanswered ReadIndex round holds back the next one (read-tracker.ts). A round takes
 * a loopback round trip, well under a tick; one that has not come back in two (a message lost
 * on a link that reconnected) stops delaying the reads that came after it.
 */
const READ_ROUND_PATIENCE_TICKS = 2;

interface PendingTransfer {
  readonly to: NodeId;
  readonly deadlineTick: number;
  readonly resolve: (r: Results['leaderTransfer']) => void;
  readonly reject: (e: KeelError) => void;
}

/**
 * The deterministic core of one Keel node: it owns a `RawNode` and moves work between it, the
 * log store, the state store, the peers and the clients — through ports only (`NodeCorePorts`),
 * so the process adapter (`KeelNode`) and the simulator run the same code.
 *
 * The Ready loop (one Ready at a time, the contract of `Ready`): send `messages` at once (a
 * leader's appends leave while it writes its own copy, thesis §10.2.1), persist the snapshot,
 * entries and hard state in ONE batch (group commit: every proposal made since the last Ready
 * rides in the same fsync), then send `messagesAfterPersist` (acknowledgements and votes, which
 * promise that write), hand the committed entries to the apply chain, and `advance()` — which may
 * create new work (the leader's own acknowledgement can commit entries), so the loop asks
 * `hasReady()` again. Committed entries an earlier Ready made durable (the leader's, always) go
 * to the apply chain before the write instead. The apply chain applies each Ready's committed
 * entries in one batch, in order, behind the loop (so an apply overlaps the fsync, as in
 * etcd's server), and answers the proposals (by index and term) and linearizable reads they
 * complete. While a persist is in flight new proposals accumulate in the core for the next Ready.
 *
 * Invariants: `applied` only grows and is what the state store has applied; a proposal is
 * answered exactly once (applied, failed, expired or shut down); a read is served only once
 * `applied` reached its read index.
 *
 * Time: `tick()`; request deadlines are counted in ticks and swept on the tick.
 */
export class NodeCore {
  private tickCount = 0;
  private readySeq = 0;
  private readyScheduled = false;
  private readyRunning: Promise<void> | undefined;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private applied: number;
  /** Applied index when the last snapshot was taken or installed: the snapshot interval counts from here. */
  private snapshotTakenAt: number;
  private role: Role = 'follower';
  private leader: NodeId = 0;
  private term: number;
  private readSeq = 0;
  private readonly readNonce: string;
  private readonly proposals = new ProposalTracker<ApplyResult>();
  private readonly reads = new ReadTracker(READ_ROUND_PATIENCE_TICKS);
  private readonly lessor: Lessor;
  private transfers: PendingTransfer[] = [];
  private readonly receiver: SnapshotReceiver;
  private readonly sender: SnapshotSender;
  /** The leader's automatic history compaction is waiting for its entry to apply. */
  private compactionInFlight = false;
  /** Set by `fatal()`: the node stops handling Readies and applying. */
  private failed = false;
  /** Committed entries handed to the apply chain and not yet applied. */
  private applyBacklog = 0;
  /** Serial chain of applies running behind the Ready loop, one store batch per Ready's committed entries. */
  private applyChain: Promise<void> = Promise.resolve();
  /** Addresses peers advertised in their hellos: fill the gaps the log leaves. */
  private readonly learnedAddresses = new AddressBook();
  private readonly runReadyLoop = (): void => {
    this.readyScheduled = false;
    if (this.readyRunning !== undefined || this.closing) return;
    this.readyRunning = this.readyLoop().finally(() => {
      this.readyRunning = undefined;
    });
  };

  constructor(
    readonly config: NodeCoreConfig,
    private readonly raw: RawNode,
    private readonly ports: NodeCorePorts,
  ) {
    const { log, state, logger } = ports;
    this.applied = state.appliedIndex();
    this.snapshotTakenAt = this.applied;
    this.term = log.raftStorage.hardState().term;
    this.readNonce = ports.rng.nextInt(2 ** 31).toString(36);
    this.lessor = new Lessor(config.tickMs, () => state.leases());
    this.receiver = new SnapshotReceiver({
      begin: (meta) => state.beginSnapshotInstall(meta, log.raftStorage.hardState().commit),
      logger,
      leadership: () => {
        const st = this.raw.status();
        return { term: st.term, leader: st.leader };
      },
      stepSnapshot: (from, term, meta) => {
        this.raw.step({ type: 'snap', from, to: this.config.id, term, snapshot: { meta, data: EMPTY } });
        this.scheduleReady();
      },
      readySeq: () => this.readySeq,
      closing: () => this.closing,
    });
    this.sender = new SnapshotSender(
      (chunkBytes) => state.readSnapshot(chunkBytes),
      ports.peers,
      logger,
      config.snapshotChunkBytes,
      (to, status) => {
        if (this.closing) return;
        this.raw.reportSnapshot(to, status);
        this.scheduleReady();
      },
    );
  }

  /** Start: dial the members and run the first Ready (committed entries the store has not applied yet). */
  start(): void {
    this.ports.peers.setPeers(this.dialMap(this.ports.state.members()));
    this.scheduleReady();
  }

  /** Requests waiting on this node (for `node.stats`). */
  pending(): { proposals: number; reads: number } {
    return { proposals: this.proposals.size, reads: this.reads.size };
  }

  /** Fields every log line carries. */
  logContext(): { nodeId: number; term: number; role: string } {
    return { nodeId: this.config.id, term: this.term, role: this.role };
  }

  // -------------------------------------------------------------------------------------------
  // Inputs: time and peers
  // -------------------------------------------------------------------------------------------

  /** One tick of logical time. */
  tick(): void {
    if (this.closing) return;
    this.tickCount++;
    this.raw.tick();
    const now = this.tickCount;
    this.reads.retryDeferred();
    if (now % this.config.sweepTicks === 0) {
      // Deadlines are swept a few times a second, not per request (no per-request timers).
      this.proposals.expire(now, () =>
        this.role === 'leader' ? timeoutError(true) : indeterminateError('leadership was lost before the write was known to commit'),
      );
      this.reads.expire(now, () => timeoutError(false));
      for (const lease of this.lessor.due(now)) this.expireLease(lease);
    }
    if (this.config.historyRetention > 0 && now % this.config.historyCheckTicks === 0) this.compactHistory();
    if (this.transfers.length > 0) {
      const expired = this.transfers.filter((t) => t.deadlineTick <= now);
      this.transfers = this.transfers.filter((t) => t.deadlineTick > now);
      for (const t of expired) t.reject(transferTimeoutError(t.to));
    }
    this.scheduleReady();
  }

  /** A message from a peer. */
  step(m: Message): void {
    if (this.closing) return;
    if (m.type === 'snap') {
      // Snapshots travel as chunk streams (`receiveSnapshot`), never as one message.
      this.ports.logger.log('warn', 'peer.unexpected_snap', { from: m.from });
      return;
    }
    this.raw.step(m);
    this.scheduleReady();
  }

  /** A peer streams a snapshot; resolves once it is installed (see `SnapshotReceiver`). */
  receiveSnapshot(from: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    return this.receiver.receive(from, meta, chunks);
  }

  /** The transport could not reach `id`. */
  unreachable(id: NodeId): void {
    if (this.closing) return;
    this.raw.reportUnreachable(id);
    this.scheduleReady();
  }

  /** A peer's hello told where it listens: remember it, and dial it there if the log had no address. */
  peerAddresses(id: NodeId, addresses: PeerAddresses): void {
    if (this.closing || id === this.config.id || !this.learnedAddresses.learn(id, addresses)) return;
    this.ports.logger.log('info', 'peer.addresses_learned', { peer: id, ...this.learnedAddresses.get(id) });
    this.ports.peers.setPeers(this.dialMap(this.ports.state.members()));
  }

  /**
   * Where other nodes reach this one, sent in every hello: its own membership entry (from its
   * bootstrap or the change that added it), else the addresses it listens on.
   */
  advertised(): PeerAddresses {
    const self = this.ports.state.members().find((m) => m.id === this.config.id);
    return {
      peerAddress: self?.peerAddress || this.ports.listening.peerAddress,
      clientAddress: self?.clientAddress || this.ports.listening.clientAddress,
    };
  }

  // -------------------------------------------------------------------------------------------
  // The Ready loop
  // -------------------------------------------------------------------------------------------

  private scheduleReady(): void {
    if (this.readyScheduled || this.closing) return;
    this.readyScheduled = true;
    this.ports.scheduler.soon(this.runReadyLoop);
  }

  private async readyLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.closing || this.failed) return;
        this.askReadIndex();
        if (!this.raw.hasReady()) break;
        const rd = this.raw.ready();
        const seq = ++this.readySeq;
        await this.handleReady(rd);
        if (this.closing || this.failed) return;
        this.raw.advance(rd);
        this.receiver.checkTaken(seq);
      }
      this.receiver.checkTaken(undefined);
    } catch (err) {
      this.fatal('ready.failed', err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { log, state, observer } = this.ports;
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    if (rd.softState !== undefined) this.onSoftState(rd.softState);
    observer?.ready?.(rd);
    // A leader's appends leave while it writes its own copy (thesis §10.2.1).
    this.send(rd.messages);
    if (rd.snapshot !== undefined) {
      this.receiver.take(rd.snapshot);
      // Entries committed before the snapshot must reach the store before it is swapped in.
      await this.appliedAll();
    }
    const appliedBefore = this.applied;
    // Committed entries that an earlier Ready already made durable go to the apply chain now, so
    // their apply overlaps this Ready's write (as etcd's server applies while it saves): waiting
    // for the write first puts a whole fsync between commit and the answer. Entries this Ready
    // persists itself (a follower's) wait for its write.
    let committed = rd.committedEntries;
    if (rd.snapshot === undefined && committed.length > 0) {
      const durable = durablePrefix(committed, log.raftStorage.lastIndex(), rd.entries);
      if (durable > 0) {
        this.toApplyChain(committed.slice(0, durable));
        committed = committed.slice(durable);
      }
    }
    if (rd.snapshot !== undefined || rd.entries.length > 0 || rd.hardState !== undefined) {
      // One batch: a received snapshot (swapped in atomically), entries and hard state.
      await persistReady(log, state, rd, rd.mustSync);
    }
    if (rd.snapshot !== undefined) this.snapshotInstalled(rd.snapshot, appliedBefore);
    observer?.persisted?.(rd);
    // Acknowledgements and votes promise durability: only now.
    this.send(rd.messagesAfterPersist);
    for (const rs of rd.readStates) this.reads.indexKnown(rs.requestId, rs.index);
    for (const rr of rd.rejectedReads) {
      // A new leader answers reads once it has committed in its term: ask again on the next tick.
      if (rr.reason === 'notCommittedInTerm') this.reads.defer(rr.requestId);
      else this.reads.rejected(rr.requestId, readRejectionError(rr.reason, this.hint()));
    }
    if (committed.length > 0) this.toApplyChain(committed);
    if (rd.committedEntries.length > 0) {
      // Membership changes are applied before the loop moves on; the backlog is bounded.
      if (rd.committedEntries.some((e) => e.type === 'confChange') || this.applyBacklog > this.config.applyBacklogMax) await this.appliedAll();
    } else {
      this.serveReads();
    }
  }

  /** Apply runs behind the Ready loop, in order, one store batch per call. */
  private toApplyChain(entries: readonly Entry[]): void {
    this.applyBacklog += entries.length;
    this.applyChain = this.applyChain.then(() => this.applyEntries(entries));
  }

  /** Resolves once every committed entry handed out so far has been applied (or the node failed). */
  private appliedAll(): Promise<void> {
    return this.applyChain;
  }

  /**
   * Apply one Ready's committed entries as one store batch (on the apply chain, so in order),
   * then answer the proposals and reads they complete. Never rejects: a failure is fatal.
   *
   * Proposals are answered as soon as their results are computed, before the batch is written:
   * the entries are committed (durable on a majority, and in this node's log), so a crash
   * before the write applies them again to the same results, and the write is unsynced anyway.
   * Waiting for it put a LevelDB write — queued behind the next Ready's fsync, LevelDB has one
   * writer queue — between commit and every answer. Linearizable reads still wait for
   * `applied`, which moves only once the write is visible; serializable reads may be stale by
   * definition. A batch with a membership change is answered after its write, with the
   * membership in place.
   */
  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    if (this.failed) return;
    const { state, observer } = this.ports;
    try {
      observer?.applying?.(entries);
      const results = await state.apply(entries, (computed) => {
        observer?.applied?.(entries, computed);
        this.answerEarly(computed);
      });
      this.onApplied(results);
      this.serveReads();
      if (this.applied - this.snapshotTakenAt >= this.config.snapshotEntries) await this.takeSnapshot();
    } catch (err) {
      this.fatal('apply.failed', err); // the state machine cannot go on
    } finally {
      this.applyBacklog -= entries.length;
    }
  }

  /** Serve the linearizable reads whose read index the state machine has reached. */
  private serveReads(): void {
    this.reads.serveThrough(this.readableIndex());
  }

  /**
   * The highest read index a linearizable read may be served at now: the applied index. (A test
   * seam: the simulator's planted bugs override it; production code never does.)
   */
  protected readableIndex(): number {
    return this.applied;
  }

  /** Settle the proposals of a computed, not yet written, batch without a membership change (see `applyEntries`). */
  private answerEarly(results: readonly ApplyResult[]): void {
    if (results.some((r) => r.kind === 'conf')) return;
    for (const r of results) this.settle(r);
  }

  /** Answer the proposals waiting at `r`'s index (once: the tracker forgets them). */
  private settle(r: ApplyResult): void {
    this.proposals.applied(r.index, r.term, r, () => displacedError(this.hint(), this.config.id));
  }

  private onApplied(results: readonly ApplyResult[]): void {
    for (const r of results) {
      if (r.index !== this.applied + 1) {
        throw new Error(`invariant: applied ${r.index} right after ${this.applied} (entries must apply in order, once)`);
      }
      if (r.kind === 'conf') this.onMembership(r.members);
      this.applied = r.index;
      this.settle(r);
    }
  }

  private onSoftState(ss: SoftState): void {
    const { logger } = this.ports;
    const wasLeader = this.role === 'leader';
    const leaderChanged = ss.leader !== this.leader;
    const roleChanged = ss.role !== this.role;
    this.role = ss.role;
    this.leader = ss.leader;
    if (roleChanged) logger.log('info', 'raft.role', { leader: ss.leader });
    if (leaderChanged) logger.log('info', 'leader.changed', { leader: ss.leader, leaderAddress: this.clientAddressOf(ss.leader) });
    if (!wasLeader && ss.role === 'leader') this.lessor.becameLeader(this.tickCount);
    if (wasLeader && ss.role !== 'leader') {
      this.lessor.steppedDown();
      // Our proposals may still commit under the next leader: keep them until their index applies
      // (definite answer) but no longer than a couple of election timeouts (then INDETERMINATE).
      this.proposals.capDeadlines(this.tickCount + 2 * this.config.electionTicks);
    }
    if (leaderChanged && ss.leader !== 0 && ss.leader !== this.config.id && this.transfers.length > 0) {
      const done = this.transfers;
      this.transfers = [];
      for (const t of done) t.resolve({ leader: ss.leader });
    }
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    let plain: Message[] | undefined;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.type === 'snap') {
        plain ??= messages.slice(0, i);
        this.sender.send(m.to, m.snapshot.meta.index);
      } else if (plain !== undefined) {
        plain.push(m);
      }
    }
    const out = plain ?? messages;
    if (out.length === 0) return;
    this.ports.observer?.sent?.(out);
    this.ports.peers.send(out);
  }

  private onMembership(members: readonly Member[]): void {
    this.ports.logger.log('info', 'membership.changed', { members });
    this.ports.peers.setPeers(this.dialMap(members));
  }

  /**
   * Dial address per peer: the dial override when configured, else the member's peer address
   * from the log, else the one it advertised in its hello. While this node is not a member itself
   * (it is joining), peers that connected to it are dialed too, so it can answer the leader.
   */
  private dialMap(members: readonly Member[]): Map<NodeId, string> {
    const map = new Map<NodeId, string>();
    if (!members.some((m) => m.id === this.config.id)) {
      for (const [id, address] of this.learnedAddresses.outside(members)) map.set(id, address);
    }
    for (const m of this.learnedAddresses.fill(members)) {
      if (m.peerAddress !== '') map.set(m.id, m.peerAddress);
    }
    for (const [id, address] of this.config.peerDial) map.set(id, address);
    map.delete(this.config.id);
    return map;
  }

  private async takeSnapshot(): Promise<void> {
    const takenAt = this.applied;
    const meta = await this.ports.log.createSnapshot(Math.max(0, this.applied - this.config.snapshotCatchUpEntries));
    this.snapshotTakenAt = takenAt;
    this.ports.observer?.snapshotTaken?.(meta);
  }

  /** The snapshot is durable and swapped in: the state machine jumped to its index. */
  private snapshotInstalled(snapshot: Snapshot, appliedBefore: number): void {
    this.applied = this.ports.state.appliedIndex();
    this.snapshotTakenAt = snapshot.meta.index;
    this.proposals.failThrough(snapshot.meta.index, () => indeterminateError('replaced by a snapshot'));
    this.onMembership(this.ports.state.members());
    this.serveReads();
    this.ports.logger.log('info', 'snapshot.installed', { index: snapshot.meta.index, snapshotTerm: snapshot.meta.term, applied: this.applied });
    this.ports.observer?.snapshotInstalled?.(snapshot.meta, appliedBefore);
    this.receiver.installed();
  }

  private fatal(event: string, err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.ports.logger.log('error', event, { error: err });
    this.ports.onFatal(err);
  }

  // -------------------------------------------------------------------------------------------
  // Client requests
  // -------------------------------------------------------------------------------------------

  /**
   * Answer one validated client request (the client port validated shape and limits). Rejects with
   * KeelError. `authorize` (the auth gate's check) runs again once a linearizable read's index
   * applied; a write carries `as` (who the gate checked it for, at which auth revision) into the
   * log, and the state machine checks it again if auth changed before it applies.
   */
  async handle(request: ClientRequest, authorize?: () => void, as?: AuthorizedAs): Promise<AnyResult> {
    if (this.closing) throw shuttingDownError(false);
    if (authorize === undefined || !this.ports.state.auth().enabled) return dispatch(request, this.operations);
    // Async: a refusal must reject this read's promise, never throw into the read tracker (which
    // serves reads from the apply chain: a throw there would stop the node).
    const read: NodeOperations['read'] = (consistency, run) =>
      this.read(consistency, async () => {
        authorize();
        return run();
      });
    if (as === undefined) return dispatch(request, { ...this.operations, read });
    const write: NodeOperations['write'] = (command) => this.write({ op: 'authorized', user: as.user, authRevision: as.authRevision, command });
    return dispatch(request, { ...this.operations, read, write });
  }

  /** The node as client requests see it. */
  private readonly operations: NodeOperations = {
    write: (command) => this.write(command),
    compact: (revision) => this.compact(revision),
    read: (consistency, read) => this.read(consistency, read),
    get: (key) => this.readGet(key),
    scan: (range, limit) => this.readScan(range, limit),
    status: () => this.status(),
    digest: () => this.ports.state.digest(),
    members: () => this.members(),
    leader: () => this.leader,
    changeMembership: (change, request) => this.changeMembership(change, request),
    transferLeadership: (to) => this.transferLeadership(to),
    leaseKeepAlive: (lease) =>
      this.leaderRead(() => {
        const ttl = this.lessor.keepAlive(lease, this.tickCount);
        if (ttl === undefined) throw leaseNotFoundError(lease);
        return { lease, ttl };
      }),
    leaseTimeToLive: (lease, keys) =>
      this.leaderRead(() => {
        const remaining = this.lessor.remainingSeconds(lease, this.tickCount);
        const l = this.ports.state.leases().get(lease);
        if (remaining === undefined || l === undefined) throw leaseNotFoundError(lease);
        return { lease, ttl: l.ttl, remaining, ...(keys ? { keys: keyList(l.keys.values()) } : {}) };
      }),
    leaseList: () => this.leaderRead(() => ({ leases: [...this.ports.state.leases().values()].map((l) => l.id).sort((a, b) => a - b) })),
    auth: () => this.ports.state.auth(),
    writeAuth: (command) => this.writeAuth(command),
    hashPassword: (password) =>
      this.ports.passwords !== undefined ? this.ports.passwords.hash(password) : Promise.reject(internalError('this node cannot hash passwords')),
  };

  /**
   * Answer with `answer()` on the leader, behind a linearizable read barrier (so the lease table
   * holds every grant acknowledged before the request, whichever node led then); NOT_LEADER
   * elsewhere, also when leadership moved while the barrier was pending.
   */
  private leaderRead<T>(answer: () => T): Promise<T> {
    if (this.role !== 'leader') return Promise.reject(notLeaderError(this.hint()));
    return this.read('linearizable', async () => {
      if (this.role !== 'leader') throw notLeaderError(this.hint());
      return answer();
    });
  }

  /** Propose the end of `lease`, which ran out (the leader's; see lessor.ts). */
  private expireLease(lease: number): void {
    this.ports.logger.log('info', 'lease.expiring', { lease });
    this.propose<void>(encodeCommand({ op: 'leaseExpire', lease }), (_r, resolve) => resolve()).then(
      () => this.lessor.settled(lease),
      () => this.lessor.settled(lease),
    );
  }

  /** The membership as clients see it: the store's, with empty addresses filled from what peers advertised. */
  members(): Member[] {
    return this.learnedAddresses.fill(this.ports.state.members());
  }

  /** This node's view of itself. */
  status(): NodeStatus {
    const s = this.raw.status();
    return {
      id: this.config.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commit: s.commit,
      applied: this.applied,
      lastIndex: s.lastIndex,
      clientAddress: this.clientAddressOf(this.config.id) ?? this.ports.listening.clientAddress,
      ...(this.ports.listening.adminAddress ? { adminAddress: this.ports.listening.adminAddress } : {}),
    };
  }

  /**
   * The state machine for a backup: a consistent snapshot (one database snapshot) that holds
   * every write acknowledged before the call — it is taken behind a linearizable read barrier
   * (ReadIndex, then the applied index reaching it), so its index is at least the commit index
   * of the moment of the call, whichever node is asked. Rejects as a linearizable read does
   * (UNAVAILABLE, TIMEOUT, OVERLOADED, SHUTTING_DOWN). The caller closes the stream.
   */
  backup(chunkBytes: number): Promise<SnapshotStream> {
    if (this.closing) return Promise.reject(shuttingDownError(false));
    return this.read('linearizable', () => this.ports.state.readSnapshot(chunkBytes));
  }

  /**
   * Compact the history to `revision`, which this node must know committed (a compaction is never
   * of the future; a write is answered before its batch is written and `applied` moves, so the
   * commit index, not the applied one, covers every revision a client was given here). Any node
   * may be asked: the command goes through the log like a write, after every committed entry.
   */
  private compact(revision: number): Promise<Results['compact']> {
    const commit = this.raw.status().commit;
    if (revision > commit) {
      return Promise.reject(invalidArgumentError(`cannot compact to revision ${revision}: it is beyond the committed revision ${commit}`));
    }
    return this.write({ op: 'compact', revision }) as Promise<unknown> as Promise<Results['compact']>;
  }

  /**
   * The leader's automatic compaction (`historyRetention`): keep at least the last
   * `historyRetention` revisions, compacting once the history holds a tenth more than that, one
   * compaction in flight at a time. Every node applies it from the log, so all agree.
   */
  private compactHistory(): void {
    if (this.role !== 'leader' || this.compactionInFlight) return;
    const retention = this.config.historyRetention;
    const oldestKept = this.applied - retention + 1;
    if (oldestKept - this.ports.state.compactRevision() < Math.max(1, Math.floor(retention / 10))) return;
    this.compactionInFlight = true;
    this.write({ op: 'compact', revision: oldestKept }).then(
      () => this.ports.logger.log('debug', 'history.compacted', { revision: oldestKept }),
      (err: unknown) => this.ports.logger.log('debug', 'history.compaction.failed', { revision: oldestKept, error: String(err) }),
    ).finally(() => {
      this.compactionInFlight = false;
    });
  }

  /** Propose a client write; answer once it applied. (Protected: a test seam for planted bugs.) */
  protected write(command: Command | AuthorizedCommand): Promise<WriteResult> {
    return this.propose(encodeOrReject(() => encodeCommand(command)), (r, resolve, reject) => {
      if (r.kind !== 'command') {
        reject(internalError(`entry ${r.index} applied as ${r.kind}, expected a command`));
      } else if (isWireError(r.result)) {
        reject(KeelError.fromWire(r.result));
      } else {
        resolve(r.result as WriteResult);
      }
    });
  }

  /** Propose an auth change; answer once it applied. */
  private writeAuth(command: AuthCommand): Promise<{ readonly revision: number }> {
    return this.propose(encodeOrReject(() => encodeAuthCommand(command)), (r, resolve, reject) => {
      if (r.kind !== 'command') reject(internalError(`entry ${r.index} applied as ${r.kind}, expected an auth command`));
      else if (isWireError(r.result)) reject(KeelError.fromWire(r.result));
      else resolve({ revision: r.result.revision });
    });
  }

  private changeMembership(change: ConfChange, request: Parameters<NodeOperations['changeMembership']>[1]): Promise<Results['memberAdd']> {
    // Only the leader's view is authoritative: elsewhere the proposal answers NOT_LEADER first.
    if (this.role === 'leader') {
      const problem = membershipProblem(request, this.raw.status().conf, this.members());
      if (problem !== undefined) return Promise.reject(problem);
    }
    return this.propose(change, (r, resolve, reject) => {
      if (r.kind === 'conf') resolve({ members: r.members });
      else reject(internalError(`entry ${r.index} applied as ${r.kind}, expected a membership change`));
    });
  }

  /** Propose `data` (a command) or a conf change and settle when its entry applies. */
  private propose<T>(
    payload: Uint8Array | ConfChange,
    settle: (r: ApplyResult, resolve: (v: T) => void, reject: (e: KeelError) => void) => void,
  ): Promise<T> {
    const { pendingProposalsMax, pendingProposalBytesMax } = this.config;
    const observer = this.ports.observer;
    const refuse = (error: KeelError): Promise<T> => {
      observer?.proposalFailed?.(error.code);
      return Promise.reject(error);
    };
    if (this.proposals.size >= pendingProposalsMax) {
      return refuse(overloadedError(`too many writes waiting for commit (${pendingProposalsMax})`));
    }
    const bytes = payload instanceof Uint8Array ? payload.byteLength : (payload.context?.byteLength ?? 0);
    if (this.proposals.bytes + bytes > pendingProposalBytesMax && this.proposals.size > 0) {
      return refuse(overloadedError(`too many bytes of writes waiting for commit (${pendingProposalBytesMax})`));
    }
    const result = payload instanceof Uint8Array ? this.raw.propose(payload) : this.raw.proposeConfChange(payload);
    if (!result.ok) {
      const change = payload instanceof Uint8Array ? undefined : payload;
      return refuse(proposalRejectionError(result.reason, this.hint(result.leader), change));
    }
    this.scheduleReady();
    return new Promise<T>((resolve, reject) => {
      const pending: PendingProposal<ApplyResult> = {
        index: result.index,
        term: result.term,
        bytes,
        deadlineTick: this.tickCount + this.config.requestTimeoutTicks,
        onApplied: (r) => {
          observer?.proposalCommitted?.();
          settle(r, resolve, reject);
        },
        onFailed: (error) => {
          observer?.proposalFailed?.(error.code);
          reject(error);
        },
      };
      this.proposals.add(pending);
    });
  }

  private read<T>(consistency: 'linearizable' | 'serializable', run: () => Promise<T>): Promise<T> {
    if (consistency === 'serializable') return run();
    if (this.reads.size >= this.config.pendingReadsMax) {
      return Promise.reject(overloadedError(`too many linearizable reads waiting (${this.config.pendingReadsMax})`));
    }
    return new Promise<T>((resolve, reject) => {
      this.reads.enqueue({
        deadlineTick: this.tickCount + this.config.requestTimeoutTicks,
        serve: () => {
          run().then(resolve, (err: unknown) => reject(asKeelError(err)));
        },
        onFailed: reject,
      });
      this.scheduleReady();
    });
  }

  /** Ask the core for one read index covering every read queued since the last ask, unless a round is still out. */
  private askReadIndex(): void {
    if (!this.reads.shouldAsk(this.tickCount)) return;
    const id = `${this.config.id}.${this.readNonce}.${++this.readSeq}`;
    this.reads.takeBatch(id, this.tickCount);
    this.raw.readIndex(id);
  }

  private async readGet(key: Uint8Array): Promise<Results['get']> {
    const revision = this.applied;
    const kv: KeyValue | null = await this.ports.state.get(key);
    return { kv, revision };
  }

  private async readScan(range: ScanRange, limit: number): Promise<Results['scan']> {
    const revision = this.applied;
    const { kvs, more } = await this.ports.state.scan(range, limit);
    return { kvs, more, revision };
  }

  private transferLeadership(to: NodeId): Promise<Results['leaderTransfer']> {
    const r = this.raw.transferLeadership(to);
    if (!r.ok && r.reason === 'alreadyLeader' && to === this.config.id) return Promise.resolve({ leader: to });
    if (!r.ok) return Promise.reject(transferRejectionError(r.reason, this.hint(r.leader), to));
    this.ports.logger.log('info', 'leader.transfer_started', { to });
    this.scheduleReady();
    return new Promise((resolve, reject) => {
      this.transfers.push({ to, deadlineTick: this.tickCount + 2 * this.config.electionTicks + 2, resolve, reject });
    });
  }

  private hint(leader: NodeId = this.leader): LeaderHint {
    return { leaderId: leader, leaderAddress: this.clientAddressOf(leader) };
  }

  private clientAddressOf(id: NodeId): string | undefined {
    if (id === 0) return undefined;
    const address = this.members().find((m) => m.id === id)?.clientAddress;
    return address === '' ? undefined : address;
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown
  // -------------------------------------------------------------------------------------------

  /**
   * Stop: refuse new requests and fail the pending ones with SHUTTING_DOWN (writes as
   * indeterminate: they may still commit), then wait for the Ready in progress and the apply
   * chain to finish (and a snapshot being received to be dropped). Idempotent. The caller then
   * closes the ports (client port, transport, stores).
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  /** True once `close()` was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.proposals.failAll(() => shuttingDownError(true));
    this.reads.failAll(() => shuttingDownError(false));
    for (const t of this.transfers.splice(0)) t.reject(shuttingDownError(true));
    await this.readyRunning;
    await this.appliedAll();
    await this.receiver.abort(shuttingDownError(true));
  }
}

/**
 * How many of `committed` (in order) are durable before a Ready's write: at or below the log's
 * last index and not rewritten by the Ready's `entries` (committed entries never are; checked,
 * not assumed).
 */
function durablePrefix(committed: readonly Entry[], lastDurable: number, entries: readonly Entry[]): number {
  const limit = Math.min(lastDurable, entries.length > 0 ? entries[0]!.index - 1 : lastDurable);
  let n = 0;
  while (n < committed.length && committed[n]!.index <= limit) n++;
  return n;
}

/**
 * Keys in byte order, as many as fit in `LIMITS.scanResponseBytesMax` (a lease's keys are not
 * bounded in number; the answer is).
 */
function keyList(keys: Iterable<Uint8Array>): Uint8Array[] {
  const sorted = [...keys].sort((a, b) => Buffer.compare(a, b));
  let bytes = 0;
  let n = 0;
  while (n < sorted.length && (bytes += sorted[n]!.byteLength + KEY_LIST_ROW_OVERHEAD_BYTES) <= LIMITS.scanResponseBytesMax) n++;
  return sorted.slice(0, n);
}

/** Allowance per listed key for its encoding. */
const KEY_LIST_ROW_OVERHEAD_BYTES = 8;

function isWireError(value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

function asKeelError(err: unknown): KeelError {
  if (err instanceof KeelError) return err;
  return internalError(err instanceof Error ? err.message : String(err), err);
}
