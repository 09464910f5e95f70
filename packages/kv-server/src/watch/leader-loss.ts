/**
 * When a node stops serving watches because it is cut off from the cluster: it has known no leader
 * for `limitTicks` ticks in a row. A watch on such a node would stall without a word (its applied
 * index no longer moves while the majority commits), so the hub ends its watches with UNAVAILABLE
 * and refuses new ones until a leader is known again; the client resumes them on another node.
 *
 * "No leader" is the Raft core's own verdict (`status().leader === 0`), which PreVote and
 * CheckQuorum reach without new timing: a follower that hears nothing from its leader becomes a
 * pre-candidate (no leader) after its randomized election timeout, [E, 2E) ticks; a leader that
 * hears from no quorum steps down (no leader) at its next CheckQuorum check, within 2E ticks. With
 * `limitTicks` = E the watches of a node cut off end within 3E ticks of the last message from the
 * cluster (3 s at the default 50 ms ticks and E = 20). An election of a healthy cluster (under E
 * ticks without a leader, mostly) ends no watch. Like etcd's `monitorLeader` (which samples every
 * election timeout and cancels after three), but counted in the node's ticks.
 */
import { NONE, type NodeId } from '@keel/raft';

export class LeaderLoss {
  private leaderlessTicks = 0;

  constructor(readonly limitTicks: number) {}

  /** One tick, at which the node's leader is `leader` (`NONE`: none). Returns `cutOff`. */
  tick(leader: NodeId): boolean {
    this.leaderlessTicks = leader === NONE ? this.leaderlessTicks + 1 : 0;
    return this.cutOff;
  }

  /** The node has known no leader for `limitTicks` ticks or more. */
  get cutOff(): boolean {
    return this.leaderlessTicks >= this.limitTicks;
  }
}
