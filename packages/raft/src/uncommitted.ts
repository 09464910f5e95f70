/**
 * The leader's account of the proposals it appended in its term that are not yet committed
 * (etcd raft's `uncommittedSize` / `MaxUncommittedEntriesSize`): the bound that keeps a leader
 * whose followers answer but lag, or whose commit index is stuck, from growing its log without
 * limit. Only client proposals count: the new leader's no-op and configuration changes do not
 * (so they can never be refused for it).
 *
 * Each counted entry is queued as (index, bytes); as the commit index advances the committed ones
 * leave the front. Every operation is amortized O(1) per proposal and never reads the log.
 */
export class UncommittedBytes {
  private bytes = 0;
  /** Counted entries oldest first, from `head` on: their log indexes (increasing) and sizes. */
  private indexes: number[] = [];
  private sizes: number[] = [];
  private head = 0;

  /** `limit`: most bytes uncommitted before proposals are refused; 0 = no limit (nothing is tracked). */
  constructor(private readonly limit: number) {}

  /** Bytes of counted entries not yet committed. */
  get total(): number {
    return this.bytes;
  }

  /**
   * May a proposal of `size` bytes be appended? Always when nothing is uncommitted, so that one
   * entry larger than the limit cannot wedge the leader (etcd `increaseUncommittedSize`).
   */
  admits(size: number): boolean {
    return this.limit === 0 || this.bytes === 0 || this.bytes + size <= this.limit;
  }

  /** A proposal of `size` bytes was appended at `index` (above the commit index and every earlier one). */
  add(index: number, size: number): void {
    if (this.limit === 0) return;
    const last = this.indexes[this.indexes.length - 1];
    if (last !== undefined && index <= last) {
      throw new Error(`UncommittedBytes: index ${index} added after ${last}`);
    }
    this.indexes.push(index);
    this.sizes.push(size);
    this.bytes += size;
  }

  /** The commit index reached `commit`: committed entries no longer count (etcd `reduceUncommittedSize`). */
  commitTo(commit: number): void {
    const { indexes, sizes } = this;
    let head = this.head;
    if (head === indexes.length || indexes[head]! > commit) return;
    while (head < indexes.length && indexes[head]! <= commit) this.bytes -= sizes[head++]!;
    if (head === indexes.length) {
      this.clear();
      return;
    }
    this.head = head;
    // Drop the consumed front once it is most of the arrays (amortized O(1)).
    if (head >= 1024 && head * 2 >= indexes.length) {
      this.indexes = indexes.slice(head);
      this.sizes = sizes.slice(head);
      this.head = 0;
    }
  }

  /** A new term (or role) starts: nothing counts any more. */
  clear(): void {
    this.bytes = 0;
    this.indexes = [];
    this.sizes = [];
    this.head = 0;
  }
}
