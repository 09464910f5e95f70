/**
 * Membership with addresses: the `ConfState` the core knows (ids and roles) joined with the
 * addresses each member's `ConfChange.context` carried when it was added.
 */
import type { Member } from '@keel/protocol';
import type { ConfChangeEntry, ConfState, Logger } from '@keel/raft';
import { decodeMemberContext, encodeMemberContext } from './commands.js';

/**
 * The members after `entry` applies: exactly the nodes of `entry.conf`, in conf order (voters,
 * then learners), with addresses from the change's context for the changed node (when present
 * and valid) and the previous addresses for everybody else ('' when never known). A malformed
 * context is logged and ignored — it never stops the node.
 */
export function membersAfter(previous: readonly Member[], entry: ConfChangeEntry, logger?: Logger): Member[] {
  const addresses = new Map<number, { peerAddress: string; clientAddress: string }>();
  for (const m of previous) addresses.set(m.id, { peerAddress: m.peerAddress, clientAddress: m.clientAddress });
  const { change } = entry;
  if (change.type !== 'removeNode' && change.context !== undefined && change.context.byteLength > 0) {
    try {
      addresses.set(change.nodeId, decodeMemberContext(change.context));
    } catch (err) {
      logger?.log('warn', 'apply.member.context.ignored', { index: entry.index, nodeId: change.nodeId, error: String(err) });
    }
  }
  if (change.type === 'removeNode') addresses.delete(change.nodeId);
  return membersOf(entry.conf, addresses);
}

/** Members of `conf`, addresses looked up by id ('' when unknown). */
export function membersOf(conf: ConfState, addresses: ReadonlyMap<number, { peerAddress: string; clientAddress: string }>): Member[] {
  const member = (id: number, role: Member['role']): Member => {
    const a = addresses.get(id);
    return { id, role, peerAddress: a?.peerAddress ?? '', clientAddress: a?.clientAddress ?? '' };
  };
  return [...conf.voters.map((id) => member(id, 'voter')), ...conf.learners.map((id) => member(id, 'learner'))];
}

/**
 * The first log entries of a new cluster (etcd's `Bootstrap`): one `addVoter` per member, in id
 * order, at indexes 1..n of term 1, each carrying the member's addresses and the configuration
 * so far. Every member of the cluster computes the same entries from the same `--initial-cluster`.
 */
export function bootstrapEntries(members: readonly Member[]): ConfChangeEntry[] {
  const sorted = [...members].sort((a, b) => a.id - b.id);
  const voters: number[] = [];
  return sorted.map((m, k): ConfChangeEntry => {
    voters.push(m.id);
    return {
      type: 'confChange',
      index: k + 1,
      term: 1,
      change: { type: 'addVoter', nodeId: m.id, context: encodeMemberContext({ peerAddress: m.peerAddress, clientAddress: m.clientAddress }) },
      conf: { voters: [...voters], learners: [] },
    };
  });
}
