export type { TlsFilePaths } from './credentials.js';
export { TlsCredentials, TlsFilesError } from './credentials.js';
export type { TlsAcceptorOptions } from './tls-acceptor.js';
export { TlsAcceptor } from './tls-acceptor.js';
export type { Dialled } from './dial.js';
export { dial } from './dial.js';
export { watchTlsFiles } from './file-watch.js';
