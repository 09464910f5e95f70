/**
 * "Wait until this key is deleted": the one place locks and elections wait for another
 * contender. For now it polls with linearizable reads (a get every `pollMs`); once watches exist
 * it becomes a watch on the key from its revision.
 */
import type { KeelClient } from '../client.js';
import type { Lease } from '../lease.js';

/** Default pause between two reads of a key being waited on. */
export const DEFAULT_POLL_MS = 100;

/**
 * Resolves once `key` no longer holds the incarnation created at `createRevision` (deleted, or
 * deleted and created again). Rejects with the lease's loss when `lease` is lost meanwhile, with
 * the signal's reason when aborted, and with the read's error when a read fails.
 */
export async function waitForDeletion(
  client: KeelClient,
  key: Uint8Array,
  createRevision: number,
  options: { readonly lease?: Lease; readonly signal?: AbortSignal | undefined; readonly pollMs?: number | undefined },
): Promise<void> {
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  for (;;) {
    options.signal?.throwIfAborted();
    options.lease?.assertAlive();
    const e = await client.get(key);
    if (e === null || e.createRevision !== createRevision) return;
    await pause(pollMs, options.signal);
  }
}

/** Sleep `ms`, cut short by an abort (the caller checks). */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
