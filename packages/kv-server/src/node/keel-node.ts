import { randomBytes, randomInt } from 'node:crypto';
import { ERROR_CODES, KeelError } from '@keel/protocol';
import type { ClientRequest, ClientResults, KeyValue, Member, NodeStatus, WireError } from '@keel/protocol';
import { RawNode, SeededRng } from '@keel/raft';
import type { ConfChange, Entry, Message, NodeId, Ready, Role, Snapshot, SoftState } from '@keel/raft';
import { AddressBook } from './address-book.js';
import { snapshotCatchUpEntries, type KeelNodeConfig, type ListenAddress } from './config.js';
import {
  internalError,
  notLeaderError,
  proposalRejectionError,
  readRejectionError,
  shuttingDownError,
  timeoutError,
  transferRejectionError,
  type LeaderHint,
} from './errors.js';
import type { JsonLogger } from './json-logger.js';
import { ClientPortServer, encodeCommand, NodeStore, PeerTransport } from './parts.js';
import type { ApplyResult, Command, PeerAddresses } from './parts.js';
import { dispatch, encodeOrReject, type AnyResult, type NodeOperations, type WriteResult } from './client-requests.js';
import { ProposalTracker, type PendingProposal } from './proposal-tracker.js';
import { ReadTracker } from './read-tracker.js';
import { ReadyStats } from './ready-stats.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { SnapshotSender } from './snapshot-sender.js';

type Results = ClientResults;

const EMPTY = new Uint8Array(0);

interface PendingTransfer {
  readonly to: NodeId;
  readonly deadlineTick: number;
  readonly resolve: (r: Results['leaderTransfer']) => void;
  readonly reject: (e: KeelError) => void;
}

/** Hooks the process wrapper (CLI) gives the node. */
export interface KeelNodeHooks {
  /** The node hit an error it cannot continue after (durable write failed, invariant broken). */
  onFatal?: (error: unknown) => void;
}

/**
 * One Keel node: the driver that owns a `RawNode`, a `NodeStore`, a `PeerTransport` and a
 * `ClientPortServer` and moves work between them.
 *
 * The Ready loop (one at a time, never two Readies concurrently): send the Ready's `messages`
 * (a leader's appends leave while it writes its own copy, thesis §10.2.1), persist a received
 * snapshot, the entries and the hard state in ONE synced batch (group commit: every proposal
 * made since the last Ready rides in the same fsync), then send `messagesAfterPersist` (the
 * acknowledgements), hand the committed entries to the apply chain and `advance()`. The apply
 * chain applies each Ready's committed entries in one batch, in order, behind the loop (so an
 * apply overlaps the next fsync, as in etcd's server), and answers the proposals (by index and
 * term) and linearizable reads they complete.
 * While a persist is in flight new proposals accumulate in the core for the next Ready, so
 * batches grow with load.
 *
 * Invariants: `applied` only grows and is what the store has applied; a proposal is answered
 * exactly once (applied, failed, expired or shut down); a read is served only once `applied`
 * reached its read index.
 *
 * Time: one `tick()` every `tickMs`; request deadlines are counted in ticks and swept on the
 * tick (no per-request timers).
 *
 * @example
 * const node = await KeelNode.start(config, logger);
 * // … later
 * await node.close();
 */
