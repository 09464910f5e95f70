import { KeelError } from '@keel/protocol';
import type { CasExpectation, ClientRequest, ClientResults, Consistency, Member, NodeStatus, TxnCompare, WriteSession } from '@keel/protocol';
import type { ConfChange, NodeId } from '@keel/raft';
import type { AuthCommand } from '../state-machine/auth-commands.js';
import type { AuthState } from '../state-machine/auth-state.js';
import { encodeMemberContext, type SessionCommand } from '../state-machine/commands.js';
import type { WriteResult } from '../state-machine/sessions.js';
import { internalError, invalidArgumentError, unknownCommandError } from './errors.js';
import type { MembershipRequest } from './membership-checks.js';

type Results = ClientResults;
export type AnyResult = Results[ClientRequest['op']];
export type { WriteResult };
export interface ScanRange {
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly prefix?: Uint8Array;
}

/** What a node offers to client requests (implemented by `NodeCore`). */
export interface NodeOperations {
  /** Propose a client write and answer once it applied. */
  write(command: SessionCommand): Promise<WriteResult>;
  /** Propose a compaction of the history to `revision` (at most the applied index) and answer once it applied. */
  compact(revision: number): Promise<Results['compact']>;
  /** Run `read` now (serializable) or once a linearizable read index is applied. */
  read<T>(consistency: Consistency, read: () => Promise<T>): Promise<T>;
  get(key: Uint8Array): Promise<Results['get']>;
  scan(range: ScanRange, limit: number): Promise<Results['scan']>;
  status(): NodeStatus;
  /** A digest of this node's user data as of its applied index (local; no consistency). */
  digest(): Promise<Results['digest']>;
  members(): readonly Member[];
  leader(): NodeId;
  /**
   * Propose a membership change (made from `request`, which a leader checks against its view
   * first) and answer with the membership once it applied.
   */
  changeMembership(change: ConfChange, request: MembershipRequest): Promise<{ readonly members: readonly Member[] }>;
  transferLeadership(to: NodeId): Promise<Results['leaderTransfer']>;
  /** Renew a lease (leader only). */
  leaseKeepAlive(lease: number): Promise<Results['leaseKeepAlive']>;
  /** A lease's TTLs, with its keys when `keys` (leader only). */
  leaseTimeToLive(lease: number, keys: boolean): Promise<Results['leaseTimeToLive']>;
  /** Every lease (leader only). */
  leaseList(): Promise<Results['leaseList']>;
  /** The auth state as of the applied index. */
  auth(): AuthState;
  /** Propose an auth change and answer once it applied. */
  writeAuth(command: AuthCommand): Promise<{ readonly revision: number }>;
  /** A salted hash of `password` for the log (scrypt, off the event loop). */
  hashPassword(password: string): Promise<Uint8Array>;
}

/**
 * Map one validated client request onto the node's operations. Throws `KeelError` for requests
 * that cannot be expressed (a promotion of a non-learner, addresses the encoder refuses, …).
 */
