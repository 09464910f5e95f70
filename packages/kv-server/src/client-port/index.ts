export type { ClientPortOptions } from './client-port-server.js';
export { ClientPortServer } from './client-port-server.js';