export class KeelNode {
  private tickCount = 0;
  private readySeq = 0;
  private readyScheduled = false;
  private readyRunning: Promise<void> | undefined;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private applied: number;
  private snapshotIndex: number;
  /** Applied index when the last snapshot was taken or installed: the snapshot interval counts from here. */
  private snapshotTakenAt: number;
  private role: Role = 'follower';
  private leader: NodeId = 0;
  private term = 0;
  private readSeq = 0;
  private readonly bootNonce = randomBytes(4).toString('hex');
  private readonly proposals = new ProposalTracker<ApplyResult>();
  private readonly reads = new ReadTracker();
  private transfers: PendingTransfer[] = [];
  private readonly receiver: SnapshotReceiver;
  private sender!: SnapshotSender;
  /** Set by `fatal()`: the node stops handling Readies and applying. */
  private failed = false;
  /** Committed entries handed to the apply chain and not yet applied. */
  private applyBacklog = 0;
  /**
   * Serial chain of applies running behind the Ready loop, one store batch per Ready's committed
   * entries (merging queued Readies into bigger batches measured slightly slower).
   */
  private applyChain: Promise<void> = Promise.resolve();
  private readonly stats: ReadyStats;
  private readonly requestTimeoutTicks: number;
  private readonly leaderLossGraceTicks: number;
  /** Request deadlines are checked every this many ticks. */
  private readonly sweepTicks: number;
  private tickTimer: NodeJS.Timeout | undefined;
  private transport!: PeerTransport;
  private clientServer!: ClientPortServer;
  private peerPortNumber = 0;
  private clientPortNumber = 0;
  /** Addresses peers advertised in their hellos: fill the gaps the log leaves (bootstrap members seen from a joined node). */
  private readonly learnedAddresses = new AddressBook();
  private readonly runReadyLoop = (): void => {
    this.readyScheduled = false;
    if (this.readyRunning !== undefined || this.closing) return;
    this.readyRunning = this.readyLoop().finally(() => {
      this.readyRunning = undefined;
    });
  };

  private constructor(
    readonly config: KeelNodeConfig,
    private readonly store: NodeStore,
    private readonly rawNode: RawNode,
    private readonly logger: JsonLogger,
    private readonly hooks: KeelNodeHooks,
  ) {
    this.applied = store.appliedIndex();
    this.snapshotIndex = store.raftStorage.snapshot().meta.index;
    this.snapshotTakenAt = this.applied;
    this.term = store.raftStorage.hardState().term;
    this.requestTimeoutTicks = Math.max(1, Math.ceil(config.requestTimeoutMs / config.tickMs));
    this.leaderLossGraceTicks = 2 * config.electionTicks;
    this.sweepTicks = Math.max(1, Math.round(SWEEP_INTERVAL_MS / config.tickMs));
    this.stats = new ReadyStats(logger, STATS_INTERVAL_MS);
    this.receiver = new SnapshotReceiver({
      store,
      logger,
      leadership: () => {
        const st = this.rawNode.status();
        return { term: st.term, leader: st.leader };
      },
      stepSnapshot: (from, term, meta) => {
        this.rawNode.step({ type: 'snap', from, to: this.config.id, term, snapshot: { meta, data: EMPTY } });
        this.scheduleReady();
      },
      readySeq: () => this.readySeq,
      closing: () => this.closing,
    });
  }

