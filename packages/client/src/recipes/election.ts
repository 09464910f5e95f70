/**
 * Leader election (etcd's Election): candidates wait in line under `<name>/` (queue.ts), each
 * with its value; the leader is the candidate whose key is oldest. `campaign` resolves once the
 * caller leads; `leader()` reads who leads now; `observe()` follows the leader as it changes.
 * A leader that dies leaves when its lease expires, and the next candidate leads. The caveat of
 * locks applies (lock.ts): a paused leader may believe it leads a moment too long; guard what it
 * does with `Leadership.revision`, which increases from one leader to the next.
 */
import { KeelError } from '@keel/protocol';
import type { BytesInput } from '../bytes.js';
import { toBytes } from '../bytes.js';
import type { KeelClient } from '../client.js';
import type { KvEntry } from '../entry.js';
import type { Lease } from '../lease.js';
import { checkLeaseTtl, checkValue } from '../validate.js';
import { DEFAULT_LOCK_TTL_SECONDS } from './lock.js';
import { contenderKey, contenders, linePrefix, waitForTurn, type WaitOptions } from './queue.js';

export interface CampaignOptions extends WaitOptions {
  /** TTL of the candidate's lease in seconds (default 10): how long leadership outlives a leader that died. */
  readonly ttl?: number;
}

/** Who leads: the leader's key and value as read. `entry.createRevision` is its `revision`. */
export interface ElectionLeader {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** The value as UTF-8 text. */
  readonly text: string;
  /** The create revision of the leader's key: increases from one leader to the next. */
  readonly revision: number;
}

export class Election {
  private readonly prefix: Uint8Array;

  /** @internal Made by `KeelClient.election`. */
  constructor(
    private readonly client: KeelClient,
    /** The election's name. */
    readonly name: Uint8Array,
  ) {
    this.prefix = linePrefix(name);
  }

  /**
   * Stand as a candidate with `value`; resolves once this candidate leads (first come, first
   * served). Abort with `options.signal` to leave the line.
   */
  async campaign(value: BytesInput, options: CampaignOptions = {}): Promise<Leadership> {
    const v = checkValue(value);
    const ttl = checkLeaseTtl(options.ttl ?? DEFAULT_LOCK_TTL_SECONDS, 'campaign ttl');
    options.signal?.throwIfAborted();
    const lease = await this.client.leaseGrant(ttl);
    try {
      const key = contenderKey(this.prefix, lease);
      const { revision } = await this.client.put(key, v, { lease });
      await waitForTurn(this.client, this.prefix, key, revision, lease, options);
      return new Leadership(this.client, key, revision, lease);
    } catch (error) {
      await lease.revoke().catch(() => undefined);
      throw error;
    }
  }

  /** The leader now (a linearizable read), or null when there is none. */
  async leader(): Promise<ElectionLeader | null> {
    const first = (await contenders(this.client, this.prefix))[0];
    return first === undefined ? null : leaderOf(first);
  }

  /**
   * The leader each time it changes (a new leader, or a new value proclaimed), starting with the
   * current one; periods without a leader are skipped. It watches the election's keys and reads
   * the line again after each change (the watch is in place before the first read, so no change
   * goes unseen), until the loop is left or `signal` aborts (then it ends without an error).
   */
  async *observe(options: WaitOptions = {}): AsyncGenerator<ElectionLeader> {
    const { signal } = options;
    const aborted = (): boolean => signal?.aborted === true;
    if (aborted()) return;
    const watch = this.client.watch({ prefix: this.prefix });
    const stop = (): void => watch.cancel();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      try {
        await watch.ready;
      } catch (error) {
        if (aborted()) return; // cancelled before it started
        throw error;
      }
      const changes = watch[Symbol.asyncIterator]();
      let last: KvEntry | undefined;
      do {
        const first = (await contenders(this.client, this.prefix))[0];
        if (first !== undefined && (last === undefined || first.createRevision !== last.createRevision || first.revision !== last.revision)) {
          last = first;
          yield leaderOf(first);
        }
      } while (!(await changes.next()).done);
    } finally {
      signal?.removeEventListener('abort', stop);
      watch.cancel();
    }
  }
}

/** This client's leadership of an election, from `campaign` until `resign()` or the loss of its lease. */
export class Leadership {
  /** @internal */
  constructor(
    private readonly client: KeelClient,
    /** The leader's key under `<name>/`. */
    readonly key: Uint8Array,
    /** The create revision of the leader's key: higher than every earlier leader's (a fencing token). */
    readonly revision: number,
    /** The lease that keeps the leadership (kept alive in the background). */
    readonly lease: Lease,
  ) {}

  /** Resolves (never rejects) when leadership was lost without `resign()`: its lease ended. */
  get lost(): Promise<KeelError> {
    return this.lease.lost;
  }

  get isLeader(): boolean {
    return this.lease.isAlive;
  }

  /** Publish a new value while leading (observers see it). `LEASE_NOT_FOUND` when leadership was lost. */
  async proclaim(value: BytesInput): Promise<void> {
    const v = checkValue(value);
    this.lease.assertAlive();
    const r = await this.client.txn({
      compare: [{ key: this.key, target: 'createRevision', op: '=', value: this.revision }],
      success: [{ op: 'put', key: this.key, value: v, lease: this.lease }],
      failure: [],
    });
    if (!r.succeeded) throw new KeelError('LEASE_NOT_FOUND', 'leadership was lost: the leader key is gone');
  }

  /** Step down: revokes the lease (deleting the key), so the next candidate leads. */
  resign(): Promise<void> {
    return this.lease.revoke();
  }
}

function leaderOf(e: KvEntry): ElectionLeader {
  return { key: e.key, value: e.value, text: e.text, revision: e.createRevision };
}
