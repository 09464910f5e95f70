/**
 * The durable state of one Keel node in one LevelDB database (layout: `layout.ts`).
 *
 * Writes (each ONE LevelDB batch):
 *  - `persist`: a Ready's entries (overwriting and deleting any stored suffix they replace) and
 *    its hard state, synced when the Ready must be; plus, when the Ready carries a received
 *    snapshot, the generation swap. Then the in-memory `raftStorage` view is brought in step.
 *  - `apply`: the effects of committed entries on user data and sessions, the applied index and
 *    the membership. Not synced: the entries are in the synced log, and LevelDB's write-ahead log
 *    is ordered, so a crash loses a suffix of applies together with their applied index and the
 *    node re-applies them from the log. `createSnapshot` syncs before it compacts the log.
 *
 * Invariants (asserted at open and on every write):
 *  - snapshot.index <= applied.index <= raftStorage.lastIndex(); the log holds exactly
 *    (snapshot.index, lastIndex] (stale keys at or below the base are ignored and cleared).
 *  - user data, sessions, applied index and membership always change together (one batch).
 *  - exactly one data generation is live; a side generation (live + 1) only ever holds an install
 *    in progress, and is cleared at open and before each install.
 *
 * Concurrency: mutating calls are serialized on two queues — one for the log (`persist`) and one
 * for the state machine (`apply`); operations that touch both (`createSnapshot`, a snapshot swap)
 * take both. Reads (`get`, `scan`, `digest`, `readSnapshot`) never wait: LevelDB gives each a consistent view.
 * A failed write leaves the in-memory view ahead of the disk: the store then refuses everything
 * with `StoreError('FAILED')` and the node must restart (it recovers from the disk).
 */
import { LIMITS, type KeyValue, type Member, type StateDigest } from '@keel/protocol';
import type { ConfState, Entry, HardState, Logger, MemoryStorage, Snapshot, SnapshotMeta } from '@keel/raft';
import { StateMachine, type ApplyResult } from '../state-machine/state-machine.js';
import { WriteSet } from '../state-machine/write-set.js';
import { decodeStoredValue } from '../state-machine/stored-value.js';
import {
  META,
  encodeApplied,
  encodeCount,
  encodeCounts,
  encodeEntry,
  encodeHardState,
  encodeMembership,
  encodeSnapshotMeta,
  logKey,
  type AppliedMark,
} from './codec.js';
import { StoreError } from './errors.js';
import { bytesSublevel, kvSublevelName, openDb, sessionsSublevelName, writeBatch, type BatchOp, type Bytes, type BytesSublevel, type Db, type MetaSublevel } from './layout.js';
import { recover } from './recovery.js';
import { SerialQueue } from './serial-queue.js';
import { SNAPSHOT_CHUNK_BYTES_MIN } from './snapshot-format.js';
import { SnapshotInstaller, type InstallTarget, type SnapshotInstall } from './snapshot-install.js';
import { openSnapshotStream, type SnapshotStream } from './snapshot-reader.js';
import { digestState } from './state-digest.js';

export interface OpenStoreOptions {
  /** Data directory (created when missing); LevelDB lives in `${dir}/db`. */
  readonly dir: string;
  /**
   * Membership of a brand-new store (ignored when the store exists). Without it a new store
   * starts with an empty configuration and waits for a snapshot from a leader.
   */
  readonly bootstrap?: { readonly conf: ConfState; readonly members: readonly Member[] };
  readonly logger?: Logger;
}

/** Key range of a scan: `prefix`, and/or `[start, end)`; all absent = every key. */
export interface ScanRange {
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly prefix?: Uint8Array;
}

export type { ApplyResult, SnapshotInstall, SnapshotStream };

const EMPTY = new Uint8Array(0);

/**
 * Most bytes of keys and values one scan returns: half a frame (LIMITS.frameBytesMax), leaving
 * ample room for the encoding of the response around them. One entry (key + value, at most
 * ~1 MiB) always fits.
 */