  /** Open the store, start the Raft node, listen on the peer and client ports and start ticking. */
  static async start(config: KeelNodeConfig, logger: JsonLogger, hooks: KeelNodeHooks = {}): Promise<KeelNode> {
    const bootstrap =
      config.initialCluster.length === 0
        ? undefined
        : {
            conf: { voters: config.initialCluster.map((m) => m.id), learners: [] },
            members: config.initialCluster.map(
              (m): Member => ({ id: m.id, role: 'voter', peerAddress: m.peerAddress, clientAddress: m.clientAddress }),
            ),
          };
    const store = await NodeStore.open({ dir: config.dataDir, logger, ...(bootstrap ? { bootstrap } : {}) });
    let node: KeelNode | undefined;
    try {
      const rawNode = new RawNode({
        id: config.id,
        storage: store.raftStorage,
        rng: new SeededRng(randomInt(1, 2 ** 31)),
        electionTick: config.electionTicks,
        heartbeatTick: config.heartbeatTicks,
        preVote: true,
        checkQuorum: true,
        applied: store.appliedIndex(),
        logger,
      });
      node = new KeelNode(config, store, rawNode, logger, hooks);
      const stored = store.members().map((m) => m.id).sort((a, b) => a - b).join(',');
      const given = config.initialCluster.map((m) => m.id).sort((a, b) => a - b).join(',');
      if (given !== '' && stored !== given) {
        // The data dir already holds a membership (changed since bootstrap): it wins.
        logger.log('warn', 'config.initial_cluster_ignored', { storedMembers: store.members(), initialCluster: config.initialCluster });
      }
      logger.setContext(() => node!.logContext());
      await node.listen();
      return node;
    } catch (err) {
      if (node !== undefined) await node.close().catch(() => undefined);
      else await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** The bound peer port (useful when configured as 0). */
  get peerPort(): number {
    return this.peerPortNumber;
  }

  get clientPort(): number {
    return this.clientPortNumber;
  }

  private async listen(): Promise<void> {
    const c = this.config;
    this.transport = new PeerTransport({
      clusterId: c.clusterId,
      nodeId: c.id,
      listen: c.listenPeer,
      peers: this.dialMap(this.store.members()),
      logger: this.logger,
      advertised: () => this.advertised(),
      onPeerAddresses: (id, addresses) => this.onPeerAddresses(id, addresses),
      onMessage: (m) => this.onPeerMessage(m),
      onSnapshot: (from, meta, chunks) => this.receiver.receive(from, meta, chunks),
    });
    this.transport.onUnreachable = (id) => {
      if (this.closing) return;
      this.rawNode.reportUnreachable(id);
      this.scheduleReady();
    };
    this.sender = new SnapshotSender(this.store, this.transport, this.logger, c.snapshotChunkBytes, (to, status) => {
      if (this.closing) return;
      this.rawNode.reportSnapshot(to, status);
      this.scheduleReady();
    });
    this.peerPortNumber = (await this.transport.listen()).port;
    this.clientServer = new ClientPortServer({
      host: c.listenClient.host,
      port: c.listenClient.port,
      logger: this.logger,
      handle: (request) => this.handle(request),
    });
    this.clientPortNumber = (await this.clientServer.listen()).port;
    this.tickTimer = setInterval(() => this.onTick(), c.tickMs);
    const st = this.rawNode.status();
    this.logger.log('info', 'node.started', {
      peerPort: this.peerPortNumber,
      clientPort: this.clientPortNumber,
      applied: this.applied,
      lastIndex: st.lastIndex,
      commit: st.commit,
      snapshotIndex: this.snapshotIndex,
      members: this.store.members(),
      tickMs: c.tickMs,
      electionTicks: c.electionTicks,
      heartbeatTicks: c.heartbeatTicks,
      snapshotEntries: c.snapshotEntries,
    });
    this.scheduleReady();
  }

  /** Fields every log line carries. */
  logContext(): { nodeId: number; term: number; role: string } {
    return { nodeId: this.config.id, term: this.term, role: this.role };
  }

  // -------------------------------------------------------------------------------------------
  // Time
  // -------------------------------------------------------------------------------------------

  private onTick(): void {
    if (this.closing) return;
    this.tickCount++;
    this.rawNode.tick();
    this.stats.tick(this.config.tickMs, { proposals: this.proposals.size, reads: this.reads.size });
    const now = this.tickCount;
    this.reads.retryDeferred();
    if (now % this.sweepTicks === 0) {
      // Deadlines are swept a few times a second, not per request (no per-request timers).
      this.proposals.expire(now, () =>
        this.role === 'leader' ? timeoutError(true) : indeterminate('leadership was lost before the write was known to commit'),
      );
      this.reads.expire(now, () => timeoutError(false));
    }
    if (this.transfers.length > 0) {
      const expired = this.transfers.filter((t) => t.deadlineTick <= now);
      this.transfers = this.transfers.filter((t) => t.deadlineTick > now);
      for (const t of expired) {
        t.reject(new KeelError(ERROR_CODES.TIMEOUT, `leadership did not move to node ${t.to} in time`, { definite: false }));
      }
    }
    this.scheduleReady();
  }

  // -------------------------------------------------------------------------------------------
  // The Ready loop
  // -------------------------------------------------------------------------------------------

  /** Run the Ready loop soon (after the I/O already queued, so that more work joins the batch). */
  private scheduleReady(): void {
    if (this.readyScheduled || this.closing) return;
    this.readyScheduled = true;
    setImmediate(this.runReadyLoop);
  }

  private async readyLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.closing || this.failed) return;
        this.askReadIndex();
        if (!this.rawNode.hasReady()) break;
        const rd = this.rawNode.ready();
        const seq = ++this.readySeq;
        await this.handleReady(rd);
        this.rawNode.advance(rd);
        this.receiver.checkTaken(seq);
      }
      this.receiver.checkTaken(undefined);
    } catch (err) {
      this.fatal('ready.failed', err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    if (rd.softState !== undefined) this.onSoftState(rd.softState);
    this.stats.ready(rd);
    if (rd.messages.length > 0) this.send(rd.messages);
    const t0 = performance.now();
    if (rd.snapshot !== undefined) {
      this.receiver.take(rd.snapshot);
      // Entries committed before the snapshot must reach the store before it is swapped in.
      await this.appliedAll();
    }
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      // One batch: a received snapshot (swapped in atomically), entries and hard state.
      await this.store.persist(
        {
          entries: rd.entries,
          ...(rd.hardState !== undefined ? { hardState: rd.hardState } : {}),
          ...(rd.snapshot !== undefined ? { snapshot: rd.snapshot } : {}),
        },
        rd.mustSync,
      );
    }
    if (rd.snapshot !== undefined) this.snapshotInstalled(rd.snapshot);
    this.stats.persisted(performance.now() - t0);
    if (rd.messagesAfterPersist.length > 0) this.send(rd.messagesAfterPersist);
    for (const rs of rd.readStates) this.reads.indexKnown(rs.requestId, rs.index);
    for (const rr of rd.rejectedReads) {
      // A new leader answers reads once it has committed in its term: ask again on the next tick.
      if (rr.reason === 'notCommittedInTerm') this.reads.defer(rr.requestId);
      else this.reads.rejected(rr.requestId, readRejectionError(rr.reason, this.hint()));
    }
    if (rd.committedEntries.length > 0) {
      // Apply runs behind the Ready loop (as etcd's server does), so an apply overlaps the next
      // Ready's fsync. Membership changes are applied before the loop moves on; the backlog is
      // bounded.
      const entries = rd.committedEntries;
      this.applyBacklog += entries.length;
      this.applyChain = this.applyChain.then(() => this.applyEntries(entries));
      if (entries.some((e) => e.type === 'confChange') || this.applyBacklog > APPLY_BACKLOG_MAX) await this.appliedAll();
    } else {
      this.reads.serveThrough(this.applied);
    }
  }

  /** Resolves once every committed entry handed out so far has been applied (or the node failed). */
  private appliedAll(): Promise<void> {
    return this.applyChain;
  }

  /**
   * Apply one Ready's committed entries as one store batch (on the apply chain, so in order),
   * then answer the proposals and reads they complete. Never rejects: a failure is fatal.
   */
  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    if (this.failed) return;
    const t0 = performance.now();
    try {
      const results = await this.store.apply(entries);
      this.onApplied(results);
      this.reads.serveThrough(this.applied);
      if (this.applied - this.snapshotTakenAt >= this.config.snapshotEntries) await this.takeSnapshot();
    } catch (err) {
      this.fatal('apply.failed', err); // the state machine cannot go on
    } finally {
      this.applyBacklog -= entries.length;
      this.stats.applied(performance.now() - t0);
    }
  }

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.role === 'leader';
    const leaderChanged = ss.leader !== this.leader;
    const roleChanged = ss.role !== this.role;
    this.role = ss.role;
    this.leader = ss.leader;
    if (roleChanged) this.logger.log('info', 'raft.role', { leader: ss.leader });
    if (leaderChanged) {
      this.logger.log('info', 'leader.changed', { leader: ss.leader, leaderAddress: this.clientAddressOf(ss.leader) });
    }
    if (wasLeader && ss.role !== 'leader') {
      // Our proposals may still commit under the next leader: keep them until their index applies
      // (definite answer) but no longer than a couple of election timeouts (then INDETERMINATE).
      this.proposals.capDeadlines(this.tickCount + this.leaderLossGraceTicks);
    }
    if (leaderChanged && ss.leader !== 0 && ss.leader !== this.config.id && this.transfers.length > 0) {
      const done = this.transfers;
      this.transfers = [];
      for (const t of done) t.resolve({ leader: ss.leader });
    }
  }

  private send(messages: readonly Message[]): void {
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
    if (out.length > 0) this.transport.send(out);
  }

  private onApplied(results: readonly ApplyResult[]): void {
    for (const r of results) {
      if (r.index !== this.applied + 1) {
        throw new Error(`invariant: applied ${r.index} right after ${this.applied} (entries must apply in order, once)`);
      }
      if (r.kind === 'conf') this.onMembership(r.members);
      this.proposals.applied(r.index, r.term, r, () => this.displacedError());
      this.applied = r.index;
    }
  }

  private onMembership(members: readonly Member[]): void {
    this.logger.log('info', 'membership.changed', { members });
    this.transport.setPeers(this.dialMap(members));
  }

  /**
   * Dial address per peer: the CLI override when given, else the member's peer address from the
   * log, else the one it advertised in its hello. While this node is not a member itself (it is
   * joining), peers that connected to it are dialed too, so it can answer the leader.
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

  /** The membership as clients see it: the store's, with empty addresses filled from what peers advertised. */
  private members(): Member[] {
    return this.learnedAddresses.fill(this.store.members());
  }

  /**
   * Where other nodes reach this one, sent in every hello: its own membership entry (its
   * --initial-cluster entry, or the addresses it was added with), else the addresses it listens on.
   */
  private advertised(): PeerAddresses {
    const self = this.store.members().find((m) => m.id === this.config.id);
    return {
      peerAddress: self?.peerAddress || listenAddress(this.config.listenPeer, this.peerPortNumber),
      clientAddress: self?.clientAddress || listenAddress(this.config.listenClient, this.clientPortNumber),
    };
  }

  /** A peer's hello told where it listens: remember it, and dial it there if the log had no address. */
  private onPeerAddresses(id: NodeId, addresses: PeerAddresses): void {
    if (this.closing || id === this.config.id || !this.learnedAddresses.learn(id, addresses)) return;
    this.logger.log('info', 'peer.addresses_learned', { peer: id, ...this.learnedAddresses.get(id) });
    this.transport.setPeers(this.dialMap(this.store.members()));
  }

  private async takeSnapshot(): Promise<void> {
    const takenAt = this.applied;
    const meta = await this.store.createSnapshot({ retainEntries: snapshotCatchUpEntries(this.config) });
    this.snapshotIndex = meta.index;
    this.snapshotTakenAt = takenAt;
    this.logger.log('info', 'snapshot.created', { index: meta.index, snapshotTerm: meta.term });
  }

  private fatal(event: string, err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.log('error', event, { error: err });
    if (this.hooks.onFatal !== undefined) this.hooks.onFatal(err);
    else void this.close();
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------------

  /** The snapshot is durable and swapped in: the state machine jumped to its index. */
  private snapshotInstalled(snapshot: Snapshot): void {
    this.applied = this.store.appliedIndex();
    this.snapshotIndex = snapshot.meta.index;
    this.snapshotTakenAt = snapshot.meta.index;
    this.proposals.failThrough(snapshot.meta.index, () => indeterminate('replaced by a snapshot'));
    this.onMembership(this.store.members());
    this.reads.serveThrough(this.applied);
    this.logger.log('info', 'snapshot.installed', { index: snapshot.meta.index, snapshotTerm: snapshot.meta.term, applied: this.applied });
    this.receiver.installed();
  }

  // -------------------------------------------------------------------------------------------
  // Peer input
  // -------------------------------------------------------------------------------------------

  private onPeerMessage(m: Message): void {
    if (this.closing) return;
    if (m.type === 'snap') {
      // Snapshots travel as chunk streams (SnapshotReceiver), never as one message.
      this.logger.log('warn', 'peer.unexpected_snap', { from: m.from });
      return;
    }
    this.rawNode.step(m);
    this.scheduleReady();
  }

  // -------------------------------------------------------------------------------------------
  // Client requests
  // -------------------------------------------------------------------------------------------

  /** Answer one validated client request (the client port validated shape and limits). Throws KeelError. */
  async handle(request: ClientRequest): Promise<AnyResult> {
    if (this.closing) throw new KeelError(ERROR_CODES.SHUTTING_DOWN, 'the node is shutting down');
    return dispatch(request, this.operations);
  }

  /** The node as client requests see it. */
  private readonly operations: NodeOperations = {
    write: (command) => this.write(command),
    read: (consistency, read) => this.read(consistency, read),
    get: (key) => this.readGet(key),
    scan: (range, limit) => this.readScan(range, limit),
    status: () => this.status(),
    digest: () => this.store.digest(),
    members: () => this.members(),
    leader: () => this.leader,
    changeMembership: (change) => this.changeMembership(change),
    transferLeadership: (to) => this.transferLeadership(to),
  };

  /** This node's view of itself. */
  status(): NodeStatus {
    const s = this.rawNode.status();
    return {
      id: this.config.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commit: s.commit,
      applied: this.applied,
      lastIndex: s.lastIndex,
      clientAddress:
        this.clientAddressOf(this.config.id) ?? `${this.config.listenClient.host}:${this.clientPortNumber}`,
    };
  }

  private write(command: Command): Promise<WriteResult> {
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

  private changeMembership(change: ConfChange): Promise<Results['memberAdd']> {
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
    if (this.proposals.size >= this.config.pendingProposalsMax) {
      return Promise.reject(
        new KeelError(ERROR_CODES.OVERLOADED, `too many writes waiting for commit (${this.config.pendingProposalsMax})`),
      );
    }
    const bytes = payload instanceof Uint8Array ? payload.byteLength : (payload.context?.byteLength ?? 0);
    if (this.proposals.bytes + bytes > this.config.pendingProposalBytesMax && this.proposals.size > 0) {
      return Promise.reject(
        new KeelError(ERROR_CODES.OVERLOADED, `too many bytes of writes waiting for commit (${this.config.pendingProposalBytesMax})`),
      );
    }
    const result = payload instanceof Uint8Array ? this.rawNode.propose(payload) : this.rawNode.proposeConfChange(payload);
    if (!result.ok) return Promise.reject(proposalRejectionError(result.reason, this.hint(result.leader)));
    this.scheduleReady();
    return new Promise<T>((resolve, reject) => {
      const pending: PendingProposal<ApplyResult> = {
        index: result.index,
        term: result.term,
        bytes,
        deadlineTick: this.tickCount + this.requestTimeoutTicks,
        onApplied: (r) => settle(r, resolve, reject),
        onFailed: reject,
      };
      this.proposals.add(pending);
    });
  }

  /** A proposal whose log slot was taken by another leader's entry: definitely not applied. */
  private displacedError(): KeelError {
    const hint = this.hint();
    if (hint.leaderId !== this.config.id) return notLeaderError(hint, 'leadership changed before the write committed');
    return new KeelError(ERROR_CODES.UNAVAILABLE, 'leadership changed before the write committed; it was not applied');
  }

  private read<T>(consistency: 'linearizable' | 'serializable', run: () => Promise<T>): Promise<T> {
    if (consistency === 'serializable') return run();
    if (this.reads.size >= this.config.pendingReadsMax) {
      return Promise.reject(
        new KeelError(ERROR_CODES.OVERLOADED, `too many linearizable reads waiting (${this.config.pendingReadsMax})`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.reads.enqueue({
        deadlineTick: this.tickCount + this.requestTimeoutTicks,
        serve: () => {
          run().then(resolve, (err: unknown) => reject(asKeelError(err)));
        },
        onFailed: reject,
      });
      this.scheduleReady();
    });
  }

  /** Ask the core for one read index covering every read queued since the last ask. */
  private askReadIndex(): void {
    if (!this.reads.hasQueued()) return;
    const id = `${this.config.id}.${this.bootNonce}.${++this.readSeq}`;
    this.reads.takeBatch(id);
    this.rawNode.readIndex(id);
  }

  private async readGet(key: Uint8Array): Promise<Results['get']> {
    const revision = this.applied;
    const kv: KeyValue | null = await this.store.get(key);
    return { kv, revision };
  }

  private async readScan(
    range: { start?: Uint8Array; end?: Uint8Array; prefix?: Uint8Array },
    limit: number,
  ): Promise<Results['scan']> {
    const revision = this.applied;
    const { kvs, more } = await this.store.scan(range, limit);
    return { kvs, more, revision };
  }

  private transferLeadership(to: NodeId): Promise<Results['leaderTransfer']> {
    const r = this.rawNode.transferLeadership(to);
    if (!r.ok && r.reason === 'alreadyLeader' && to === this.config.id) return Promise.resolve({ leader: to });
    if (!r.ok) return Promise.reject(transferRejectionError(r.reason, this.hint(r.leader), to));
    this.logger.log('info', 'leader.transfer_started', { to });
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
   * Graceful shutdown: refuse new requests, fail pending ones with SHUTTING_DOWN (writes as
   * indeterminate: they may still commit), close the client port and the transport, let the
   * Ready in progress finish, then close LevelDB. Idempotent.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.logger.log('info', 'node.stopping', {});
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.proposals.failAll(() => shuttingDownError());
    this.reads.failAll(() => new KeelError(ERROR_CODES.SHUTTING_DOWN, 'the node is shutting down'));
    for (const t of this.transfers.splice(0)) t.reject(shuttingDownError());
    // Let the answers above reach the sockets: the rejections settle in microtasks, the client
    // port queues its batched write with setImmediate; two turns later it has been written.
    for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r));
    const steps: Array<[string, () => Promise<void> | undefined]> = [
      ['clientPort', () => this.clientServer?.close()],
      ['readyLoop', () => this.readyRunning],
      ['apply', () => this.appliedAll()],
      ['transport', () => this.transport?.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        this.logger.log('warn', 'node.close_step_failed', { step: name, error: err });
      }
    }
    await this.receiver.abort(shuttingDownError());
    await this.store.close();
    this.logger.log('info', 'node.stopped', { applied: this.applied });
  }
}

const STATS_INTERVAL_MS = 10_000;
/** How often request deadlines are swept. */
const SWEEP_INTERVAL_MS = 200;
/** Most committed entries waiting on the apply chain before the Ready loop waits for it. */
const APPLY_BACKLOG_MAX = 8192;


/**
 * "host:port" of a listen address, with the bound port when the configured one was 0; '' when
 * it cannot be dialed as is (a wildcard host, or the port is not bound yet).
 */
function listenAddress(listen: ListenAddress, boundPort: number): string {
  const port = boundPort !== 0 ? boundPort : listen.port;
  if (port === 0 || listen.host === '' || listen.host === '0.0.0.0' || listen.host === '::') return '';
  return listen.host.includes(':') ? `[${listen.host}]:${port}` : `${listen.host}:${port}`;
}

function isWireError(value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

function indeterminate(why: string): KeelError {
  return new KeelError(ERROR_CODES.INDETERMINATE, `the write's outcome is unknown: ${why}`, { definite: false });
}

function asKeelError(err: unknown): KeelError {
  if (err instanceof KeelError) return err;
  return internalError(err instanceof Error ? err.message : String(err), err);
}
