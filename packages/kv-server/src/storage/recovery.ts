/**
 * Start-up: open an existing store (or bootstrap a brand-new one) and rebuild everything the node
 * keeps in memory — the core's log view, the hard state, the applied index, membership and the
 * session table — exactly as the last completed write left them. Leftovers of interrupted work
 * (the side generation of an unfinished install, generations swapped out but not yet cleared,
 * log entries at or below the snapshot) are cleared here.
 */
import { MemoryStorage, type ConfState } from '@keel/raft';
import { StateMachineError } from '../state-machine/errors.js';
import { bootstrapMembers } from '../state-machine/membership.js';
import { SessionTable } from '../state-machine/sessions.js';
import { StateMachine } from '../state-machine/state-machine.js';
import {
  FORMAT_VERSION,
  META,
  decodeApplied,
  decodeCount,
  decodeCounts,
  decodeEntry,
  decodeHardState,
  decodeMembership,
  decodeSnapshotMeta,
  encodeApplied,
  encodeCount,
  encodeCounts,
  encodeHardState,
  encodeMembership,
  encodeSnapshotMeta,
  logIndex,
  logKey,
  type AppliedMark,
} from './codec.js';
import { StoreError } from './errors.js';
import {
  LOG_SUBLEVEL,
  READ_BATCH_ROWS,
  bytesSublevel,
  kvSublevelName,
  metaSublevel,
  sessionsSublevelName,
  writeBatch,
  type Bytes,
  type BytesSublevel,
  type Db,
  type MetaSublevel,
} from './layout.js';
import type { OpenStoreOptions } from './node-store.js';

/** What the store starts from. */
export interface Recovered {
  readonly meta: MetaSublevel;
  readonly log: BytesSublevel;
  readonly generation: number;
  readonly applied: AppliedMark;
  readonly sm: StateMachine;
  readonly raftStorage: MemoryStorage;
}

const EMPTY = new Uint8Array(0);

/** Throws `StoreError('CORRUPTED')` when stored data breaks the store's invariants. */
export async function recover(db: Db, opts: OpenStoreOptions): Promise<Recovered> {
  const meta = metaSublevel(db);
  const log = bytesSublevel(db, LOG_SUBLEVEL);
  const keys = [META.format, META.hardState, META.applied, META.members, META.snapshot, META.generation, META.garbage];
  let values = await meta.getMany(keys);
  if (values[0] === undefined) {
    if (values.some((v) => v !== undefined)) throw new StoreError('CORRUPTED', 'store has metadata but no format version');
    await bootstrap(db, meta, opts);
    values = await meta.getMany(keys);
  }
  const need = (i: number): Bytes => {
    const v = values[i];
    if (v === undefined) throw new StoreError('CORRUPTED', `store metadata "${keys[i]}" is missing`);
    return v;
  };
  const format = decodeCount(need(0), 'format version');
  if (format !== FORMAT_VERSION) throw new StoreError('CORRUPTED', `store format ${format}, this Keel reads ${FORMAT_VERSION}`);
  const hard = decodeHardState(need(1));
  const applied = decodeApplied(need(2));
  const membership = decodeMembership(need(3));
  const snap = decodeSnapshotMeta(need(4));
  const generation = decodeCount(need(5), 'generation');
  const garbage = decodeCounts(need(6), 'garbage generations');

  // Leftovers: old generations not yet cleared, and the side generation of an unfinished install.
  for (const g of [...garbage, generation + 1]) {
    await bytesSublevel(db, kvSublevelName(g)).clear();
    await bytesSublevel(db, sessionsSublevelName(g)).clear();
  }
  if (garbage.length > 0) await writeBatch(db, [{ type: 'put', sublevel: meta, key: META.garbage, value: encodeCounts([]) }], true);

  const raftStorage = new MemoryStorage(snap.conf);
  if (snap.index > 0) raftStorage.applySnapshot({ meta: snap, data: EMPTY });
  if (snap.index > 0) await log.clear({ lte: logKey(snap.index) });
  const it = log.iterator({ gt: logKey(snap.index) });
  try {
    for (;;) {
      const batch = await it.nextv(READ_BATCH_ROWS);
      if (batch.length === 0) break;
      const entries = batch.map(([k, v]) => decodeEntry(logIndex(k), v));
      const expected = raftStorage.lastIndex() + 1;
      entries.forEach((e, k) => {
        if (e.index !== expected + k) throw new StoreError('CORRUPTED', `log has a gap: found ${e.index}, expected ${expected + k}`);
      });
      raftStorage.append(entries);
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
  // Applied entries are committed by definition; the commit on disk may lag (unsynced Ready).
  raftStorage.setHardState(hard.commit < applied.index ? { ...hard, commit: applied.index } : hard);

  let sessions: SessionTable;
  try {
    sessions = SessionTable.fromRecords(await bytesSublevel(db, sessionsSublevelName(generation)).iterator().all());
  } catch (err) {
    if (err instanceof StateMachineError) throw new StoreError('CORRUPTED', err.message, { cause: err });
    throw err;
  }
  const sm = new StateMachine(sessions, membership.members, membership.conf, opts.logger);
  opts.logger?.log('info', 'store.opened', {
    dir: opts.dir,
    snapshotIndex: snap.index,
    applied: applied.index,
    lastIndex: raftStorage.lastIndex(),
    term: hard.term,
    commit: raftStorage.hardState().commit,
    generation,
    sessions: sessions.size,
  });
  return { meta, log, generation, applied, sm, raftStorage };
}

async function bootstrap(db: Db, meta: MetaSublevel, opts: OpenStoreOptions): Promise<void> {
  const conf: ConfState = {
    voters: [...(opts.bootstrap?.conf.voters ?? [])],
    learners: [...(opts.bootstrap?.conf.learners ?? [])],
  };
  const members = bootstrapMembers(conf, opts.bootstrap?.members ?? []);
  await writeBatch(
    db,
    [
      { type: 'put', sublevel: meta, key: META.hardState, value: encodeHardState({ term: 0, vote: 0, commit: 0 }) },
      { type: 'put', sublevel: meta, key: META.applied, value: encodeApplied({ index: 0, term: 0 }) },
      { type: 'put', sublevel: meta, key: META.members, value: encodeMembership({ conf, members }) },
      { type: 'put', sublevel: meta, key: META.snapshot, value: encodeSnapshotMeta({ index: 0, term: 0, conf }) },
      { type: 'put', sublevel: meta, key: META.generation, value: encodeCount(1) },
      { type: 'put', sublevel: meta, key: META.garbage, value: encodeCounts([]) },
      // Written last in the same batch: its presence means the store is complete.
      { type: 'put', sublevel: meta, key: META.format, value: encodeCount(FORMAT_VERSION) },
    ],
    true,
  );
  opts.logger?.log('info', 'store.created', { dir: opts.dir, voters: conf.voters, learners: conf.learners });
}
