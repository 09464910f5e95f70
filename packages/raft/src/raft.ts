import { applyConfChange } from './conf-change.js';
import { LogConf } from './log-conf.js';
import { entrySize } from './memory-storage.js';
import { messageProblem } from './message-check.js';
import { RaftLog } from './raft-log.js';
import { ForwardedReads, ReadOnly } from './read-only.js';
import type { ResolvedConfig } from './resolved-config.js';
import { StorageError } from './storage.js';
import { ProgressTracker } from './tracker.js';
import { UncommittedBytes } from './uncommitted.js';
import {
  NONE,
  type AppendMessage,
  type AppendResponseMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type LogLevel,
  type Message,
  type NodeId,
  type ProposeResult,
  type ReadIndexResponseMessage,
  type ReadRejection,
  type ReadState,
  type RejectedRead,
  type Role,
  type SnapshotMessage,
  type SnapshotMeta,
  type SoftState,
  type TransferResult,
  type VoteMessage,
} from './types.js';

type StepFn = (m: Message) => void;
type TickFn = () => void;

/** What a follower does with an incoming snapshot. */
export type SnapshotAction = 'ignore' | 'fastForward' | 'restore';

const EMPTY = new Uint8Array(0);


/**
 * The Raft state machine of one node (etcd's `raft`). `step` handles terms once (the prelude),
 * then hands the message to the step function of the current role, which `becomeFollower`,
 * `becomePreCandidate`, `becomeCandidate` and `becomeLeader` swap together with the tick function.
 *
 * The core queues messages; it never sends. `send` files each message by what it promises:
 * acknowledgements that vouch for local durability (append and vote responses) wait in
 * `msgsAfterPersist` for the Ready's write, everything else leaves at once through `msgs` — in
 * particular the leader's appends, so that it writes its log in parallel with replicating it
 * (thesis §10.2.1). The node never sends itself a message: the leader counts its own copy of its
 * entries, and a candidate its own vote, only once the application reports them durable
 * (`ownWriteDurable`, from `RawNode.advance`).
 *
 * The `protected` methods are decision points that tests override to inject one bug at a time.
 * Applications use `RawNode`; `Raft` is exported for those test variants (`RawNode.createRaft`).
 */
export class Raft {
  readonly id: NodeId;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  term = 0;
  vote: NodeId = NONE;
  leader: NodeId = NONE;
  role: Role = 'follower';

  /** Outgoing messages the application may send at once, before its write of the Ready is durable. */
  msgs: Message[] = [];
  /** Outgoing messages the application sends only once the Ready they came with is durable. */
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  rejectedReads: RejectedRead[] = [];

  /** Ticks since the last election timeout reset (followers: since hearing from the leader). */
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** In `[electionTick, 2 * electionTick)`, drawn anew on every reset. */
  private randomizedElectionTimeout = 0;

  /** The node a leadership transfer targets, or NONE. */
  leadTransferee: NodeId = NONE;

  /** Which configuration is in effect (the last one in the log). */
  private readonly logConf: LogConf;
  /**
   * A learner set this when a candidate that counts it as a voter (an appended, uncommitted
   * addVoter) could not win because the learner's log is more up to date, while it has not heard
   * from a leader for an election timeout: then only the learner can lead (see `promotable`).
   * Cleared on hearing from a leader.
   */
  private learnerNeeded = false;

  private readonly readOnly = new ReadOnly();
  /** Reads that arrived before this leader committed an entry of its term. */
  private queuedReads: { requestId: string; from: NodeId }[] = [];
  /** A heartbeat round to start at the next flush, carrying the latest read request id. */
  private pendingReadContext: string | undefined;
  /** Reads this follower forwarded to the leader. */
  private readonly forwardedReads: ForwardedReads;

  /** Followers that may have something to send; value = send even an empty append. */
  private readonly appendDirty = new Map<NodeId, boolean>();
  /** New entries were appended: every follower may have something to send. */
  private entriesDirty = false;
  /** The commit index advanced: followers may need an (empty) append carrying it. */
  private commitDirty = false;
  /** Leader: bytes of this term's proposals beyond the commit index (`maxUncommittedBytes`). */
  private readonly uncommitted: UncommittedBytes;

  private stepFn: StepFn = this.stepFollower;
  private tickFn: TickFn = this.tickElection;

