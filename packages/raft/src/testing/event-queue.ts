/**
 * The simulator's single discrete-event queue, ordered by `(time, seq)`: `seq` is a monotonic
 * tie-breaker, so events scheduled for the same instant run in the order they were scheduled and
 * a run never depends on anything but its seed.
 */
export class EventQueue<T> {
  private readonly heap: { time: number; seq: number; item: T }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(time: number, item: T): void {
    if (!Number.isFinite(time)) throw new RangeError(`EventQueue.push: bad time ${time}`);
    const node = { time, seq: this.seq++, item };
    const heap = this.heap;
    heap.push(node);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(node, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = node;
  }

  /** Time of the earliest event, or `Infinity` when empty. */
  peekTime(): number {
    return this.heap[0]?.time ?? Number.POSITIVE_INFINITY;
  }

  pop(): { time: number; item: T } | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        if (l < heap.length && less(heap[l]!, best)) {
          m = l;
          best = heap[l]!;
        }
        if (r < heap.length && less(heap[r]!, best)) m = r;
        if (m === i) break;
        heap[i] = heap[m]!;
        i = m;
      }
      heap[i] = last;
    }
    return { time: top.time, item: top.item };
  }
}

function less(a: { time: number; seq: number }, b: { time: number; seq: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
