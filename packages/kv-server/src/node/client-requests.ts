import { ERROR_CODES, KeelError } from '@keel/protocol';
import type { ClientRequest, ClientResults, Consistency, Member, NodeStatus } from '@keel/protocol';
import type { ConfChange, NodeId } from '@keel/raft';
import { encodeMemberContext } from './parts.js';
import type { Command } from './parts.js';

type Results = ClientResults;
export type AnyResult = Results[ClientRequest['op']];
export type WriteResult = Results['put'] | Results['delete'] | Results['cas'];
export interface ScanRange {
  readonly start?: Uint8Array;
  readonly end?: Uint8Array;
  readonly prefix?: Uint8Array;
}

/** What a node offers to client requests (implemented by `KeelNode`). */
export interface NodeOperations {
  /** Propose a command and answer once it applied. */
  write(command: Command): Promise<WriteResult>;
  /** Run `read` now (serializable) or once a linearizable read index is applied. */
  read<T>(consistency: Consistency, read: () => Promise<T>): Promise<T>;
  get(key: Uint8Array): Promise<Results['get']>;
  scan(range: ScanRange, limit: number): Promise<Results['scan']>;
  status(): NodeStatus;
  /** A digest of this node's user data as of its applied index (local; no consistency). */
  digest(): Promise<Results['digest']>;
  members(): readonly Member[];
  leader(): NodeId;
  /** Propose a membership change and answer with the membership once it applied. */
  changeMembership(change: ConfChange): Promise<{ readonly members: readonly Member[] }>;
  transferLeadership(to: NodeId): Promise<Results['leaderTransfer']>;
}

/**
 * Map one validated client request onto the node's operations. Throws `KeelError` for requests
 * that cannot be expressed (a promotion of a non-learner, addresses the encoder refuses, …).
 */
export function dispatch(request: ClientRequest, node: NodeOperations): Promise<AnyResult> {
  switch (request.op) {
    case 'put':
      return node.write({ op: 'put', key: request.key, value: request.value, session: request.session });
    case 'delete':
      return node.write({ op: 'delete', key: request.key, session: request.session });
    case 'cas':
      return node.write({ op: 'cas', key: request.key, expect: request.expect, value: request.value, session: request.session });
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
    case 'status':
      return Promise.resolve(node.status());
    case 'digest':
      return node.digest();
    case 'memberList':
      return Promise.resolve({ members: node.members(), leader: node.leader() });
    case 'memberAdd':
      return node.changeMembership({
        type: request.learner ? 'addLearner' : 'addVoter',
        nodeId: request.nodeId,
        context: memberContext(request.peerAddress, request.clientAddress),
      });
    case 'memberPromote': {
      // Only the leader's view of the membership is authoritative: elsewhere the proposal itself
      // answers NOT_LEADER (with the leader's address) before any local view is consulted.
      const m = node.members().find((x) => x.id === request.nodeId);
      if (node.status().role === 'leader') {
        if (m === undefined) throw new KeelError(ERROR_CODES.INVALID_MEMBERSHIP, `node ${request.nodeId} is not a member`);
        if (m.role === 'voter') throw new KeelError(ERROR_CODES.INVALID_MEMBERSHIP, `node ${m.id} is already a voter`);
      }
      const context = memberContext(m?.peerAddress ?? '', m?.clientAddress ?? '');
      return node.changeMembership({ type: 'addVoter', nodeId: request.nodeId, context });
    }
    case 'memberRemove':
      return node.changeMembership({ type: 'removeNode', nodeId: request.nodeId });
    case 'leaderTransfer':
      return node.transferLeadership(request.to);
    default: {
      const op: never = request;
      throw new KeelError(ERROR_CODES.UNKNOWN_COMMAND, `unknown operation ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }
}

function memberContext(peerAddress: string, clientAddress: string): Uint8Array {
  return encodeOrReject(() => encodeMemberContext({ peerAddress, clientAddress }));
}

/** Encoders throw `TypeError` on input the client port should have refused: answer INVALID_ARGUMENT. */
export function encodeOrReject(encode: () => Uint8Array): Uint8Array {
  try {
    return encode();
  } catch (err) {
    if (err instanceof TypeError) throw new KeelError(ERROR_CODES.INVALID_ARGUMENT, err.message);
    throw err;
  }
}
