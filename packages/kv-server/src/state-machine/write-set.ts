/**
 * The net effect of a batch of entries on user data: one change per key, whatever happened to it
 * in between. A key written by several entries of the batch is written once; a key created and
 * deleted within the batch is not written at all. Fewer operations, smaller LevelDB batch.
 * The history (history.ts) keeps every change, in order, and the highest compaction point.
 */
import { ByteRegion, type Allocate } from './byte-region.js';
import { encodeHistoryRecord, historyKey } from './history.js';
import type { ApplyWriter } from './kv-state.js';

/** One record's net change: `value` undefined = delete. */
export interface RecordChange {
  readonly key: Uint8Array;
  value: Uint8Array | undefined;
  /** The record did not exist before the batch: deleting it again cancels the change. */
  readonly absentBefore: boolean;
}

export class WriteSet implements ApplyWriter {
  /** User data changes, by key identity (stored values from `allocate`: copy what is kept). */
  readonly values = new Map<string, RecordChange>();
  /**
   * History records to write, in revision order: [history key, record]. Their bytes share the
   * chunks of one region (they are written together and dropped together): whoever keeps one
   * beyond the batch must copy it.
   */
  readonly history: Array<readonly [Uint8Array, Uint8Array]> = [];
  /** The new oldest available revision, when the batch compacted. */
  compactedTo: number | undefined;
  private revision = 0;
  private position = 0;
  private readonly region = new ByteRegion();
  /** Bytes that live as long as the batch: its history records and stored values share chunks. */
  readonly allocate: Allocate = (n) => this.region.take(n);

  recordChange(revision: number, key: Uint8Array, stored: Uint8Array | undefined, prev: Uint8Array | undefined): void {
    if (revision !== this.revision) {
      this.revision = revision;
      this.position = 0;
    }
    this.history.push([historyKey(revision, this.position++, this.allocate), encodeHistoryRecord(key, stored, prev, this.allocate)]);
  }

  compact(revision: number): void {
    this.compactedTo = Math.max(this.compactedTo ?? 0, revision);
  }

  putValue(id: string, key: Uint8Array, stored: Uint8Array, absentBefore: boolean): void {
    const change = this.values.get(id);
    if (change === undefined) this.values.set(id, { key, value: stored, absentBefore });
    else change.value = stored;
  }

  deleteValue(id: string, key: Uint8Array): void {
    const change = this.values.get(id);
    if (change === undefined) this.values.set(id, { key, value: undefined, absentBefore: false });
    else if (change.absentBefore) this.values.delete(id);
    else change.value = undefined;
  }
}
