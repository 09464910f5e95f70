/**
 * The hello this node sends. It carries the dialer's own peer and client addresses, so the
 * accepting node learns where to reach a peer whose address is not in its log (a node that joined
 * never sees the bootstrap membership's addresses), and the dialer's incarnation.
 */
import type { NodeId } from '@keel/raft';
import type { ErrorCode, KeelError, PeerChannel, PeerHello, PeerIdentity } from '@keel/protocol';
import { PEER_PROTOCOL_VERSION } from '@keel/protocol';

/** This process as a peer: its cluster and node id, and the incarnation it picked at start-up. */
export interface LocalIdentity extends PeerIdentity {
  readonly incarnation: string;
}

/** Where a node listens: "host:port" for peers and for clients; '' when not known. */
export interface PeerAddresses {
  readonly peerAddress: string;
  readonly clientAddress: string;
}

/** The hello this node sends to `to` on `channel`, carrying the addresses it advertises (empty ones are left out). */
export function helloFor(identity: LocalIdentity, to: NodeId, channel: PeerChannel, advertised: PeerAddresses | undefined): PeerHello {
  return {
    type: 'hello',
    clusterId: identity.clusterId,
    nodeId: identity.nodeId,
    to,
    protocolVersion: PEER_PROTOCOL_VERSION,
    channel,
    incarnation: identity.incarnation,
    ...(advertised !== undefined && advertised.peerAddress !== '' ? { peerAddress: advertised.peerAddress } : {}),
    ...(advertised !== undefined && advertised.clientAddress !== '' ? { clientAddress: advertised.clientAddress } : {}),
  };
}

/** A handshake with a peer that failed: who refused, and why. */
export interface HandshakeRefusal {
  /** 'peer': the peer refused this node's hello (or answered as the wrong node); 'local': this node refused the peer's hello. */
  readonly by: 'peer' | 'local';
  readonly code: ErrorCode;
  readonly message: string;
}

export function refusalOf(by: HandshakeRefusal['by'], error: KeelError): HandshakeRefusal {
  return { by, code: error.code, message: error.message };
}
