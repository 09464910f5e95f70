/**
 * The database both stores share: one abstract-level database, its sublevels, and the one batch
 * helper every write goes through (so a failed write stops both stores: the in-memory views may
 * then be ahead of the disk, and the node must restart to recover from the disk).
 */
import { StoreError } from './errors.js';
import {
  LOG_SUBLEVEL,
  bytesSublevel,
  metaSublevel,
  type BatchOp,
  type BytesSublevel,
  type Db,
  type Disk,
  type MetaSublevel,
  type RangeOptions,
} from './layout.js';

export class StoreDb {
  readonly meta: MetaSublevel;
  readonly log: BytesSublevel;
  private readonly sublevels = new Map<string, BytesSublevel>();
  private failure: unknown;
  private closed = false;

  constructor(
    readonly db: Db,
    private readonly disk: Disk,
  ) {
    this.meta = metaSublevel(db);
    this.log = bytesSublevel(db, LOG_SUBLEVEL);
  }

  /** Sublevel objects are cached: one per name until `forget`. */
  sublevel(name: string): BytesSublevel {
    let sub = this.sublevels.get(name);
    if (sub === undefined) this.sublevels.set(name, (sub = bytesSublevel(this.db, name)));
    return sub;
  }

  forget(name: string): void {
    this.sublevels.delete(name);
  }

  /** Write `ops` as one batch (synced when `sync`). A failure is latched: every later call refuses. */
  async write(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    this.usable();
    try {
      await this.disk.write(ops, sync);
    } catch (err) {
      this.failure = err;
      throw new StoreError('FAILED', `database write failed: ${String(err)}`, { cause: err });
    }
  }

  /** Clear a range of one sublevel (garbage only: a crash may undo it, and recovery clears it again). */
  clear(sublevel: string, range: RangeOptions = {}): Promise<void> {
    return this.disk.clear(sublevel, range);
  }

  /** Latch a failure found outside a write (a half-applied in-memory update). */
  fail(err: unknown): void {
    this.failure ??= err;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Throws `StoreError` CLOSED or FAILED when the stores may not be used. */
  usable(): void {
    if (this.closed) throw new StoreError('CLOSED', 'the store is closed');
    if (this.failure !== undefined) throw new StoreError('FAILED', `an earlier write failed: ${String(this.failure)}`, { cause: this.failure });
  }

  markClosed(): void {
    this.closed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.db.close();
  }
}
