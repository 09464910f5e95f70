/**
 * Which node the next attempt goes to, and when a node may be dialled again. The router remembers
 * the leader (learned from successful leader-only requests and from NOT_LEADER hints), avoids for
 * a cool-down period nodes that did not answer in time, and paces dials to nodes whose
 * connections were refused or could not be opened: after the n-th such failure in a row a node is
 * not dialled again for a backoff drawn from [d/2, d], d = min(max, base * 2^(n-1)), until it
 * answers. However many operations retry, one client thus dials a refusing node at most once per
 * backoff, and a crowd of clients cannot turn refusals into a storm. Pure logic: the caller
 * supplies the clock reading and the random source.
 */

import type { DialFailure, DialFailureKind } from './dial-failure.js';
import { parseAddress } from './validate.js';

export interface RouterTuning {
  /** How long a node that timed out is skipped while others are available, in milliseconds. */
  readonly avoidMs: number;
  /** First pause before redialling a node whose connection failed, in milliseconds. */
  readonly reconnectBackoffBaseMs: number;
  /** Largest pause between two dials of such a node, in milliseconds. */
  readonly reconnectBackoffMaxMs: number;
  /** Uniform in [0, 1): the jitter of the reconnect backoff. */
  readonly random: () => number;
}

export const DEFAULT_ROUTER_TUNING: RouterTuning = {
  avoidMs: 1000,
  reconnectBackoffBaseMs: 100,
  reconnectBackoffMaxMs: 2000,
  random: Math.random,
};

/**
 * Failures after which no attempt at that node can succeed until something changes outside the
 * client: when every node is in one, the operation fails at once (see {@link Router.hopeless}).
 */
const HOPELESS: ReadonlySet<DialFailureKind> = new Set<DialFailureKind>(['refused', 'unresolvable', 'rejected', 'tls', 'auth']);

interface NodeState {
  /** Skipped while others are available until then (ms): it timed out or stalled. */
  avoidUntil: number;
  /** Not dialled before then (ms): its last connection failed before it answered. */
  dialNotBefore: number;
  /** Connections in a row that failed before the node answered (0 once it answers). */
  failedDials: number;
  /** The last of those failures, cleared when the node answers. */
  failure: DialFailure | undefined;
}

export class Router {
  /** Configured endpoints first, then addresses learned from hints, in order of discovery. */
  private readonly addresses: string[];
  private readonly nodes = new Map<string, NodeState>();
  private leader: string | undefined;
  private cursor = 0;
  /** Where the next spread read goes (see {@link spread}); apart from `cursor`, which the leader search moves. */
  private spreadCursor = 0;
  /** Some node has answered this client at some time: the cluster exists at these addresses. */
  private everAnswered = false;
  private readonly tuning: RouterTuning;

  constructor(endpoints: readonly string[], tuning: Partial<RouterTuning> = {}) {
    if (endpoints.length === 0) throw new Error('invariant: a router needs at least one endpoint');
    this.addresses = [];
    for (const a of endpoints) this.learn(a);
    this.tuning = { ...DEFAULT_ROUTER_TUNING, ...tuning };
  }

  /** The node believed to lead, if any. */
  get leaderAddress(): string | undefined {
    return this.leader;
  }

  /** Every address the router knows. */
  known(): readonly string[] {
    return this.addresses;
  }

  /**
   * The node for the next attempt: the leader when known and usable, else the next usable node in
   * turn (usable: neither avoided nor waiting to be redialled). When none is usable, the one that
   * becomes usable first; {@link dialWaitMs} says how long it must not be dialled.
   */
  pick(nowMs: number): string {
    if (this.leader !== undefined && this.usable(this.leader, nowMs)) return this.leader;
    return this.next(nowMs);
  }

  /** The next node in turn after the current one, skipping unusable nodes (unless all are). */
  next(nowMs: number): string {
    const [address, cursor] = this.inTurn(this.cursor, nowMs);
    this.cursor = cursor;
    return address;
  }

  /**
   * The node for the next read spread over the members: every usable node in turn, leader or
   * not, on a rotation of its own (so reads neither follow nor disturb the search for the leader).
   */
  spread(nowMs: number): string {
    const [address, cursor] = this.inTurn(this.spreadCursor, nowMs);
    this.spreadCursor = cursor;
    return address;
  }

  /** Why the last connection to `address` failed before it answered, if it did (cleared when it answers). */
  lastFailure(address: string): DialFailure | undefined {
    return this.nodes.get(address)?.failure;
  }

