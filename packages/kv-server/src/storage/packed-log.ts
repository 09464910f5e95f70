/**
 * The packed log: the server's in-memory view of its Raft log (the core's `Storage`), kept as
 * the entries' encodings (the very bytes `LogStore` writes to LevelDB) in a few large chunks,
 * with each entry's term, size and place in typed arrays. Entries are decoded on demand.
 *
 * Why: the log holds everything since the last snapshot (5,000–15,000 entries with the default
 * `--snapshot-entries`) for seconds. As `Entry` objects, each with its own data view, every one
 * of them survives several scavenges and is promoted: work for the young generation's collector
 * on every put, on every node, and pauses that make the tail of put latency. Packed, the log is
 * a handful of objects however long it is, and the entries `entries()` hands out die young.
 *
 * Layout: entry `snapshot.index + 1 + k` is slot `head + k` of the typed arrays; its encoding is
 * `lengths[slot]` bytes at `offsets[slot]` of chunk `chunkOf[slot]` (a sequence number: the
 * chunk is `chunks[chunkOf[slot] - firstChunk]`). Chunks are written in order and never
 * rewritten (a decoded entry's data is a view of its chunk, so a truncated suffix's bytes stay
 * as they are and the new entries go after them); a chunk is dropped once the log base passes
 * every entry ever written into it. A decoded entry's data view keeps its chunk (at most
 * `CHUNK_BYTES`, about what a socket read buffer holds) alive while the entry lives.
 *
 * The hard state, the base and the index checks are raft's `LogWindow`, shared with `MemoryStorage`;
 * it answers every query exactly as `MemoryStorage` does (a property test holds it to that).
 */
import { LogWindow, copyMeta, entrySize, type ConfState, type Entry, type Snapshot } from '@keel/raft';
import { decodeEntryAt, isConfEntryAt } from './codec.js';

/** Bytes of a chunk; an encoding larger than that gets a chunk of its own size. */
const CHUNK_BYTES = 64 * 1024;
const INITIAL_SLOTS = 1024;

export class PackedLog extends LogWindow {
  /** Slot of the first entry after the snapshot, and how many entries there are. */
  private head = 0;
  private count = 0;
  private terms = new Float64Array(INITIAL_SLOTS);
  /** `entrySize` of each entry (the core's measure for `maxBytes`). */
  private sizes = new Uint32Array(INITIAL_SLOTS);
  private chunkOf = new Uint32Array(INITIAL_SLOTS);
  private offsets = new Uint32Array(INITIAL_SLOTS);
  private lengths = new Uint32Array(INITIAL_SLOTS);

  private chunks: Uint8Array[] = [];
  /** The highest index written into each chunk (the entries it holds that are not truncated are at or below it). */
  private chunkLast: number[] = [];
  /** Sequence number of `chunks[0]`. */
  private firstChunk = 0;
  /** Bytes written into the last chunk. */
  private used = 0;

  protected get length(): number {
    return this.count;
  }

  protected termAt(k: number): number {
    return this.terms[this.head + k]!;
  }

  protected sizeAt(k: number): number {
    return this.sizes[this.head + k]!;
  }

  protected entryAt(k: number, index: number): Entry {
    const slot = this.head + k;
    return decodeEntryAt(index, this.terms[slot]!, this.chunkAt(slot), this.offsets[slot]!, this.lengths[slot]!);
  }

  /** Forget the first `n` entries and the chunks that only they used. */
  protected dropFront(n: number): void {
    this.count -= n;
    this.head = this.count === 0 ? 0 : this.head + n;
    const through = this.snap.meta.index + n;
    let chunks = 0;
    while (chunks < this.chunks.length && this.chunkLast[chunks]! <= through) chunks++;
    this.dropChunks(chunks);
  }

  /** Bytes of the chunks held (for tests and diagnostics). */
  get bytesHeld(): number {
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    return n;
  }

  /**
   * Membership as of `index` (in `[snapshot index, lastIndex()]`): the last configuration entry
   * at or before it, else the base's. Only that entry is decoded.
   */
  confAt(index: number): ConfState {
    const base = this.snap.meta.index;
    if (index < base || index > this.lastIndex()) throw new RangeError(`confAt(${index}): outside [${base}, ${this.lastIndex()}]`);
    for (let i = index; i > base; i--) {
      const slot = this.head + i - base - 1;
      const chunk = this.chunkAt(slot);
      if (isConfEntryAt(chunk, this.offsets[slot]!)) {
        const e = decodeEntryAt(i, this.terms[slot]!, chunk, this.offsets[slot]!, this.lengths[slot]!);
        if (e.type === 'confChange') return e.conf;
      }
    }
    return this.snap.meta.conf;
  }

