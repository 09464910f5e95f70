import type { Logger, NodeId, Snapshot, SnapshotMeta } from '@keel/raft';
import { StoreError } from '../storage/errors.js';
import type { SnapshotInstall } from '../storage/state-store.js';

/** What the receiver needs from the node: the core's view and a way to hand it the snapshot. */
export interface SnapshotReceiverHost {
  /** Start an install of `meta` in the state store's side area. */
  begin(meta: SnapshotMeta): Promise<SnapshotInstall>;
  readonly logger: Logger;
  /** The core's current term and leader. */
  leadership(): { readonly term: number; readonly leader: NodeId };
  /** Step a 'snap' message carrying `meta` (no data) from `from` in `term` into the core. */
  stepSnapshot(from: NodeId, term: number, meta: SnapshotMeta): void;
  /** How many Readies the node has taken so far. */
  readySeq(): number;
  /** The node is shutting down. */
  closing(): boolean;
}

/** A snapshot received and staged in the store, waiting for the core to take it. */
interface Staged {
  readonly meta: SnapshotMeta;
  readonly install: SnapshotInstall;
  /** `readySeq` when the snap message was stepped: the next Ready taken carries it if the core took it. */
  readonly steppedAtSeq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/**
 * Follower side of InstallSnapshot, one snapshot at a time:
 *  1. `receive()` (called by the transport) writes the streamed chunks into the state store's side
 *     area and completes the install (all chunks present);
 *  2. it steps a 'snap' message (meta only) into the core, in the current term, only if the
 *     sender is the leader the core follows;
 *  3. the core hands the snapshot back in a Ready: `take()` checks it is this one, the node's
 *     persist swaps it in atomically with the Ready's entries and hard state, `installed()`
 *     resolves the transport's promise;
 *  4. if the Readies after the step do not carry it, `checkTaken()` aborts the install.
 */
export class SnapshotReceiver {
  private receiving = false;
  private staged: Staged | undefined;
  private taking: Staged | undefined;

  constructor(private readonly host: SnapshotReceiverHost) {}

  async receive(from: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    if (this.host.closing()) throw new Error('the node is shutting down');
    if (this.receiving || this.staged !== undefined || this.taking !== undefined) {
      throw new Error('a snapshot install is already in progress');
    }
    this.receiving = true;
    try {
      await this.receiveOnce(from, meta, chunks);
    } finally {
      this.receiving = false;
    }
  }

  private async receiveOnce(from: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const { logger } = this.host;
    logger.log('info', 'snapshot.receiving', { from, index: meta.index, snapshotTerm: meta.term });
    let install: SnapshotInstall;
    try {
      install = await this.host.begin(meta);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'SNAPSHOT_STALE') {
        // Not newer than what this node committed: the core answers the leader with its commit
        // index (Raft §7), so the leader stops sending this snapshot and probes from there.
        const { term, leader } = this.host.leadership();
        if (!this.host.closing() && leader === from) this.host.stepSnapshot(from, term, meta);
      }
      throw err;
    }
    try {
      for await (const chunk of chunks) {
        if (this.host.closing()) throw new Error('the node is shutting down');
        await install.write(chunk);
      }
      await install.complete();
    } catch (err) {
      await install.abort();
      logger.log('warn', 'snapshot.receive_failed', { from, index: meta.index, error: err });
      throw err;
    }
    const { term, leader } = this.host.leadership();
    if (this.host.closing() || leader !== from) {
      await install.abort();
      throw new Error(`snapshot from node ${from} refused: the current leader is ${leader}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.staged = { meta, install, steppedAtSeq: this.host.readySeq(), resolve, reject };
      this.host.stepSnapshot(from, term, meta);
    });
  }

  /** The Ready carries `snapshot`: it must be the one staged (the node's persist swaps it in). */
  take(snapshot: Snapshot): void {
    const s = this.staged;
    if (s === undefined || s.meta.index !== snapshot.meta.index || s.meta.term !== snapshot.meta.term) {
      throw new Error(`Ready carries snapshot ${snapshot.meta.index}/${snapshot.meta.term} that this node did not receive`);
    }
    this.staged = undefined;
    this.taking = s;
  }

  /** The snapshot taken by `take()` is durable and swapped in. */
  installed(): void {
    const s = this.taking;
    this.taking = undefined;
    s?.resolve();
  }

  /**
   * Called after each handled Ready (`seq`) and when the Ready loop runs dry (`seq` undefined: no
   * Ready followed the step at all). A staged snapshot the core did not take is aborted.
   */
  checkTaken(seq: number | undefined): void {
    const s = this.staged;
    if (s === undefined) return;
    const notTaken = seq === undefined ? this.host.readySeq() === s.steppedAtSeq : seq > s.steppedAtSeq;
    if (!notTaken) return;
    this.staged = undefined;
    this.host.logger.log('warn', 'snapshot.not_taken', { index: s.meta.index });
    s.install.abort().then(
      () => s.reject(new Error('the Raft core did not take the snapshot')),
      (err: unknown) => s.reject(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** Drop whatever is staged or being taken (shutdown). */
  async abort(error: Error): Promise<void> {
    const s = this.staged;
    this.staged = undefined;
    if (s !== undefined) {
      await s.install.abort().catch(() => undefined);
      s.reject(error);
    }
    this.taking?.reject(error);
    this.taking = undefined;
  }
}
