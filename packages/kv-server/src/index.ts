/**
 * @keel/kv-server — the Keel node process: a Raft core (`@keel/raft`) driven over TCP with a
 * LevelDB state machine, serving the client API of `@keel/protocol`.
 *
 * Most users run the `keel-server` command. Embedding a node:
 *
 * @example
 * ```ts
 * import { KeelNode, JsonLogger, NODE_DEFAULTS, validateNodeConfig } from '@keel/kv-server';
 * const config = validateNodeConfig({
 *   ...NODE_DEFAULTS,
 *   id: 1,
 *   listenPeer: { host: '127.0.0.1', port: 7101 },
 *   listenClient: { host: '127.0.0.1', port: 7201 },
 *   initialCluster: [{ id: 1, peerAddress: '127.0.0.1:7101', clientAddress: '127.0.0.1:7201' }],
 *   peerDial: new Map(),
 *   dataDir: '/tmp/keel1',
 * });
 * const node = await KeelNode.start(config, new JsonLogger('info', () => ({ nodeId: 1 })));
 * // … serve …
 * await node.close();
 * ```
 */
export { KeelNode } from './node/keel-node.js';
export type { KeelNodeHooks } from './node/keel-node.js';
export { ConfigError, NODE_DEFAULTS, validateNodeConfig } from './node/config.js';
export type { InitialMember, KeelNodeConfig, ListenAddress } from './node/config.js';
export { JsonLogger } from './node/json-logger.js';
export type { LogContext } from './node/json-logger.js';
export { parseConfig } from './cli/options.js';
export { NodeCore } from './node/node-core.js';
export type { NodeCorePorts, NodeObserver, PeerSender, Scheduler, LogStorePort, StateStorePort } from './node/ports.js';
export { coreConfigOf } from './node/config.js';
export type { NodeCoreConfig } from './node/config.js';
// The parts the node composes.
export { openLevelStores, openNodeStores, LogStore, StateStore, StoreError, SNAPSHOT_CHUNK_BYTES_MIN, DATA_DIR_LOCK_FILE, isProcessAlive, readDataDirLock } from './storage/index.js';
export type {
  NodeStores,
  OpenStoresOptions,
  Disk,
  BatchOp,
  ScanRange,
  SnapshotStream,
  ApplyResult,
  SnapshotInstall,
  StoreErrorCode,
  DataDirLock,
  DataDirLockState,
} from './storage/index.js';
export {
  encodeCommand,
  decodeCommand,
  encodeMemberContext,
  decodeMemberContext,
  StateMachineError,
  SESSION_LIMITS,
} from './state-machine/index.js';
export type { Command, MemberAddresses, StateMachineErrorCode, SessionLimits } from './state-machine/index.js';
export { PeerTransport, PEER_TRANSPORT_DEFAULTS } from './transport/index.js';
export type { HandshakeRefusal, PeerState, PeerTransportOptions } from './transport/index.js';
export { ClientPortServer } from './client-port/index.js';
export type { ClientPortOptions } from './client-port/index.js';
