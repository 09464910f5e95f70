/**
 * The simulated disk of one node: a `Disk` (the stores' one write path) over an in-memory
 * abstract-level database (`memory-level`), with LevelDB's ordering and a power-loss crash model.
 *
 *  - Writes complete one at a time, in the order issued (LevelDB's writer queue).
 *  - A synced write waits for its simulated fsync (the simulator decides when it completes), then
 *    becomes visible and durable together with every write before it.
 *  - An unsynced write is visible at once but not durable: a crash keeps only a prefix of the
 *    unsynced writes since the last sync (LevelDB's log is ordered), chosen by the simulator.
 *  - A crash abandons the writes in flight: their promises never settle (the process is gone).
 *
 * Durable states are memory-level snapshots (cheap: the tree is persistent), so a restart copies
 * the surviving state into a fresh database and the node recovers from it through the production
 * recovery path (`openNodeStores`).
 */
import { MemoryLevel } from 'memory-level';
import type { AbstractSnapshot } from 'abstract-level';
import { batchInto, sublevelOf, type BatchOp, type BytesSublevel, type Db, type Disk, type RangeOptions } from '../storage/layout.js';

/** How the simulator runs the disk: when an fsync completes, and how much a crash keeps. */
export interface DiskClock {
  /** Call `done` once an fsync issued now completes (a simulated delay). */
  fsync(done: () => void): void;
}

const NEVER = new Promise<never>(() => undefined);

export class SimDisk implements Disk {
  private live: Db;
  private chain: Promise<unknown> = Promise.resolve();
  /** The state as of the last completed sync. */
  private durable: AbstractSnapshot | undefined;
  /** Unsynced writes since then: the state after each one. */
  private unsynced: AbstractSnapshot[] = [];
  /** Which state a crash left behind (applied by `restart`). */
  private survivor: AbstractSnapshot | undefined;
  private incarnation = 0;
  private readonly sublevels = new Map<string, object>();

  constructor(private readonly clock: DiskClock) {
    this.live = newDb();
  }

  /** The database of the running incarnation. */
  get db(): Db {
    return this.live;
  }

  write(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    return this.enqueue(async (inc) => {
      if (sync) {
        await new Promise<void>((resolve) => this.clock.fsync(resolve));
        if (inc !== this.incarnation) return NEVER;
      }
      await batchInto(this.live, ops, false);
      this.written(sync);
    });
  }

  clear(sublevel: string, range: RangeOptions): Promise<void> {
    return this.enqueue(async () => {
      await (this.sublevel(sublevel) as BytesSublevel).clear(range);
      this.written(false);
    });
  }

  /**
   * The process died: writes in flight never complete, and of the unsynced writes only the
   * first `keep(n)` survive (n = how many there are).
   */
  crash(keep: (unsynced: number) => number): void {
    this.incarnation++;
    this.chain = Promise.resolve();
    const k = Math.max(0, Math.min(this.unsynced.length, keep(this.unsynced.length)));
    this.survivor = k === 0 ? this.durable : this.unsynced[k - 1];
  }

  /** Before a restart: a fresh database holding exactly what survived the crash. */
  async restart(): Promise<Db> {
    const from = this.survivor;
    const old = this.live;
    const fresh = newDb();
    await fresh.open();
    if (from !== undefined) {
      const rows = await old.iterator({ snapshot: from } as never).all();
      if (rows.length > 0) await fresh.batch(rows.map(([key, value]) => ({ type: 'put' as const, key, value })));
    }
    this.live = fresh;
    this.sublevels.clear();
    this.durable = fresh.snapshot();
    this.unsynced = [];
    this.survivor = undefined;
    return fresh;
  }

  private enqueue(op: (incarnation: number) => Promise<void>): Promise<void> {
    const inc = this.incarnation;
    const run = this.chain.then(() => (inc === this.incarnation ? op(inc) : NEVER));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private written(sync: boolean): void {
    const state = this.live.snapshot();
    if (sync) {
      this.durable = state;
      this.unsynced = [];
    } else {
      this.unsynced.push(state);
    }
  }

  private sublevel(name: string): object {
    let sub = this.sublevels.get(name);
    if (sub === undefined) this.sublevels.set(name, (sub = sublevelOf(this.live, name)));
    return sub;
  }
}

function newDb(): Db {
  return new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' }) as unknown as Db;
}
