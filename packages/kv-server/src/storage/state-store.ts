/**
 * The state store: what applying the log produced — user data, the client-session table, the
 * history of changes by revision (state-machine/history.ts), the applied index and the membership
 * with addresses — plus snapshots of it (streamed to lagging followers, received into a side area
 * and swapped in). Whoever serves watches follows the history through `setHistoryListener`.
 *
 * Writes (each ONE batch, through the shared `StoreDb`):
 *  - `apply`: the effects of committed entries on user data and sessions, the applied index and
 *    the membership. Not synced: the entries are in the synced log, and the database's write log
 *    is ordered, so a crash loses a suffix of applies together with their applied index and the
 *    node re-applies them from the log. The log store's `createSnapshot` syncs before it compacts.
 *  - `swapIn`: a completed snapshot install becomes the live data generation, in the log store's
 *    batch that moves the log base (see `LogStore.persist`).
 *
 * Invariants: user data, sessions, history, compaction point, applied index and membership always
 * change together (one batch); history below the compaction point is garbage (cleared after the
 * batch that moved the point, and at open) and never read; exactly one data generation is live; a side generation (live + 1) only ever holds an
 * install in progress, and is cleared at open and before each install.
 *
 * Concurrency: mutating calls run one at a time in call order; reads (`get`, `scan`, `digest`,
 * `readSnapshot`) never wait: the database gives each a consistent view.
 */
import { LIMITS, type KeyValue, type Member, type StateDigest } from '@keel/protocol';
import type { ConfState, Entry, Logger, SnapshotMeta } from '@keel/raft';
import { AuthState } from '../state-machine/auth-state.js';
import { StateMachineError } from '../state-machine/errors.js';
import { LeaseTable } from '../state-machine/leases.js';
import { decodeHistoryRecord, revisionBound, revisionOfHistoryKey, type HistoryEvent } from '../state-machine/history.js';
import { SessionTable } from '../state-machine/sessions.js';
import { StateMachine, type ApplyResult } from '../state-machine/state-machine.js';
import { prefixUpperBound } from '../state-machine/key-bounds.js';
import { keyId } from '../state-machine/kv-state.js';
import { decodeStoredValue } from '../state-machine/stored-value.js';
import { WriteSet } from '../state-machine/write-set.js';
import {
  META,
  decodeApplied,
  decodeCount,
  decodeCounts,
  decodeMembership,
  encodeApplied,
  encodeCount,
  encodeCounts,
  encodeMembership,
  type AppliedMark,
} from './codec.js';
import { StoreError } from './errors.js';
import {
  META_SUBLEVEL,
  generationSublevelNames,
  historySublevelName,
  kvSublevelName,
  leasesSublevelName,
  sessionsSublevelName,
  type BatchOp,
  type Bytes,
  type BytesSublevel,
} from './layout.js';
import { assertContiguous } from './log-store.js';
import { SerialQueue } from './serial-queue.js';
import { SNAPSHOT_CHUNK_BYTES_MIN } from './snapshot-format.js';
import { SnapshotInstaller, type InstallTarget, type SnapshotInstall } from './snapshot-install.js';
import { openSnapshotStream, type SnapshotStream } from './snapshot-reader.js';
import { digestState } from './state-digest.js';
import type { StoreDb } from './store-db.js';
import { ValueCache } from './value-cache.js';

/** Key range of a scan: `prefix`, and/or `[start, end)`; all absent = every key. */
export interface ScanRange {
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly prefix?: Uint8Array;
}

export type { ApplyResult, SnapshotInstall, SnapshotStream };

/**
 * Follows the history as it grows (the watch hub). Called synchronously once the batch is written
 * and the applied index moved, so a reader that sees `appliedIndex()` at N finds every record up
 * to N in the store.
 */
export interface HistoryListener {
  /**
   * Entries up to `applied` applied, making these history rows (in revision order; decode with
   * `decodeHistoryRecord`). The rows share chunks of memory (`WriteSet`): copy what is kept.
   */
  applied(rows: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, applied: number): void;
  /** A snapshot replaced the state: the history jumped to `applied` (read what was missed from the store). */
  replaced(applied: number): void;
}

