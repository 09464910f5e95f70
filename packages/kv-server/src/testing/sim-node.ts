/**
 * One simulated keel-server process: the production `NodeCore` with the production stores over
 * a `SimDisk`, its ports filled by the simulator (network, event queue, seeded randomness).
 * A crash drops the process (the core, its in-flight writes, its unsent messages); a restart
 * rebuilds it from what the disk kept, through the production recovery path.
 */
import type { Member } from '@keel/protocol';
import { RawNode, type ConfState, type Logger, type NodeId, type RaftConfig, type Role, type Status } from '@keel/raft';
import type { SeededRng } from '@keel/raft';
import type { SimNodeView } from '@keel/raft/testing';
import type { NodeCoreConfig } from '../node/config.js';
import { NodeCore } from '../node/node-core.js';
import type { NodeObserver, PeerSender } from '../node/ports.js';
import { openNodeStores, type NodeStores } from '../storage/node-stores.js';
import { SimDisk, type DiskClock } from './sim-disk.js';

/** Builds each node's Raft core; tests pass deliberately broken variants. */
export type RawNodeFactory = (config: RaftConfig) => RawNode;
/** Builds each node's core; tests pass deliberately broken variants. */
export type CoreFactory = (config: NodeCoreConfig, raw: RawNode, ports: ConstructorParameters<typeof NodeCore>[2]) => NodeCore;

/** What a simulated node gets from the simulator for one incarnation. */
export interface SimNodeHost {
  /** Ports bound to `incarnation`: anything a dead incarnation sends or schedules is dropped. */
  peers(node: SimServerNode, incarnation: number): PeerSender;
  soon(node: SimServerNode, incarnation: number, run: () => void): void;
  observer(node: SimServerNode, incarnation: number): NodeObserver;
  logger(node: SimServerNode, incarnation: number): Logger;
  fatal(node: SimServerNode, error: unknown): void;
}

export interface SimNodeSetup {
  readonly id: NodeId;
  /** The bootstrap membership when this node is one of the initial voters; undefined for a spare (it joins). */
  readonly bootstrap: readonly Member[] | undefined;
  readonly raft: Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'rng' | 'logger'>;
  readonly core: NodeCoreConfig;
  readonly rng: SeededRng;
  readonly rawNodeFactory: RawNodeFactory;
  readonly coreFactory: CoreFactory;
}

export class SimServerNode implements SimNodeView {
  readonly id: NodeId;
  readonly disk: SimDisk;
  incarnation = 0;
  core: NodeCore | undefined;
  private raw: RawNode | undefined;
  private stores: NodeStores | undefined;
  role: Role = 'follower';
  hard = { term: 0, vote: 0, commit: 0 };
  /** Rolling digest of the applied prefix (see `mixDigest`), for the checker. */
  digest = 0;
  applied = 0;
  private lastConf: ConfState;

  constructor(
    private readonly setup: SimNodeSetup,
    clock: DiskClock,
    private readonly host: SimNodeHost,
  ) {
    this.id = setup.id;
    this.disk = new SimDisk(clock);
    const voters = setup.bootstrap?.map((m) => m.id) ?? [];
    this.lastConf = { voters, learners: [] };
  }

  get up(): boolean {
    return this.core !== undefined;
  }

  /** The state store of the running incarnation. */
  get state(): NodeStores['state'] | undefined {
    return this.stores?.state;
  }

  /** The log store of the running incarnation (its view is what is durable or being made so). */
  get log(): NodeStores['log'] | undefined {
    return this.stores?.log;
  }

  durableSnapshotIndex(): number {
    return this.stores?.log.raftStorage.snapshot().meta.index ?? 0;
  }

  durableLastIndex(): number {
    return this.stores?.log.raftStorage.lastIndex() ?? 0;
  }

  /** While down, the configuration its log had when it last ran (or is about to be bootstrapped with). */
  durableConf(): ConfState {
    const storage = this.stores?.log.raftStorage;
    if (storage === undefined) return this.lastConf;
    this.lastConf = storage.confAt(storage.lastIndex());
    return this.lastConf;
  }

  status(): Status | undefined {
    return this.core === undefined ? undefined : this.raw?.status();
  }

  /** Start (or restart) the process from what the disk holds. `digestAt(i)`: the committed digest at `i`. */
  async start(digestAt: (index: number) => number | undefined): Promise<void> {
    if (this.core !== undefined) throw new Error(`node ${this.id} is already up`);
    const incarnation = ++this.incarnation;
    const db = await this.disk.restart();
    const logger = this.host.logger(this, incarnation);
    const stores = await openNodeStores(db, this.disk, { logger });
    if (incarnation !== this.incarnation) return;
    if (stores.log.isPristine && this.setup.bootstrap !== undefined) await stores.log.bootstrap(this.setup.bootstrap);
    if (incarnation !== this.incarnation) return;
    this.stores = stores;
    this.role = 'follower';
    this.hard = { ...stores.log.raftStorage.hardState() };
    this.applied = stores.state.appliedIndex();
    this.digest = this.applied === 0 ? 0 : (digestAt(this.applied) ?? 0);
    const raw = this.setup.rawNodeFactory({
      ...this.setup.raft,
      id: this.id,
      storage: stores.log.raftStorage,
      applied: stores.state.appliedIndex(),
      rng: this.setup.rng.fork(),
      logger,
    });
    this.raw = raw;
    const core = this.setup.coreFactory(this.setup.core, raw, {
      log: stores.log,
      state: stores.state,
      peers: this.host.peers(this, incarnation),
      scheduler: { soon: (run) => this.host.soon(this, incarnation, run) },
      rng: this.setup.rng.fork(),
      logger,
      observer: this.host.observer(this, incarnation),
      listening: { peerAddress: peerAddressOf(this.id), clientAddress: clientAddressOf(this.id) },
      onFatal: (err) => this.host.fatal(this, err),
    });
    this.core = core;
    core.start();
  }

  /** Kill the process. `keep(n)`: how many of the disk's `n` unsynced writes survive. */
  crash(keep: (unsynced: number) => number): void {
    this.durableConf();
    this.incarnation++;
    this.core = undefined;
    this.raw = undefined;
    this.stores = undefined;
    this.role = 'follower';
    this.disk.crash(keep);
  }
}

export function peerAddressOf(id: NodeId): string {
  return `sim-${id}:7100`;
}

export function clientAddressOf(id: NodeId): string {
  return `sim-${id}:7000`;
}
