/**
 * A digest of the state machine's user data, for comparing nodes (the Jepsen-style convergence
 * check; etcd's functional tests compare a KV hash the same way). Read from ONE LevelDB snapshot,
 * so the applied index and the data it covers always belong together, even while applies go on.
 *
 * SHA-256 over: the applied index (8 bytes, big-endian), then for every key of the live data
 * generation in byte order its length (4 bytes), the key, the stored value's length (4 bytes) and
 * the stored value (create and modify revision, then the value bytes: `stored-value.ts`).
 * Sessions and membership are not covered: only what clients can read.
 */
import { createHash } from 'node:crypto';
import type { StateDigest } from '@keel/protocol';
import { writeUint32, writeUint64 } from '../state-machine/byte-order.js';
import { META, decodeApplied, decodeCount } from './codec.js';
import { StoreError } from './errors.js';
import { kvSublevelName, type BytesSublevel, type Db, type MetaSublevel } from './layout.js';

/** Rows read per step: values may be up to LIMITS.valueBytesMax, so keep the read-ahead small. */
const DIGEST_READ_ROWS = 64;

export async function digestState(db: Db, metaDb: MetaSublevel, sublevelOf: (name: string) => BytesSublevel): Promise<StateDigest> {
  const snapshot = db.snapshot();
  try {
    const [appliedB, generationB] = await metaDb.getMany([META.applied, META.generation], { snapshot });
    if (appliedB === undefined || generationB === undefined) throw new StoreError('CORRUPTED', 'applied index or data generation missing');
    const applied = decodeApplied(appliedB).index;
    const generation = decodeCount(generationB, 'generation');
    const hash = createHash('sha256');
    const index = new Uint8Array(8);
    writeUint64(index, 0, applied);
    hash.update(index);
    const length = new Uint8Array(4);
    const field = (bytes: Uint8Array): void => {
      writeUint32(length, 0, bytes.byteLength);
      hash.update(length);
      hash.update(bytes);
    };
    let keys = 0;
    const it = sublevelOf(kvSublevelName(generation)).iterator({ snapshot });
    try {
      for (;;) {
        const rows = await it.nextv(DIGEST_READ_ROWS);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          field(k);
          field(v);
          keys++;
        }
      }
    } finally {
      await it.close();
    }
    return { applied, digest: hash.digest('hex'), keys };
  } finally {
    await snapshot.close();
  }
}
