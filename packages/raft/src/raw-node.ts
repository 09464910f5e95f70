import type { RaftConfig } from './config.js';
import { Raft } from './raft.js';
import { resolveConfig, type ResolvedConfig } from './resolved-config.js';
import type {
  ConfChange,
  Entry,
  HardState,
  Message,
  NodeId,
  ProgressStatus,
  ProposeResult,
  Ready,
  Snapshot,
  SoftState,
  Status,
  TransferResult,
} from './types.js';

/**
 * The application's handle on one Raft node (etcd's `RawNode`). Single-threaded and
 * synchronous: every input returns at once; work comes out through `ready()`.
 *
 * Usage: feed `tick()`, `step()`, `propose()`…; whenever `hasReady()`, take `ready()`, handle it
 * as its TSDoc says (send `messages`, persist, send `messagesAfterPersist`, apply), and call
 * `advance(ready)` before the next `ready()`. Inputs may arrive between `ready()` and `advance()`.
 *
 * Restart: build a new `RawNode` over a `Storage` holding the persisted log and hard state, with
 * `config.applied` set to the index the state machine has applied.
 */
export class RawNode {
  /** The state machine; subclasses (tests) may substitute a variant through `createRaft`. */
  protected readonly raft: Raft;
  private readonly maxCommittedSizePerReady: number;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The Ready handed out and not yet advanced: there is at most one. */
  private outstanding: Ready | undefined;

  /** Throws `TypeError` for an invalid config, `Error` if the storage is inconsistent. */
  constructor(config: RaftConfig) {
    const resolved = resolveConfig(config);
    this.maxCommittedSizePerReady = resolved.maxCommittedSizePerReady;
    this.raft = this.createRaft(resolved);
    this.prevSoft = this.raft.softState();
    this.prevHard = config.storage.initialState().hardState;
  }

  /** Test seam: build the inner state machine. Production code never overrides it. */
  protected createRaft(config: ResolvedConfig): Raft {
    return new Raft(config);
  }

  /** Advance logical time by one tick (election and heartbeat timers). */
  tick(): void {
    this.raft.tick();
  }

  /** Feed a message from a peer. Messages not addressed to this node, or malformed, are dropped (never thrown). */
  step(message: Message): void {
    this.raft.step(message);
  }

  /** Start an election now (PreVote first if enabled). No-op for a node that may not vote. */
  campaign(): void {
    this.raft.campaign(false);
  }

  /**
   * Append `data` to the log if this node is the leader. Never throws for a non-leader: see the
   * result. A leader refuses with `uncommittedLimit` while it holds `maxUncommittedBytes` of
   * uncommitted proposals (see `RaftConfig`).
   */
  propose(data: Uint8Array): ProposeResult {
    if (!(data instanceof Uint8Array)) throw new TypeError('propose: data must be a Uint8Array');
    return this.raft.propose(data);
  }

  /** Propose one membership change (single-server, one at a time, after committing in this term). */
  proposeConfChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(change);
  }

  /**
   * Ask for a linearizable read index. The answer comes in a later Ready as a `ReadState` or a
   * `RejectedRead` carrying the same `requestId`. Request ids must be unique for the node's life.
   * A read forwarded to the leader whose answer is lost is never answered: the application
   * times it out (retrying with a new id is safe).
   */
  readIndex(requestId: string): void {
    if (typeof requestId !== 'string') throw new TypeError('readIndex: requestId must be a string');
    this.raft.readIndex(requestId);
  }

  /** Hand leadership to `to` (leader only): catch it up, then send TimeoutNow. */
  transferLeadership(to: NodeId): TransferResult {
    return this.raft.transferLeadership(to);
  }

  /** The transport could not reach `id`: the leader falls back to probing it. */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /**
   * The application finished (or failed) streaming a snapshot to `id`. It must report every
   * `snap` message it was asked to send: until then the leader sends that follower nothing else.
   */
  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void {
    this.raft.reportSnapshot(id, status);
  }

  hasReady(): boolean {
    const r = this.raft;
    r.flushAppends();
    return (
      r.msgs.length > 0 ||
      r.msgsAfterPersist.length > 0 ||
      r.log.unstable.entries.length > 0 ||
      r.log.unstable.snapshot !== undefined ||
      r.readStates.length > 0 ||
      r.rejectedReads.length > 0 ||
      r.log.hasNextCommittedEntries() ||
      !sameSoft(r.softState(), this.prevSoft) ||
      !sameHard(r.hardState(), this.prevHard)
    );
  }

  /**
   * The next batch of work. Call `advance(ready)` once it is handled (see `Ready`). Throws
   * `TypeError` while the previous Ready is not advanced.
   */
  ready(): Ready {
    if (this.outstanding !== undefined) throw new TypeError('RawNode.ready: the previous Ready was not advanced');
    const r = this.raft;
    r.flushAppends();
    const soft = r.softState();
    const hard = r.hardState();
    const entries: readonly Entry[] = r.log.unstable.entries.slice();
    const snapshot: Snapshot | undefined = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEntries(this.maxCommittedSizePerReady);
    const hardChanged = !sameHard(hard, this.prevHard);
    const rd: { -readonly [K in keyof Ready]: Ready[K] } = {
      entries,
      committedEntries,
      messages: r.msgs,
      messagesAfterPersist: r.msgsAfterPersist,
      readStates: r.readStates,
      rejectedReads: r.rejectedReads,
      mustSync:
        entries.length > 0 || snapshot !== undefined || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    if (!sameSoft(soft, this.prevSoft)) rd.softState = soft;
    if (hardChanged) rd.hardState = hard;
    if (snapshot !== undefined) rd.snapshot = snapshot;
    // Accept the Ready: what it carries is handed out exactly once.
    this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    r.msgs = [];
    r.msgsAfterPersist = [];
    r.readStates = [];
    r.rejectedReads = [];
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) r.log.acceptApplying(lastCommitted.index);
    this.outstanding = rd;
    return rd;
  }

  /**
   * The application handled `ready`: its snapshot, entries and hard state are durable and its
   * committed entries applied. The core now counts the node's own acknowledgements (see `Ready`),
   * which may produce more work. Throws `TypeError` unless `ready` is the Ready handed out last.
   */
  advance(ready: Ready): void {
    if (ready !== this.outstanding) {
      throw new TypeError(this.outstanding === undefined ? 'RawNode.advance: no Ready to advance' : 'RawNode.advance: not the Ready handed out last');
    }
    this.outstanding = undefined;
    const r = this.raft;
    const log = r.log;
    if (ready.snapshot !== undefined) log.stableSnapTo(ready.snapshot.meta.index);
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) log.stableTo(last.index, last.term);
    const applied = ready.committedEntries[ready.committedEntries.length - 1];
    if (applied !== undefined) log.appliedTo(applied.index);
    r.ownWriteDurable(last, ready.hardState);
  }

  status(): Status {
    const r = this.raft;
    const base = {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leader: r.leader,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      conf: { voters: [...r.conf.voters], learners: [...r.conf.learners] },
      transferee: r.leadTransferee,
    };
    if (r.role !== 'leader') return base;
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of r.tracker.progress) progress.set(id, pr.toStatus());
    return { ...base, progress };
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