  constructor(protected readonly cfg: ResolvedConfig) {
    this.id = cfg.id;
    this.log = new RaftLog(cfg.storage);
    this.tracker = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    this.uncommitted = new UncommittedBytes(cfg.maxUncommittedBytes);
    // A forwarded read unanswered for two election timeouts was lost (or its answer was).
    this.forwardedReads = new ForwardedReads(2 * cfg.electionTick);
    const { hardState } = cfg.storage.initialState();
    this.loadHardState(hardState);
    if (cfg.applied > this.log.lastIndex()) {
      throw new TypeError(`RaftConfig.applied (${cfg.applied}) is beyond the last log index ${this.log.lastIndex()}`);
    }
    if (cfg.applied > this.log.committed) {
      // Only committed entries are ever applied, so the (unsynced, lost) commit index was at least this.
      this.logAt('warn', 'raft.start.commitBehindApplied', { commit: this.log.committed, applied: cfg.applied });
      this.log.commitTo(cfg.applied);
    }
    if (cfg.applied > this.log.applied) this.log.appliedTo(cfg.applied);
    this.logConf = new LogConf(this.id, this.log, () => this.log.unstable.snapshot?.meta.conf ?? cfg.storage.initialState().conf);
    const conf = this.logConf.conf;
    this.tracker.setConf(conf, this.log.lastIndex() + 1);
    this.becomeFollower(this.term, NONE);
    this.logAt('info', 'raft.start', {
      term: this.term,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      voters: conf.voters,
      learners: conf.learners,
    });
  }

  private loadHardState(hs: HardState): void {
    const first = this.log.firstIndex();
    const last = this.log.lastIndex();
    if (hs.commit > last) throw new Error(`Raft: stored commit ${hs.commit} is beyond the last index ${last}`);
    this.term = hs.term;
    this.vote = hs.vote;
    this.log.commitTo(Math.max(hs.commit, first - 1));
  }

  // -------------------------------------------------------------------------------------------
  // Observation
  // -------------------------------------------------------------------------------------------

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  get conf(): ConfState {
    return this.tracker.conf;
  }

  /**
   * May this node campaign? A voter of its latest configuration may. So may a node removed by a
   * configuration entry that is not yet committed: it may still be needed to commit its own
   * removal (thesis §4.2.2), and it does not count its own vote. Once the removal commits it never
   * campaigns again, so a removed server cannot disrupt the cluster; learners never campaign.
   */
  promotable(): boolean {
    if (this.tracker.isVoter(this.id)) return true;
    if (this.logConf.removesSelf && this.logConf.index > this.log.committed) return true;
    // The same reasoning for a learner that another node's newer configuration counts as a voter
    // and that holds the most up-to-date log: nobody else can be elected, so it campaigns.
    return this.learnerNeeded && this.tracker.isLearner(this.id);
  }

  protected logAt(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    this.cfg.logger.log(level, event, { id: this.id, term: this.term, ...fields });
  }

  // -------------------------------------------------------------------------------------------
  // Inputs
  // -------------------------------------------------------------------------------------------

  tick(): void {
    for (const requestId of this.forwardedReads.tick()) this.rejectedReads.push({ requestId, reason: 'leadershipLost' });
    this.tickFn();
  }

  /**
   * The prelude: drop what is not for us or malformed, handle the message's term once
   * (§5.1: a higher term makes us a follower; a lower term is stale), answer votes, then
   * dispatch to the role's step function.
   */
  step(m: Message): void {
    const problem = messageProblem(m);
    if (problem !== undefined) {
      this.logAt('debug', 'raft.drop', { reason: `malformed: ${problem}` });
      return;
    }
    if (m.to !== this.id || m.from === this.id) {
      this.logAt('debug', 'raft.drop', { reason: 'misaddressed', from: m.from, to: m.to, type: m.type });
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease (thesis §4.2.3, §9.6): a node that heard from a leader within the minimum
        // election timeout does not help depose it, unless the leader itself asked (transfer).
        const leaseApplies = this.cfg.checkQuorum || m.type === 'preVote';
        const inLease = leaseApplies && this.leader !== NONE && this.electionElapsed < this.cfg.electionTick;
        if (inLease && !m.transfer) {
          this.logAt('debug', 'raft.vote.ignoredInLease', { from: m.from, type: m.type, msgTerm: m.term, leader: this.leader });
          return;
        }
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // PreVote never changes terms: a granted pre-vote carries the proposed term.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        // Figure 2: a follower's election timer restarts only when it hears from a leader or
        // grants a vote. A candidate that cannot win (stale log) must not hold back, term after
        // term, the timer of the one node that can.
        this.becomeFollower(m.term, NONE, this.role === 'follower' && m.type === 'vote');
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    this.stepFn(m);
  }

  /** A message from an older term. */
  private stepStale(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
      // A leader cut off by a partition may never hear our higher term otherwise (with PreVote
      // or CheckQuorum we do not disrupt it by campaigning): tell it so that it steps down.
      this.send({ type: 'appResp', from: this.id, to: m.from, term: this.term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
    } else if (m.type === 'preVote' || m.type === 'vote') {
      // Figure 2: reply with our term, so that a candidate that cannot otherwise hear of it (we
      // may not be in its configuration's traffic) catches up instead of campaigning in the past.
      const type = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
      this.send({ type, from: this.id, to: m.from, term: this.term, reject: true });
    } else {
      this.logAt('debug', 'raft.drop', { reason: 'staleTerm', from: m.from, type: m.type, msgTerm: m.term });
    }
  }

  /** RequestVote and PreVote (§5.2, §5.4.1, thesis §9.6). */
  private handleVoteRequest(m: VoteMessage): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.leader === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.logIsUpToDate(m.lastIndex, m.lastTerm)) {
      // A pre-vote grant answers in the proposed term so that the pre-candidate counts it.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.logAt('debug', 'raft.vote.granted', { to: m.from, type: m.type, msgTerm: m.term });
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
      this.logAt('debug', 'raft.vote.rejected', { to: m.from, type: m.type, msgTerm: m.term, vote: this.vote });
      const heardFromLeader = this.leader !== NONE && this.electionElapsed < this.cfg.electionTick;
      if (canVote && !heardFromLeader && this.tracker.isLearner(this.id) && !this.learnerNeeded) {
        this.learnerNeeded = true;
        this.logAt('info', 'raft.learner.needed', { candidate: m.from });
      }
    }
  }

