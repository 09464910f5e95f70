import type { SeededRng } from '../rng.js';
import type { ConfChange, Entry, NodeId } from '../types.js';
import type { SimContext } from './context.js';
import type { SimNode } from './node-driver.js';
import type { Scenario } from './scenario.js';
import { encodeAscii, entryKey } from './state-machine.js';

/**
 * The clients: unique writes proposed to whichever node leads, ReadIndex reads on random nodes
 * (each remembering the highest commit index reached anywhere when it began, for the
 * linearizability check), leadership transfers, and membership changes that follow the
 * scenario's plan (grow, shrink, replace a member, or random), one step at a time.
 */
export class Workload {
  private writeSeq = 0;
  private readSeq = 0;
  /** requestId -> the highest commit index any node had announced when the read was requested. */
  private readonly reads = new Map<string, number>();
  private transfer: { to: NodeId; untilTick: number } | undefined;
  private readonly everMember = new Set<NodeId>();
  /** Accepted writes not yet settled, by log index: their entry keys. */
  private readonly accepted = new Map<number, string[]>();

  constructor(
    private readonly rng: SeededRng,
    private readonly scenario: Scenario,
    private readonly ctx: SimContext,
    private readonly initialVoters: readonly NodeId[],
  ) {
    for (const id of initialVoters) this.everMember.add(id);
  }

  onTick(tick: number): void {
    const s = this.scenario;
    if (this.rng.chance(s.proposeRate)) {
      const n = 1 + this.rng.nextInt(s.proposeBatchMax);
      for (let k = 0; k < n; k++) this.write();
    }
    if (s.readRate > 0 && this.rng.chance(s.readRate)) this.read();
    if (s.transferRate > 0 && this.rng.chance(s.transferRate)) this.transferLeadership(tick);
    if (s.membership !== 'none' && this.rng.chance(s.confChangeRate)) this.changeMembership();
    if (this.transfer !== undefined && tick > this.transfer.untilTick) this.transfer = undefined;
  }

  /** Propose one unique write to the leader (or, with none known, to a random node). */
  write(): void {
    // Clients sometimes still talk to a deposed leader that has not noticed yet: its log diverges.
    const leaders = this.ctx.ids.map((id) => this.ctx.node(id)).filter((n) => n.up && n.role === 'leader');
    const stale = leaders.length > 1 && this.rng.chance(0.3) ? this.pick(leaders) : undefined;
    const target = stale ?? this.ctx.leader() ?? this.randomUpNode();
    if (target === undefined) return;
    this.ctx.counters.proposals++;
    const data = encodeAscii(`w${++this.writeSeq}`);
    const result = target.propose(data);
    if (result?.ok !== true) {
      this.ctx.counters.proposalsRejected++;
      if (result?.reason === 'uncommittedLimit') this.ctx.counters.proposalsThrottled++;
      return;
    }
    const key = entryKey({ type: 'normal', index: result.index, term: result.term, data });
    const at = this.accepted.get(result.index);
    if (at === undefined) this.accepted.set(result.index, [key]);
    else at.push(key);
  }

  /**
   * The entry at `entry.index` committed (first application anywhere): settle the writes accepted
   * at that index. The one whose entry it is succeeded; the others were superseded (a client would
   * retry them). A proposal's outcome is known only this way: "committed iff the entry applied at
   * its index has its term" (see `ProposeResult`).
   */
  entryCommitted(entry: Entry): void {
    const keys = this.accepted.get(entry.index);
    if (keys === undefined) return;
    this.accepted.delete(entry.index);
    const key = entryKey(entry);
    for (const k of keys) if (k !== key) this.ctx.counters.proposalsSuperseded++;
  }

  /** The floor a ReadIndex answer for `requestId` must reach, or undefined for an unknown id. */
  readFloor(requestId: string): number | undefined {
    return this.reads.get(requestId);
  }

  /** A read finished (served or rejected): forget it. */
  readDone(requestId: string): void {
    this.reads.delete(requestId);
  }

  /** Called when `id` becomes leader: completes a pending transfer to it. */
  leaderElected(id: NodeId, tick: number): void {
    if (this.transfer !== undefined && this.transfer.to === id && tick <= this.transfer.untilTick) {
      this.ctx.counters.transfers++;
      this.ctx.note(`transfer to ${id} completed`);
      this.transfer = undefined;
    }
  }