export const SCAN_RESPONSE_BYTES_MAX = LIMITS.frameBytesMax / 2;
/** Allowance per scanned entry for its revisions and msgpack framing. */
const SCAN_ROW_OVERHEAD_BYTES = 64;
/** Rows a scan reads from LevelDB at a time. */
const SCAN_READ_ROWS = 16;

/**
 * One node's durable state. Typical use by the node driver, per Ready:
 * `persist(ready, ready.mustSync)` → send messages → `apply(ready.committedEntries)` → advance;
 * `createSnapshot()` every N applied entries; `readSnapshot()` to stream to a lagging follower;
 * `beginSnapshotInstall()` → `write()`… → `complete()` on the receiving side, swapped in by the
 * `persist()` of the Ready that carries the snapshot.
 */
export class NodeStore {
  /** The core's read-only view of the log, rebuilt at open and kept in step by `persist`. */
  readonly raftStorage: MemoryStorage;

  private readonly logQueue = new SerialQueue();
  private readonly smQueue = new SerialQueue();
  private readonly background = new Set<Promise<void>>();
  private closed = false;
  private failure: unknown;
  private install: SnapshotInstaller | undefined;
  private readonly sublevels = new Map<string, BytesSublevel>();

  private constructor(
    private readonly db: Db,
    private readonly meta: MetaSublevel,
    private readonly log: BytesSublevel,
    private generation: number,
    private garbage: number[],
    private applied: AppliedMark,
    private sm: StateMachine,
    raftStorage: MemoryStorage,
    private readonly logger: Logger | undefined,
  ) {
    this.raftStorage = raftStorage;
  }

