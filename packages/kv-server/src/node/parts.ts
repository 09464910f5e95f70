/**
 * The parts the node composes, imported in one place so that their module paths (owned by the
 * storage and transport modules) are named once.
 */
export { NodeStore } from '../storage/index.js';
export type { ApplyResult, SnapshotInstall } from '../storage/index.js';
export { encodeCommand, encodeMemberContext } from '../state-machine/index.js';
export type { Command } from '../state-machine/index.js';
export { PeerTransport, peerLivenessTimeoutMs } from '../transport/index.js';
export type { PeerAddresses } from '../transport/index.js';
export { ClientPortServer } from '../client-port/index.js';
