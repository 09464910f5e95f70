/**
 * The log store: the Raft log, the hard state and the snapshot meta (the log base) of one node,
 * and the core's synchronous read-only view of them (`raftStorage`, a `PackedLog` rebuilt at open
 * and kept in step with every durable write, from the same encoded bytes).
 *
 * Writes (each ONE batch, through the shared `StoreDb`):
 *  - `persist`: a Ready's entries (overwriting and deleting any stored suffix they replace) and
 *    its hard state, synced when the Ready must be (an unsynced move of the commit index alone is
 *    kept in memory: `open` raises the commit to the applied index); when the Ready carries a received snapshot,
 *    also the state store's generation swap (`stateOps`), in the same synced batch.
 *  - `createSnapshot`: the new log base (synced, which also makes every earlier apply durable),
 *    then the log behind it is cleared in the background.
 *  - `bootstrap`: the initial membership as the first log entries (etcd's `Bootstrap`), so the
 *    log alone defines every configuration the node ever had.
 *  - `restore`: or the base of a restored backup, with the new membership in its snapshot meta.
 *
 * Invariants (asserted on every write): the log holds exactly (snapshot.index, lastIndex];
 * committed entries never change (Raft §5.4: Log Matching and Leader Completeness); the commit
 * index never exceeds the last index.
 */
import type { Member } from '@keel/protocol';
import type { ConfState, Entry, HardState, Logger, Snapshot, SnapshotMeta } from '@keel/raft';
import { bootstrapEntries, membersOf } from '../state-machine/membership.js';
import {
  META,
  decodeEntry,
  decodeHardState,
  decodeMembership,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeMembership,
  encodeSnapshotMeta,
  logIndex,
  logKey,
  type AppliedMark,
} from './codec.js';
import { StoreError } from './errors.js';
import { LOG_SUBLEVEL, META_SUBLEVEL, READ_BATCH_ROWS, type BatchOp } from './layout.js';
import { PackedLog } from './packed-log.js';
import { SerialQueue } from './serial-queue.js';
import type { StoreDb } from './store-db.js';

const EMPTY = new Uint8Array(0);
const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** Entries to append to the view, each with its encoding (the value written to LevelDB). */
interface EncodedEntries {
  readonly entries: readonly Entry[];
  readonly encodings: readonly Uint8Array[];
}

const NO_ENTRIES: EncodedEntries = { entries: [], encodings: [] };

/** The persistent part of a Ready. */
export interface LogWrite {
  readonly snapshot?: Snapshot;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
}

export class LogStore {
  private readonly queue = new SerialQueue();
  private readonly background = new Set<Promise<void>>();

