/**
 * Every error the node answers a client with is built here, from the protocol's codes
 * (`ERROR_CODES`): one place per decision about a code, its message and whether it is definite.
 */
import { ERROR_CODES, KeelError } from '@keel/protocol';
import type { ConfChange, NodeId, ProposalRejection, ReadRejection, TransferRejection } from '@keel/raft';

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

/**
 * The error for a proposal the core refused (nothing was appended: always definite). `change` is
 * the membership change, when the proposal was one (its refusals name the node).
 */
export function proposalRejectionError(reason: ProposalRejection, hint: LeaderHint, change?: ConfChange): KeelError {
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
      return invalidMembershipError(
        change === undefined
          ? 'the membership change is not valid for the current configuration'
          : `${change.type} of node ${change.nodeId} is not valid for the current configuration`,
      );
    case 'learnerBehind':
      return invalidMembershipError(
        `node ${change?.nodeId ?? '?'} has not caught up with the leader's log yet (is it running and reachable?); retry the promotion later`,
      );
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

/** The node is shutting down. `mayApply`: the request was a write that may still commit. */
export function shuttingDownError(mayApply: boolean): KeelError {
  return new KeelError(ERROR_CODES.SHUTTING_DOWN, 'the node is shutting down', { definite: !mayApply });
}

/** The process is up but its core is not serving yet (the few ms of start-up). */
export function startingError(): KeelError {
  return new KeelError(ERROR_CODES.UNAVAILABLE, 'the node is starting; retry shortly');
}

/** A write whose fate this node cannot learn any more: it may or may not have applied. */
export function indeterminateError(why: string): KeelError {
  return new KeelError(ERROR_CODES.INDETERMINATE, `the write's outcome is unknown: ${why}`, { definite: false });
}

/** A proposal whose log slot was taken by another leader's entry: definitely not applied. */
export function displacedError(hint: LeaderHint, self: NodeId): KeelError {
  if (hint.leaderId !== self) return notLeaderError(hint, 'leadership changed before the write committed');
  return new KeelError(ERROR_CODES.UNAVAILABLE, 'leadership changed before the write committed; it was not applied');
}

/** A node-side bound on waiting work was reached: nothing was done. */
export function overloadedError(what: string): KeelError {
  return new KeelError(ERROR_CODES.OVERLOADED, what);
}

/** A membership change refused before it was proposed; `why` names the cause. */
export function invalidMembershipError(why: string): KeelError {
  return new KeelError(ERROR_CODES.INVALID_MEMBERSHIP, why);
}

export function invalidArgumentError(message: string): KeelError {
  return new KeelError(ERROR_CODES.INVALID_ARGUMENT, message);
}

export function unknownCommandError(op: unknown): KeelError {
  return new KeelError(ERROR_CODES.UNKNOWN_COMMAND, `unknown operation ${JSON.stringify(op)}`);
}

export function transferTimeoutError(to: NodeId): KeelError {
  return new KeelError(ERROR_CODES.TIMEOUT, `leadership did not move to node ${to} in time`, { definite: false });
}

export function timeoutError(write: boolean): KeelError {
  return write
    ? new KeelError(ERROR_CODES.TIMEOUT, 'the write was not committed in time; it may still apply', { definite: false })
    : new KeelError(ERROR_CODES.TIMEOUT, 'the request timed out');
}

export function internalError(message: string, cause?: unknown): KeelError {
  return new KeelError(ERROR_CODES.INTERNAL, message, { definite: false, cause });
}

/** LEASE_NOT_FOUND (definite): the lease was never granted, was revoked, or expired. */
export function leaseNotFoundError(lease: number): KeelError {
  return new KeelError(ERROR_CODES.LEASE_NOT_FOUND, `lease ${lease} does not exist (never granted, revoked, or expired)`);
}
