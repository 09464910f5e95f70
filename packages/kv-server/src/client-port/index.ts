export type { ClientConnectionStats, ClientPortOptions } from './client-port-server.js';
export { ClientPortServer, RESPONSE_BYTES_PER_CONNECTION_DEFAULT, RESPONSE_BYTES_PER_CONNECTION_MIN } from './client-port-server.js';
export { RESPONSE_BYTES_BOUND } from './response-cost.js';
