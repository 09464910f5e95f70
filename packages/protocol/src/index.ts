/**
 * @keel/protocol — the wire format shared by keel-server and its clients.
 *
 * Every connection carries frames: a 4-byte big-endian length, then one msgpackr value.
 *
 * @example
 * ```ts
 * import { FrameDecoder, encodeFrames, validateClientRequest } from '@keel/protocol';
 * const decoder = new FrameDecoder();
 * socket.on('data', (chunk) => decoder.push(chunk, (value, bytes) => handle(validateClientRequest(value, bytes))));
 * socket.write(encodeFrames([responseA, responseB])); // one write for a batch of frames
 * ```
 */
export * from './errors.js';
export type * from './client-api.js';
export type * from './auth-api.js';
export { AUTH_LIMITS, ROOT_ROLE, ROOT_USER } from './auth-api.js';
export { LIMITS, CLIENT_PROTOCOL_VERSION } from './client-api.js';
export type { FrameDecoderOptions, FrameHandler } from './frame.js';
export { PlainPacker } from './plain-packer.js';
export { FRAME_HEADER_BYTES, FrameBatch, FrameDecoder, encodeFrame, encodeFrames, packPayload } from './frame.js';
export { CLIENT_OPS, NO_REQUEST_ID, RequestValidationError, requestIdOf, validateClientRequest } from './validate-request.js';
export { validateClientResponse, validateServerFrame } from './validate-response.js';
export { TLS_HANDSHAKE_RECORD, describeTlsFailure } from './tls-failure.js';
export type { PeerChannel, PeerHello, PeerHelloResult, PeerIdentity } from './peer-handshake.js';
export {
  CLUSTER_ID_LENGTH_MAX,
  INCARNATION_LENGTH_MAX,
  PEER_ADDRESS_LENGTH_MAX,
  PEER_PROTOCOL_VERSION,
  checkPeerHello,
  checkPeerHelloResult,
  validatePeerHello,
  validatePeerHelloResult,
} from './peer-handshake.js';
export type { BackupErrorCode, BackupHeader, BackupItem, BackupSummary } from './backup-format.js';
export { BACKUP_FORMAT, BACKUP_FRAME_BYTES_MAX, BACKUP_SIGNATURE, BackupError, BackupWriter, checkBackup, readBackup } from './backup-format.js';
