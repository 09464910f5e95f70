export type { HandshakeRefusal, PeerAddresses } from './hello.js';
export type { PeerState, PeerTraffic, PeerTransportOptions } from './peer-transport.js';
export { PEER_TRANSPORT_DEFAULTS, PENDING_HANDSHAKES_MAX, PeerTransport } from './peer-transport.js';
export { validateMessage, validateSnapshotMeta } from './message-codec.js';
export { LIVENESS_TIMEOUT_MS_MIN, peerLivenessTimeoutMs } from './liveness.js';
export { ListenError } from './listen-error.js';