  private constructor(
    private readonly sdb: StoreDb,
    /** The core's read-only view of the log. */
    readonly raftStorage: PackedLog,
    private bootstrapRecord: readonly Member[] | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** The records of a brand-new, empty log (written once, with the state store's, by `openNodeStores`). */
  static initialOps(): BatchOp[] {
    return [
      { type: 'put', sublevel: META_SUBLEVEL, key: META.hardState, value: encodeHardState({ term: 0, vote: 0, commit: 0 }) },
      { type: 'put', sublevel: META_SUBLEVEL, key: META.snapshot, value: encodeSnapshotMeta({ index: 0, term: 0, conf: EMPTY_CONF }) },
    ];
  }

  /**
   * Rebuild the view from the database. `applied` (from the state store) must lie in the log;
   * applied entries are committed, so a commit index that lags it on disk (an unsynced Ready) is
   * raised to it. Throws `StoreError('CORRUPTED')` on damaged data.
   */
  static async open(sdb: StoreDb, applied: AppliedMark, logger?: Logger): Promise<LogStore> {
    const [hardB, snapB, bootB] = await sdb.meta.getMany([META.hardState, META.snapshot, META.bootstrap]);
    if (hardB === undefined || snapB === undefined) throw new StoreError('CORRUPTED', 'log metadata is missing');
    const hard = decodeHardState(hardB);
    const snap = decodeSnapshotMeta(snapB);
    const bootstrap = bootB === undefined ? undefined : decodeMembership(bootB, 'bootstrap record').members;

    const raftStorage = new PackedLog(snap.conf);
    if (snap.index > 0) {
      raftStorage.applySnapshot({ meta: snap, data: EMPTY });
      await sdb.clear(LOG_SUBLEVEL, { lte: logKey(snap.index) });
    }
    const it = sdb.log.iterator({ gt: logKey(snap.index) });
    try {
      for (;;) {
        const batch = await it.nextv(READ_BATCH_ROWS);
        if (batch.length === 0) break;
        const entries = batch.map(([k, v]) => decodeEntry(logIndex(k), v));
        const expected = raftStorage.lastIndex() + 1;
        entries.forEach((e, k) => {
          if (e.index !== expected + k) throw new StoreError('CORRUPTED', `log has a gap: found ${e.index}, expected ${expected + k}`);
        });
        raftStorage.append(entries, batch.map(([, v]) => v));
      }
    } finally {
      await it.close();
    }
    if (applied.index < snap.index || applied.index > raftStorage.lastIndex()) {
      throw new StoreError('CORRUPTED', `applied index ${applied.index} outside [${snap.index}, ${raftStorage.lastIndex()}]`);
    }
    if (raftStorage.term(applied.index) !== applied.term) {
      throw new StoreError('CORRUPTED', `applied term ${applied.term} differs from the log's term ${raftStorage.term(applied.index)} at ${applied.index}`);
    }
    if (hard.commit > raftStorage.lastIndex()) {
      throw new StoreError('CORRUPTED', `commit index ${hard.commit} beyond the last log index ${raftStorage.lastIndex()}`);
    }
    // Applied entries are committed by definition; the commit on disk may lag (unsynced Ready).
    raftStorage.setHardState(hard.commit < applied.index ? { ...hard, commit: applied.index } : hard);
    return new LogStore(sdb, raftStorage, bootstrap, logger);
  }

  /** Nothing was ever written: no entry, no snapshot, no term. A pristine log may be bootstrapped. */
  get isPristine(): boolean {
    const hs = this.raftStorage.hardState();
    return this.raftStorage.lastIndex() === 0 && hs.term === 0 && hs.vote === 0;
  }

  /** The members this log was bootstrapped with; undefined when it was not (a node that joined). */
  get bootstrappedWith(): readonly Member[] | undefined {
    return this.bootstrapRecord;
  }

  /**
   * Write the initial membership as the first log entries (one `addVoter` per member, term 1,
   * all committed) with the bootstrap record, in one synced batch. Every member of a new cluster
   * writes the same entries, so the log alone defines the configuration, also for a node that
   * joins later and catches up from index 1. Only on a pristine log.
   */
  async bootstrap(members: readonly Member[]): Promise<void> {
    await this.queue.run(async () => {
      this.sdb.usable();
      if (!this.isPristine) throw new Error('LogStore.bootstrap: the log is not empty');
      if (members.length === 0) throw new TypeError('LogStore.bootstrap: no members');
      const entries = bootstrapEntries(members);
      const hard: HardState = { term: 1, vote: 0, commit: entries.length };
      const conf = entries[entries.length - 1]!.conf;
      const record = membersOf(conf, new Map(members.map((m) => [m.id, m])));
      const encodings = entries.map(encodeEntry);
      const ops: BatchOp[] = entries.map((e, k) => ({ type: 'put', sublevel: LOG_SUBLEVEL, key: logKey(e.index), value: encodings[k]! }));
      ops.push(
        { type: 'put', sublevel: META_SUBLEVEL, key: META.hardState, value: encodeHardState(hard) },
        { type: 'put', sublevel: META_SUBLEVEL, key: META.bootstrap, value: encodeMembership({ conf, members: record }) },
      );
      await this.sdb.write(ops, true);
      this.raftStorage.append(entries, encodings);
      this.raftStorage.setHardState(hard);
      this.bootstrapRecord = record;
      this.logger?.log('info', 'store.bootstrapped', { voters: conf.voters });
    });
  }

  /**
   * Seed a pristine log from a restored backup (`restoreBackup`), as `bootstrap` seeds it from
   * `--initial-cluster`: the log base moves to `meta` (no entries after it), the hard state
   * commits it, and `members` become the bootstrap record, in ONE synced batch with `stateOps`
   * (the state store's swap to the restored data, see `StateStore.swapIn`).
   */
  async restore(meta: SnapshotMeta, members: readonly Member[], stateOps: readonly BatchOp[]): Promise<void> {
    await this.queue.run(async () => {
      this.sdb.usable();
      if (!this.isPristine) throw new Error('LogStore.restore: the log is not empty');
      if (meta.index < 1) throw new TypeError('LogStore.restore: the snapshot index must be at least 1');
      const hard: HardState = { term: meta.term, vote: 0, commit: meta.index };
      await this.sdb.write(
        [
          ...stateOps,
          { type: 'put', sublevel: META_SUBLEVEL, key: META.snapshot, value: encodeSnapshotMeta(meta) },
          hardStateOp(hard),
          { type: 'put', sublevel: META_SUBLEVEL, key: META.bootstrap, value: encodeMembership({ conf: meta.conf, members }) },
        ],
        true,
      );
      this.raftStorage.applySnapshot({ meta, data: EMPTY });
      this.raftStorage.setHardState(hard);
      this.bootstrapRecord = members;
      this.logger?.log('info', 'store.restored', { index: meta.index, snapshotTerm: meta.term, voters: meta.conf.voters });
    });
  }

  /**
   * Make a Ready's persistent part durable in ONE batch (synced when `sync`; always when it
   * carries a snapshot): its entries (discarding any stored entries at or after the first one;
   * entries at or below the snapshot are skipped) and its hard state. With `write.snapshot` the
   * log base moves to the snapshot (the log after it is kept iff it agrees at the snapshot's
   * index, as `PackedLog.applySnapshot` does) and `stateOps` — the state store's swap to the
   * snapshot's data — ride in the same batch. Then `raftStorage` is brought in step. A Ready that
   * only moves the commit index writes nothing (`isCommitOnly`).
   */
  async persist(write: LogWrite, sync: boolean, stateOps: readonly BatchOp[] = []): Promise<void> {
    this.sdb.usable();
    assertContiguous(write.entries, 'persist');
    return this.queue.run(async () => {
      this.sdb.usable();
      if (write.snapshot !== undefined && write.snapshot.meta.index > this.raftStorage.snapshot().meta.index) {
        await this.persistWithSnapshot(write.snapshot.meta, write.hardState, write.entries, stateOps);
        return;
      }
      // A snapshot at or below the base is installed already: only the rest of the Ready remains.
      if (isCommitOnly(write, this.raftStorage.hardState(), sync, stateOps)) {
        this.raftStorage.setHardState(write.hardState!);
        return;
      }
      const ops: BatchOp[] = [...stateOps];
      const toAppend = this.logOps(ops, write.entries, this.raftStorage.snapshot().meta.index, this.raftStorage.lastIndex());
      if (write.hardState !== undefined) ops.push(hardStateOp(write.hardState));
      if (ops.length > 0) await this.sdb.write(ops, sync || write.snapshot !== undefined);
      this.raftStorage.append(toAppend.entries, toAppend.encodings);
      if (write.hardState !== undefined) this.raftStorage.setHardState(write.hardState);
    });
  }

  private async persistWithSnapshot(s: SnapshotMeta, hardState: HardState | undefined, entries: readonly Entry[], stateOps: readonly BatchOp[]): Promise<void> {
    const oldLast = this.raftStorage.lastIndex();
    const keep = s.index <= oldLast && this.raftStorage.term(s.index) === s.term;
    const ops: BatchOp[] = [...stateOps];
    if (!keep) for (let i = s.index + 1; i <= oldLast; i++) ops.push({ type: 'del', sublevel: LOG_SUBLEVEL, key: logKey(i) });
    const toAppend = this.logOps(ops, entries, s.index, keep ? oldLast : s.index);
    const hs = hardState ?? this.raftStorage.hardState();
    const hard: HardState = hs.commit < s.index ? { ...hs, commit: s.index } : hs;
    ops.push({ type: 'put', sublevel: META_SUBLEVEL, key: META.snapshot, value: encodeSnapshotMeta(s) }, hardStateOp(hard));
    await this.sdb.write(ops, true);
    this.raftStorage.applySnapshot({ meta: s, data: EMPTY });
    this.raftStorage.append(toAppend.entries, toAppend.encodings);
    this.raftStorage.setHardState(hard);
    this.inBackground(this.sdb.clear(LOG_SUBLEVEL, { lte: logKey(s.index) }));
  }

  /**
   * Add the log writes for `entries` on a log holding (base, last] to `ops`; returns the entries
   * to append to `raftStorage` (those after the base) with their encodings, written once.
   */
  private logOps(ops: BatchOp[], entries: readonly Entry[], base: number, last: number): EncodedEntries {
    let from = 0;
    while (from < entries.length && entries[from]!.index <= base) from++;
    if (from === entries.length) return NO_ENTRIES;
    const toAppend = from === 0 ? entries : entries.slice(from);
    const first = toAppend[0]!.index;
    if (first > last + 1) throw new Error(`persist: entries start at ${first}, after a gap (last index ${last})`);
    // Invariant: committed entries never change (Raft §5.4 Log Matching + Leader Completeness).
    const commit = Math.min(this.raftStorage.hardState().commit, last);
    for (let k = 0; k < toAppend.length && toAppend[k]!.index <= commit; k++) {
      const e = toAppend[k]!;
      if (this.raftStorage.term(e.index) !== e.term) {
        throw new Error(`persist: entry ${e.index} (term ${e.term}) would overwrite a committed, possibly applied entry of term ${this.raftStorage.term(e.index)}`);
      }
    }
    const encodings: Uint8Array[] = new Array(toAppend.length);
    for (let k = 0; k < toAppend.length; k++) {
      const e = toAppend[k]!;
      encodings[k] = encodeEntry(e);
      ops.push({ type: 'put', sublevel: LOG_SUBLEVEL, key: logKey(e.index), value: encodings[k]! });
    }
    for (let i = toAppend[toAppend.length - 1]!.index + 1; i <= last; i++) ops.push({ type: 'del', sublevel: LOG_SUBLEVEL, key: logKey(i) });
    return { entries: toAppend, encodings };
  }

  /**
   * Move the log base to `index` (committed and applied: the caller's promise) and compact the log
   * behind it. The base's membership is the last configuration entry at or before `index` (the log
   * alone defines it). Returns the current meta when `index` is not beyond it. The contents are
   * not copied: the state store streams its live state when a follower needs a snapshot.
   */
  async createSnapshot(index: number): Promise<SnapshotMeta> {
    if (!Number.isSafeInteger(index) || index < 0) throw new TypeError(`createSnapshot: index must be a non-negative integer, got ${index}`);
    this.sdb.usable();
    return this.queue.run(async () => {
      this.sdb.usable();
      const current = this.raftStorage.snapshot().meta;
      if (index <= current.index) return current;
      const commit = this.raftStorage.hardState().commit;
      if (index > commit) throw new Error(`createSnapshot: index ${index} is beyond the commit index ${commit}`);
      const meta: SnapshotMeta = { index, term: this.raftStorage.term(index), conf: this.raftStorage.confAt(index) };
      await this.sdb.write([{ type: 'put', sublevel: META_SUBLEVEL, key: META.snapshot, value: encodeSnapshotMeta(meta) }], true);
      this.raftStorage.createSnapshot(meta.index, meta.conf);
      this.logger?.log('info', 'snapshot.created', { index: meta.index, snapshotTerm: meta.term, firstIndex: this.raftStorage.firstIndex() });
      this.inBackground(this.sdb.clear(LOG_SUBLEVEL, { lte: logKey(meta.index) }));
      return meta;
    });
  }

  /** Wait for every write and background clean-up in flight. */
  async idle(): Promise<void> {
    await this.queue.idle();
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private inBackground(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.logger?.log('warn', 'store.cleanup.failed', { error: String(err), retry: 'at next open' });
    });
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }
}

/**
 * A Ready that only moves the commit index forward (no entries, same term and vote, no sync asked)
 * is kept in memory: Raft does not need the commit index durable (a restarted node learns it
 * again from the leader, and `open` raises it to the applied index), so writing it buys nothing
 * and costs a database write — a thread-pool round trip queued with the next fsync — on every
 * node for every commit at low concurrency. The next written hard state carries it.
 */
function isCommitOnly(write: LogWrite, current: HardState, sync: boolean, stateOps: readonly BatchOp[]): boolean {
  const hs = write.hardState;
  return (
    !sync &&
    write.snapshot === undefined &&
    stateOps.length === 0 &&
    write.entries.length === 0 &&
    hs !== undefined &&
    hs.term === current.term &&
    hs.vote === current.vote &&
    hs.commit >= current.commit
  );
}

function hardStateOp(hs: HardState): BatchOp {
  return { type: 'put', sublevel: META_SUBLEVEL, key: META.hardState, value: encodeHardState(hs) };
}

export function assertContiguous(entries: readonly Entry[], what: string): void {
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== entries[i - 1]!.index + 1) {
      throw new Error(`${what}: entries not contiguous at ${entries[i]!.index} (after ${entries[i - 1]!.index})`);
    }
  }
}