/** A stretch of history read from the store. */
export interface HistoryRead {
  /** Changes in revision order; whole revisions only. */
  readonly events: HistoryEvent[];
  /** Every change up to this revision was read (the next read starts after it). */
  readonly through: number;
}

const EMPTY_CONF: ConfState = { voters: [], learners: [] };
/** Allowance per scanned entry for its revisions and msgpack framing (counted in `LIMITS.scanResponseBytesMax`). */
const SCAN_ROW_OVERHEAD_BYTES = 64;
/** Rows a scan reads from the database at a time. */
const SCAN_READ_ROWS = 16;
/**
 * Most keys an apply, or one turn's gets, reads in place (`getSync`) rather than through
 * LevelDB's thread pool. With requests one at a time the pool's round trip (a thread woken, then
 * the event loop) is a step on every write's and read's path and costs more than reading a few
 * keys; a large batch is read in the pool, where it does not hold up the event loop.
 */
const SYNC_READ_KEYS_MAX = 8;
/**
 * Bytes of keys and stored values an apply keeps in memory for the next batches (`ValueCache`):
 * a key written again while it is cached is not read from LevelDB first. 32 MiB holds the hot
 * set of most workloads (100,000 keys with 256-byte values).
 */
const VALUE_CACHE_BYTES = 32 * 1024 * 1024;

export class StateStore {
  private readonly queue = new SerialQueue();
  private readonly background = new Set<Promise<void>>();
  private install: SnapshotInstaller | undefined;
  private listener: HistoryListener | undefined;
  private readonly cache = new ValueCache(VALUE_CACHE_BYTES);
  /** Gets asked for in this turn, read together at its end (see `get`). */
  private gets: PendingGet[] = [];

  private constructor(
    private readonly sdb: StoreDb,
    private generation: number,
    private garbage: number[],
    private applied: AppliedMark,
    private sm: StateMachine,
    private readonly logger: Logger | undefined,
  ) {}

  /** The records of a brand-new, empty state (written once, with the log store's, by `openNodeStores`). */
  static initialOps(): BatchOp[] {
    return [
      { type: 'put', sublevel: META_SUBLEVEL, key: META.applied, value: encodeApplied({ index: 0, term: 0 }) },
      { type: 'put', sublevel: META_SUBLEVEL, key: META.members, value: encodeMembership({ conf: EMPTY_CONF, members: [] }) },
      { type: 'put', sublevel: META_SUBLEVEL, key: META.generation, value: encodeCount(1) },
      { type: 'put', sublevel: META_SUBLEVEL, key: META.garbage, value: encodeCounts([]) },
      { type: 'put', sublevel: META_SUBLEVEL, key: META.auth, value: AuthState.empty().encode() },
      { type: 'put', sublevel: META_SUBLEVEL, key: META.compacted, value: encodeCount(1) },
    ];
  }

  /**
   * Rebuild the applied state: membership, applied index and session table. Leftovers of
   * interrupted work (old generations not yet cleared, the side generation of an unfinished
   * install) are cleared. Throws `StoreError('CORRUPTED')` on damaged data.
   */
  static async open(sdb: StoreDb, logger?: Logger): Promise<StateStore> {
    const keys = [META.applied, META.members, META.generation, META.garbage, META.auth, META.compacted];
    const values = await sdb.meta.getMany(keys);
    const need = (i: number): Bytes => {
      const v = values[i];
      if (v === undefined) throw new StoreError('CORRUPTED', `store metadata "${keys[i]}" is missing`);
      return v;
    };
    const applied = decodeApplied(need(0));
    const membership = decodeMembership(need(1));
    const generation = decodeCount(need(2), 'generation');
    const garbage = decodeCounts(need(3), 'garbage generations');
    const compacted = decodeCount(need(5), 'compaction revision');
    for (const g of [...garbage, generation + 1]) {
      for (const name of generationSublevelNames(g)) await sdb.clear(name);
    }
    await sdb.clear(historySublevelName(generation), { lt: revisionBound(compacted) });
    if (garbage.length > 0) await sdb.write([garbageOp([])], true);
    let sessions: SessionTable;
    let leases: LeaseTable;
    let auth: AuthState;
    try {
      sessions = SessionTable.fromRecords(await sdb.sublevel(sessionsSublevelName(generation)).iterator().all());
      leases = LeaseTable.fromRecords(await sdb.sublevel(leasesSublevelName(generation)).iterator().all());
      auth = AuthState.decode(need(4));
    } catch (err) {
      if (err instanceof StateMachineError) throw new StoreError('CORRUPTED', err.message, { cause: err });
      throw err;
    }
    const sm = new StateMachine(sessions, leases, auth, membership.members, membership.conf, compacted, logger);
    return new StateStore(sdb, generation, [], applied, sm, logger);
  }

