/** The links an item of an `LruList` carries. */
export interface LruLinks<T> {
  /** The item used just before this one, towards `oldest`. */
  older: T | undefined;
  /** The item used just after this one, towards `newest`. */
  newer: T | undefined;
}

/**
 * Items in least-recently-used-first order, as a doubly linked list through the items themselves:
 * moving an item to the end changes four fields and allocates nothing. (A JS Map kept in that
 * order by delete + set rehashes its table every so many moves, and once the Map lives in old
 * space each table it leaves behind keeps what it held alive until the next full collection.)
 */
export class LruList<T extends LruLinks<T>> {
  oldest: T | undefined;
  newest: T | undefined;

  /** Add `item`, which is in no list, as the most recently used. */
  append(item: T): void {
    item.older = this.newest;
    item.newer = undefined;
    if (this.newest === undefined) this.oldest = item;
    else this.newest.newer = item;
    this.newest = item;
  }

  /** Take `item`, which is in this list, out of it. */
  remove(item: T): void {
    if (item.older === undefined) this.oldest = item.newer;
    else item.older.newer = item.newer;
    if (item.newer === undefined) this.newest = item.older;
    else item.newer.older = item.older;
    item.older = undefined;
    item.newer = undefined;
  }

  /** Make `item`, which is in this list, the most recently used. */
  touch(item: T): void {
    if (item === this.newest) return;
    this.remove(item);
    this.append(item);
  }

  /** Forget every item (their links are left as they are: the items are dropped with the list). */
  clear(): void {
    this.oldest = undefined;
    this.newest = undefined;
  }

  /** The items, least recently used first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let item = this.oldest; item !== undefined; item = item.newer) yield item;
  }
}
