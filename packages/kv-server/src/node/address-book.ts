/**
 * Addresses learned from peers' hellos, for members whose addresses the log does not carry.
 *
 * The log carries every member's addresses (the bootstrap entries and each change's context),
 * but a member added without addresses, and a node that joined and has not applied the entries
 * naming its peers yet (or got them in a snapshot of a cluster bootstrapped before addresses were
 * in the log), has gaps. Every peer advertises its own addresses when it connects; this book
 * remembers the latest per node (in memory only: every member re-announces on connect).
 * Addresses from the store always win; learned ones only fill empty fields.
 */
import type { Member } from '@keel/protocol';
import type { NodeId } from '@keel/raft';
import type { PeerAddresses } from '../transport/index.js';

export class AddressBook {
  private readonly learned = new Map<NodeId, PeerAddresses>();

  /**
   * Records what `id` advertised; an empty field keeps the address learned before. Returns true
   * when anything changed.
   */
  learn(id: NodeId, addresses: PeerAddresses): boolean {
    const before = this.learned.get(id);
    const next: PeerAddresses = {
      peerAddress: addresses.peerAddress !== '' ? addresses.peerAddress : (before?.peerAddress ?? ''),
      clientAddress: addresses.clientAddress !== '' ? addresses.clientAddress : (before?.clientAddress ?? ''),
    };
    if (before !== undefined && before.peerAddress === next.peerAddress && before.clientAddress === next.clientAddress) return false;
    this.learned.set(id, next);
    return true;
  }

  /** What `id` advertised, if it ever connected. */
  get(id: NodeId): PeerAddresses | undefined {
    return this.learned.get(id);
  }

  /** `members` with each empty address filled from the book (store addresses win). */
  fill(members: readonly Member[]): Member[] {
    return members.map((m) => {
      const known = this.learned.get(m.id);
      if (known === undefined || (m.peerAddress !== '' && m.clientAddress !== '')) return m;
      return {
        ...m,
        peerAddress: m.peerAddress !== '' ? m.peerAddress : known.peerAddress,
        clientAddress: m.clientAddress !== '' ? m.clientAddress : known.clientAddress,
      };
    });
  }

  /** Learned peer addresses of nodes not in `members` (senders this node has no membership entry for). */
  outside(members: readonly Member[]): Map<NodeId, string> {
    const map = new Map<NodeId, string>();
    for (const [id, a] of this.learned) {
      if (a.peerAddress !== '' && !members.some((m) => m.id === id)) map.set(id, a.peerAddress);
    }
    return map;
  }
}
