/**
 * Membership requests checked against the leader's view before anything is proposed, so every
 * refusal names its cause ("9 is not a member", "address … is already used by node 1") instead of
 * the core's generic `invalidConfChange`.
 */
import type { ClientRequest, Member } from '@keel/protocol';
import type { ConfState } from '@keel/raft';
import type { KeelError } from '@keel/protocol';
import { invalidMembershipError } from './errors.js';

export type MembershipRequest = Extract<ClientRequest, { op: 'memberAdd' | 'memberPromote' | 'memberRemove' }>;

/**
 * Why `request` cannot be proposed on a leader whose latest configuration is `conf` (appended,
 * maybe not yet committed) and whose members (with addresses) are `members`; undefined when it
 * may be proposed.
 */
export function membershipProblem(request: MembershipRequest, conf: ConfState, members: readonly Member[]): KeelError | undefined {
  const id = request.nodeId;
  const role = conf.voters.includes(id) ? 'voter' : conf.learners.includes(id) ? 'learner' : undefined;
  switch (request.op) {
    case 'memberAdd': {
      if (role !== undefined) return invalidMembershipError(`node ${id} is already a member (a ${role})`);
      for (const [address, kind] of [
        [request.peerAddress, 'peer'],
        [request.clientAddress, 'client'],
      ] as const) {
        const user = members.find((m) => m.id !== id && address !== '' && (m.peerAddress === address || m.clientAddress === address));
        if (user !== undefined) return invalidMembershipError(`${kind} address ${address} is already used by node ${user.id}`);
      }
      if (!request.learner && request.force !== true) {
        return invalidMembershipError(
          `adding node ${id} as a voter at once makes it count toward the quorum before it runs and catches up; ` +
            'add it as a learner and promote it once caught up, or force it',
        );
      }
      return undefined;
    }
    case 'memberPromote':
      if (role === undefined) return invalidMembershipError(`node ${id} is not a member`);
      if (role === 'voter') return invalidMembershipError(`node ${id} is already a voter`);
      return undefined;
    case 'memberRemove':
      if (role === undefined) return invalidMembershipError(`node ${id} is not a member`);
      if (role === 'voter' && conf.voters.length === 1) return invalidMembershipError(`node ${id} is the only voter; it cannot be removed`);
      return undefined;
  }
}