  /** Durable applied index: pass it as `RaftConfig.applied` when starting the core. */
  appliedIndex(): number {
    return this.applied.index;
  }

  appliedMark(): AppliedMark {
    return this.applied;
  }

  /** Membership with addresses as of the applied index. */
  members(): Member[] {
    return this.sm.members();
  }

  /** Voters and learners as of the applied index. */
  confState(): ConfState {
    return this.sm.conf();
  }

  /** The lease table as of the applied index (read it, never change it). */
  leases(): LeaseTable {
    return this.sm.leases;
  }

  /** Users, roles and whether auth is enabled, as of the applied index (read it anew each time: a snapshot install replaces it). */
  auth(): AuthState {
    return this.sm.auth;
  }

  /** The oldest revision the history keeps, as of the applied index. */
  compactRevision(): number {
    return this.sm.compactRevision();
  }

  /** The one listener that follows the history (replaces any before it). */
  setHistoryListener(listener: HistoryListener | undefined): void {
    this.listener = listener;
  }

  /** Number of client sessions remembered. */
  get sessionCount(): number {
    return this.sm.sessions.size;
  }

  /**
   * Apply committed entries (which must follow the applied index without a gap) in ONE batch
   * that also records the new applied index and, when a conf entry applies, the membership.
   * Returns one result per entry, in order. A command that does not decode is answered INTERNAL.
   * `computed`, when given, receives the results as soon as they are known, before the batch is
   * written (the entries are committed, hence durable in the log: a crash before the write
   * applies them again, to the same results); reads of the store see them only once the returned
   * promise resolves.
   */
  async apply(entries: readonly Entry[], computed?: (results: readonly ApplyResult[]) => void): Promise<ApplyResult[]> {
    this.sdb.usable();
    if (entries.length === 0) return [];
    assertContiguous(entries, 'apply');
    return this.queue.run(async () => {
      this.sdb.usable();
      if (entries[0]!.index !== this.applied.index + 1) {
        throw new Error(`apply: entries start at ${entries[0]!.index}, applied index is ${this.applied.index}`);
      }
      const kv = this.kv();
      const prepared = this.sm.prepare(entries);
      const current = await this.storedValues(kv, prepared.keys as Bytes[], prepared.ids, true);
      const changes = new WriteSet();
      let outcome;
      try {
        outcome = await this.sm.execute(prepared, current, changes, kv);
      } catch (err) {
        this.sdb.fail(err); // the session table may be half-updated
        throw new StoreError('FAILED', `apply failed: ${String(err)}`, { cause: err });
      }
      const kvName = kvSublevelName(this.generation);
      const ssName = sessionsSublevelName(this.generation);
      const lsName = leasesSublevelName(this.generation);
      const ops: BatchOp[] = [];
      for (const [id, { key, value }] of changes.values) {
        ops.push(value === undefined ? { type: 'del', sublevel: kvName, key } : { type: 'put', sublevel: kvName, key, value });
        this.cache.set(id, value);
      }
      for (const [key, value] of outcome.sessionChanges) {
        ops.push(value === undefined ? { type: 'del', sublevel: ssName, key } : { type: 'put', sublevel: ssName, key, value });
      }
      for (const [key, value] of outcome.leaseChanges) {
        ops.push(value === undefined ? { type: 'del', sublevel: lsName, key } : { type: 'put', sublevel: lsName, key, value });
      }
      const hsName = historySublevelName(this.generation);
      for (const [key, value] of changes.history) ops.push({ type: 'put', sublevel: hsName, key, value });
      const compactedTo = changes.compactedTo;
      if (compactedTo !== undefined) ops.push({ type: 'put', sublevel: META_SUBLEVEL, key: META.compacted, value: encodeCount(compactedTo) });
      const last = entries[entries.length - 1]!;
      const applied = { index: last.index, term: last.term };
      ops.push({ type: 'put', sublevel: META_SUBLEVEL, key: META.applied, value: encodeApplied(applied) });
      if (outcome.membershipChanged) {
        ops.push({ type: 'put', sublevel: META_SUBLEVEL, key: META.members, value: encodeMembership({ conf: this.sm.conf(), members: this.sm.members() }) });
      }
      if (outcome.authChanged) ops.push({ type: 'put', sublevel: META_SUBLEVEL, key: META.auth, value: this.sm.auth.encode() });
      computed?.(outcome.results);
      await this.sdb.write(ops, false);
      this.applied = applied;
      this.listener?.applied(changes.history, applied.index);
      if (compactedTo !== undefined) this.inBackground(this.sdb.clear(hsName, { lt: revisionBound(compactedTo) }));
      return outcome.results;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Reads (local: as of whatever has been applied when the read starts)
  // -------------------------------------------------------------------------------------------

  /**
   * The value of `key`. Gets asked for in one turn of the event loop (the linearizable reads one
   * read index released, the requests of one socket read) are answered together at the end of the
   * turn: from the value cache when it holds the key, the rest from the store, in place when they
   * are few, else in one `getMany` (one trip through LevelDB's thread pool instead of one per key;
   * see `SYNC_READ_KEYS_MAX`). Each sees every apply that completed before it was asked for (the
   * batch starts later, never earlier, and reads the live generation then).
   */
  get(key: Uint8Array): Promise<KeyValue | null> {
    try {
      this.sdb.usable();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      if (this.gets.length === 0) queueMicrotask(this.readGets);
      this.gets.push({ key, resolve, reject });
    });
  }

  /** Reads the gets asked for this turn (see `get`). */
  private readonly readGets = (): void => {
    const gets = this.gets;
    this.gets = [];
    const keys = gets.map((g) => g.key as Bytes);
    let reading: Promise<Array<Bytes | undefined>>;
    try {
      this.sdb.usable();
      reading = this.storedValues(this.kv(), keys, keys.map(keyId), false);
    } catch (err) {
      reading = Promise.reject(err);
    }
    reading.then(
      (values) => {
        for (let i = 0; i < gets.length; i++) {
          const bytes = values[i];
          gets[i]!.resolve(bytes === undefined ? null : toKeyValue(keys[i]!, bytes));
        }
      },
      (err: unknown) => {
        for (const g of gets) g.reject(err);
      },
    );
  };

  /**
   * Keys in `range` in byte order, at most `limit` (1..LIMITS.scanLimitMax, else `TypeError`) and
   * at most about `LIMITS.scanResponseBytesMax` bytes of keys and values (always at least one
   * entry), so that the answer fits in one client frame whatever the value sizes; `more` is true
   * when the range holds further keys (the caller continues after the last key returned).
   * `prefix` and `[start, end)` combine (both must hold).
   */
  async scan(range: ScanRange, limit: number): Promise<{ kvs: KeyValue[]; more: boolean }> {
    this.sdb.usable();
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIMITS.scanLimitMax) {
      throw new TypeError(`scan: limit must be an integer in [1, ${LIMITS.scanLimitMax}]`);
    }
    let lower = range.start;
    let upper = range.end;
    if (range.prefix !== undefined && range.prefix.byteLength > 0) {
      if (lower === undefined || Buffer.compare(range.prefix, lower) > 0) lower = range.prefix;
      const prefixEnd = prefixUpperBound(range.prefix);
      if (prefixEnd !== undefined && (upper === undefined || Buffer.compare(prefixEnd, upper) < 0)) upper = prefixEnd;
    }
    if (lower !== undefined && upper !== undefined && Buffer.compare(lower, upper) >= 0) return { kvs: [], more: false };
    const options: { gte?: Bytes; lt?: Bytes; limit: number } = { limit: limit + 1 };
    if (lower !== undefined) options.gte = lower;
    if (upper !== undefined) options.lt = upper;
    // Read in small batches and stop at the byte budget: never hold more than one response's worth.
    const it = this.kv().iterator(options);
    const kvs: KeyValue[] = [];
    let size = 0;
    let more = false;
    try {
      pages: for (;;) {
        const rows = await it.nextv(SCAN_READ_ROWS);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          const rowBytes = k.byteLength + v.byteLength + SCAN_ROW_OVERHEAD_BYTES;
          if (kvs.length === limit || (kvs.length > 0 && size + rowBytes > LIMITS.scanResponseBytesMax)) {
            more = true;
            break pages;
          }
          kvs.push(toKeyValue(k, v));
          size += rowBytes;
        }
      }
    } finally {
      await it.close();
    }
    return { kvs, more };
  }

