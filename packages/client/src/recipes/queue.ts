/**
 * The waiting line under a prefix that locks and elections share (etcd's concurrency recipes):
 * each contender creates one key `<name>/<lease id>` attached to its own lease, and its turn
 * comes when no key under the prefix has a lower create revision. So contenders are served in
 * the order their keys were created (first come, first served), and a contender that dies
 * leaves the line when its lease expires and its key is deleted.
 *
 * Why two separate reads are enough to know "it is my turn": keys created after mine have higher
 * create revisions, so once no key below mine exists (the scan, page by page) none can appear
 * again; if my key then still exists with my create revision (the get), it was never deleted in
 * between, and I am first from that moment until my key is deleted.
 */
import { KeelError } from '@keel/protocol';
import type { KeelClient } from '../client.js';
import type { KvEntry } from '../entry.js';
import type { Lease } from '../lease.js';
import { waitForDeletion } from './wait-deleted.js';

/** How a contender waits: until its turn, or until `signal` aborts. */
export interface WaitOptions {
  readonly signal?: AbortSignal | undefined;
}

/** The bytes of `<name>/`: every key of the line starts with it. */
export function linePrefix(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length + 1);
  out.set(name);
  out[name.length] = 0x2f; // '/'
  return out;
}

/** The key of the contender holding `lease`: `<name>/<lease id in 16 hex digits>`. */
export function contenderKey(prefix: Uint8Array, lease: Lease): Uint8Array {
  const id = new TextEncoder().encode(lease.id.toString(16).padStart(16, '0'));
  const out = new Uint8Array(prefix.length + id.length);
  out.set(prefix);
  out.set(id, prefix.length);
  return out;
}

/** Every key of the line, in order of creation (the first is the holder). */
export async function contenders(client: KeelClient, prefix: Uint8Array): Promise<KvEntry[]> {
  const out: KvEntry[] = [];
  for await (const e of client.scanAll({ prefix })) out.push(e);
  return out.sort((a, b) => a.createRevision - b.createRevision);
}

/**
 * Wait until the contender whose key `key` was created at `createRevision` (held by `lease`) is
 * first in line. Throws the lease's loss when it is lost, `LEASE_NOT_FOUND` when the key is gone
 * (deleted by someone else), and the signal's reason when aborted.
 */
export async function waitForTurn(
  client: KeelClient,
  prefix: Uint8Array,
  key: Uint8Array,
  createRevision: number,
  lease: Lease,
  options: WaitOptions,
): Promise<void> {
  for (;;) {
    options.signal?.throwIfAborted();
    lease.assertAlive();
    let ahead: KvEntry | undefined;
    for await (const e of client.scanAll({ prefix })) {
      if (e.createRevision < createRevision && (ahead === undefined || e.createRevision > ahead.createRevision)) ahead = e;
    }
    if (ahead === undefined) break;
    await waitForDeletion(client, ahead.key, ahead.createRevision, { ...options, lease });
  }
  const mine = await client.get(key);
  lease.assertAlive();
  if (mine === null || mine.createRevision !== createRevision) {
    throw new KeelError('LEASE_NOT_FOUND', `the key ${mine === null ? 'was deleted' : 'was replaced'} while waiting in line (lease ${lease.id})`);
  }
}