  /**
   * Append entries with their encodings (`encodings[k]` is `encodeEntry(entries[k])`; the bytes
   * are copied), discarding any stored entries at or after `entries[0].index`, which must be in
   * `[firstIndex(), lastIndex() + 1]`; entries at or below the snapshot are skipped.
   */
  append(entries: readonly Entry[], encodings: readonly Uint8Array[]): void {
    if (entries.length !== encodings.length) throw new Error(`PackedLog.append: ${entries.length} entries, ${encodings.length} encodings`);
    const base = this.snap.meta.index;
    let from = 0;
    while (from < entries.length && entries[from]!.index <= base) from++;
    if (from === entries.length) return;
    const first = entries[from]!.index;
    if (first > this.lastIndex() + 1) throw new Error(`PackedLog.append: gap: first ${first}, last ${this.lastIndex()}`);
    for (let k = from + 1; k < entries.length; k++) {
      if (entries[k]!.index !== first + k - from) throw new Error(`PackedLog.append: entries not contiguous at ${entries[k]!.index}`);
    }
    this.count = first - base - 1;
    this.reserve(entries.length - from);
    for (let k = from; k < entries.length; k++) this.put(entries[k]!, encodings[k]!);
  }

  /**
   * Replace everything with a snapshot received from the leader (the log is discarded unless it
   * extends past the snapshot with a matching term, in which case the suffix is kept).
   */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    const base = this.snap.meta.index;
    if (index <= base) return;
    if (index <= this.lastIndex() && this.term(index) === term) {
      this.dropFront(index - base);
    } else {
      this.head = 0;
      this.count = 0;
      this.dropChunks(this.chunks.length);
    }
    this.snap = { meta: copyMeta(snapshot.meta), data: snapshot.data };
  }

  private chunkAt(slot: number): Uint8Array {
    return this.chunks[this.chunkOf[slot]! - this.firstChunk]!;
  }

  /** Store `e` (encoded as `bytes`) in the slot after the last entry; `reserve` made room. */
  private put(e: Entry, bytes: Uint8Array): void {
    let last = this.chunks.length - 1;
    if (last < 0 || this.used + bytes.byteLength > this.chunks[last]!.byteLength) {
      this.chunks.push(new Uint8Array(Math.max(CHUNK_BYTES, bytes.byteLength)));
      this.chunkLast.push(e.index);
      this.used = 0;
      last++;
    }
    this.chunks[last]!.set(bytes, this.used);
    this.chunkLast[last] = e.index;
    const slot = this.head + this.count;
    this.terms[slot] = e.term;
    this.sizes[slot] = entrySize(e);
    this.chunkOf[slot] = this.firstChunk + last;
    this.offsets[slot] = this.used;
    this.lengths[slot] = bytes.byteLength;
    this.used += bytes.byteLength;
    this.count++;
  }

  private dropChunks(n: number): void {
    if (n === 0) return;
    this.chunks.splice(0, n);
    this.chunkLast.splice(0, n);
    this.firstChunk += n;
  }

  /**
   * Room for `more` slots after the last entry: the live slots move to the front when at most
   * half the arrays would be in use, else the arrays double (each move is paid for by the
   * compactions or appends that made it necessary).
   */
  private reserve(more: number): void {
    const needed = this.count + more;
    if (this.head + needed <= this.terms.length) return;
    let capacity = this.terms.length;
    while (needed * 2 > capacity) capacity *= 2;
    const from = this.head;
    const to = this.head + this.count;
    this.terms = moved(this.terms, from, to, capacity);
    this.sizes = moved(this.sizes, from, to, capacity);
    this.chunkOf = moved(this.chunkOf, from, to, capacity);
    this.offsets = moved(this.offsets, from, to, capacity);
    this.lengths = moved(this.lengths, from, to, capacity);
    this.head = 0;
  }
}

/** `a[from, to)` at the front of an array of `capacity` slots (`a` itself when it has that many). */
function moved<T extends Float64Array | Uint32Array>(a: T, from: number, to: number, capacity: number): T {
  if (capacity === a.length) {
    a.copyWithin(0, from, to);
    return a;
  }
  const out = new (a.constructor as new (n: number) => T)(capacity);
  out.set(a.subarray(from, to));
  return out;
}
