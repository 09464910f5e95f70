/**
 * The database layout of a node's stores and the one place where a write reaches the database.
 *
 *   meta     hard state, snapshot meta (the log base), bootstrap record      (log store, utf8 keys)
 *            applied [index, term], membership, data generation, old generations to clear, layout
 *            version                                                          (state store)
 *   log      Raft entries after the snapshot, key = index as u64 big-endian  (codec.ts)
 *   kv<N>    user data of data generation N, key = user key, value = stored value (revisions)
 *   ss<N>    the client-session table of generation N, one record per client   (sessions.ts)
 *   ls<N>    the lease table of generation N: leases and the keys attached      (leases.ts)
 *   hs<N>    the history of changes of generation N, key = revision ‖ position (history.ts)
 *
 * Both stores share one abstract-level database (LevelDB in the server, `memory-level` in the
 * simulator) and one `Disk`: every write is a batch of operations naming sublevels by name, so
 * the simulator's disk can record, delay and lose them exactly as they were issued.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AbstractLevel, AbstractSnapshot } from 'abstract-level';
import { Level } from 'level';
import { StoreError } from './errors.js';

export type Bytes = Uint8Array;
/** Any abstract-level database with byte keys and values (classic-level, memory-level). */
export type Db = AbstractLevel<string | Uint8Array | Buffer, Bytes, Bytes>;
export type LevelSnapshot = AbstractSnapshot;

export interface RangeOptions {
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  limit?: number;
  snapshot?: LevelSnapshot;
}

/** The part of a byte-keyed, byte-valued sublevel the stores use (abstract-level's types are generic over encodings). */
export interface BytesSublevel {
  get(key: Bytes, options?: { snapshot?: LevelSnapshot }): Promise<Bytes | undefined>;
  /** Read in place, blocking the event loop (no round trip through LevelDB's thread pool). Only once `open()` resolved. */
  getSync(key: Bytes): Bytes | undefined;
  /** Resolves once the sublevel is open (at once when it is). */
  open(): Promise<void>;
  getMany(keys: Bytes[], options?: { snapshot?: LevelSnapshot }): Promise<Array<Bytes | undefined>>;
  iterator(options?: RangeOptions): {
    nextv(size: number): Promise<Array<[Bytes, Bytes]>>;
    all(): Promise<Array<[Bytes, Bytes]>>;
    close(): Promise<void>;
  };
  clear(options?: RangeOptions): Promise<void>;
}

/** The part of the `meta` sublevel (utf8 keys, byte values) the stores use. */
export interface MetaSublevel {
  getMany(keys: string[], options?: { snapshot?: LevelSnapshot }): Promise<Array<Bytes | undefined>>;
}

export const META_SUBLEVEL = 'meta';
export const LOG_SUBLEVEL = 'log';

/** Sublevel name of the user data of generation `g`. */
export function kvSublevelName(g: number): string {
  return `kv${g}`;
}

/** Sublevel name of the session table of generation `g`. */
export function sessionsSublevelName(g: number): string {
  return `ss${g}`;
}

/** Sublevel name of the lease table of generation `g`. */
export function leasesSublevelName(g: number): string {
  return `ls${g}`;
}

/** Sublevel name of the history of changes of generation `g`. */
export function historySublevelName(g: number): string {
  return `hs${g}`;
}

/** The sublevels of one data generation: user data, sessions, leases, history. */
export function generationSublevelNames(g: number): string[] {
  return [kvSublevelName(g), sessionsSublevelName(g), leasesSublevelName(g), historySublevelName(g)];
}

/** One operation of a cross-sublevel batch. `sublevel` is a name; `meta` keys are strings, all others bytes. */
export type BatchOp =
  | { readonly type: 'put'; readonly sublevel: string; readonly key: Bytes | string; readonly value: Bytes }
  | { readonly type: 'del'; readonly sublevel: string; readonly key: Bytes | string };

/**
 * How the stores write. The server's disk is the database itself (`levelDisk`); the simulator's
 * disk applies the same operations to an in-memory database and decides when a synced write is
 * durable and which unsynced writes a crash loses.
 */
export interface Disk {
  /** Write `ops` as ONE atomic batch, fsync'd when `sync`. */
  write(ops: readonly BatchOp[], sync: boolean): Promise<void>;
  /** Delete a range of one sublevel (garbage: recovery clears it again if a crash loses this). */
  clear(sublevel: string, range: RangeOptions): Promise<void>;
}

/** The sublevel `name` of `db` with the encodings the layout gives it. */
export function sublevelOf(db: Db, name: string): BytesSublevel | MetaSublevel {
  return name === META_SUBLEVEL ? metaSublevel(db) : bytesSublevel(db, name);
}

