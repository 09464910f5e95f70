import { MemoryStorage } from '../memory-storage.js';
import type { ConfChangeEntry, ConfState, Entry, HardState, Snapshot } from '../types.js';
import { SimStateMachine } from './state-machine.js';

/** One write the node driver hands to the disk: the persistent part of a Ready. */
export interface DiskWrite {
  readonly snapshot?: Snapshot;
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
}

/**
 * The simulated disk of one node: its durable Raft state (hard state, log and snapshot in a
 * `MemoryStorage`) and its durable state machine (applied index and contents).
 *
 * Durability model: a Ready's write is issued (`write`) and stays pending, invisible to the
 * storage view, until its simulated fsync completes (`sync`), which applies it atomically, as
 * one LevelDB batch. A crash (`crash`) forgets the pending write, so only what was synced
 * survives. The node driver sends the Ready's `messages` before issuing the write, so a crash
 * in between is a node dying after its messages left but before its fsync: a leader whose
 * followers hold entries its own disk never got. `recover()` is the restart path: it rebuilds
 * the in-memory storage view from the durable state, as the server rebuilds its view from LevelDB.
 */
export class SimDisk {
  storage: MemoryStorage;
  readonly stateMachine: SimStateMachine;
  private pendingWrite: DiskWrite | undefined;

  /**
   * A disk as a new node finds it: bootstrapped with `conf` (its voters written as the first log
   * entries, as the server does: etcd's `Bootstrap`), or empty for a node that joins later and
   * learns the configuration from the log.
   */
  constructor(conf: ConfState) {
    this.storage = new MemoryStorage();
    this.stateMachine = new SimStateMachine({ voters: [], learners: [] });
    const voters: number[] = [];
    const entries = conf.voters.map((id, k): ConfChangeEntry => {
      voters.push(id);
      return { type: 'confChange', index: k + 1, term: 1, change: { type: 'addVoter', nodeId: id }, conf: { voters: [...voters], learners: [] } };
    });
    if (entries.length > 0) {
      this.storage.append(entries);
      this.storage.setHardState({ term: 1, vote: 0, commit: entries.length });
    }
  }

  /** The write issued and not yet synced, if any. */
  get pending(): DiskWrite | undefined {
    return this.pendingWrite;
  }

  /** Issue a write; it becomes durable at `sync`, or is lost at `crash`. One at a time. */
  write(write: DiskWrite): void {
    if (this.pendingWrite !== undefined) throw new Error('SimDisk.write: a write is already pending');
    this.pendingWrite = write;
  }

  /** The pending write's fsync completed: its snapshot, entries and hard state become durable, in that order, atomically. */
  sync(): void {
    const write = this.pendingWrite;
    if (write === undefined) throw new Error('SimDisk.sync: no write pending');
    this.pendingWrite = undefined;
    if (write.snapshot !== undefined) this.storage.applySnapshot(write.snapshot);
    this.storage.append(write.entries);
    if (write.hardState !== undefined) this.storage.setHardState(write.hardState);
  }

  /** The process died: a write not yet synced is lost. Returns it, if there was one. */
  crash(): DiskWrite | undefined {
    const lost = this.pendingWrite;
    this.pendingWrite = undefined;
    return lost;
  }

  /** Take a snapshot of the state machine at its applied index and compact the log up to it. */
  takeSnapshot(): Snapshot {
    const sm = this.stateMachine;
    return this.storage.createSnapshot(sm.applied, sm.conf, sm.encode());
  }

  /** The restart path: a fresh storage view rebuilt from the durable state. */
  recover(): { storage: MemoryStorage; applied: number } {
    this.storage = this.storage.clone();
    return { storage: this.storage, applied: this.stateMachine.applied };
  }

  /** The membership of the durable log: its last configuration entry, else the snapshot's. */
  lastConf(): ConfState {
    const entries = this.storage.allEntries();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (e.type === 'confChange') return e.conf;
    }
    return this.storage.snapshot().meta.conf;
  }
}
