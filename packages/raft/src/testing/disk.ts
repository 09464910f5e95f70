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
 * Durability model: the node driver keeps a Ready's write pending until its simulated fsync
 * completes, then calls `persist`; a crash simply forgets the pending write, so only what
 * reached `persist` survives. `recover()` is the restart path: it rebuilds the in-memory storage
 * view from the durable state, as the server rebuilds its view from LevelDB.
 */
export class SimDisk {
  storage: MemoryStorage;
  readonly stateMachine: SimStateMachine;

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

  /** Make a Ready's snapshot, entries and hard state durable, in that order, atomically. */
  persist(write: DiskWrite): void {
    if (write.snapshot !== undefined) this.storage.applySnapshot(write.snapshot);
    this.storage.append(write.entries);
    if (write.hardState !== undefined) this.storage.setHardState(write.hardState);
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