export function metaSublevel(db: Db): MetaSublevel {
  return db.sublevel<string, Bytes>(META_SUBLEVEL, { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as MetaSublevel;
}

export function bytesSublevel(db: Db, name: string): BytesSublevel {
  return db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as BytesSublevel;
}

/**
 * Apply `ops` to `db` as one batch. A chained batch, not `db.batch(array)`: abstract-level clones
 * every operation of an array batch and classic-level then converts each object again on the
 * way to C++; a chained batch hands each key and value to the native batch as it is added (the
 * profile of puts at 256 in flight had the array path at 45–60% of each node's CPU, and a
 * chained batch costs a third of that per operation). Keys are prefixed here, into the root
 * database, rather than through abstract-level's `sublevel` option: with that option each
 * operation is spread into a new object and re-shaped three times (abstract-level's chained
 * `put` was still a third of each node's main thread at 256 in flight, ~9 µs per operation).
 * The bytes are those abstract-level writes for a sublevel (`!name!` + key, UTF-8 for `meta`'s
 * string keys), so sublevel reads see them. The cast is the one place where the stores' narrow
 * types meet abstract-level's generic ones.
 */
export async function batchInto(db: Db, ops: readonly BatchOp[], sync: boolean): Promise<void> {
  if (ops.length === 0) return;
  const bytes = new BatchBytes(ops);
  const batch = db.batch();
  try {
    for (const op of ops) {
      const key = bytes.key(op.sublevel, op.key);
      if (op.type === 'put') batch.put(key, bytes.value(op.value));
      else batch.del(key);
    }
  } catch (err) {
    await batch.close();
    throw err;
  }
  await batch.write({ sync } as never);
}

const utf8 = new TextEncoder();
const prefixes = new Map<string, Bytes>();

function prefixOf(name: string): Bytes {
  let prefix = prefixes.get(name);
  if (prefix === undefined) prefixes.set(name, (prefix = utf8.encode(`!${name}!`)));
  return prefix;
}

/** Values this small may live on V8's heap (see `BatchBytes`). */
const SMALL_VALUE_BYTES = 64;

/**
 * The bytes one batch hands to LevelDB: every root-database key (abstract-level's `!name!` prefix,
 * then the key) and every small value, carved from ONE buffer allocated for the batch. LevelDB
 * copies them as they are added, so the buffer lives only as long as the batch call. Native code
 * reads a typed array through its backing store, and a typed array of 64 bytes or less has none
 * of its own until asked (V8 keeps it on the heap): each such key would cost a `calloc`, an
 * ArrayBuffer for the scavenger to sweep and a `free` (about 4% of a node's main thread at 256
 * puts in flight, plus the sweeping and freeing on V8's helper threads).
 */
class BatchBytes {
  private readonly region: Uint8Array;
  private used = 0;

  constructor(ops: readonly BatchOp[]) {
    let total = 0;
    for (const op of ops) {
      if (typeof op.key !== 'string') total += prefixOf(op.sublevel).byteLength + op.key.byteLength;
      if (op.type === 'put' && op.value.byteLength <= SMALL_VALUE_BYTES) total += op.value.byteLength;
    }
    // Node's pool (or, for a large batch, one buffer of its own): off the heap from the start.
    this.region = Buffer.allocUnsafe(total);
  }

  key(name: string, key: Bytes | string): Bytes {
    if (typeof key === 'string') return utf8.encode(`!${name}!${key}`);
    const prefix = prefixOf(name);
    const out = this.take(prefix.byteLength + key.byteLength);
    out.set(prefix);
    out.set(key, prefix.byteLength);
    return out;
  }

  value(value: Bytes): Bytes {
    if (value.byteLength > SMALL_VALUE_BYTES) return value;
    const out = this.take(value.byteLength);
    out.set(value);
    return out;
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(this.region.buffer, this.region.byteOffset + this.used, n);
    this.used += n;
    return out;
  }
}

/** The server's disk: writes go straight to the database (LevelDB syncs its log when asked). */
export function levelDisk(db: Db): Disk {
  const cache = new Map<string, BytesSublevel>();
  const sublevel = (name: string): BytesSublevel => {
    let sub = cache.get(name);
    if (sub === undefined) cache.set(name, (sub = bytesSublevel(db, name)));
    return sub;
  };
  return {
    write: (ops, sync) => batchInto(db, ops, sync),
    clear: (name, range) => sublevel(name).clear(range),
  };
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
 * Open (creating the directory) the node's LevelDB database in `${dir}/db`. Throws
 * `StoreError('LOCKED')` when another process has it open (LevelDB's own lock); other failures as
 * LevelDB reports them.
 */
export async function openLevelDb(dir: string): Promise<Db> {
  await mkdir(dir, { recursive: true });
  const db = new Level<Bytes, Bytes>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES });
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
  return db as unknown as Db;
}