  /** §5.4.1: grant a vote only to a candidate whose log is at least as up to date as ours. */
  protected logIsUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.log.isUpToDate(lastIndex, lastTerm);
  }

  /** Start an election (PreVote first unless disabled or `transfer`). */
  campaign(transfer = false): void {
    if (this.role === 'leader') {
      this.logAt('debug', 'raft.campaign.ignored', { reason: 'alreadyLeader' });
      return;
    }
    if (!this.promotable()) {
      this.logAt('debug', 'raft.campaign.ignored', { reason: 'notVoter' });
      return;
    }
    if (this.cfg.preVote && !transfer) this.runElection('preVote', false);
    else this.runElection('vote', transfer);
  }

  private runElection(kind: 'vote' | 'preVote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.term + 1;
      // A pre-vote changes no durable state, so the pre-candidate counts its own at once (a
      // single voter goes straight on to the real election).
      if (this.tracker.recordVote(this.id, true) === 'won') {
        this.runElection('vote', transfer);
        return;
      }
    } else {
      // The candidate's own vote counts once its term and vote are durable (`ownWriteDurable`).
      this.becomeCandidate();
      term = this.term;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    this.logAt('info', 'raft.campaign', { kind, campaignTerm: term, lastIndex, lastTerm, transfer });
    for (const to of this.tracker.conf.voters) {
      if (to === this.id) continue;
      this.send({ type: kind, from: this.id, to, term, lastIndex, lastTerm, transfer });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Roles
  // -------------------------------------------------------------------------------------------

  /** `keepTimer`: keep the election timer running (a follower moving to a higher term). */
  private becomeFollower(term: number, leader: NodeId, keepTimer = false): void {
    this.reset(term, keepTimer);
    this.leader = leader;
    if (leader !== NONE) this.learnerNeeded = false;
    this.role = 'follower';
    this.stepFn = this.stepFollower;
    this.tickFn = this.tickElection;
    this.logAt('debug', 'raft.becomeFollower', { leader });
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('Raft: leader cannot become pre-candidate');
    // The term does not change (thesis §9.6), so neither does the vote.
    this.tracker.resetVotes();
    this.leader = NONE;
    this.role = 'preCandidate';
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.failForwardedReads('leadershipLost');
    this.stepFn = this.stepCandidate;
    this.tickFn = this.tickElection;
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('Raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.stepFn = this.stepCandidate;
    this.tickFn = this.tickElection;
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new Error('Raft: follower cannot become leader');
    this.reset(this.term);
    this.leader = this.id;
    this.role = 'leader';
    this.stepFn = this.stepLeader;
    this.tickFn = this.tickHeartbeat;
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) {
      // The whole log is durable here: a candidate's log does not change, and it wins only once
      // its own vote, persisted after everything before it, was counted (see `tallyVotes`).
      self.maybeUpdate(this.log.lastIndex());
      self.becomeReplicate();
    }
    this.logAt('info', 'raft.becomeLeader', { lastIndex: this.log.lastIndex() });
    // §5.4.2 / §8: a no-op entry of the new term lets earlier entries commit and tells the
    // leader what is committed (needed before serving reads).
    this.appendEntries([{ type: 'normal', index: 0, term: 0, data: EMPTY }]);
  }

  private reset(term: number, keepTimer = false): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leader = NONE;
    if (!keepTimer) {
      this.electionElapsed = 0;
      this.resetRandomizedElectionTimeout();
    }
    this.heartbeatElapsed = 0;
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex() + 1);
    this.failLeaderReads();
    this.failForwardedReads('leadershipLost');
    this.appendDirty.clear();
    this.entriesDirty = false;
    this.commitDirty = false;
    // A new leader starts counting afresh; its predecessors' entries never count (etcd resets too).
    this.uncommitted.clear();
  }

  private resetRandomizedElectionTimeout(): void {
    const e = this.cfg.electionTick;
    this.randomizedElectionTimeout = e + this.cfg.rng.nextInt(e);
  }

  // -------------------------------------------------------------------------------------------
  // Ticks
  // -------------------------------------------------------------------------------------------

  /** Followers and candidates: campaign after a randomized election timeout (§5.2). */
  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(false);
    }
  }

  /** Leader: heartbeats every `heartbeatTick`; CheckQuorum and transfer timeout every election timeout. */
  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.checkQuorumActive()) {
        this.logAt('info', 'raft.checkQuorum.stepDown', {});
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) {
        this.logAt('info', 'raft.transfer.aborted', { to: this.leadTransferee, reason: 'timeout' });
        this.leadTransferee = NONE;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      // Carry the latest pending read so that a lost read round is retried by the next heartbeat.
      this.bcastHeartbeat(this.readOnly.latest());
    }
  }

  /** True if a quorum of voters was heard from since the last check; resets the marks. */
  private checkQuorumActive(): boolean {
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) self.recentActive = true;
    const active = this.tracker.quorumActive();
    for (const [id, pr] of this.tracker.progress) {
      if (id !== this.id) pr.recentActive = false;
    }
    return active;
  }

  // -------------------------------------------------------------------------------------------
  // Step functions
  // -------------------------------------------------------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // Thesis §3.10: the leader asks us to campaign now, skipping PreVote and the lease. Only
        // our leader may: it sends this after we acknowledged its whole log, so we know it; from
        // anyone else it would let a peer depose a healthy leader despite the lease.
        if (m.from !== this.leader) {
          this.logAt('warn', 'raft.drop', { reason: 'timeoutNowNotFromLeader', from: m.from, leader: this.leader });
          return;
        }
        this.logAt('info', 'raft.timeoutNow', { from: m.from });
        this.campaign(true);
        return;
      case 'readIndex':
        this.send(this.readIndexReply(m.from, m.requestId, 0, true));
        return;
      case 'readIndexResp':
        this.handleReadIndexResponse(m);
        return;
      default:
        this.logAt('debug', 'raft.drop', { reason: 'unexpected', role: this.role, from: m.from, type: m.type });
    }
  }

  private heardFromLeader(leader: NodeId): void {
    this.electionElapsed = 0;
    this.leader = leader;
    this.learnerNeeded = false;
  }

  /** Pre-candidates and candidates. */
  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'voteResp':
      case 'preVoteResp': {
        const mine = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
        if (m.type !== mine) return;
        this.tallyVotes(m.from, !m.reject);
        return;
      }
      case 'readIndex':
        this.send(this.readIndexReply(m.from, m.requestId, 0, true));
        return;
      default:
        this.logAt('debug', 'raft.drop', { reason: 'unexpected', role: this.role, from: m.from, type: m.type });
    }
  }

  /**
   * Count `from`'s (pre-)vote and act on the outcome. A candidate wins only once its own vote is
   * counted, i.e. its term and vote are durable: a leader whose term could be lost in a crash
   * might, after the restart, be elected again in the same term and append different entries
   * under (index, term) pairs its followers already hold.
   */
  private tallyVotes(from: NodeId, granted: boolean): void {
    const result = this.tracker.recordVote(from, granted);
    if (result === 'won') {
      if (this.role === 'preCandidate') this.runElection('vote', false);
      else if (this.tracker.hasVoted(this.id)) this.becomeLeader();
      else this.logAt('debug', 'raft.campaign.wonAwaitingOwnVote', {});
    } else if (result === 'lost') {
      this.logAt('info', 'raft.campaign.lost', { role: this.role, ...this.tracker.voteCounts() });
      this.becomeFollower(this.term, NONE);
    }
  }

  /**
   * The application made a Ready durable (`RawNode.advance`): `lastEntry` is the last entry it
   * wrote, `hardState` the hard state, if the Ready carried them. Thesis §10.2.1: the leader sent
   * its entries while writing them, and counts its own copy only now; likewise a candidate counts
   * its own vote only once term and vote are on disk.
   */
  ownWriteDurable(lastEntry: Entry | undefined, hardState: HardState | undefined): void {
    if (this.role === 'leader' && lastEntry !== undefined && lastEntry.term === this.term) {
      this.ownEntriesDurable(lastEntry.index);
    } else if (this.role === 'candidate' && hardState !== undefined && hardState.term === this.term && hardState.vote === this.id) {
      this.tallyVotes(this.id, true);
    }
  }

  /** The leader's entries up to `index` (of its term) are durable on its own disk: count them. */
  protected ownEntriesDurable(index: number): void {
    const self = this.tracker.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(index)) return;
    this.maybeCommit();
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        return;
      case 'readIndex':
        this.leaderReadIndex(m.requestId, m.from);
        return;
      case 'app':
      case 'heartbeat':
      case 'snap':
        // Two leaders in one term: impossible unless a peer broke the protocol.
        this.logAt('error', 'raft.twoLeaders', { from: m.from, type: m.type });
        return;
      default:
        this.logAt('debug', 'raft.drop', { reason: 'unexpected', role: this.role, from: m.from, type: m.type });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Follower side of replication
  // -------------------------------------------------------------------------------------------

  /** AppendEntries (§5.3) with the conflict hint for fast back-off. */
  private handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.log.committed) {
      this.sendAppendResponse(m.from, this.log.committed, false, 0, 0);
      return;
    }
    const result = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (typeof result === 'number') {
      this.syncConf(m.entries);
      this.sendAppendResponse(m.from, result, false, 0, 0);
      return;
    }
    if (result === 'committedConflict') {
      this.logAt('error', 'raft.append.conflictsWithCommitted', { from: m.from, prevIndex: m.prevIndex, commit: this.log.committed });
      return;
    }
    // Reject, hinting the last index whose term is <= prevTerm so the leader can skip a whole
    // term of mismatching entries at once.
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.logAt('debug', 'raft.append.rejected', { from: m.from, prevIndex: m.prevIndex, prevTerm: m.prevTerm, hint });
    this.sendAppendResponse(m.from, m.prevIndex, true, hint.index, hint.term);
  }

  private sendAppendResponse(to: NodeId, index: number, reject: boolean, hintIndex: number, hintTerm: number): void {
    this.send({ type: 'appResp', from: this.id, to, term: this.term, index, reject, hintIndex, hintTerm });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(match, commit): entries we acknowledged, so in our log. A commit
    // beyond our log means the sender's view of us is wrong; clamping it to our last index could
    // commit a tail the leader never matched (an old leader's entries), so ignore it.
    if (m.commit > this.log.lastIndex()) {
      this.logAt('error', 'raft.heartbeat.commitBeyondLog', { from: m.from, commit: m.commit, lastIndex: this.log.lastIndex() });
    } else {
      this.log.commitTo(m.commit);
    }
    const resp: HeartbeatResponseMessage =
      m.context === undefined
        ? { type: 'heartbeatResp', from: this.id, to: m.from, term: this.term }
        : { type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, context: m.context };
    this.send(resp);
  }

  /** InstallSnapshot (§7). */
  private handleSnapshot(m: SnapshotMessage): void {
    const meta = m.snapshot.meta;
    const action = this.snapshotAction(meta);
    this.logAt('info', 'raft.snapshot.received', { from: m.from, index: meta.index, snapTerm: meta.term, action });
    switch (action) {
      case 'ignore':
        this.sendAppendResponse(m.from, this.log.committed, false, 0, 0);
        return;
      case 'fastForward':
        this.log.commitTo(meta.index);
        // Acknowledge only what the snapshot vouches for: entries after it may be an old
        // leader's and differ from the sender's log (the leader probes on from here).
        this.sendAppendResponse(m.from, this.log.committed, false, 0, 0);
        return;
      case 'restore':
        this.log.restore(m.snapshot);
        this.logConf.resetToBase();
        this.applyConf(meta.conf);
        this.sendAppendResponse(m.from, this.log.lastIndex(), false, 0, 0);
        return;
    }
  }

  /**
   * Never install a snapshot at or below the commit index (it would roll back committed state);
   * if the log already has the snapshot's last entry, just move the commit index forward.
   */
  protected snapshotAction(meta: SnapshotMeta): SnapshotAction {
    if (meta.index <= this.log.committed) return 'ignore';
    if (this.log.matchTerm(meta.index, meta.term)) return 'fastForward';
    return 'restore';
  }

  // -------------------------------------------------------------------------------------------
  // Leader side of replication
  // -------------------------------------------------------------------------------------------

  /**
   * Append entries to the leader's log (assigning index and term). The leader's own copy counts
   * towards commitment only once it is durable (`ownWriteDurable`), not now.
   */
  private appendEntries(ents: readonly Entry[]): { index: number; term: number } {
    let index = this.log.lastIndex();
    const stamped = ents.map((e): Entry => ({ ...e, index: ++index, term: this.term }));
    this.log.append(stamped);
    this.syncConf(stamped);
    this.entriesDirty = true;
    return { index, term: this.term };
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal !== undefined) return refusal;
    const entry: Entry = { type: 'normal', index: 0, term: 0, data };
    const size = entrySize(entry);
    if (!this.uncommitted.admits(size)) {
      // Back-pressure (etcd MaxUncommittedEntriesSize): followers lag or the commit is stuck.
      this.logAt('debug', 'raft.propose.refused', { reason: 'uncommittedLimit', uncommittedBytes: this.uncommitted.total, size });
      return { ok: false, reason: 'uncommittedLimit', leader: this.id };
    }
    const at = this.appendEntries([entry]);
    this.uncommitted.add(at.index, size);
    return { ok: true, ...at };
  }

  private proposalRefusal(): ProposeResult | undefined {
    if (this.role !== 'leader') return { ok: false, reason: 'notLeader', leader: this.leader };
    // A leader outside its voters (removed, or a learner restoring liveness) is about to step down.
    if (!this.tracker.isVoter(this.id)) return { ok: false, reason: 'notLeader', leader: NONE };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'transferring', leader: this.id };
    return undefined;
  }

  /** Single-server membership change (thesis §4.1): one at a time, after committing in this term. */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal !== undefined) return refusal;
    const refuse = (reason: 'confChangePending' | 'notCommittedInTerm' | 'invalidConfChange' | 'learnerBehind'): ProposeResult => {
      this.logAt('info', 'raft.confChange.refused', { reason, change: { type: change?.type, nodeId: change?.nodeId } });
      return { ok: false, reason, leader: this.id };
    };
    if (this.confChangePending()) return refuse('confChangePending');
    if (!this.committedInCurrentTerm()) return refuse('notCommittedInTerm');
    const conf = applyConfChange(this.tracker.conf, change);
    if (conf === 'invalidConfChange') return refuse('invalidConfChange');
    if (change.type === 'addVoter' && this.tracker.isLearner(change.nodeId)) {
      const pr = this.tracker.progress.get(change.nodeId);
      if (pr === undefined || pr.match < this.log.committed - this.cfg.promotionLagMax) return refuse('learnerBehind');
    }
    const stored: ConfChange =
      change.context === undefined
        ? { type: change.type, nodeId: change.nodeId }
        : { type: change.type, nodeId: change.nodeId, context: change.context };
    const at = this.appendEntries([{ type: 'confChange', index: 0, term: 0, change: stored, conf }]);
    this.logAt('info', 'raft.confChange.proposed', { index: at.index, change: stored.type, nodeId: stored.nodeId });
    return { ok: true, ...at };
  }

  /** A configuration entry in the log is not yet committed (only one change at a time). */
  protected confChangePending(): boolean {
    return this.logConf.index > this.log.committed;
  }

  committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** Advance the commit index to what a majority of voters hold, if allowed. */
  private maybeCommit(): boolean {
    const index = this.tracker.committed();
    if (index <= this.log.committed || !this.mayCommitAt(index)) return false;
    this.log.commitTo(index);
    this.commitDirty = true;
    this.uncommitted.commitTo(index);
    if (this.queuedReads.length > 0 && this.committedInCurrentTerm()) {
      const queued = this.queuedReads;
      this.queuedReads = [];
      for (const r of queued) this.startReadRound(r.requestId, r.from);
    }
    return true;
  }

  /**
   * §5.4.2: only an entry of the leader's current term is committed by counting replicas;
   * earlier entries commit indirectly with it.
   */
  protected mayCommitAt(index: number): boolean {
    return this.log.term(index) === this.term;
  }

  /**
   * A leader that is not a voter steps down once its configuration and an entry of its term are
   * committed (thesis §4.2.2), after telling followers the commit: a removed leader, or a learner
   * that had to lead to restore liveness (see `promotable`).
   */
  private maybeStepDownRemoved(): void {
    if (this.role !== 'leader' || this.tracker.isVoter(this.id)) return;
    if (this.logConf.index > this.log.committed || !this.committedInCurrentTerm()) return;
    this.logAt('info', 'raft.removed.stepDown', { confIndex: this.logConf.index });
    this.flushAppends();
    this.becomeFollower(this.term, NONE);
  }

  private handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      // The hint search walks the log back to the hinted term: skip it for a stale rejection
      // (and in replicate state, which ignores the hint), so duplicates cost nothing.
      if (pr.isStaleRejection(m.index)) return;
      let nextProbe = m.hintIndex;
      if (m.hintTerm > 0 && pr.state !== 'replicate') nextProbe = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) this.markDirty(m.from, false);
      return;
    }
    if (m.index > this.log.lastIndex()) {
      this.logAt('error', 'raft.appResp.beyondLog', { from: m.from, index: m.index, lastIndex: this.log.lastIndex() });
      return;
    }
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    // A commit that moves goes to every follower whose commit it can bump (`flushAppends`).
    // Otherwise this follower may be the last to acknowledge an index already committed: send
    // it the commit now rather than with the next heartbeat (etcd's `CanBumpCommit`).
    this.markDirty(m.from, !this.maybeCommit() && pr.canBumpCommit(this.log.committed));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    this.maybeStepDownRemoved();
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // Even with full inflights this sends an (empty) append, which recovers a pipeline whose
    // messages were all lost; it also moves a caught-up prober back to replicate.
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.markDirty(m.from, true);
    if (m.context === undefined) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || this.tracker.ackResult(acks) !== 'won') return;
    for (const req of this.readOnly.advance(m.context)) this.releaseRead(req.requestId, req.index, req.from);
  }

  private markDirty(id: NodeId, sendIfEmpty: boolean): void {
    this.appendDirty.set(id, (this.appendDirty.get(id) ?? false) || sendIfEmpty);
  }

  /**
   * Build the append messages owed to followers. Called when a Ready is produced, so that many
   * proposals in one turn leave as one append per follower (pipelined up to the inflight limits).
   */
  flushAppends(): void {
    if (this.role !== 'leader') {
      this.appendDirty.clear();
      this.entriesDirty = false;
      this.commitDirty = false;
      this.pendingReadContext = undefined;
      return;
    }
    const all = this.entriesDirty || this.commitDirty;
    const targets = all ? [...this.tracker.progress.keys()] : [...this.appendDirty.keys()];
    for (const id of targets) {
      if (id === this.id) continue;
      const pr = this.tracker.progress.get(id);
      if (pr === undefined) continue;
      const sendIfEmpty = (this.appendDirty.get(id) ?? false) || (this.commitDirty && pr.canBumpCommit(this.log.committed));
      this.maybeSendAppend(id, sendIfEmpty);
      while (this.maybeSendAppend(id, false)) {
        // Pipeline in replicate state until caught up or the inflight budget is spent.
      }
    }
    this.appendDirty.clear();
    this.entriesDirty = false;
    this.commitDirty = false;
    if (this.pendingReadContext !== undefined) {
      const ctx = this.pendingReadContext;
      this.pendingReadContext = undefined;
      this.bcastHeartbeat(ctx);
    }
  }

  /**
   * Send one append (or a snapshot if the entries are compacted) to `to`. With `sendIfEmpty`
   * false, only a message carrying entries is sent. Returns whether a message was queued.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to);
    let entries: Entry[] = [];
    // A replicate follower with full inflights only gets empty appends (see heartbeat response).
    if (pr.state !== 'replicate' || !pr.inflights.full()) {
      try {
        entries = this.log.entries(pr.next, this.cfg.maxSizePerMsg);
      } catch (err) {
        if (err instanceof StorageError && err.code === 'COMPACTED') return this.maybeSendSnapshot(to);
        throw err;
      }
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of entries) bytes += entrySize(e);
    const commit = this.log.committed;
    this.send({ type: 'app', from: this.id, to, term: this.term, prevIndex, prevTerm, entries, commit });
    pr.sentEntries(entries.length, bytes, prevIndex + entries.length);
    pr.commitSent(commit);
    return true;
  }

  private maybeSendSnapshot(to: NodeId): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined) return false;
    if (!pr.recentActive) {
      this.logAt('debug', 'raft.snapshot.skipInactive', { to });
      return false;
    }
    let snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (err) {
      if (err instanceof StorageError && err.code === 'SNAPSHOT_TEMPORARILY_UNAVAILABLE') {
        this.logAt('debug', 'raft.snapshot.unavailable', { to });
        return false;
      }
      throw err;
    }
    if (snapshot.meta.index === 0) throw new Error('Raft: entries are compacted but the snapshot is empty');
    pr.becomeSnapshot(snapshot.meta.index);
    this.logAt('info', 'raft.snapshot.send', { to, index: snapshot.meta.index });
    this.send({ type: 'snap', from: this.id, to, term: this.term, snapshot });
    return true;
  }

  private bcastHeartbeat(context: string | undefined): void {
    for (const [to, pr] of this.tracker.progress) {
      if (to === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      const hb: HeartbeatMessage =
        context === undefined
          ? { type: 'heartbeat', from: this.id, to, term: this.term, commit }
          : { type: 'heartbeat', from: this.id, to, term: this.term, commit, context };
      this.send(hb);
      pr.commitSent(commit);
    }
  }

  /** The transport could not reach `id`: stop pipelining to it. */
  reportUnreachable(id: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.tracker.progress.get(id);
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  /** A snapshot transfer to `id` ended; probe again (after the next heartbeat answer). */
  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void {
    if (this.role !== 'leader') return;
    const pr = this.tracker.progress.get(id);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (status === 'failure') pr.snapshotFailed();
    else pr.becomeProbe();
    // Wait for a heartbeat answer before sending, as the follower may still be installing it.
    pr.msgAppFlowPaused = true;
    this.logAt('info', 'raft.snapshot.reported', { to: id, status, next: pr.next });
  }

  // -------------------------------------------------------------------------------------------
  // Membership
  // -------------------------------------------------------------------------------------------

  /** Thesis §4.1: a configuration takes effect when appended (or undone when truncated). */
  private syncConf(ents: readonly Entry[]): void {
    const conf = this.logConf.afterAppend(ents);
    if (conf !== undefined) this.applyConf(conf);
  }

  private applyConf(conf: ConfState): void {
    const before = new Set(this.tracker.progress.keys());
    this.tracker.setConf(conf, this.log.lastIndex() + 1);
    this.logAt('info', 'raft.conf', { voters: conf.voters, learners: conf.learners });
    if (this.role !== 'leader') return;
    for (const id of this.tracker.progress.keys()) {
      if (!before.has(id)) this.markDirty(id, true);
    }
    if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee)) {
      this.logAt('info', 'raft.transfer.aborted', { to: this.leadTransferee, reason: 'removed' });
      this.leadTransferee = NONE;
    }
    // A smaller quorum may commit more.
    this.maybeCommit();
  }

  // -------------------------------------------------------------------------------------------
  // ReadIndex (thesis §6.4)
  // -------------------------------------------------------------------------------------------

  readIndex(requestId: string): void {
    if (this.role === 'leader') {
      this.leaderReadIndex(requestId, this.id);
      return;
    }
    if (this.leader === NONE) {
      this.rejectedReads.push({ requestId, reason: 'noLeader' });
      return;
    }
    this.forwardedReads.add(requestId, this.leader);
    this.send({ type: 'readIndex', from: this.id, to: this.leader, term: this.term, requestId });
  }

  private leaderReadIndex(requestId: string, from: NodeId): void {
    if (!this.committedInCurrentTerm()) {
      // A new leader does not know the commit index until its no-op commits: queue until then.
      this.queuedReads.push({ requestId, from });
      return;
    }
    this.startReadRound(requestId, from);
  }

  /**
   * Record the commit index as the read index and confirm leadership with a heartbeat round
   * carrying `requestId`; the read is released once a quorum of voters acknowledged.
   */
  protected startReadRound(requestId: string, from: NodeId): void {
    const context = this.readOnly.add(requestId, this.log.committed, from);
    if (context === undefined) return;
    const acks = this.readOnly.recvAck(this.id, context)!;
    if (this.tracker.ackResult(acks) === 'won') {
      for (const req of this.readOnly.advance(context)) this.releaseRead(req.requestId, req.index, req.from);
      return;
    }
    // One heartbeat round (at the next flush) confirms every read queued before it.
    this.pendingReadContext = context;
  }

  protected releaseRead(requestId: string, index: number, from: NodeId): void {
    if (from === this.id) this.readStates.push({ requestId, index });
    else this.send(this.readIndexReply(from, requestId, index, false));
  }

  private readIndexReply(to: NodeId, requestId: string, index: number, reject: boolean): ReadIndexResponseMessage {
    return { type: 'readIndexResp', from: this.id, to, term: this.term, requestId, index, reject };
  }

  private handleReadIndexResponse(m: ReadIndexResponseMessage): void {
    if (!this.forwardedReads.take(m.requestId, m.from)) return;
    if (m.reject) this.rejectedReads.push({ requestId: m.requestId, reason: 'notLeader' });
    else this.readStates.push({ requestId: m.requestId, index: m.index });
  }

  /** Leadership lost: fail every read this node was confirming as leader. */
  private failLeaderReads(): void {
    const pending = [...this.queuedReads, ...this.readOnly.drain()];
    this.queuedReads = [];
    this.pendingReadContext = undefined;
    for (const r of pending) {
      if (r.from === this.id) this.rejectedReads.push({ requestId: r.requestId, reason: 'leadershipLost' });
      else this.send(this.readIndexReply(r.from, r.requestId, 0, true));
    }
  }

  private failForwardedReads(reason: ReadRejection): void {
    for (const requestId of this.forwardedReads.drain()) this.rejectedReads.push({ requestId, reason });
  }

  // -------------------------------------------------------------------------------------------
  // Leadership transfer (thesis §3.10)
  // -------------------------------------------------------------------------------------------

  transferLeadership(to: NodeId): TransferResult {
    if (this.role !== 'leader') return { ok: false, reason: 'notLeader', leader: this.leader };
    if (to === this.id) return { ok: false, reason: 'alreadyLeader', leader: this.id };
    const pr = this.tracker.progress.get(to);
    if (pr === undefined) return { ok: false, reason: 'unknownNode', leader: this.id };
    if (pr.isLearner) return { ok: false, reason: 'isLearner', leader: this.id };
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === to) return { ok: true };
      return { ok: false, reason: 'transferring', leader: this.id };
    }
    // The transfer must finish within one election timeout or it is aborted.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    this.logAt('info', 'raft.transfer.start', { to, match: pr.match, lastIndex: this.log.lastIndex() });
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.markDirty(to, true);
    return { ok: true };
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
  }

  // -------------------------------------------------------------------------------------------

  /** Queue `m` to leave with the next Ready: at once, or once that Ready is durable. */
  private send(m: Message): void {
    if (m.to === this.id) throw new Error(`invariant: ${m.type} addressed to the sender ${this.id}`);
    if (this.waitsForPersist(m)) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  /**
   * Does `m` vouch for local durability? Append responses acknowledge entries (§5.3: a follower
   * persists them before answering, or a crash could lose a committed entry) and vote responses
   * promise the vote (§5.2: or a restarted node could vote twice in a term). Rejections too: they
   * may rest on state not yet durable (etcd errs the same way). Everything else may leave before
   * the write: a pre-vote binds nobody, and what the rest depends on is either durable already or
   * counted only once it is (the leader's own entries, a candidate's own vote).
   */
  protected waitsForPersist(m: Message): boolean {
    return m.type === 'appResp' || m.type === 'voteResp';
  }
}
