/**
 * The LevelDB layout of a node store (`${dir}/db`) and the narrow typed views the store uses:
 *
 *   meta     hard state, applied [index, term], membership with addresses, snapshot meta (the log
 *            base), data generation, old generations to clear, layout version     (utf8 keys)
 *   log      Raft entries after the snapshot, key = index as u64 big-endian        (codec.ts)
 *   kv<N>    user data of data generation N, key = user key, value = stored value (revisions)
 *   ss<N>    the client-session table of generation N, one record per client   (sessions.ts)
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { StoreError } from './errors.js';

export type Bytes = Uint8Array;
export type Db = Level<Bytes, Bytes>;
export type LevelSnapshot = ReturnType<Db['snapshot']>;

export interface RangeOptions {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  limit?: number;
  snapshot?: LevelSnapshot;
}

/** The part of a byte-keyed, byte-valued sublevel the store uses (abstract-level's types are generic over encodings). */
export interface BytesSublevel {
  get(key: Bytes): Promise<Bytes | undefined>;
  getMany(keys: Bytes[]): Promise<Array<Bytes | undefined>>;
  iterator(options?: RangeOptions): {
    nextv(size: number): Promise<Array<[Bytes, Bytes]>>;
    all(): Promise<Array<[Bytes, Bytes]>>;
    close(): Promise<void>;
  };
  clear(options?: RangeOptions): Promise<void>;
}

/** The part of the `meta` sublevel (utf8 keys, byte values) the store uses. */
export interface MetaSublevel {
  getMany(keys: string[], options?: { snapshot?: LevelSnapshot }): Promise<Array<Bytes | undefined>>;
}

/** One operation of a cross-sublevel batch (the sublevel encodes key and value). */
export type BatchOp = { type: 'put'; sublevel: object; key: unknown; value: Bytes } | { type: 'del'; sublevel: object; key: unknown };

/**
 * Write `ops` as ONE LevelDB batch across sublevels (atomic; fsync'd when `sync`). The cast is the
 * one place where the store's narrow sublevel types meet abstract-level's generic ones.
 */
export function writeBatch(db: Db, ops: readonly BatchOp[], sync: boolean): Promise<void> {
  return db.batch(ops as never, { sync });
}

/** Rows read per step when scanning a sublevel (log at open, snapshot streaming). */
export const READ_BATCH_ROWS = 1024;

/**
 * LevelDB memtable size. The default (4 MiB) turns a write-heavy node into a stream of level-0
 * files whose compaction throttles writes; 32 MiB keeps group commits cheap. Memory is only
 * used as data is written (at most two memtables).
 */
const WRITE_BUFFER_BYTES = 32 * 1024 * 1024;

/**
 * Open (creating the directory) the node's LevelDB database. Throws `StoreError('LOCKED')` when
 * another process has it open (LevelDB's own lock); other failures as LevelDB reports them.
 */
export async function openDb(dir: string): Promise<Db> {
  await mkdir(dir, { recursive: true });
  const db: Db = new Level<Bytes, Bytes>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES });
  try {
    await db.open();
  } catch (error) {
    if ((error as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED') {
      throw new StoreError('LOCKED', `data directory ${dir} is in use by another process (LevelDB's ${join(dir, 'db', 'LOCK')}: held by another process)`, {
        cause: error,
      });
    }
    throw error;
  }
  return db;
}

export function metaSublevel(db: Db): MetaSublevel {
  return db.sublevel<string, Bytes>('meta', { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as MetaSublevel;
}

export function bytesSublevel(db: Db, name: string): BytesSublevel {
  return db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as BytesSublevel;
}

export const LOG_SUBLEVEL = 'log';

/** Sublevel name of the user data of generation `g`. */
export function kvSublevelName(g: number): string {
  return `kv${g}`;
}

/** Sublevel name of the session table of generation `g`. */
export function sessionsSublevelName(g: number): string {
  return `ss${g}`;
}
