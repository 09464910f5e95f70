/**
 * The ports through which the node core (`NodeCore`) talks to the world. The process adapter
 * (`KeelNode`) fills them with LevelDB, TCP and timers; the simulator with memory-level over
 * simulated disks, a simulated network and its event queue. Nothing else reaches the core.
 *
 * Time reaches the core as `tick()` calls; randomness through `Rng`; the client responder is the
 * promise `NodeCore.handle()` returns (the client port, or the simulator's client, answers with it).
 */
import type { ErrorCode } from '@keel/protocol';
import type { Entry, Logger, Message, NodeId, Ready, Rng, SnapshotMeta } from '@keel/raft';
import type { LogStore } from '../storage/log-store.js';
import type { ApplyResult, StateStore } from '../storage/state-store.js';
import type { PeerAddresses } from '../transport/index.js';

/** The log store as the core uses it: the core's storage view, Ready persistence, compaction. */
export type LogStorePort = Pick<LogStore, 'raftStorage' | 'persist' | 'createSnapshot'>;

/** The state store as the core uses it: apply, local reads and digest, snapshots out and in. */
export type StateStorePort = Pick<
  StateStore,
  'appliedIndex' | 'compactRevision' | 'members' | 'leases' | 'auth' | 'apply' | 'get' | 'scan' | 'digest' | 'readSnapshot' | 'beginSnapshotInstall' | 'swapIn'
>;

/** Where messages to peers go (the TCP transport, or the simulated network). */
export interface PeerSender {
  /** Send messages (never `snap`: snapshots go through `sendSnapshot`). Fire and forget. */
  send(messages: readonly Message[]): void;
  /** Stream a snapshot to `to`; resolves once the receiver installed it, rejects otherwise. */
  sendSnapshot(to: NodeId, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** The peers to keep connections to, with the address to dial each at. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
}

/** Runs the core's Ready loop "soon": after the input already queued, so more work joins the batch. */
export interface Scheduler {
  soon(run: () => void): void;
}

/**
 * Sees what the core does, in order, without influencing it: the process counts it for
 * `node.stats`, the simulator checks invariants on it. Every method is optional.
 */
export interface NodeObserver {
  /** A Ready was taken from the Raft core, before any of it is handled. */
  ready?(rd: Ready): void;
  /** The Ready's persistent part is durable (its snapshot swapped in, when it carried one). */
  persisted?(rd: Ready): void;
  /** These messages leave the node now. */
  sent?(messages: readonly Message[]): void;
  /** Committed entries are about to be applied (one store batch). */
  applying?(entries: readonly Entry[]): void;
  /** They were applied, with these results (one per entry): computed, before their store batch is written and before any is answered. */
  applied?(entries: readonly Entry[], results: readonly ApplyResult[]): void;
  /** A snapshot taken locally compacted the log up to `meta`. */
  snapshotTaken?(meta: SnapshotMeta): void;
  /** A snapshot received from the leader replaced the state machine. */
  snapshotInstalled?(meta: SnapshotMeta, appliedBefore: number): void;
  /** A proposal of this node (a write or a membership change) committed and applied. */
  proposalCommitted?(): void;
  /** A proposal failed with `code`: refused before it reached the log, or its entry was lost, or its deadline passed. */
  proposalFailed?(code: ErrorCode): void;
}

/** One observer that tells every one of `observers`, in order. */
export function observers(...all: readonly NodeObserver[]): NodeObserver {
  return {
    ready: (rd) => all.forEach((o) => o.ready?.(rd)),
    persisted: (rd) => all.forEach((o) => o.persisted?.(rd)),
    sent: (messages) => all.forEach((o) => o.sent?.(messages)),
    applying: (entries) => all.forEach((o) => o.applying?.(entries)),
    applied: (entries, results) => all.forEach((o) => o.applied?.(entries, results)),
    snapshotTaken: (meta) => all.forEach((o) => o.snapshotTaken?.(meta)),
    snapshotInstalled: (meta, appliedBefore) => all.forEach((o) => o.snapshotInstalled?.(meta, appliedBefore)),
    proposalCommitted: () => all.forEach((o) => o.proposalCommitted?.()),
    proposalFailed: (code) => all.forEach((o) => o.proposalFailed?.(code)),
  };
}

/** Where a node listens: its peer and client ports, and its admin listener when it has one ('' or absent: none). */
export interface ListeningAddresses extends PeerAddresses {
  readonly adminAddress?: string;
}

/** Everything the core needs from outside, in one record. */
export interface NodeCorePorts {
  readonly log: LogStorePort;
  readonly state: StateStorePort;
  readonly peers: PeerSender;
  readonly scheduler: Scheduler;
  /** Randomness of the core itself (read request ids); the Raft core has its own. */
  readonly rng: Rng;
  readonly logger: Logger;
  readonly observer?: NodeObserver;
  /** Where this node listens (bound addresses; '' when not dialable as is). */
  readonly listening: ListeningAddresses;
  /** Hashes passwords for `userAdd` / `userPasswd` (scrypt, auth/password-hash.ts); without it those calls fail. */
  readonly passwords?: { hash(password: string): Promise<Uint8Array> };
  /** The node hit an error it cannot continue after (durable write failed, invariant broken). */
  readonly onFatal: (error: unknown) => void;
}
