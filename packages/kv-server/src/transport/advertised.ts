/**
 * Advertised addresses: every hello carries the dialer's own peer and client addresses, so the
 * accepting node learns where to reach a peer whose address is not in its log (a node that joined
 * never sees the bootstrap membership's addresses).
 */
import type { NodeId } from '@keel/raft';
import type { PeerChannel, PeerHello, PeerIdentity } from '@keel/protocol';
import { PEER_PROTOCOL_VERSION } from '@keel/protocol';

/** Where a node listens: "host:port" for peers and for clients; '' when not known. */
export interface PeerAddresses {
  readonly peerAddress: string;
  readonly clientAddress: string;
}

/** The hello this node sends to `to` on `channel`, carrying the addresses it advertises (empty ones are left out). */
export function helloFor(identity: PeerIdentity, to: NodeId, channel: PeerChannel, advertised: PeerAddresses | undefined): PeerHello {
  return {
    type: 'hello',
    clusterId: identity.clusterId,
    nodeId: identity.nodeId,
    to,
    protocolVersion: PEER_PROTOCOL_VERSION,
    channel,
    ...(advertised !== undefined && advertised.peerAddress !== '' ? { peerAddress: advertised.peerAddress } : {}),
    ...(advertised !== undefined && advertised.clientAddress !== '' ? { clientAddress: advertised.clientAddress } : {}),
  };
}
