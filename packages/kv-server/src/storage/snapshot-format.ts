/**
 * The byte format of a state-machine snapshot on the wire: a sequence of chunks, each one
 * msgpack array of records, each chunk at most `chunkBytes` long (a single record larger than
 * that — a value near LIMITS.valueBytesMax with a small `chunkBytes` — travels alone in its chunk).
 *
 *   header  [0, SNAPSHOT_FORMAT, index, term, voters, learners, members, compacted]   first record of the first chunk
 *   kv      [1, key, storedValue]       the user data of the current generation, in key order
 *   session [2, key, sessionRecord]     the session table records, in key order
 *   auth    [5, authRecord]             exactly one, right after the header: the auth state (auth-state.ts)
 *   lease   [4, key, leaseRecord]       the lease table records (leases.ts), in key order
 *   history [6, historyKey, record]     the history from `compacted` (the oldest revision kept) on, in revision order
 *   trailer [3, recordCount]            last record of the last chunk: kv + session + lease + history records sent
 *
 * Values are the stored bytes as they are (stored-value and session layouts), so sender and
 * receiver copy records without re-encoding them. `members` uses the membership tuple layout
 * [id, 0 = voter | 1 = learner, peerAddress, clientAddress].
 */
import type { Member } from '@keel/protocol';
import type { SnapshotMeta } from '@keel/raft';
import { pack } from '../state-machine/msgpack.js';

/** 2: stored values carry the key's version. 3: lease records, the auth record, the history and the compaction point. */
export const SNAPSHOT_FORMAT = 3;
export const RECORD_HEADER = 0;
export const RECORD_KV = 1;
export const RECORD_SESSION = 2;
export const RECORD_TRAILER = 3;
export const RECORD_LEASE = 4;
export const RECORD_AUTH = 5;
export const RECORD_HISTORY = 6;

/** Smallest `chunkBytes` accepted by `readSnapshot`. */
export const SNAPSHOT_CHUNK_BYTES_MIN = 1024;

/** Upper bound of msgpack overhead of one [tag, bin, bin] record: fixarray + tag + 2 × bin32 header. */
const RECORD_OVERHEAD_BYTES = 1 + 1 + 5 + 5;
/** Upper bound of the array header of a chunk. */
const CHUNK_OVERHEAD_BYTES = 5;

export function headerRecord(meta: SnapshotMeta, members: readonly Member[], compacted: number): unknown[] {
  return [
    RECORD_HEADER,
    SNAPSHOT_FORMAT,
    meta.index,
    meta.term,
    meta.conf.voters,
    meta.conf.learners,
    members.map((m) => [m.id, m.role === 'voter' ? 0 : 1, m.peerAddress, m.clientAddress]),
    compacted,
  ];
}

/** Packs records into chunks of at most `chunkBytes` (see the module doc for the one exception). */
export class ChunkPacker {
  private records: unknown[] = [];
  private bytes = CHUNK_OVERHEAD_BYTES;

  constructor(private readonly chunkBytes: number) {}

  /**
   * Add a record whose byte strings total `payloadBytes`. Returns the previous chunk when the
   * record does not fit in it.
   */
  add(record: unknown[], payloadBytes: number): Uint8Array | undefined {
    const size = payloadBytes + RECORD_OVERHEAD_BYTES;
    let out: Uint8Array | undefined;
    if (this.records.length > 0 && this.bytes + size > this.chunkBytes) out = this.flush();
    this.records.push(record);
    this.bytes += size;
    return out;
  }

  /** The pending records as one chunk, or undefined when there are none. */
  flush(): Uint8Array | undefined {
    if (this.records.length === 0) return undefined;
    const chunk = pack(this.records);
    this.records = [];
    this.bytes = CHUNK_OVERHEAD_BYTES;
    return chunk;
  }
}
