import { Progress } from './progress.js';
import { majorityCommitIndex, majorityVoteResult, type VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/**
 * The current membership and, per member, the leader's `Progress` (etcd's
 * `tracker.ProgressTracker`). It also collects votes during an election.
 *
 * Invariant: `progress` has exactly one entry per voter and learner of `conf`.
 */
export class ProgressTracker {
  private confNow: ConfState = { voters: [], learners: [] };
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  constructor(
    private readonly maxInflightMsgs: number,
    private readonly maxInflightBytes: number,
  ) {}

  get conf(): ConfState {
    return this.confNow;
  }

  isVoter(id: NodeId): boolean {
    return this.confNow.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.confNow.learners.includes(id);
  }

  /** Switch to `conf`: members that stay keep their progress, new ones start probing at `nextIndex`. */
  setConf(conf: ConfState, nextIndex: number): void {
    this.confNow = { voters: [...conf.voters], learners: [...conf.learners] };
    const members = new Set<NodeId>([...conf.voters, ...conf.learners]);
    for (const id of [...this.progress.keys()]) {
      if (!members.has(id)) this.progress.delete(id);
    }
    for (const id of members) {
      const learner = conf.learners.includes(id);
      const existing = this.progress.get(id);
      if (existing !== undefined) {
        existing.isLearner = learner;
        continue;
      }
      const pr = this.newProgress(nextIndex, learner);
      // A newly added member counts as active so that CheckQuorum does not depose the leader
      // before the member had a chance to answer.
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
  }

  /** Fresh progress for every member (on a role change). */
  resetProgress(nextIndex: number): void {
    for (const [id, pr] of this.progress) {
      this.progress.set(id, this.newProgress(nextIndex, pr.isLearner));
    }
  }

  private newProgress(nextIndex: number, isLearner: boolean): Progress {
    return new Progress(nextIndex, this.maxInflightMsgs, this.maxInflightBytes, isLearner);
  }

  /** Highest index replicated on a majority of voters. */
  committed(): number {
    return majorityCommitIndex(this.confNow.voters, (id) => this.progress.get(id)?.match);
  }

  /** True if a majority of voters was recently active (CheckQuorum). */
  quorumActive(): boolean {
    return majorityVoteResult(this.confNow.voters, (id) => this.progress.get(id)?.recentActive ?? false) === 'won';
  }

  /** Outcome of a set of acknowledgements (ReadIndex heartbeats) among the voters. */
  ackResult(acks: ReadonlySet<NodeId>): VoteResult {
    return majorityVoteResult(this.confNow.voters, (id) => (acks.has(id) ? true : undefined));
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Has `id`'s vote (granted or not) been recorded in this election? */
  hasVoted(id: NodeId): boolean {
    return this.votes.has(id);
  }

  /** Record `id`'s vote (the first one counts) and return the election's outcome so far. */
  recordVote(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return majorityVoteResult(this.confNow.voters, (v) => this.votes.get(v));
  }

  voteCounts(): { granted: number; rejected: number } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.confNow.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected };
  }
}