  /**
   * History from revision `from` (>= the compaction point, else `StoreError('COMPACTED')`) up to
   * `through` (at most the applied index), whole revisions only, stopping after about `maxBytes`
   * of keys and values (at least one revision). A compaction that passes `from` while the read
   * runs also fails it with COMPACTED, so what is returned never has a gap.
   */
  async readHistory(from: number, through: number, maxBytes: number): Promise<HistoryRead> {
    this.sdb.usable();
    const compactedBefore = this.compactRevision();
    if (from < compactedBefore) throw new StoreError('COMPACTED', `revision ${from} is compacted; the oldest available is ${compactedBefore}`);
    if (through > this.applied.index) throw new TypeError(`readHistory: through ${through} is beyond the applied index ${this.applied.index}`);
    const events: HistoryEvent[] = [];
    let bytes = 0;
    let last = from - 1;
    if (from <= through) {
      const it = this.sdb.sublevel(historySublevelName(this.generation)).iterator({ gte: revisionBound(from), lt: revisionBound(through + 1) });
      try {
        pages: for (;;) {
          const rows = await it.nextv(SCAN_READ_ROWS);
          if (rows.length === 0) {
            last = through;
            break;
          }
          for (const [k, v] of rows) {
            const revision = revisionOfHistoryKey(k);
            if (revision !== last && bytes >= maxBytes) break pages; // stop between revisions
            const event = decodeHistoryRecord(k, v);
            events.push(event);
            bytes += k.byteLength + v.byteLength;
            last = revision;
          }
        }
      } finally {
        await it.close();
      }
    }
    const compactedAfter = this.compactRevision();
    if (from < compactedAfter) throw new StoreError('COMPACTED', `revision ${from} is compacted; the oldest available is ${compactedAfter}`);
    return { events, through: Math.max(last, from - 1) };
  }

