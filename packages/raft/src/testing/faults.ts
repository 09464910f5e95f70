import type { SeededRng } from '../rng.js';
import type { NodeId } from '../types.js';
import type { SimContext, SimNodeView } from './context.js';
import { CLOGGED_LINK } from './network.js';
import { describeFault, type FaultAction, type Scenario, type ScheduledFault } from './scenario.js';

/** Ticks a follower may be kept away waiting for the leader to compact past it. */
const LAG_FOR_SNAPSHOT_TICKS_MAX = 400;
/** How long a random clog lasts. */
const CLOG_TICKS_MIN = 10;
const CLOG_TICKS_MAX = 60;

/**
 * The nemesis (Jepsen's name for the fault injector): injects the scenario's faults, or an
 * explicit schedule instead, tick by tick. Random partitions (split, isolate the leader, one-way
 * cuts) last a random time and heal; clogged links stay slow for a while; crashed nodes restart
 * after a random downtime; the "lag for snapshot" partition keeps one follower away until the
 * leader's log is compacted past the follower's last index, then heals so the follower must be
 * sent a snapshot.
 */
export class Nemesis {
  private partitionUntil = -1;
  private lagging: { node: NodeId; until: number } | undefined;
  private readonly restartAt = new Map<NodeId, number>();
  /** Clogged links (`from`, `to`) and the tick their clog ends. */
  private readonly clogs: { from: NodeId; to: NodeId; until: number }[] = [];
  private scheduleNext = 0;
  private readonly schedule: readonly ScheduledFault[] | undefined;

  constructor(
    private readonly rng: SeededRng,
    private readonly scenario: Scenario,
    private readonly ctx: SimContext<SimNodeView>,
    schedule: readonly ScheduledFault[] | undefined,
  ) {
    this.schedule = schedule === undefined ? undefined : [...schedule].sort((a, b) => a.tick - b.tick);
  }

  /** Called once per tick of the fault phase. */
  onTick(tick: number): void {
    if (this.schedule !== undefined) {
      while (this.scheduleNext < this.schedule.length && this.schedule[this.scheduleNext]!.tick <= tick) {
        this.apply(this.schedule[this.scheduleNext++]!.action);
      }
      return;
    }
    for (const [id, at] of this.restartAt) {
      if (tick >= at) {
        this.restartAt.delete(id);
        this.ctx.restart(id);
      }
    }
    this.partitionTick(tick);
    this.clogTick(tick);
    if (this.scenario.crashRate > 0 && this.rng.chance(this.scenario.crashRate)) this.randomCrash(tick);
  }

  /** Apply one fault now. */
  apply(action: FaultAction): void {
    const ctx = this.ctx;
    ctx.note(`nemesis: ${describeFault(action)}`);
    switch (action.type) {
      case 'crash':
        ctx.crash(action.node);
        return;
      case 'crashLeader': {
        const leader = ctx.leader();
        if (leader !== undefined) ctx.crash(leader.id);
        return;
      }
      case 'restart':
        ctx.restart(action.node);
        return;
      case 'isolate':
        ctx.counters.partitions++;
        ctx.network.isolate(action.node, ctx.ids);
        return;
      case 'isolateLeader': {
        const leader = ctx.leader();
        if (leader === undefined) return;
        ctx.counters.partitions++;
        ctx.network.isolate(leader.id, ctx.ids);
        return;
      }
      case 'split': {
        ctx.counters.partitions++;
        const rest = ctx.ids.filter((id) => !action.minority.includes(id));
        ctx.network.partition([action.minority, rest]);
        return;
      }
      case 'oneWay':
        ctx.counters.partitions++;
        ctx.network.blockOneWay(action.from, action.to);
        return;
      case 'clog':
        ctx.network.setLink(action.from, action.to, CLOGGED_LINK);
        return;
      case 'heal':
        ctx.network.heal();
        ctx.network.unclogAll();
        this.lagging = undefined;
        return;
    }
  }

