/**
 * The leader's lease clock: when each lease runs out. The lease table (which leases exist, their
 * TTL and keys) is replicated state (state-machine/leases.ts); WHEN a lease ends is decided by
 * the leader alone, in its memory, in ticks of its injected clock, and carried out through the
 * log (a `leaseExpire` entry), so every replica deletes the same keys at the same revision.
 *
 * Rules (etcd's):
 *  - a node that becomes leader gives every lease its full TTL again: a lease never ends early
 *    because leadership moved (it may last up to one TTL longer);
 *  - a lease the leader has not seen yet (granted since, or applied late) gets its full TTL from
 *    the moment the leader first sees it;
 *  - a keep-alive renews a lease to its full TTL from now;
 *  - a lease past its time is proposed for expiry once; if that proposal fails it is proposed
 *    again on a later sweep while this node leads. A lease being expired takes no keep-alive.
 * Followers keep no clock: their leases start afresh if they become leader.
 */
import type { LeaseTable } from '../state-machine/leases.js';

export class Lessor {
  /** Tick at which each lease runs out (leader only). */
  private readonly expiry = new Map<number, number>();
  /** Leases whose expiry was proposed and not yet settled. */
  private readonly expiring = new Set<number>();
  private leading = false;

  constructor(
    /** Length of one tick in ms. */
    private readonly tickMs: number,
    /** The applied lease table (read only). */
    private readonly table: () => LeaseTable,
  ) {}

  /** This node became leader at tick `now`: every lease gets its full TTL from now. */
  becameLeader(now: number): void {
    this.leading = true;
    this.expiry.clear();
    this.expiring.clear();
    for (const lease of this.table().values()) this.expiry.set(lease.id, now + this.ttlTicks(lease.ttl));
  }

  /** This node no longer leads: forget every clock. */
  steppedDown(): void {
    this.leading = false;
    this.expiry.clear();
    this.expiring.clear();
  }

  /**
   * The leases to expire at tick `now` (each returned once until `settled`). Leases seen for the
   * first time start their clock; clocks of leases that ended are dropped.
   */
  due(now: number): number[] {
    if (!this.leading) return [];
    const table = this.table();
    const out: number[] = [];
    for (const lease of table.values()) {
      const at = this.expiry.get(lease.id);
      if (at === undefined) this.expiry.set(lease.id, now + this.ttlTicks(lease.ttl));
      else if (at <= now && !this.expiring.has(lease.id)) {
        this.expiring.add(lease.id);
        out.push(lease.id);
      }
    }
    if (this.expiry.size > table.size) for (const id of this.expiry.keys()) if (table.get(id) === undefined) this.expiry.delete(id);
    return out;
  }

  /** The expiry proposal of `lease` was answered (applied, or failed: it is proposed again when still due). */
  settled(lease: number): void {
    this.expiring.delete(lease);
  }

  /** Renew `lease` to its full TTL from tick `now`: its TTL, or undefined when it does not exist or is being expired. */
  keepAlive(lease: number, now: number): number | undefined {
    const l = this.table().get(lease);
    if (l === undefined || this.expiring.has(lease)) return undefined;
    this.expiry.set(lease, now + this.ttlTicks(l.ttl));
    return l.ttl;
  }

  /** Whole seconds (rounded up) until `lease` runs out as of tick `now`; its full TTL when its clock has not started. */
  remainingSeconds(lease: number, now: number): number | undefined {
    const l = this.table().get(lease);
    if (l === undefined || this.expiring.has(lease)) return undefined;
    const at = this.expiry.get(lease);
    if (at === undefined) return l.ttl;
    return Math.max(0, Math.ceil(((at - now) * this.tickMs) / 1000));
  }

  private ttlTicks(ttlSeconds: number): number {
    return Math.ceil((ttlSeconds * 1000) / this.tickMs);
  }
}
