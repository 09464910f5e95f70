/**
 * The node's two stores opened over one database — LevelDB in a temporary directory, or
 * memory-level — and driven as the node core drives them: a Ready that carries a received
 * snapshot is persisted by the state store's swap inside the log store's batch. Tests of the
 * storage layer use this; each suite that runs on both backends takes `BACKENDS`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import type { Member } from '@keel/protocol';
import type { ConfState, SnapshotMeta } from '@keel/raft';
import {
  levelDisk,
  openLevelStores,
  openNodeStores,
  persistReady,
  type ApplyResult,
  type Db,
  type LogWrite,
  type NodeStores,
  type PackedLog,
  type ScanRange,
  type SnapshotInstall,
  type SnapshotStream,
} from '../../src/storage/index.js';

export type Backend = 'level' | 'memory';
export const BACKENDS: readonly Backend[] = ['level', 'memory'];

const EMPTY = new Uint8Array(0);

/** Where a store lives: a directory for LevelDB, a database object for memory-level. Survives reopen. */
export interface StoreHome {
  readonly backend: Backend;
  readonly dir: string;
  readonly memory: Db | undefined;
}

const dirs: string[] = [];
/** Stores opened and not closed yet: `removeHomes` closes them before it removes their directories. */
const openStores = new Set<TestStore>();

export async function newHome(backend: Backend = 'level'): Promise<StoreHome> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-store-'));
  dirs.push(dir);
  const memory = backend === 'memory' ? (new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' }) as unknown as Db) : undefined;
  return { backend, dir, memory };
}

/** Close every store still open (a test that failed half-way), then remove every home: call it in `afterEach`. */
export async function removeHomes(): Promise<void> {
  for (const store of [...openStores]) await store.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export class TestStore {
  private constructor(private readonly stores: NodeStores) {}

  static async open(home: StoreHome, bootstrap?: readonly Member[]): Promise<TestStore> {
    if (home.memory !== undefined) await home.memory.open(); // reopened after a close, as LevelDB is
    const stores = home.memory !== undefined ? await openNodeStores(home.memory, levelDisk(home.memory)) : await openLevelStores(home.dir);
    const store = new TestStore(stores);
    openStores.add(store);
    if (bootstrap !== undefined && stores.log.isPristine) {
      await stores.log.bootstrap(bootstrap);
      const last = stores.log.raftStorage.lastIndex();
      await stores.state.apply(stores.log.raftStorage.entries(1, last + 1));
    }
    return store;
  }

  get log(): NodeStores['log'] {
    return this.stores.log;
  }

  get state(): NodeStores['state'] {
    return this.stores.state;
  }

  get raftStorage(): PackedLog {
    return this.stores.log.raftStorage;
  }

  appliedIndex(): number {
    return this.stores.state.appliedIndex();
  }

  members(): Member[] {
    return this.stores.state.members();
  }

  confState(): ConfState {
    return this.stores.state.confState();
  }

  /** A Ready's persistent part, as the node core persists it. */
  persist(write: LogWrite, sync: boolean): Promise<void> {
    return persistReady(this.stores.log, this.stores.state, write, sync);
  }

  apply(entries: Parameters<NodeStores['state']['apply']>[0]): Promise<ApplyResult[]> {
    return this.stores.state.apply(entries);
  }

  get(key: Uint8Array): ReturnType<NodeStores['state']['get']> {
    return this.stores.state.get(key);
  }

  scan(range: ScanRange, limit: number): ReturnType<NodeStores['state']['scan']> {
    return this.stores.state.scan(range, limit);
  }

  /** A snapshot at the applied index less `retainEntries`, as the node core takes one. */
  createSnapshot(opts: { readonly retainEntries?: number } = {}): Promise<SnapshotMeta> {
    return this.stores.log.createSnapshot(Math.max(0, this.appliedIndex() - (opts.retainEntries ?? 0)));
  }

  readSnapshot(chunkBytes: number): Promise<SnapshotStream> {
    return this.stores.state.readSnapshot(chunkBytes);
  }

  beginSnapshotInstall(meta: SnapshotMeta): Promise<SnapshotInstall> {
    return this.stores.state.beginSnapshotInstall(meta, this.raftStorage.hardState().commit);
  }

  /** Complete `install` and swap it in at once (a Ready carrying only the snapshot). */
  async commitInstall(install: SnapshotInstall): Promise<void> {
    await install.complete();
    await this.persist({ snapshot: { meta: install.meta, data: EMPTY }, entries: [] }, true);
  }

  close(): Promise<void> {
    openStores.delete(this);
    return this.stores.close();
  }
}
