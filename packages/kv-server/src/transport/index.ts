export type { PeerAddresses } from './advertised.js';
export type { PeerTransportOptions } from './peer-transport.js';
export { PEER_TRANSPORT_DEFAULTS, PeerTransport } from './peer-transport.js';
export { validateMessage, validateSnapshotMeta } from './message-codec.js';
export { LIVENESS_TIMEOUT_MS_MIN, peerLivenessTimeoutMs } from './liveness.js';
