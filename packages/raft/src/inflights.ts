/**
 * The append messages in flight to one follower in replicate state (etcd's `tracker.Inflights`):
 * a FIFO of (last index, bytes) bounded both by count and by total bytes.
 *
 * Invariants (asserted): `0 <= count <= capacity`; `bytes` is the sum of the queued sizes (0 when
 * empty); queued indexes are strictly increasing.
 */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  /** Position of the oldest message in the ring. */
  private start = 0;
  private countNow = 0;
  private bytesNow = 0;

  /**
   * @param capacity  most messages in flight (at least 1)
   * @param bytesMax  most bytes in flight; 0 means no byte limit
   */
  constructor(
    readonly capacity: number,
    readonly bytesMax: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`Inflights: capacity must be >= 1, got ${capacity}`);
    if (!Number.isFinite(bytesMax) || bytesMax < 0) throw new TypeError(`Inflights: bytesMax must be >= 0, got ${bytesMax}`);
  }

  get count(): number {
    return this.countNow;
  }

  get bytes(): number {
    return this.bytesNow;
  }

  /** Last index of the oldest message in flight, if any. */
  oldest(): number | undefined {
    return this.countNow === 0 ? undefined : this.indexes[this.start];
  }

  /** Last index of the newest message in flight, if any. */
  newest(): number | undefined {
    return this.countNow === 0 ? undefined : this.indexes[(this.start + this.countNow - 1) % this.capacity];
  }

  /** No more messages may be sent: the count or the byte budget is exhausted. */
  full(): boolean {
    return this.countNow === this.capacity || (this.bytesMax > 0 && this.bytesNow >= this.bytesMax);
  }

  /** Record a message whose last entry is `index`. Callers check `full()` first. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('invariant: Inflights.add while full');
    const last = this.newest();
    if (last !== undefined && index <= last) throw new Error(`invariant: Inflights.add: index ${index} not above last in flight ${last}`);
    if (!(bytes >= 0)) throw new Error(`invariant: Inflights.add: negative size ${bytes}`);
    const at = (this.start + this.countNow) % this.capacity;
    this.indexes[at] = index;
    this.sizes[at] = bytes;
    this.countNow++;
    this.bytesNow += bytes;
  }

  /** Forget every message whose last index is `<= index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.countNow > 0 && this.indexes[this.start]! <= index) {
      this.bytesNow -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.capacity;
      this.countNow--;
    }
    if (this.countNow === 0) {
      this.start = 0;
      this.bytesNow = 0;
    } else if (this.bytesNow < 0) {
      throw new Error(`invariant: Inflights bytes ${this.bytesNow} < 0 with ${this.countNow} in flight`);
    }
  }

  reset(): void {
    this.start = 0;
    this.countNow = 0;
    this.bytesNow = 0;
  }
}
