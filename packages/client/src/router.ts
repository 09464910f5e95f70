/**
 * Which node the next attempt goes to. The router remembers the leader (learned from successful
 * leader-only requests and from NOT_LEADER hints) and avoids, for a cool-down period, nodes that
 * were unreachable or did not answer in time. Pure logic: the caller supplies the clock reading.
 */

import { parseAddress } from './validate.js';

export interface RouterTuning {
  /** How long a node that failed is skipped while others are available, in milliseconds. */
  readonly avoidMs: number;
}

export const DEFAULT_ROUTER_TUNING: RouterTuning = { avoidMs: 1000 };

export class Router {
  /** Configured endpoints first, then addresses learned from hints, in order of discovery. */
  private readonly addresses: string[];
  private leader: string | undefined;
  private cursor = 0;
  /** address -> time (ms) until which it is avoided. */
  private readonly avoidUntil = new Map<string, number>();
  private readonly tuning: RouterTuning;

  constructor(endpoints: readonly string[], tuning: RouterTuning = DEFAULT_ROUTER_TUNING) {
    if (endpoints.length === 0) throw new Error('invariant: a router needs at least one endpoint');
    this.addresses = [...new Set(endpoints)];
    this.tuning = tuning;
  }

  /** The node believed to lead, if any. */
  get leaderAddress(): string | undefined {
    return this.leader;
  }

  /** Every address the router knows. */
  known(): readonly string[] {
    return this.addresses;
  }

  /** The node for the next attempt: the leader when known and not avoided, else the next healthy node in turn. */
  pick(nowMs: number): string {
    if (this.leader !== undefined && !this.isAvoided(this.leader, nowMs)) return this.leader;
    return this.next(nowMs);
  }

  /** The next node in turn after the current one, skipping avoided nodes (unless all are). */
  next(nowMs: number): string {
    const n = this.addresses.length;
    for (let i = 0; i < n; i++) {
      const address = this.addresses[(this.cursor + i) % n]!;
      if (!this.isAvoided(address, nowMs)) {
        this.cursor = (this.cursor + i + 1) % n;
        return address;
      }
    }
    // Everyone is avoided: take the one whose cool-down ends first.
    let best = this.addresses[0]!;
    for (const a of this.addresses) if ((this.avoidUntil.get(a) ?? 0) < (this.avoidUntil.get(best) ?? 0)) best = a;
    return best;
  }

  /** A leader-only request succeeded at `address`: it leads (or forwards correctly). */
  succeeded(address: string, leaderOnly: boolean): void {
    this.avoidUntil.delete(address);
    if (leaderOnly) this.leader = address;
  }

  /** A node said it is not the leader and named `hint` (or nobody; or an address that is not usable). */
  redirected(from: string, hint: string | undefined): void {
    if (this.leader === from) this.leader = undefined;
    if (hint === undefined || hint === from || parseAddress(hint) === undefined) return;
    if (!this.addresses.includes(hint)) this.addresses.push(hint);
    this.leader = hint;
  }

  /** `address` could not be reached or did not answer: avoid it for a while. */
  failed(address: string, nowMs: number): void {
    this.avoidUntil.set(address, nowMs + this.tuning.avoidMs);
    if (this.leader === address) this.leader = undefined;
  }

  /** The node answered but cannot serve right now (no leader known): forget it as leader. */
  unavailable(address: string): void {
    if (this.leader === address) this.leader = undefined;
  }

  private isAvoided(address: string, nowMs: number): boolean {
    const until = this.avoidUntil.get(address);
    return until !== undefined && until > nowMs;
  }
}