  /** Open (or create) the store and rebuild the in-memory view. Throws `StoreError('CORRUPTED')` on damaged data. */
  static async open(opts: OpenStoreOptions): Promise<NodeStore> {
    const db = await openDb(opts.dir);
    try {
      const r = await recover(db, opts);
      return new NodeStore(db, r.meta, r.log, r.generation, [], r.applied, r.sm, r.raftStorage, opts.logger);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------
  // State as of the applied index
  // -------------------------------------------------------------------------------------------

  /** Durable applied index: pass it as `RaftConfig.applied` when starting the core. */
  appliedIndex(): number {
    return this.applied.index;
  }

  /** Membership with addresses as of the applied index. */
  members(): Member[] {
    return this.sm.members();
  }

  /** Voters and learners as of the applied index. */
  confState(): ConfState {
    return this.sm.conf();
  }

  // -------------------------------------------------------------------------------------------
  // Writes
  // -------------------------------------------------------------------------------------------

  /**
   * Make a Ready durable in ONE batch (synced when `sync`): its `entries` (discarding any stored
   * entries at or after the first one; entries at or below the snapshot are skipped) and its
   * `hardState`. When `ready.snapshot` is newer than the store's snapshot, the completed install
   * with that meta (see `SnapshotInstall.complete`) is swapped in by the same batch, which is
   * then always synced. Then `raftStorage` is updated to match.
   */
  async persist(ready: { readonly snapshot?: Snapshot; readonly hardState?: HardState; readonly entries: readonly Entry[] }, sync: boolean): Promise<void> {
    this.usable();
    assertContiguous(ready.entries, 'persist');
    if (ready.snapshot !== undefined) {
      const snapshot = ready.snapshot;
      return this.both(() => this.persistWithSnapshot(snapshot, ready.hardState, ready.entries));
    }
    return this.logQueue.run(() => this.persistNow(ready.hardState, ready.entries, sync));
  }

  private async persistNow(hardState: HardState | undefined, entries: readonly Entry[], sync: boolean): Promise<void> {
    this.usable();
    const ops: BatchOp[] = [];
    const toAppend = this.logOps(ops, entries, this.raftStorage.snapshot().meta.index, this.raftStorage.lastIndex());
    if (hardState !== undefined) ops.push({ type: 'put', sublevel: this.meta, key: META.hardState, value: encodeHardState(hardState) });
    if (ops.length > 0) await this.write(ops, sync);
    this.raftStorage.append(toAppend);
    if (hardState !== undefined) this.raftStorage.setHardState(hardState);
  }

  /**
   * Add the log writes for `entries` on a log holding (base, last] to `ops`; returns the entries
   * to append to `raftStorage` (those after the base).
   */
  private logOps(ops: BatchOp[], entries: readonly Entry[], base: number, last: number): readonly Entry[] {
    let from = 0;
    while (from < entries.length && entries[from]!.index <= base) from++;
    if (from === entries.length) return [];
    const toAppend = from === 0 ? entries : entries.slice(from);
    const first = toAppend[0]!.index;
    if (first > last + 1) throw new Error(`persist: entries start at ${first}, after a gap (last index ${last})`);
    // Invariant: applied entries are committed and never change (Raft §5.4 Log Matching + Leader Completeness).
    for (let k = 0; k < toAppend.length && toAppend[k]!.index <= Math.min(this.applied.index, last); k++) {
      const e = toAppend[k]!;
      if (this.raftStorage.term(e.index) !== e.term) {
        throw new Error(`persist: entry ${e.index} (term ${e.term}) would overwrite an applied entry of term ${this.raftStorage.term(e.index)}`);
      }
    }
    for (const e of toAppend) ops.push({ type: 'put', sublevel: this.log, key: logKey(e.index), value: encodeEntry(e) });
    for (let i = toAppend[toAppend.length - 1]!.index + 1; i <= last; i++) ops.push({ type: 'del', sublevel: this.log, key: logKey(i) });
    return toAppend;
  }

  private async persistWithSnapshot(snapshot: Snapshot, hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    this.usable();
    const base = this.raftStorage.snapshot().meta.index;
    if (snapshot.meta.index <= base) {
      // Already installed (e.g. by SnapshotInstall.commit): only the rest of the Ready remains.
      await this.persistNow(hardState, entries, true);
      return;
    }
    const install = this.install;
    const m = snapshot.meta;
    if (install === undefined || !install.isComplete || install.meta.index !== m.index || install.meta.term !== m.term) {
      throw new StoreError('SNAPSHOT_NOT_STAGED', `no completed snapshot install matches ${m.index}/${m.term}`);
    }
    const s = install.meta;
    const oldLast = this.raftStorage.lastIndex();
    // Mirror MemoryStorage.applySnapshot: keep the log after the snapshot iff it agrees at s.
    const keep = s.index <= oldLast && this.raftStorage.term(s.index) === s.term;
    const ops: BatchOp[] = [];
    if (!keep) for (let i = s.index + 1; i <= oldLast; i++) ops.push({ type: 'del', sublevel: this.log, key: logKey(i) });
    const toAppend = this.logOps(ops, entries, s.index, keep ? oldLast : s.index);
    const hs = hardState ?? this.raftStorage.hardState();
    const hard: HardState = hs.commit < s.index ? { ...hs, commit: s.index } : hs;
    const oldGeneration = this.generation;
    const garbage = [...this.garbage, oldGeneration];
    const members = [...install.members];
    ops.push(
      { type: 'put', sublevel: this.meta, key: META.generation, value: encodeCount(install.generation) },
      { type: 'put', sublevel: this.meta, key: META.garbage, value: encodeCounts(garbage) },
      { type: 'put', sublevel: this.meta, key: META.applied, value: encodeApplied({ index: s.index, term: s.term }) },
      { type: 'put', sublevel: this.meta, key: META.members, value: encodeMembership({ conf: s.conf, members }) },
      { type: 'put', sublevel: this.meta, key: META.snapshot, value: encodeSnapshotMeta(s) },
      { type: 'put', sublevel: this.meta, key: META.hardState, value: encodeHardState(hard) },
    );
    await this.write(ops, true);

    this.raftStorage.applySnapshot({ meta: s, data: EMPTY });
    this.raftStorage.append(toAppend);
    this.raftStorage.setHardState(hard);
    this.generation = install.generation;
    this.garbage = garbage;
    this.applied = { index: s.index, term: s.term };
    this.sm = new StateMachine(install.sessions, members, s.conf, this.logger);
    this.install = undefined;
    install.markConsumed();
    this.logger?.log('info', 'snapshot.swapped', { index: s.index, term: s.term, generation: this.generation, keptLog: keep });
    this.inBackground(this.collectGarbage(oldGeneration, s.index));
  }

  /**
   * Apply committed entries (which must follow the applied index without a gap) in ONE batch
   * that also records the new applied index and, when a conf entry applies, the membership.
   * Returns one result per entry, in order. A command that does not decode is answered INTERNAL.
   */
  async apply(entries: readonly Entry[]): Promise<ApplyResult[]> {
    this.usable();
    if (entries.length === 0) return [];
    assertContiguous(entries, 'apply');
    return this.smQueue.run(async () => {
      this.usable();
      if (entries[0]!.index !== this.applied.index + 1) {
        throw new Error(`apply: entries start at ${entries[0]!.index}, applied index is ${this.applied.index}`);
      }
      const kv = this.kv();
      const prepared = this.sm.prepare(entries);
      const current = prepared.keys.length > 0 ? await kv.getMany(prepared.keys as Bytes[]) : [];
      const changes = new WriteSet();
      let outcome;
      try {
        outcome = this.sm.execute(prepared, current, changes);
      } catch (err) {
        this.failure = err; // the session table may be half-updated
        throw new StoreError('FAILED', `apply failed: ${String(err)}`, { cause: err });
      }
      const ops: BatchOp[] = [];
      for (const { key, value } of changes.values.values()) {
        ops.push(value === undefined ? { type: 'del', sublevel: kv, key } : { type: 'put', sublevel: kv, key, value });
      }
      const ss = this.ss();
      for (const [key, value] of outcome.sessionChanges) {
        ops.push(value === undefined ? { type: 'del', sublevel: ss, key } : { type: 'put', sublevel: ss, key, value });
      }
      const last = entries[entries.length - 1]!;
      const applied = { index: last.index, term: last.term };
      ops.push({ type: 'put', sublevel: this.meta, key: META.applied, value: encodeApplied(applied) });
      if (outcome.membershipChanged) {
        ops.push({ type: 'put', sublevel: this.meta, key: META.members, value: encodeMembership({ conf: this.sm.conf(), members: this.sm.members() }) });
      }
      await this.write(ops, false);
      this.applied = applied;
      return outcome.results;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Reads (local: as of whatever has been applied when the read starts)
  // -------------------------------------------------------------------------------------------

  async get(key: Uint8Array): Promise<KeyValue | null> {
    this.usable();
    const bytes = await this.kv().get(key);
    return bytes === undefined ? null : toKeyValue(key, bytes);
  }

  /**
   * Keys in `range` in byte order, at most `limit` (1..LIMITS.scanLimitMax, else `TypeError`) and
   * at most about `SCAN_RESPONSE_BYTES_MAX` bytes of keys and values (always at least one entry),
   * so that the answer fits in one client frame whatever the value sizes; `more` is true when the
   * range holds further keys (the caller continues after the last key returned). `prefix` and
   * `[start, end)` combine (both must hold).
   */
  async scan(range: ScanRange, limit: number): Promise<{ kvs: KeyValue[]; more: boolean }> {
    this.usable();
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
          if (kvs.length === limit || (kvs.length > 0 && size + rowBytes > SCAN_RESPONSE_BYTES_MAX)) {
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

  /** A digest of the user data and the applied index it is as of, from one consistent view (`state-digest.ts`). */
  async digest(): Promise<StateDigest> {
    this.usable();
    return digestState(this.db, this.meta, (name) => this.sublevel(name));
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots
  // -------------------------------------------------------------------------------------------

  /**
   * Take a snapshot: record its meta (synced, which also makes every earlier apply durable),
   * compact `raftStorage` up to it, and delete the log behind it. The snapshot index is the applied
   * index minus `retainEntries` (default 0), so that followers lagging by fewer entries still
   * catch up from the log; its term and membership come from the log. Returns the existing meta
   * when the index would not move forward. Contents are not copied: `readSnapshot` streams the
   * live state from a LevelDB snapshot.
   */
  async createSnapshot(opts: { readonly retainEntries?: number } = {}): Promise<SnapshotMeta> {
    this.usable();
    const retain = opts.retainEntries ?? 0;
    if (!Number.isSafeInteger(retain) || retain < 0) throw new TypeError('createSnapshot: retainEntries must be a non-negative integer');
    return this.both(async () => {
      this.usable();
      const current = this.raftStorage.snapshot().meta;
      const index = Math.max(current.index, this.applied.index - retain);
      if (index === current.index) return current;
      const conf = this.confAt(index);
      // A node that joined with an empty configuration knows none before the first configuration
      // entry in its log; a snapshot there would carry no voters, which every receiver refuses.
      if (conf.voters.length === 0) return current;
      const meta: SnapshotMeta = { index, term: this.raftStorage.term(index), conf };
      await this.write([{ type: 'put', sublevel: this.meta, key: META.snapshot, value: encodeSnapshotMeta(meta) }], true);
      this.raftStorage.createSnapshot(meta.index, meta.conf);
      this.logger?.log('info', 'snapshot.created', { index: meta.index, term: meta.term, applied: this.applied.index, firstIndex: this.raftStorage.firstIndex() });
      this.inBackground(this.log.clear({ lte: logKey(meta.index) }));
      return meta;
    });
  }

  /** Membership as of `index` (between the snapshot and the applied index): the last conf entry at or before it. */
  private confAt(index: number): ConfState {
    if (index === this.applied.index) return this.sm.conf();
    const base = this.raftStorage.snapshot().meta;
    for (let i = index; i > base.index; i--) {
      const [e] = this.raftStorage.entries(i, i + 1);
      if (e!.type === 'confChange') return e!.conf;
    }
    return base.conf;
  }

  /**
   * The snapshot to send now: the state as of the applied index at the time of the call, read
   * from one LevelDB snapshot (consistent even while applies continue), with its own meta. The
   * meta's index may be NEWER than `raftStorage.snapshot()` (never older): the receiver installs
   * that newer, committed state, and the leader learns its real match index from the follower's
   * next append response. Chunks are at most `chunkBytes` (>= SNAPSHOT_CHUNK_BYTES_MIN) bytes,
   * except that one record larger than that travels alone. Iterate `chunks` once.
   */
  async readSnapshot(chunkBytes: number): Promise<SnapshotStream> {
    this.usable();
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < SNAPSHOT_CHUNK_BYTES_MIN) {
      throw new TypeError(`readSnapshot: chunkBytes must be an integer >= ${SNAPSHOT_CHUNK_BYTES_MIN}`);
    }
    return openSnapshotStream(this.db, this.meta, (name) => this.sublevel(name), chunkBytes);
  }

  /**
   * Start receiving the snapshot `meta` into a side area. Throws `StoreError('SNAPSHOT_STALE')`
   * unless `meta.index` is beyond both the applied index and the durable commit index. An install
   * already in progress is aborted first (one at a time).
   */
  async beginSnapshotInstall(meta: SnapshotMeta): Promise<SnapshotInstall> {
    this.usable();
    return this.smQueue.run(async () => {
      this.usable();
      const commit = this.raftStorage.hardState().commit;
      if (meta.index <= this.applied.index || meta.index <= commit) {
        throw new StoreError('SNAPSHOT_STALE', `snapshot ${meta.index} is not beyond applied ${this.applied.index} / commit ${commit}`);
      }
      if (this.install !== undefined) await this.install.abort();
      const side = this.generation + 1;
      const target: InstallTarget = {
        writeSide: (kv, sessions) => {
          const ops: BatchOp[] = [];
          const kvSide = this.sublevel(kvSublevelName(side));
          const ssSide = this.sublevel(sessionsSublevelName(side));
          for (const [key, value] of kv) ops.push({ type: 'put', sublevel: kvSide, key, value });
          for (const [key, value] of sessions) ops.push({ type: 'put', sublevel: ssSide, key, value });
          return writeBatch(this.db, ops, false);
        },
        clearSide: async () => {
          if (!this.closed) await this.clearGeneration(side); // else: cleared at the next open
        },
        stage: (installer) => {
          if (this.install !== installer) throw new StoreError('SNAPSHOT_ABORTED', `snapshot ${installer.meta.index} install was replaced`);
        },
        unstage: (installer) => {
          if (this.install === installer) this.install = undefined;
        },
        swapIn: (installer) => this.persist({ snapshot: { meta: installer.meta, data: EMPTY }, entries: [] }, true),
      };
      await this.clearGeneration(side);
      const installer = new SnapshotInstaller(meta, side, target);
      this.install = installer;
      this.logger?.log('info', 'snapshot.staging', { index: meta.index, term: meta.term, generation: side });
      return installer;
    });
  }

  /** Wait for everything in flight, then close LevelDB. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.logQueue.idle(), this.smQueue.idle()]);
    while (this.background.size > 0) await Promise.all([...this.background]);
    await this.db.close();
  }

  // -------------------------------------------------------------------------------------------

  private kv(): BytesSublevel {
    return this.sublevel(kvSublevelName(this.generation));
  }

  private ss(): BytesSublevel {
    return this.sublevel(sessionsSublevelName(this.generation));
  }

  /** Sublevel objects are cached: one per name for the store's life. */
  private sublevel(name: string): BytesSublevel {
    let sub = this.sublevels.get(name);
    if (sub === undefined) this.sublevels.set(name, (sub = bytesSublevel(this.db, name)));
    return sub;
  }

  private both<T>(op: () => Promise<T>): Promise<T> {
    return this.smQueue.run(() => this.logQueue.run(op));
  }

  private async write(ops: BatchOp[], sync: boolean): Promise<void> {
    try {
      await writeBatch(this.db, ops, sync);
    } catch (err) {
      this.failure = err;
      throw new StoreError('FAILED', `LevelDB write failed: ${String(err)}`, { cause: err });
    }
  }

  private usable(): void {
    if (this.closed) throw new StoreError('CLOSED', 'the store is closed');
    if (this.failure !== undefined) throw new StoreError('FAILED', `an earlier write failed: ${String(this.failure)}`, { cause: this.failure });
  }

  private async clearGeneration(g: number): Promise<void> {
    await this.sublevel(kvSublevelName(g)).clear();
    await this.sublevel(sessionsSublevelName(g)).clear();
  }

  /** Clear a swapped-out generation and the log behind a snapshot, then forget the generation. */
  private async collectGarbage(generation: number, snapshotIndex: number): Promise<void> {
    await this.log.clear({ lte: logKey(snapshotIndex) });
    await this.clearGeneration(generation);
    this.sublevels.delete(kvSublevelName(generation));
    this.sublevels.delete(sessionsSublevelName(generation));
    await this.smQueue.run(async () => {
      if (this.closed || this.failure !== undefined) return;
      this.garbage = this.garbage.filter((g) => g !== generation);
      await this.write([{ type: 'put', sublevel: this.meta, key: META.garbage, value: encodeCounts(this.garbage) }], false);
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

function toKeyValue(key: Uint8Array, stored: Uint8Array): KeyValue {
  const v = decodeStoredValue(stored);
  return {
    key: new Uint8Array(key.buffer, key.byteOffset, key.byteLength),
    value: v.value,
    createRevision: v.createRevision,
    modRevision: v.modRevision,
  };
}

/** The smallest key greater than every key starting with `prefix`, or undefined (all 0xff). */
function prefixUpperBound(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.byteLength;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  // A copy, never a view: Buffer#slice (unlike Uint8Array#slice) would share memory and the
  // increment below would corrupt the caller's prefix.
  const out = new Uint8Array(prefix.subarray(0, end));
  out[end - 1]! += 1;
  return out;
}

function assertContiguous(entries: readonly Entry[], what: string): void {
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== entries[i - 1]!.index + 1) {
      throw new Error(`${what}: entries not contiguous at ${entries[i]!.index} (after ${entries[i - 1]!.index})`);
    }
  }
}
