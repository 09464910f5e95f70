/**
 * Bytes for records that all die together: carved one after another from a few chunks, so a
 * batch of N changes costs a few ArrayBuffers instead of 2N.
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

/** The first chunk: a batch of one small write fits (about a kilobyte per put of a small value). */
const FIRST_CHUNK_BYTES = 2 * 1024;
/** Chunks double up to this size. */
const CHUNK_BYTES_MAX = 64 * 1024;
/** Larger requests get a buffer of their own (they would waste most of a chunk). */
const OWN_BUFFER_BYTES = CHUNK_BYTES_MAX / 4;

export class ByteRegion {
  private chunk: ArrayBuffer | undefined;
  private used = 0;
  /**
   * The next chunk's size. Chunks grow (2, 4, 8 ... 64 KiB) so a small batch takes a few
   * kilobytes: V8 counts every ArrayBuffer's bytes as external memory and starts a full
   * collection each time that grows by tens of megabytes, so 64 KiB for every batch of ten puts
   * would double the full collections at 64 puts in flight.
   */
  private nextChunkBytes = FIRST_CHUNK_BYTES;

  /** `n` bytes (contents unspecified: the caller writes every byte). */
  take(n: number): Uint8Array {
    if (n > OWN_BUFFER_BYTES) return new Uint8Array(n);
    if (this.chunk === undefined || this.used + n > this.chunk.byteLength) {
      while (this.nextChunkBytes < n) this.nextChunkBytes *= 2;
      this.chunk = new ArrayBuffer(this.nextChunkBytes);
      this.nextChunkBytes = Math.min(2 * this.nextChunkBytes, CHUNK_BYTES_MAX);
      this.used = 0;
    }
    const out = new Uint8Array(this.chunk, this.used, n);
    this.used += n;
    return out;
  }
}