  private partitionTick(tick: number): void {
    const s = this.scenario;
    if (this.lagging !== undefined) {
      const lagging = this.ctx.node(this.lagging.node);
      const leader = this.ctx.leader();
      const compactedPast =
        leader !== undefined && leader.durableSnapshotIndex() > lagging.durableLastIndex();
      if (compactedPast || tick >= this.lagging.until) {
        this.apply({ type: 'heal' });
        this.partitionUntil = tick;
      }
      return;
    }
    if (tick < this.partitionUntil) return;
    if (this.partitionUntil >= 0) {
      this.apply({ type: 'heal' });
      this.partitionUntil = -1;
      return;
    }
    if (s.partitionRate <= 0 || !this.rng.chance(s.partitionRate)) return;
    this.partitionUntil = tick + s.partitionTicksMin + this.rng.nextInt(s.partitionTicksMax - s.partitionTicksMin + 1);
    const members = this.ctx.members();
    const leader = this.ctx.leader();
    const roll = this.rng.nextFloat();
    if (roll < s.lagForSnapshotShare && s.snapshotEvery > 0 && leader !== undefined) {
      const followers = members.filter((id) => id !== leader.id);
      if (followers.length > 0) {
        const node = this.rng.pick(followers);
        this.lagging = { node, until: tick + LAG_FOR_SNAPSHOT_TICKS_MAX };
        this.ctx.note(`nemesis: keep ${node} away until it needs a snapshot`);
        this.apply({ type: 'isolate', node });
        return;
      }
    }
    if (roll < s.lagForSnapshotShare + s.isolateLeaderShare && leader !== undefined) {
      this.apply({ type: 'isolateLeader' });
      return;
    }
    if (roll < s.lagForSnapshotShare + s.isolateLeaderShare + s.asymmetricShare) {
      const node = leader !== undefined && this.rng.chance(0.5) ? leader.id : this.rng.pick(members);
      const outgoing = this.rng.chance(0.5);
      this.ctx.note(`nemesis: cut ${outgoing ? 'outgoing' : 'incoming'} links of ${node}`);
      this.ctx.counters.partitions++;
      for (const other of this.ctx.ids) {
        if (outgoing) this.ctx.network.blockOneWay(node, other);
        else this.ctx.network.blockOneWay(other, node);
      }
      return;
    }
    const shuffled = this.rng.shuffle(members);
    const size = 1 + this.rng.nextInt(Math.max(1, Math.floor(members.length / 2)));
    this.apply({ type: 'split', minority: shuffled.slice(0, size) });
  }

  private clogTick(tick: number): void {
    for (let k = this.clogs.length - 1; k >= 0; k--) {
      const clog = this.clogs[k]!;
      if (tick < clog.until) continue;
      this.ctx.network.resetLink(clog.from, clog.to);
      this.clogs.splice(k, 1);
    }
    if (this.scenario.clogRate <= 0 || !this.rng.chance(this.scenario.clogRate)) return;
    const members = this.ctx.members();
    if (members.length < 2) return;
    const from = this.rng.pick(members);
    const to = this.rng.pick(members.filter((id) => id !== from));
    this.apply({ type: 'clog', from, to });
    this.clogs.push({ from, to, until: tick + CLOG_TICKS_MIN + this.rng.nextInt(CLOG_TICKS_MAX - CLOG_TICKS_MIN + 1) });
  }

  private randomCrash(tick: number): void {
    const s = this.scenario;
    const leader = this.ctx.leader();
    let target: NodeId | undefined;
    if (leader !== undefined && this.rng.chance(s.crashLeaderShare)) target = leader.id;
    else {
      const up = this.ctx.members().filter((id) => this.ctx.node(id).up);
      if (up.length > 0) target = this.rng.pick(up);
    }
    if (target === undefined) return;
    this.apply({ type: 'crash', node: target });
    this.restartAt.set(target, tick + s.downTicksMin + this.rng.nextInt(s.downTicksMax - s.downTicksMin + 1));
  }


}
