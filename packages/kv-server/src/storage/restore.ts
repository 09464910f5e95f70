/**
 * Seeding the data directory of a NEW cluster's member from a backup, as `etcdutl snapshot
 * restore` does: the user data, client sessions and leases of the backup, at the backup's revision (so
 * revisions carry over, and the next write gets a higher one), with a membership given anew.
 * Every member of the new cluster restores the same backup with the same members; they start
 * with identical logs (a base at the revision, nothing after it) and elect a leader as usual.
 *
 * The backup is checked as it is read and written into a side data generation through the same
 * installer a snapshot from a leader goes through; only once its end checked out (counts,
 * checksum, end of file) is it swapped in, with the log base, in one synced batch. A damaged or
 * truncated backup leaves the directory as it was (a new directory is removed again).
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { BackupError, readBackup, type BackupSummary, type Member } from '@keel/protocol';
import type { Logger, SnapshotMeta } from '@keel/raft';
import { pack, unpack } from '../state-machine/msgpack.js';
import { StoreError } from './errors.js';
import { openLevelStores, type NodeStores } from './node-stores.js';
import { RECORD_HEADER, headerRecord } from './snapshot-format.js';
import type { SnapshotInstall } from './snapshot-install.js';

export interface RestoreOptions {
  /** The node this directory will belong to (written to `keel.lock` while the restore runs). */
  readonly nodeId: number;
  /** The new cluster's members, all voters: the `--initial-cluster` its members will start with. */
  readonly members: readonly Member[];
  readonly logger?: Logger;
}

/**
 * Restore `backup` (a file or HTTP stream of the backup format) into the data directory `dir`,
 * which must be new (missing, empty, or holding a store that was never written to). Throws
 * `BackupError` for a damaged, truncated or unreadable backup, `StoreError('NOT_EMPTY')` when
 * `dir` holds a node's data, `StoreError('LOCKED')` when a process holds it.
 */
export async function restoreBackup(dir: string, backup: AsyncIterable<Uint8Array>, options: RestoreOptions): Promise<BackupSummary> {
  if (options.members.length === 0 || options.members.some((m) => m.role !== 'voter')) {
    throw new TypeError('restoreBackup: members must be one or more voters');
  }
  const created = !existsSync(dir);
  const stores = await openLevelStores(dir, { nodeId: options.nodeId, ...(options.logger !== undefined ? { logger: options.logger } : {}) });
  let restored = false;
  try {
    if (!stores.log.isPristine) {
      throw new StoreError('NOT_EMPTY', `data directory ${dir} already holds a node's data; a backup is restored into a new data directory only`);
    }
    const summary = await install(stores, backup, options.members);
    restored = true;
    return summary;
  } finally {
    await stores.close();
    if (!restored && created) await rm(dir, { recursive: true, force: true });
  }
}

async function install(stores: NodeStores, backup: AsyncIterable<Uint8Array>, members: readonly Member[]): Promise<BackupSummary> {
  let meta: SnapshotMeta | undefined;
  let installing: SnapshotInstall | undefined;
  let first = true;
  try {
    for await (const item of readBackup(backup)) {
      if (item.kind === 'header') {
        meta = { index: item.header.revision, term: item.header.term, conf: { voters: members.map((m) => m.id).sort((a, b) => a - b), learners: [] } };
        installing = await stores.state.beginSnapshotInstall(meta, 0);
      } else if (item.kind === 'chunk') {
        await installing!.write(first ? withMembers(item.data, meta!, members) : item.data);
        first = false;
      } else {
        await installing!.complete();
        await stores.state.swapIn(meta!, (stateOps) => stores.log.restore(meta!, members, stateOps));
        return item.summary;
      }
    }
    throw new BackupError('BACKUP_TRUNCATED', 'the backup is truncated: it ended without its checksum');
  } catch (error) {
    await installing?.abort();
    if (error instanceof StoreError && (error.code === 'MALFORMED_SNAPSHOT' || error.code === 'SNAPSHOT_MISMATCH')) {
      throw new BackupError('BACKUP_CORRUPT', `the backup is damaged: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * The first chunk with its snapshot header rewritten for the new cluster: the membership given
 * to the restore instead of the old cluster's (the index and term must be the backup's).
 */
function withMembers(chunk: Uint8Array, meta: SnapshotMeta, members: readonly Member[]): Uint8Array {
  let records: unknown;
  try {
    records = unpack(chunk);
  } catch (cause) {
    throw new BackupError('BACKUP_CORRUPT', 'the backup is damaged: its first chunk does not decode', { cause });
  }
  const header = Array.isArray(records) ? (records[0] as unknown) : undefined;
  if (!Array.isArray(header) || header[0] !== RECORD_HEADER) throw new BackupError('BACKUP_CORRUPT', 'the backup is damaged: its first chunk has no snapshot header');
  if (header[2] !== meta.index || header[3] !== meta.term) {
    throw new BackupError('BACKUP_CORRUPT', `the backup is damaged: its snapshot is of ${String(header[2])}/${String(header[3])}, its header says revision ${meta.index}/${meta.term}`);
  }
  return pack([headerRecord(meta, members, header[7] as number), ...(records as unknown[]).slice(1)]);
}
