/**
 * @keel/protocol — the wire format shared by keel-server and its clients.
 */
export * from './errors.js';
export type * from './client-api.js';
export { LIMITS, CLIENT_PROTOCOL_VERSION } from './client-api.js';
