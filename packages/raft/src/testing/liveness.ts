import type { SeededRng } from '../rng.js';
import type { ConfState, NodeId } from '../types.js';
import type { SimContext, SimNodeView } from './context.js';
import { CLEAN_LINK } from './network.js';
import type { SimNode } from './node-driver.js';
import { encodeAscii, entryKey } from './state-machine.js';

/**
 * Proposes the liveness write `payload` to `leader`; returns the index it was appended at and
 * the `entryKey` the entry will have, or undefined when the leader refused.
 */
export type LivenessProbe<N extends SimNodeView> = (leader: N, payload: string) => { readonly index: number; readonly key: string } | undefined;

/** The raft-level probe: the payload itself is the entry's data. */
export const rawProposalProbe: LivenessProbe<SimNode> = (leader, payload) => {
  const data = encodeAscii(payload);
  const result = leader.propose(data);
  if (result?.ok !== true) return undefined;
  return { index: result.index, key: entryKey({ type: 'normal', index: result.index, term: result.term, data }) };
};

/** How long a liveness proposal may stay uncommitted before the phase proposes again. */
const RETRY_TICKS = 50;

/**
 * Phase 2 of a run (TigerBeetle's `transition_to_liveness_mode`): the faults stop, the network
 * is healed among a "core" that holds a majority of every configuration any node holds, the
 * crashed members of the core restart, links inside the core become clean and disks fast (Raft's
 * timing requirement, §5.6), and the rest stays cut off. The core's leader must then commit a
 * proposal within `boundTicks`, or the run fails with a `liveness` violation.
 */
export class LivenessPhase<N extends SimNodeView> {
  private startTick = 0;
  private core: NodeId[] = [];
  private seq = 0;
  private pending: { index: number; key: string; sinceTick: number } | undefined;

  constructor(
    private readonly ctx: SimContext<N>,
    private readonly rng: SeededRng,
    private readonly boundTicks: number,
    private readonly makeDisksFast: () => void,
    private readonly probe: LivenessProbe<N>,
  ) {}

  start(tick: number): void {
    const ctx = this.ctx;
    this.startTick = tick;
    ctx.network.heal();
    const confs: ConfState[] = [];
    for (const id of ctx.ids) {
      const node = ctx.node(id);
      confs.push(node.durableConf());
      const status = node.status();
      if (status !== undefined) confs.push(status.conf);
    }
    const voters = ctx.ids.filter((id) => confs.some((c) => c.voters.includes(id)));
    // Leave out as many voters as every configuration in play can spare while keeping a majority.
    const excluded: NodeId[] = [];
    for (const id of this.rng.shuffle(voters)) {
      const keepsMajority = confs.every((c) => {
        if (c.voters.length === 0) return true;
        const left = c.voters.filter((v) => v !== id && !excluded.includes(v)).length;
        return 2 * left > c.voters.length;
      });
      if (keepsMajority && this.rng.chance(0.7)) excluded.push(id);
    }
    this.core = ctx.ids.filter((id) => !excluded.includes(id));
    for (const id of excluded) ctx.network.isolate(id, ctx.ids);
    for (const a of this.core) for (const b of this.core) ctx.network.setLink(a, b, CLEAN_LINK);
    this.makeDisksFast();
    for (const id of this.core) ctx.restart(id);
    ctx.note(`liveness: healed {${this.core.join(',')}}, left out {${excluded.join(',')}}`);
  }

  /** One tick of the phase. Returns true once a proposal committed (the run is over). */
  onTick(tick: number): boolean {
    const ctx = this.ctx;
    if (this.pending !== undefined) {
      const rec = ctx.checker.committedAt(this.pending.index);
      if (rec !== undefined && rec.key === this.pending.key) {
        ctx.counters.livenessChecks++;
        ctx.note(`liveness: ${this.pending.key} committed at ${this.pending.index}`);
        return true;
      }
      // Overwritten by another leader's entry, or stuck: propose again.
      if (rec !== undefined || tick - this.pending.sinceTick > RETRY_TICKS) this.pending = undefined;
    }
    if (tick - this.startTick > this.boundTicks) {
      ctx.checker.report('liveness', `the healed nodes {${this.core.join(',')}} committed nothing within ${this.boundTicks} ticks`);
      return false;
    }
    if (this.pending !== undefined) return false;
    const leader = ctx.leaderAmong(this.core);
    if (leader === undefined) return false;
    const payload = `L${++this.seq}`;
    const proposed = this.probe(leader, payload);
    if (proposed !== undefined) {
      this.pending = { index: proposed.index, key: proposed.key, sinceTick: tick };
      ctx.note(`liveness: proposed ${payload} to ${leader.id} at ${proposed.index}`);
    }
    return false;
  }

}