  /** How long `address` must not be dialled yet, in milliseconds (0: now is fine). */
  dialWaitMs(address: string, nowMs: number): number {
    return Math.max(0, (this.nodes.get(address)?.dialNotBefore ?? 0) - nowMs);
  }

  /** `address` answered a request (any answer, errors included): it is there and speaks the protocol. */
  answered(address: string): void {
    const s = this.state(address);
    s.failedDials = 0;
    s.dialNotBefore = 0;
    s.failure = undefined;
    this.everAnswered = true;
  }

  /** A leader-only request succeeded at `address`: it leads (or forwards correctly). */
  succeeded(address: string, leaderOnly: boolean): void {
    this.state(address).avoidUntil = 0;
    if (leaderOnly) this.leader = address;
  }

  /** `address` is believed to lead (a hint from outside, or its own status). */
  believeLeader(address: string): void {
    this.learn(address);
    this.leader = address;
  }

  /** `address` answered first: try it next when no leader is known. */
  prefer(address: string): void {
    this.learn(address);
    this.cursor = this.addresses.indexOf(address);
  }

  /** A node said it is not the leader and named `hint` (or nobody; or an address that is not usable). */
  redirected(from: string, hint: string | undefined): void {
    if (this.leader === from) this.leader = undefined;
    if (hint === undefined || hint === from || parseAddress(hint) === undefined) return;
    this.believeLeader(hint);
  }

  /** `address` did not answer in time: avoid it for a while. */
  failed(address: string, nowMs: number): void {
    this.state(address).avoidUntil = nowMs + this.tuning.avoidMs;
    if (this.leader === address) this.leader = undefined;
  }

  /** A connection to `address` ended before it answered anything: pace the next dial. */
  dialFailed(address: string, failure: DialFailure, nowMs: number): void {
    const s = this.state(address);
    s.failedDials++;
    s.failure = failure;
    const { reconnectBackoffBaseMs: base, reconnectBackoffMaxMs: max } = this.tuning;
    const d = Math.min(max, base * 2 ** Math.min(s.failedDials - 1, 30));
    s.dialNotBefore = nowMs + d / 2 + (this.tuning.random() * d) / 2;
    if (this.leader === address) this.leader = undefined;
  }

  /** The node answered but cannot serve right now (no leader known): forget it as leader. */
  unavailable(address: string): void {
    if (this.leader === address) this.leader = undefined;
  }

  /**
   * Each node's failure when no node can serve anything until something outside the client
   * changes; otherwise undefined. That is: every known node's last connection failed as
   * `unresolvable` or `rejected` (a misconfigured endpoint), or `refused` (nothing listens) and
   * no node has ever answered this client (a wrong address, or no cluster running). A client
   * that has reached the cluster before keeps trying while every node refuses: a restart.
   */
  hopeless(): ReadonlyArray<readonly [address: string, failure: DialFailure]> | undefined {
    const failures: Array<readonly [string, DialFailure]> = [];
    for (const address of this.addresses) {
      const f = this.nodes.get(address)?.failure;
      if (f === undefined || !HOPELESS.has(f.kind) || (f.kind === 'refused' && this.everAnswered)) return undefined;
      failures.push([address, f]);
    }
    return failures;
  }

  private learn(address: string): void {
    if (this.nodes.has(address)) return;
    this.addresses.push(address);
    this.nodes.set(address, { avoidUntil: 0, dialNotBefore: 0, failedDials: 0, failure: undefined });
  }

  private state(address: string): NodeState {
    this.learn(address);
    return this.nodes.get(address)!;
  }

  /** The first usable node from position `from` on, and the position after it; when none is usable, the one usable first. */
  private inTurn(from: number, nowMs: number): [address: string, next: number] {
    const n = this.addresses.length;
    for (let i = 0; i < n; i++) {
      const at = (from + i) % n;
      if (this.usable(this.addresses[at]!, nowMs)) return [this.addresses[at]!, (at + 1) % n];
    }
    let best = this.addresses[0]!;
    for (const a of this.addresses) if (this.usableFrom(a) < this.usableFrom(best)) best = a;
    return [best, from];
  }

  private usable(address: string, nowMs: number): boolean {
    return this.usableFrom(address) <= nowMs;
  }

  /** When `address` stops being avoided and may be dialled. */
  private usableFrom(address: string): number {
    const s = this.nodes.get(address);
    return s === undefined ? 0 : Math.max(s.avoidUntil, s.dialNotBefore);
  }
}
