/**
 * "Wait until this key is deleted": the one place locks and elections wait for another
 * contender. It reads the key (a linearizable get) and, while the awaited incarnation is still
 * there, watches the key from the revision after the one at which it was read, so a delete that
 * lands between the read and the watch is delivered all the same; no polling.
 *
 * Should that revision have been compacted away meanwhile (COMPACTED), it reads again: if the key
 * is still there, nothing deleted it up to that read, and the read sees everything up to the
 * compaction point, so the watch goes on from the compaction point.
 */
import { KeelError } from '@keel/protocol';
import type { KeelClient } from '../client.js';
import type { Lease } from '../lease.js';

/**
 * Resolves once `key` no longer holds the incarnation created at `createRevision` (deleted, or
 * deleted and created again). Rejects with the lease's loss when `lease` is lost meanwhile, with
 * the signal's reason when aborted, and with the read's or the watch's error when one fails.
 */
export async function waitForDeletion(
  client: KeelClient,
  key: Uint8Array,
  createRevision: number,
  options: { readonly lease?: Lease; readonly signal?: AbortSignal | undefined },
): Promise<void> {
  let compactRevision = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    options.lease?.assertAlive();
    const e = await client.get(key);
    if (e === null || e.createRevision !== createRevision) return;
    try {
      return await watchForDelete(client, key, Math.max(e.revision + 1, compactRevision), options);
    } catch (error) {
      if (!(error instanceof KeelError && error.code === 'COMPACTED' && error.compactRevision !== undefined)) throw error;
      compactRevision = error.compactRevision;
    }
  }
}

/** Resolves at the first delete of `key` from `fromRevision` on; a lost lease or an abort ends the watch and rejects. */
async function watchForDelete(
  client: KeelClient,
  key: Uint8Array,
  fromRevision: number,
  options: { readonly lease?: Lease; readonly signal?: AbortSignal | undefined },
): Promise<void> {
  const watch = client.watch(key, { fromRevision });
  const stop = (): void => watch.cancel();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted === true) stop();
  void options.lease?.lost.then(stop);
  try {
    for await (const change of watch) if (change.type === 'delete') return;
  } finally {
    options.signal?.removeEventListener('abort', stop);
    watch.cancel();
  }
  // Only `stop` ends the watch without an error.
  options.signal?.throwIfAborted();
  options.lease?.assertAlive();
  throw new KeelError('INTERNAL', 'the watch for a deletion ended without a reason');
}
