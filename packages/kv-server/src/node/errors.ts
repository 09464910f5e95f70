import { ERROR_CODES, KeelError } from '@keel/protocol';
import type { NodeId, ProposalRejection, ReadRejection, TransferRejection } from '@keel/raft';

/** Where the node believes the leader is: its id (0 = unknown) and client address when known. */
export interface LeaderHint {
  readonly leaderId: NodeId;
  readonly leaderAddress: string | undefined;
}

/** NOT_LEADER with a hint when a leader is known, else UNAVAILABLE. Both definite. */
export function notLeaderError(hint: LeaderHint, what = 'this node is not the leader'): KeelError {
  if (hint.leaderId === 0) {
    return new KeelError(ERROR_CODES.UNAVAILABLE, `${what}; no leader is known (election in progress?)`);
  }
  return new KeelError(ERROR_CODES.NOT_LEADER, `${what}; the leader is node ${hint.leaderId}`, {
    leaderId: hint.leaderId,
    ...(hint.leaderAddress !== undefined ? { leaderAddress: hint.leaderAddress } : {}),
  });
}

/** The error for a proposal the core refused (nothing was appended: always definite). */
export function proposalRejectionError(reason: ProposalRejection, hint: LeaderHint): KeelError {
  switch (reason) {
    case 'notLeader':
      return notLeaderError(hint);
    case 'transferring':
      return new KeelError(ERROR_CODES.TRANSFER_IN_PROGRESS, 'a leadership transfer is in progress; retry shortly');
    case 'confChangePending':
      return new KeelError(ERROR_CODES.CONF_CHANGE_PENDING, 'another membership change is still in progress');
    case 'notCommittedInTerm':
      return new KeelError(
        ERROR_CODES.CONF_CHANGE_PENDING,
        'the leader has not committed an entry in its term yet; retry shortly',
      );
    case 'invalidConfChange':
      return new KeelError(ERROR_CODES.INVALID_MEMBERSHIP, 'the membership change is not valid for the current configuration');
    case 'learnerBehind':
      return new KeelError(ERROR_CODES.INVALID_MEMBERSHIP, 'the learner has not caught up with the log yet; retry later');
    case 'uncommittedLimit':
      // Back-pressure from the core (RaftConfig.maxUncommittedBytes): nothing was appended.
      return new KeelError(
        ERROR_CODES.OVERLOADED,
        'the leader holds too many uncommitted writes (followers are lagging); retry shortly',
        { definite: true },
      );
  }
}

/** The error for a linearizable read the core will not answer (reads have no effect: definite). */
export function readRejectionError(reason: ReadRejection, hint: LeaderHint): KeelError {
  switch (reason) {
    case 'notLeader':
      return notLeaderError(hint, 'this node cannot serve linearizable reads');
    case 'noLeader':
      return new KeelError(ERROR_CODES.UNAVAILABLE, 'no leader is known for a linearizable read; retry shortly');
    case 'leadershipLost':
      return new KeelError(ERROR_CODES.UNAVAILABLE, 'leadership changed before the read was confirmed; retry');
    case 'notCommittedInTerm':
      return new KeelError(ERROR_CODES.UNAVAILABLE, 'the new leader has not committed in its term yet; retry shortly');
  }
}

export function transferRejectionError(reason: TransferRejection, hint: LeaderHint, to: NodeId): KeelError {
  switch (reason) {
    case 'notLeader':
      return notLeaderError(hint, 'only the leader can transfer leadership');
    case 'unknownNode':
      return new KeelError(ERROR_CODES.INVALID_ARGUMENT, `node ${to} is not a member of the cluster`);
    case 'isLearner':
      return new KeelError(ERROR_CODES.INVALID_ARGUMENT, `node ${to} is a learner and cannot lead`);
    case 'alreadyLeader':
      return new KeelError(ERROR_CODES.INVALID_ARGUMENT, `node ${to} is already the leader`);
    case 'transferring':
      return new KeelError(ERROR_CODES.TRANSFER_IN_PROGRESS, 'a leadership transfer is already in progress');
  }
}

export function shuttingDownError(): KeelError {
  return new KeelError(ERROR_CODES.SHUTTING_DOWN, 'the node is shutting down', { definite: false });
}

export function timeoutError(write: boolean): KeelError {
  return write
    ? new KeelError(ERROR_CODES.TIMEOUT, 'the write was not committed in time; it may still apply', { definite: false })
    : new KeelError(ERROR_CODES.TIMEOUT, 'the request timed out');
}

export function internalError(message: string, cause?: unknown): KeelError {
  return new KeelError(ERROR_CODES.INTERNAL, message, { definite: false, cause });
}