  private read(): void {
    const node = this.randomUpNode();
    if (node === undefined) return;
    const requestId = `r${++this.readSeq}`;
    this.reads.set(requestId, this.ctx.checker.maxCommitSeen);
    this.ctx.counters.readsRequested++;
    node.readIndex(requestId);
  }

  private transferLeadership(tick: number): void {
    const leader = this.ctx.leader();
    if (leader?.raw === undefined || this.transfer !== undefined) return;
    const voters = leader.raw.status().conf.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const to = this.pick(voters);
    const result = leader.transferLeadership(to);
    this.ctx.note(`transfer ${leader.id} -> ${to}: ${result?.ok === true ? 'started' : (result?.reason ?? 'down')}`);
    if (result?.ok === true) {
      this.ctx.counters.transfersRequested++;
      this.transfer = { to, untilTick: tick + 3 * this.scenario.electionTick };
    }
  }

  private changeMembership(): void {
    const leader = this.ctx.leader();
    if (leader?.raw === undefined) return;
    const status = leader.raw.status();
    const { voters, learners } = status.conf;
    for (const id of [...voters, ...learners]) this.everMember.add(id);
    const spares = this.ctx.ids.filter((id) => !this.everMember.has(id));
    let change: ConfChange | undefined;
    const learner = learners[0];
    if (learner !== undefined) {
      const progress = status.progress?.get(learner);
      if (progress !== undefined && progress.match >= status.commit) change = { type: 'addVoter', nodeId: learner };
      else if (this.scenario.membership === 'random' && this.rng.chance(0.1)) change = { type: 'removeNode', nodeId: learner };
    } else {
      change = this.nextChange(voters, spares);
    }
    if (change === undefined) return;
    this.propose(leader, change);
    const second = this.rng.chance(this.scenario.doubleConfChange);
    if (second && spares.length > 0 && change.nodeId !== spares[spares.length - 1]) {
      this.propose(leader, { type: 'addLearner', nodeId: spares[spares.length - 1]! });
    } else if (second && voters.length > 3) {
      this.propose(leader, { type: 'removeNode', nodeId: this.pick(voters.filter((v) => v !== change.nodeId)) });
    }
  }

  private nextChange(voters: readonly NodeId[], spares: readonly NodeId[]): ConfChange | undefined {
    const initial = this.initialVoters.length;
    switch (this.scenario.membership) {
      case 'grow':
        return voters.length < 5 && spares.length > 0 ? { type: 'addLearner', nodeId: spares[0]! } : undefined;
      case 'shrink':
        return voters.length > 3 ? { type: 'removeNode', nodeId: this.pick(voters) } : undefined;
      case 'replace': {
        const replaced = voters.some((v) => !this.initialVoters.includes(v));
        if (voters.length > initial) {
          const originals = voters.filter((v) => this.initialVoters.includes(v));
          return originals.length > 0 ? { type: 'removeNode', nodeId: this.pick(originals) } : undefined;
        }
        return !replaced && spares.length > 0 ? { type: 'addLearner', nodeId: spares[0]! } : undefined;
      }
      case 'random': {
        const roll = this.rng.nextFloat();
        if (roll < 0.4 && spares.length > 0) return { type: 'addLearner', nodeId: spares[0]! };
        if (roll < 0.5 && spares.length > 0) return { type: 'addVoter', nodeId: spares[0]! };
        if (voters.length > 3) return { type: 'removeNode', nodeId: this.pick(voters) };
        return undefined;
      }
      case 'none':
        return undefined;
    }
  }

  private propose(leader: SimNode, change: ConfChange): void {
    const result = leader.proposeConfChange(change);
    const outcome = result === undefined ? 'down' : result.ok ? `ok at ${result.index}` : result.reason;
    this.ctx.note(`conf change ${change.type}(${change.nodeId}) on ${leader.id}: ${outcome}`);
    if (result?.ok === true) this.ctx.counters.confChangesProposed++;
  }

  private randomUpNode(): SimNode | undefined {
    const up = this.ctx.members().filter((id) => this.ctx.node(id).up);
    return up.length === 0 ? undefined : this.ctx.node(this.pick(up));
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.rng.nextInt(xs.length)]!;
  }
}
