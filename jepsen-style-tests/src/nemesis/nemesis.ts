/**
 * The nemesis: runs the planned faults one at a time against the cluster, records each in the
 * timeline (on the history's clock), and at the end leaves the cluster whole — links healed,
 * paused nodes resumed, every member running.
 */
import type { Cluster } from '@keel/test-support';
import type { NemesisInterval } from '../history/timeline.js';
import { Rng } from '../rng.js';
import type { Fault, FaultInfo, FaultRun } from './fault.js';
import { membership } from './membership.js';
import type { FaultName } from './names.js';
import { partitionFaults } from './partition.js';
import { processFaults } from './processes.js';
import type { FaultPlan } from './schedule.js';
import type { Stopper } from '../stopper.js';
import { transfer } from './transfer.js';

const FAULT_FNS: Readonly<Record<FaultName, Fault>> = { ...partitionFaults, ...processFaults, membership, transfer };

export interface NemesisHooks {
  /** The history's clock (ns). */
  readonly now: () => number;
  readonly log: (message: string) => void;
  readonly membershipChanged: () => void;
}

export class Nemesis {
  readonly timeline: NemesisInterval[] = [];
  private active: { info: FaultInfo; start: number } | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly schedule: readonly FaultPlan[],
    private readonly stopper: Stopper,
    private readonly hooks: NemesisHooks,
  ) {}

  /** The fault in force now, with when it began (ns), for the progress line. */
  get current(): { readonly label: string; readonly start: number } | undefined {
    return this.active === undefined ? undefined : { label: this.active.info.label, start: this.active.start };
  }

  /** Runs the schedule until it ends or the stopper stops it; a fault under way finishes early and heals. */
  async run(): Promise<void> {
    for (const plan of this.schedule) {
      await this.stopper.sleep(plan.gapMs);
      if (this.stopper.stopped) return;
      await FAULT_FNS[plan.fault](this.faultRun(plan));
    }
  }

  /**
   * Leaves the cluster whole: heals every link, resumes paused nodes and starts every member that
   * is not running. A fault interrupted by an error may have left its interval open: it ends now.
   * Call it once `run()` has settled.
   */
  async restore(): Promise<void> {
    this.settle();
    this.cluster.heal();
    for (const n of this.cluster.nodes) if (n.state === 'paused') n.resume();
    await Promise.all(this.cluster.members.filter((n) => n.state === 'stopped').map((n) => n.start()));
  }

  /** Ends the interval of a fault still in force (one that failed, or a run cut short). */
  settle(): void {
    if (this.active !== undefined) this.close();
  }

  private faultRun(plan: FaultPlan): FaultRun {
    const stopper = this.stopper;
    return {
      cluster: this.cluster,
      plan,
      rng: new Rng(plan.seed),
      hold: (ms) => stopper.sleep(ms),
      begin: (info) => {
        this.active = { info, start: this.hooks.now() };
        this.hooks.log(`fault: ${info.label}`);
      },
      end: (update) => this.close(update),
      get stopping() {
        return stopper.stopped;
      },
      membershipChanged: this.hooks.membershipChanged,
      log: this.hooks.log,
    };
  }

  private close(update: Partial<FaultInfo> = {}): void {
    const a = this.active;
    if (a === undefined) throw new Error('invariant: a fault ended that never began');
    this.active = undefined;
    const info = { ...a.info, ...update };
    this.timeline.push({
      label: info.label,
      kind: info.kind,
      start: a.start,
      end: this.hooks.now(),
      nodes: [...info.nodes],
      ...(info.minority === undefined ? {} : { minority: [...info.minority] }),
    });
    this.hooks.log(`fault over: ${info.label}`);
  }
}