export function dispatch(request: ClientRequest, node: NodeOperations): Promise<AnyResult> {
  switch (request.op) {
    case 'put':
      return node.write({
        op: 'put',
        key: request.key,
        value: request.value,
        prevKv: request.prevKv === true,
        ...(request.lease !== undefined ? { lease: request.lease } : {}),
        session: request.session,
      });
    case 'delete':
      return node.write({ op: 'delete', key: request.key, prevKv: request.prevKv === true, session: request.session });
    case 'deleteRange':
      return node.write({ op: 'deleteRange', start: request.start, end: request.end, prevKv: request.prevKv === true, session: request.session });
    case 'txn':
      return node.write({ op: 'txn', compare: request.compare, success: request.success, failure: request.failure, session: request.session });
    case 'cas':
      return node.write(casTxn(request.key, request.expect, request.value, request.session)).then((r) => {
        const { revision, succeeded } = r as Results['txn'];
        return { revision, succeeded };
      });
    case 'get': {
      const key = request.key;
      return node.read(request.consistency, () => node.get(key));
    }
    case 'scan': {
      const range: ScanRange = {
        ...(request.start !== undefined ? { start: request.start } : {}),
        ...(request.end !== undefined ? { end: request.end } : {}),
        ...(request.prefix !== undefined ? { prefix: request.prefix } : {}),
      };
      const limit = request.limit;
      return node.read(request.consistency, () => node.scan(range, limit));
    }
    case 'compact':
      return node.compact(request.revision);
    case 'watch':
    case 'watchCancel':
      // Streams: the client port serves them from the state store (client-port/watch-hub.ts).
      return Promise.reject(unknownCommandError(request.op));
    case 'status':
      return Promise.resolve(node.status());
    case 'digest':
      return node.digest();
    case 'memberList':
      return Promise.resolve({ members: node.members(), leader: node.leader() });
    case 'memberAdd':
      return node.changeMembership(
        {
          type: request.learner ? 'addLearner' : 'addVoter',
          nodeId: request.nodeId,
          context: memberContext(request.peerAddress, request.clientAddress),
        },
        request,
      );
    case 'memberPromote': {
      const m = node.members().find((x) => x.id === request.nodeId);
      const context = memberContext(m?.peerAddress ?? '', m?.clientAddress ?? '');
      return node.changeMembership({ type: 'addVoter', nodeId: request.nodeId, context }, request);
    }
    case 'memberRemove':
      return node.changeMembership({ type: 'removeNode', nodeId: request.nodeId }, request);
    case 'leaderTransfer':
      return node.transferLeadership(request.to);
    case 'leaseGrant':
      return node.write({ op: 'leaseGrant', ttl: request.ttl, session: request.session });
    case 'leaseRevoke':
      return node.write({ op: 'leaseRevoke', lease: request.lease, session: request.session });
    case 'leaseKeepAlive':
      return node.leaseKeepAlive(request.lease);
    case 'leaseTimeToLive':
      return node.leaseTimeToLive(request.lease, request.keys === true);
    case 'leaseList':
      return node.leaseList();
    case 'authenticate':
      throw internalError('authenticate is answered by the client port (the auth gate), not the node');
    case 'authStatus':
      return node.read('linearizable', () => Promise.resolve({ enabled: node.auth().enabled, revision: node.auth().revision }));
    case 'userGet':
      return node.read('linearizable', async () => {
        const u = node.auth().user(request.user);
        if (u === undefined) throw new KeelError('AUTH_NOT_FOUND', `user ${JSON.stringify(request.user)} does not exist`);
        return { user: request.user, roles: u.roles };
      });
    case 'userList':
      return node.read('linearizable', () => Promise.resolve({ users: node.auth().userNames() }));
    case 'roleGet':
      return node.read('linearizable', async () => {
        const permissions = node.auth().permissions(request.role);
        if (permissions === undefined) throw new KeelError('AUTH_NOT_FOUND', `role ${JSON.stringify(request.role)} does not exist`);
        return { role: request.role, permissions };
      });
    case 'roleList':
      return node.read('linearizable', () => Promise.resolve({ roles: node.auth().roleNames() }));
    case 'userAdd':
    case 'userPasswd':
      return node.hashPassword(request.password).then((passwordHash) => node.writeAuth({ op: request.op, user: request.user, passwordHash }));
    case 'authEnable':
    case 'authDisable':
      return node.writeAuth({ op: request.op });
    case 'userDelete':
      return node.writeAuth({ op: request.op, user: request.user });
    case 'userGrantRole':
    case 'userRevokeRole':
      return node.writeAuth({ op: request.op, user: request.user, role: request.role });
    case 'roleAdd':
    case 'roleDelete':
      return node.writeAuth({ op: request.op, role: request.role });
    case 'roleGrant':
      return node.writeAuth({ op: request.op, role: request.role, permission: request.permission });
    case 'roleRevoke':
      return node.writeAuth({ op: request.op, role: request.role, start: request.start, end: request.end });
    default: {
      const op: never = request;
      throw unknownCommandError((op as { op: unknown }).op);
    }
  }
}

/**
 * A cas is a txn: the compare its expectation stands for, then a put when it holds. The one place
 * that says what a cas means. An expected revision also requires the key to exist (a missing key
 * has modRevision 0).
 */
export function casTxn(key: Uint8Array, expect: CasExpectation, value: Uint8Array, session: WriteSession): SessionCommand {
  const compare: TxnCompare[] =
    'value' in expect
      ? [{ key, target: 'value', op: '=', value: expect.value }]
      : 'revision' in expect
        ? [
            { key, target: 'exists', value: true },
            { key, target: 'modRevision', op: '=', value: expect.revision },
          ]
        : [{ key, target: 'exists', value: false }];
  return { op: 'txn', compare, success: [{ op: 'put', key, value }], failure: [], session };
}

function memberContext(peerAddress: string, clientAddress: string): Uint8Array {
  return encodeOrReject(() => encodeMemberContext({ peerAddress, clientAddress }));
}

/** Encoders throw `TypeError` on input the client port should have refused: answer INVALID_ARGUMENT. */
export function encodeOrReject(encode: () => Uint8Array): Uint8Array {
  try {
    return encode();
  } catch (err) {
    if (err instanceof TypeError) throw invalidArgumentError(err.message);
    throw err;
  }
}
