export type { ClientConnectionStats, ClientPortOptions } from './client-port-server.js';
export type { ConnectionIdentity } from './client-connection.js';
export {
  CLIENT_TIMEOUT_DEFAULTS,
  ClientPortServer,
  FRESH_EVICTION_AGE_MS,
  RESPONSE_BYTES_PER_CONNECTION_DEFAULT,
  RESPONSE_BYTES_PER_CONNECTION_MIN,
} from './client-port-server.js';
export { RESPONSE_BYTES_BOUND } from './response-cost.js';