  /** A digest of the user data and the applied index it is as of, read from one database snapshot (`state-digest.ts`). */
  async digest(): Promise<StateDigest> {
    this.sdb.usable();
    return digestState(this.sdb.db, this.sdb.meta, (name) => this.sdb.sublevel(name));
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------------

  /**
   * The snapshot to send now: the state as of the applied index at the time of the call, read
   * from one database snapshot (consistent even while applies continue), with its own meta. The
   * meta's index may be NEWER than the log's base (never older): the receiver installs that newer,
   * committed state, and the leader learns its real match index from the follower's next append
   * response. Chunks are at most `chunkBytes` (>= SNAPSHOT_CHUNK_BYTES_MIN) bytes, except that one
   * record larger than that travels alone. Iterate `chunks` once.
   */
  async readSnapshot(chunkBytes: number): Promise<SnapshotStream> {
    this.sdb.usable();
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < SNAPSHOT_CHUNK_BYTES_MIN) {
      throw new TypeError(`readSnapshot: chunkBytes must be an integer >= ${SNAPSHOT_CHUNK_BYTES_MIN}`);
    }
    return openSnapshotStream(this.sdb.db, this.sdb.meta, (name) => this.sdb.sublevel(name), chunkBytes);
  }

  /**
   * Start receiving the snapshot `meta` into a side area. Throws `StoreError('SNAPSHOT_STALE')`
   * unless `meta.index` is beyond both the applied index and `commit` (the log's durable commit
   * index). An install already in progress is aborted first (one at a time).
   */
  async beginSnapshotInstall(meta: SnapshotMeta, commit: number): Promise<SnapshotInstall> {
    this.sdb.usable();
    return this.queue.run(async () => {
      this.sdb.usable();
      if (meta.index <= this.applied.index || meta.index <= commit) {
        throw new StoreError('SNAPSHOT_STALE', `snapshot ${meta.index} is not beyond applied ${this.applied.index} / commit ${commit}`);
      }
      if (this.install !== undefined) await this.install.abort();
      const side = this.generation + 1;
      const target: InstallTarget = {
        writeSide: (kv, sessions, leases, history) => {
          const ops: BatchOp[] = [];
          for (const [key, value] of kv) ops.push({ type: 'put', sublevel: kvSublevelName(side), key, value });
          for (const [key, value] of sessions) ops.push({ type: 'put', sublevel: sessionsSublevelName(side), key, value });
          for (const [key, value] of leases) ops.push({ type: 'put', sublevel: leasesSublevelName(side), key, value });
          for (const [key, value] of history) ops.push({ type: 'put', sublevel: historySublevelName(side), key, value });
          return this.sdb.write(ops, false);
        },
        clearSide: async () => {
          if (!this.sdb.isClosed) await this.clearGeneration(side); // else: cleared at the next open
        },
        stage: (installer) => {
          if (this.install !== installer) throw new StoreError('SNAPSHOT_ABORTED', `snapshot ${installer.meta.index} install was replaced`);
        },
        unstage: (installer) => {
          if (this.install === installer) this.install = undefined;
        },
      };
      await this.clearGeneration(side);
      const installer = new SnapshotInstaller(meta, side, target);
      this.install = installer;
      this.logger?.log('info', 'snapshot.staging', { index: meta.index, term: meta.term, generation: side });
      return installer;
    });
  }

