/**
 * {@link Lease}: a lease the client holds and keeps alive in the background until it is revoked,
 * released, or lost.
 *
 * Keep-alive: every third of the TTL the client renews the lease on the leader. A renewal that
 * fails for a reason that may pass (no leader, a node down, a timeout) is tried again a second
 * later. The lease is LOST, and `lost` resolves, when
 *  - the cluster says it no longer exists (`LEASE_NOT_FOUND`: it expired, or someone revoked it), or
 *  - no renewal succeeded for a whole TTL, counted from the moment the last successful renewal was
 *    SENT: by then the leader may have expired it (the client cannot know), so it counts as lost
 *    whatever happens later.
 * After loss the keys attached to the lease are gone or about to go; anything guarded by them
 * (a lock, a leadership) must stop at once. The loss is reported once, through `lost` (a promise
 * that never rejects) and every `onLost` callback.
 */
import { KeelError } from '@keel/protocol';

/** What a lease needs of its client. */
export interface LeaseHost {
  keepAliveOnce(id: number): Promise<unknown>;
  revoke(id: number): Promise<unknown>;
  /** The lease ended (lost, revoked or released): the client stops tracking it. */
  forget(lease: Lease): void;
}

/** Pause after a renewal that failed for a reason that may pass. */
const RETRY_MS = 1000;

export class Lease {
  /** Resolves (never rejects) with why the lease was lost; stays pending while it is held or after `revoke()`/`release()`. */
  readonly lost: Promise<KeelError>;
  private reportLoss!: (error: KeelError) => void;
  private readonly listeners: Array<(error: KeelError) => void> = [];
  private state: 'held' | 'lost' | 'ended' = 'held';
  private lossError: KeelError | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  /** @internal Made by `KeelClient.leaseGrant`. */
  constructor(
    /** The lease id (the log index of its grant). */
    readonly id: number,
    /** The granted TTL, in seconds. */
    readonly ttl: number,
    private readonly host: LeaseHost,
    /** When the grant was sent (ms, `performance.now()`): the lease is valid for `ttl` from then. */
    sentAtMs: number,
  ) {
    this.lost = new Promise((resolve) => {
      this.reportLoss = resolve;
    });
    this.armDeadline(sentAtMs);
    this.scheduleRenewal(this.ttl * 1000 / 3);
  }

  /** True while the lease is held: not lost, revoked or released. */
  get isAlive(): boolean {
    return this.state === 'held';
  }

  /** Why the lease was lost, once it was. */
  get lossReason(): KeelError | undefined {
    return this.lossError;
  }

  /** Call `listener` once when the lease is lost (at once if it already was). */
  onLost(listener: (error: KeelError) => void): void {
    if (this.lossError !== undefined) queueMicrotask(() => listener(this.lossError!));
    else if (this.state === 'held') this.listeners.push(listener);
  }

  /** Throws the loss error when the lease was lost, `LEASE_NOT_FOUND` when it was revoked or released. */
  assertAlive(): void {
    if (this.lossError !== undefined) throw this.lossError;
    if (this.state !== 'held') throw new KeelError('LEASE_NOT_FOUND', `lease ${this.id} was revoked or released by this client`);
  }

  /** Stop keeping the lease alive and revoke it now: its keys are deleted. A lease already gone is not an error. */
  async revoke(): Promise<void> {
    const wasHeld = this.state === 'held';
    this.end('ended');
    if (!wasHeld && this.lossError !== undefined) return;
    try {
      await this.host.revoke(this.id);
    } catch (error) {
      if (!(error instanceof KeelError && error.code === 'LEASE_NOT_FOUND')) throw error;
    }
  }

  /** Stop keeping the lease alive without revoking it: it expires (and its keys go) after its TTL. */
  release(): void {
    this.end('ended');
  }

  /** @internal The client closed: the lease can no longer be kept alive. */
  clientClosed(): void {
    this.fail(new KeelError('CONNECTION_LOST', `lease ${this.id} can no longer be kept alive: the client was closed`));
  }

  private scheduleRenewal(delayMs: number): void {
    this.renewTimer = setTimeout(() => void this.renew(), delayMs);
  }

  private async renew(): Promise<void> {
    if (this.state !== 'held') return;
    const sentAtMs = performance.now();
    try {
      await this.host.keepAliveOnce(this.id);
      if (this.state !== 'held') return;
      this.armDeadline(sentAtMs);
      this.scheduleRenewal(this.ttl * 1000 / 3);
    } catch (error) {
      if (this.state !== 'held') return;
      if (error instanceof KeelError && error.code === 'LEASE_NOT_FOUND') {
        this.fail(new KeelError('LEASE_NOT_FOUND', `lease ${this.id} was lost: it expired or was revoked (${error.message})`));
        return;
      }
      this.scheduleRenewal(RETRY_MS);
    }
  }

  /** The lease is valid until `ttl` after `sentAtMs`; past that without a renewal it is lost. */
  private armDeadline(sentAtMs: number): void {
    clearTimeout(this.deadlineTimer);
    const remainingMs = sentAtMs + this.ttl * 1000 - performance.now();
    this.deadlineTimer = setTimeout(() => {
      this.fail(new KeelError('LEASE_NOT_FOUND', `lease ${this.id} was lost: no keep-alive succeeded for its whole TTL (${this.ttl} s); the cluster may have expired it`));
    }, Math.max(0, remainingMs));
  }

  private fail(error: KeelError): void {
    if (this.state !== 'held') return;
    this.lossError = error;
    this.end('lost');
    this.reportLoss(error);
    for (const listener of this.listeners.splice(0)) listener(error);
  }

  private end(state: 'lost' | 'ended'): void {
    if (this.state !== 'held') return;
    this.state = state;
    clearTimeout(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    this.host.forget(this);
    if (state === 'ended') this.listeners.length = 0;
  }
}
