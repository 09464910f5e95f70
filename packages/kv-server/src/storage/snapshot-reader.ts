/**
 * The sending side of a snapshot: the state machine as of one instant, read from one LevelDB
 * snapshot (consistent while applies continue) and packed into bounded chunks
 * (`snapshot-format.ts`). The meta is read from the same LevelDB snapshot, so it always describes
 * exactly the data that is sent.
 */
import type { SnapshotMeta } from '@keel/raft';
import { pack } from '../state-machine/msgpack.js';
import { META, decodeApplied, decodeCount, decodeMembership } from './codec.js';
import { StoreError } from './errors.js';
import { revisionBound } from '../state-machine/history.js';
import { historySublevelName, kvSublevelName, leasesSublevelName, sessionsSublevelName, type BytesSublevel, type Db, type MetaSublevel, type RangeOptions } from './layout.js';
import { ChunkPacker, RECORD_AUTH, RECORD_HISTORY, RECORD_KV, RECORD_LEASE, RECORD_SESSION, RECORD_TRAILER, headerRecord } from './snapshot-format.js';

/** Rows read per step: values may be up to LIMITS.valueBytesMax, so keep the read-ahead small. */
const SNAPSHOT_READ_ROWS = 64;

/** A snapshot to send: its meta and its contents as chunks (iterate once). */
export interface SnapshotStream {
  readonly meta: SnapshotMeta;
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Records streamed so far: user keys and client sessions (the totals once `chunks` is done). */
  counts(): { readonly keys: number; readonly sessions: number };
  /** Release the LevelDB snapshot, also when the consumer stopped pulling mid-way. Idempotent. */
  close(): Promise<void>;
}

export async function openSnapshotStream(
  db: Db,
  metaDb: MetaSublevel,
  sublevelOf: (name: string) => BytesSublevel,
  chunkBytes: number,
): Promise<SnapshotStream> {
  const snapshot = db.snapshot();
  let iterator: ReturnType<BytesSublevel['iterator']> | undefined;
  let closing: Promise<void> | undefined;
  // Closes the iterator in use too: a LevelDB snapshot's close waits for the iterators reading it,
  // and a consumer that stops pulling (a failed send) would otherwise hold it forever.
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await iterator?.close();
      await snapshot.close();
    })());
  try {
    const [appliedB, membersB, generationB, authB, compactedB] = await metaDb.getMany(
      [META.applied, META.members, META.generation, META.auth, META.compacted],
      { snapshot },
    );
    if (appliedB === undefined || membersB === undefined || generationB === undefined || authB === undefined || compactedB === undefined) {
      throw new StoreError('CORRUPTED', 'snapshot metadata missing');
    }
    const compacted = decodeCount(compactedB, 'compaction revision');
    const applied = decodeApplied(appliedB);
    const membership = decodeMembership(membersB);
    const generation = decodeCount(generationB, 'generation');
    const auth = authB;
    const meta: SnapshotMeta = { index: applied.index, term: applied.term, conf: membership.conf };
    const header = headerRecord(meta, membership.members, compacted);
    // History below the compaction point may still be on disk (it is cleared after the fact): never sent.
    const sources: Array<[BytesSublevel, number, RangeOptions]> = [
      [sublevelOf(kvSublevelName(generation)), RECORD_KV, {}],
      [sublevelOf(sessionsSublevelName(generation)), RECORD_SESSION, {}],
      [sublevelOf(leasesSublevelName(generation)), RECORD_LEASE, {}],
      [sublevelOf(historySublevelName(generation)), RECORD_HISTORY, { gte: revisionBound(compacted) }],
    ];
    const counts = { keys: 0, sessions: 0 };
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        const packer = new ChunkPacker(chunkBytes);
        let records = 0;
        packer.add(header, pack(header).byteLength);
        packer.add([RECORD_AUTH, auth], auth.byteLength);
        for (const [sublevel, tag, range] of sources) {
          const it = (iterator = sublevel.iterator({ ...range, snapshot }));
          try {
            for (;;) {
              const rows = await it.nextv(SNAPSHOT_READ_ROWS);
              if (rows.length === 0) break;
              for (const [k, v] of rows) {
                records++;
                if (tag === RECORD_KV) counts.keys++;
                else if (tag === RECORD_SESSION) counts.sessions++;
                const out = packer.add([tag, k, v], k.byteLength + v.byteLength);
                if (out === undefined) continue;
                if (closing !== undefined) throw new StoreError('CLOSED', 'the snapshot stream was closed');
                yield out;
              }
            }
          } finally {
            await it.close();
          }
        }
        const out = packer.add([RECORD_TRAILER, records], 8);
        if (out !== undefined) yield out;
        yield packer.flush()!;
      } finally {
        await close();
      }
    }
    return { meta, chunks: chunks(), counts: () => ({ ...counts }), close };
  } catch (err) {
    await close();
    throw err;
  }
}