  /**
   * Swap the completed install of snapshot `meta` in: `write` (the log store's persist of the
   * Ready that carries the snapshot) writes the state records handed to it in its own batch;
   * once that is durable the install's generation is live. Throws `SNAPSHOT_NOT_STAGED` when no
   * completed install matches `meta`.
   */
  async swapIn(meta: SnapshotMeta, write: (stateOps: readonly BatchOp[]) => Promise<void>): Promise<void> {
    this.sdb.usable();
    return this.queue.run(async () => {
      this.sdb.usable();
      const install = this.install;
      if (install === undefined || !install.isComplete || install.meta.index !== meta.index || install.meta.term !== meta.term) {
        throw new StoreError('SNAPSHOT_NOT_STAGED', `no completed snapshot install matches ${meta.index}/${meta.term}`);
      }
      const s = install.meta;
      const oldGeneration = this.generation;
      const garbage = [...this.garbage, oldGeneration];
      const members = [...install.members];
      await write([
        { type: 'put', sublevel: META_SUBLEVEL, key: META.generation, value: encodeCount(install.generation) },
        garbageOp(garbage),
        { type: 'put', sublevel: META_SUBLEVEL, key: META.applied, value: encodeApplied({ index: s.index, term: s.term }) },
        { type: 'put', sublevel: META_SUBLEVEL, key: META.members, value: encodeMembership({ conf: s.conf, members }) },
        { type: 'put', sublevel: META_SUBLEVEL, key: META.auth, value: install.auth.record },
        { type: 'put', sublevel: META_SUBLEVEL, key: META.compacted, value: encodeCount(install.compacted) },
      ]);
      this.generation = install.generation;
      this.cache.clear();
      this.garbage = garbage;
      this.applied = { index: s.index, term: s.term };
      this.sm = new StateMachine(install.sessions, install.leases, install.auth.state, members, s.conf, install.compacted, this.logger);
      this.install = undefined;
      install.markConsumed();
      this.logger?.log('info', 'snapshot.swapped', { index: s.index, term: s.term, generation: this.generation });
      this.listener?.replaced(s.index);
      this.inBackground(this.collectGarbage(oldGeneration));
    });
  }

