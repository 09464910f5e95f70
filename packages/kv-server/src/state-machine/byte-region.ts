/**
 * Bytes for records that all die together: carved one after another from chunks of
 * `CHUNK_BYTES`, so a batch of N changes costs a few ArrayBuffers instead of 2N.
 *
 * Every off-heap ArrayBuffer costs three mallocs (its bytes, its BackingStore, its extension), a
 * sweep by the scavenger and three frees on V8's helper threads: allocating the history record of
 * every change on its own was about 5% of a follower's main thread at 256 puts in flight.
 *
 * A view keeps its whole chunk alive: only for bytes whose holders go away together (a batch's
 * stored values and history records: written, handed to the value cache and the watch hub, which
 * copy what they keep, then dropped). Never for bytes a long-lived structure keeps one at a time.
 */

/** Where encoders get their bytes: a `ByteRegion`'s `take`, or a new array each (`newBytes`). */
export type Allocate = (n: number) => Uint8Array;
export const newBytes: Allocate = (n) => new Uint8Array(n);

const CHUNK_BYTES = 64 * 1024;
/** Larger requests get a buffer of their own (they would waste most of a chunk). */
const OWN_BUFFER_BYTES = CHUNK_BYTES / 4;

export class ByteRegion {
  private chunk: ArrayBuffer | undefined;
  private used = 0;

  /** `n` bytes (contents unspecified: the caller writes every byte). */
  take(n: number): Uint8Array {
    if (n > OWN_BUFFER_BYTES) return new Uint8Array(n);
    if (this.chunk === undefined || this.used + n > CHUNK_BYTES) {
      this.chunk = new ArrayBuffer(CHUNK_BYTES);
      this.used = 0;
    }
    const out = new Uint8Array(this.chunk, this.used, n);
    this.used += n;
    return out;
  }
}
