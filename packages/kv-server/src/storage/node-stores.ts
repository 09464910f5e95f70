/**
 * Opening a node's stores: one database, one disk, the log store and the state store over it.
 * A brand-new database gets the empty records of both stores and the layout version in one
 * synced batch (the version last: its presence means the database is complete); an existing one
 * is checked and rebuilt — state first (its applied index), then the log (which must hold it).
 */
import type { Logger } from '@keel/raft';
import { FORMAT_VERSION, META, decodeCount, encodeCount } from './codec.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { StoreError } from './errors.js';
import { META_SUBLEVEL, levelDisk, openLevelDb, type Db, type Disk } from './layout.js';
import { LogStore, type LogWrite } from './log-store.js';
import { StateStore } from './state-store.js';
import { StoreDb } from './store-db.js';

/** The two stores of one node, sharing one database. */
export interface NodeStores {
  readonly log: LogStore;
  readonly state: StateStore;
  /** Wait for every write and clean-up in flight, then close the database. Idempotent. */
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  readonly logger?: Logger;
  /** The node that holds the data directory, written to its `keel.lock` (`openLevelStores`). Default 0 (a tool or test). */
  readonly nodeId?: number;
  /** Wraps the LevelDB disk every write goes through (`openLevelStores`): the process adapter times synced writes. */
  readonly wrapDisk?: (disk: Disk) => Disk;
}

/**
 * Make a Ready's persistent part durable across both stores: one batch, synced when `sync`. A
 * snapshot beyond the log base is swapped in by the state store inside the log store's batch (the
 * install must be complete: `SNAPSHOT_NOT_STAGED` otherwise); one already installed is skipped and
 * the rest of the Ready persisted.
 */
export function persistReady(
  log: Pick<LogStore, 'raftStorage' | 'persist'>,
  state: Pick<StateStore, 'swapIn'>,
  write: LogWrite,
  sync: boolean,
): Promise<void> {
  const snapshot = write.snapshot;
  if (snapshot !== undefined && snapshot.meta.index > log.raftStorage.snapshot().meta.index) {
    return state.swapIn(snapshot.meta, (stateOps) => log.persist(write, true, stateOps));
  }
  return log.persist(write, sync);
}

/**
 * Take the data directory `dir` (its `keel.lock`, see `data-dir-lock.ts`) and open (or create)
 * the stores of its LevelDB database in `${dir}/db`. Throws `StoreError('LOCKED')` when another
 * live process holds the directory. The lock is released when the stores close, or the open fails.
 */
export async function openLevelStores(dir: string, opts: OpenStoresOptions = {}): Promise<NodeStores> {
  const lock = await acquireDataDirLock(dir, opts.nodeId ?? 0, opts.logger);
  let stores: NodeStores;
  try {
    const db = await openLevelDb(dir);
    const disk = levelDisk(db);
    stores = await openNodeStores(db, opts.wrapDisk?.(disk) ?? disk, opts);
  } catch (err) {
    await lock.release();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    log: stores.log,
    state: stores.state,
    close: () => (closing ??= stores.close().finally(() => lock.release())),
  };
}

/**
 * Open (or create) the stores over `db`, writing through `disk`. Throws
 * `StoreError('CORRUPTED')` on damaged data; the database is closed when the open fails.
 */
export async function openNodeStores(db: Db, disk: Disk, opts: OpenStoresOptions = {}): Promise<NodeStores> {
  const sdb = new StoreDb(db, disk);
  try {
    const [formatB] = await sdb.meta.getMany([META.format]);
    if (formatB === undefined) {
      const [any] = await sdb.meta.getMany([META.hardState]);
      if (any !== undefined) throw new StoreError('CORRUPTED', 'store has metadata but no format version');
      await sdb.write(
        [...LogStore.initialOps(), ...StateStore.initialOps(), { type: 'put', sublevel: META_SUBLEVEL, key: META.format, value: encodeCount(FORMAT_VERSION) }],
        true,
      );
      opts.logger?.log('info', 'store.created', {});
    } else {
      const format = decodeCount(formatB, 'format version');
      if (format !== FORMAT_VERSION) throw new StoreError('CORRUPTED', `store format ${format}, this Keel reads ${FORMAT_VERSION}`);
    }
    const state = await StateStore.open(sdb, opts.logger);
    const log = await LogStore.open(sdb, state.appliedMark(), opts.logger);
    opts.logger?.log('info', 'store.opened', {
      snapshotIndex: log.raftStorage.snapshot().meta.index,
      applied: state.appliedIndex(),
      lastIndex: log.raftStorage.lastIndex(),
      term: log.raftStorage.hardState().term,
      commit: log.raftStorage.hardState().commit,
      sessions: state.sessionCount,
    });
    let closing: Promise<void> | undefined;
    return {
      log,
      state,
      close: () =>
        (closing ??= (async () => {
          sdb.markClosed();
          await Promise.all([log.idle(), state.idle()]);
          await sdb.close();
        })()),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