  /** Wait for every write and background clean-up in flight. */
  async idle(): Promise<void> {
    await this.queue.idle();
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  // -------------------------------------------------------------------------------------------

  /**
   * The stored values of `keys` (whose `keyId`s are `ids`; undefined: absent): from the value
   * cache, the rest from the store. `keep` (an apply's keys): the cached keys become the most
   * recently used and what the store answered is cached; gets (`keep` false) leave the cache as
   * it is, so reads never push out the keys writes need.
   */
  private async storedValues(kv: BytesSublevel, keys: Bytes[], ids: readonly string[], keep: boolean): Promise<Array<Bytes | undefined>> {
    const values: Array<Bytes | undefined> = new Array(keys.length);
    const missed: number[] = [];
    for (let k = 0; k < keys.length; k++) {
      const cached = keep ? this.cache.get(ids[k]!) : this.cache.peek(ids[k]!);
      if (cached === undefined) missed.push(k);
      else values[k] = cached;
    }
    if (missed.length === 0) return values;
    const read = await readValues(kv, missed.map((k) => keys[k]!));
    missed.forEach((k, i) => {
      const value = read[i];
      values[k] = value;
      if (keep && value !== undefined) this.cache.set(ids[k]!, value);
    });
    return values;
  }

  private kv(): BytesSublevel {
    return this.sdb.sublevel(kvSublevelName(this.generation));
  }

  private async clearGeneration(g: number): Promise<void> {
    for (const name of generationSublevelNames(g)) await this.sdb.clear(name);
  }

  /** Clear a swapped-out generation, then forget it. */
  private async collectGarbage(generation: number): Promise<void> {
    await this.clearGeneration(generation);
    for (const name of generationSublevelNames(generation)) this.sdb.forget(name);
    await this.queue.run(async () => {
      if (this.sdb.isClosed) return;
      this.sdb.usable();
      this.garbage = this.garbage.filter((g) => g !== generation);
      await this.sdb.write([garbageOp(this.garbage)], false);
    });
  }

  private inBackground(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.logger?.log('warn', 'store.cleanup.failed', { error: String(err), retry: 'at next open' });
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }
}

/** A `get` waiting for its turn's batch. */
interface PendingGet {
  readonly key: Uint8Array;
  readonly resolve: (kv: KeyValue | null) => void;
  readonly reject: (err: unknown) => void;
}

/** The stored values of `keys` in the store (undefined: absent). */
async function readValues(kv: BytesSublevel, keys: Bytes[]): Promise<Array<Bytes | undefined>> {
  if (keys.length <= SYNC_READ_KEYS_MAX) {
    await kv.open(); // a new generation's sublevel opens asynchronously; synchronous reads do not wait
    return keys.map((key) => kv.getSync(key));
  }
  return kv.getMany(keys);
}

function garbageOp(garbage: readonly number[]): BatchOp {
  return { type: 'put', sublevel: META_SUBLEVEL, key: META.garbage, value: encodeCounts(garbage) };
}

function toKeyValue(key: Uint8Array, stored: Uint8Array): KeyValue {
  const v = decodeStoredValue(stored);
  return {
    key: new Uint8Array(key.buffer, key.byteOffset, key.byteLength),
    value: v.value,
    createRevision: v.createRevision,
    modRevision: v.modRevision,
    version: v.version,
  };
}
