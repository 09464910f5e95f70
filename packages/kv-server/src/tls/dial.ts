/**
 * Opening a connection to a peer, over TLS when the node has peer credentials. Peers authenticate
 * each other by the CA alone: any certificate signed by `--peer-ca` is a member's, whatever its
 * names (peers are dialled at addresses that a proxy or NAT may rewrite), so the host name is not
 * checked.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { TlsCredentials } from './credentials.js';

export interface Dialled {
  readonly socket: net.Socket;
  /** The event after which the connection carries frames: 'connect', or 'secureConnect' over TLS. */
  readonly ready: 'connect' | 'secureConnect';
}

export function dial(host: string, port: number, credentials: TlsCredentials | undefined): Dialled {
  if (credentials === undefined) return { socket: net.connect({ host, port }), ready: 'connect' };
  const socket = tls.connect({ host, port, secureContext: credentials.secureContext, rejectUnauthorized: true, checkServerIdentity: () => undefined });
  return { socket, ready: 'secureConnect' };
}
