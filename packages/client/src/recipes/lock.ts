/**
 * A distributed lock (etcd's Mutex): `client.lock(name)` waits in line (queue.ts) and resolves
 * with a {@link HeldLock} once its key is the oldest under `<name>/`.
 *
 * What a lock guarantees, and what it cannot: while the holder's lease lives, no other client
 * acquires the lock. But a holder can be paused (GC, swap, a stopped VM) or cut off past its TTL
 * without knowing it; its lease expires, the next client acquires, and the old holder may still
 * act for a moment before it notices (`lost`). No lock service can prevent that on its own.
 * Use the FENCING TOKEN: it is the create revision of the holder's key, strictly increasing
 * from one holder to the next; pass it with every write to the guarded resource and have the
 * resource refuse a token lower than the highest it has seen (or guard Keel keys with a txn
 * comparing the lock key's create revision).
 */
import type { KeelError } from '@keel/protocol';
import type { BytesInput } from '../bytes.js';
import { toBytes } from '../bytes.js';
import type { KeelClient } from '../client.js';
import type { Lease } from '../lease.js';
import { checkLeaseTtl } from '../validate.js';
import { contenderKey, linePrefix, waitForTurn, type WaitOptions } from './queue.js';

/** Default TTL of a lock's lease, in seconds. */
export const DEFAULT_LOCK_TTL_SECONDS = 10;

export interface LockOptions extends WaitOptions {
  /** TTL of the lock's lease in seconds (default 10): how long the lock outlives a holder that died. */
  readonly ttl?: number;
}

export class HeldLock {
  /** @internal Made by `KeelClient.lock`. */
  constructor(
    /** The lock's name. */
    readonly name: Uint8Array,
    /** The holder's key under `<name>/` (attached to `lease`). */
    readonly key: Uint8Array,
    /**
     * The fencing token: the create revision of the holder's key. Each holder of the lock has a
     * higher one than every holder before it. Pass it to whatever the lock guards.
     */
    readonly fencingToken: number,
    /** The lease that keeps the lock held (kept alive in the background). */
    readonly lease: Lease,
  ) {}

  /** Resolves (never rejects) when the lock was lost without `unlock()`: its lease ended. Stop acting on the lock then. */
  get lost(): Promise<KeelError> {
    return this.lease.lost;
  }

  /** True until `unlock()` or the loss of the lease. */
  get isHeld(): boolean {
    return this.lease.isAlive;
  }

  /** Release the lock: revokes its lease (deleting its key), so the next in line acquires it. */
  unlock(): Promise<void> {
    return this.lease.revoke();
  }
}

/** `client.lock(name, options)`: see the module doc. */
export async function acquireLock(client: KeelClient, name: BytesInput, options: LockOptions = {}): Promise<HeldLock> {
  const n = toBytes(name, 'lock name');
  const ttl = checkLeaseTtl(options.ttl ?? DEFAULT_LOCK_TTL_SECONDS, 'lock ttl');
  options.signal?.throwIfAborted();
  const prefix = linePrefix(n);
  const lease = await client.leaseGrant(ttl);
  try {
    const key = contenderKey(prefix, lease);
    const { revision } = await client.put(key, new Uint8Array(0), { lease });
    await waitForTurn(client, prefix, key, revision, lease, options);
    return new HeldLock(n, key, revision, lease);
  } catch (error) {
    await lease.revoke().catch(() => undefined); // leave the line; the lease expires anyway if this fails
    throw error;
  }
}
