/**
 * The peer handshake: the first frame on every connection between two nodes.
 *
 * The dialing node sends `PeerHello`; the accepting node checks it (`checkPeerHello`) and answers
 * `PeerHelloResult`. Only after an `ok` result does the connection carry its channel's frames
 * (Raft messages, or one snapshot stream). A node of another cluster, one speaking another
 * protocol version, a connection that reached the wrong node, or one claiming the accepting
 * node's own id is refused with `CLUSTER_MISMATCH` and closed (the transport also refuses a
 * second process claiming the id of a node that is connected).
 */
import type { WireError } from './errors.js';
import { ERROR_CODES, KeelError } from './errors.js';

/**
 * Version of the node-to-node protocol; both ends must speak the same one.
 * 2: raft channels carry the transport's liveness pings and pongs; hellos carry `incarnation`.
 */
export const PEER_PROTOCOL_VERSION = 2;

/** What a peer connection carries after the handshake. */
export type PeerChannel = 'raft' | 'snapshot';

/** Longest cluster id, in characters. */
export const CLUSTER_ID_LENGTH_MAX = 256;

/** Longest advertised address ("host:port") in a hello, in characters. */
export const PEER_ADDRESS_LENGTH_MAX = 256;

/** Longest incarnation in a hello, in characters. */
export const INCARNATION_LENGTH_MAX = 64;

export interface PeerHello {
  readonly type: 'hello';
  readonly clusterId: string;
  /** The dialing node. */
  readonly nodeId: number;
  /** The node the dialer means to reach (its address may lead through a proxy). */
  readonly to: number;
  readonly protocolVersion: number;
  readonly channel: PeerChannel;
  /**
   * A random id the dialing process picks once at start-up. It tells a reconnect of the same
   * process (the newer connection replaces the older) from a second process started with the
   * same node id (refused while the first one's connection is alive).
   */
  readonly incarnation: string;
  /**
   * "host:port" where the dialer listens for peers (what others should dial). Optional: older
   * nodes do not send it. Lets a node that joined learn the addresses of members whose addresses
   * are not in its log (the bootstrap members).
   */
  readonly peerAddress?: string;
  /** "host:port" where the dialer listens for clients (for NOT_LEADER hints and memberList). Optional. */
  readonly clientAddress?: string;
}

export type PeerHelloResult =
  | {
      readonly type: 'helloResult';
      readonly ok: true;
      readonly clusterId: string;
      /** The accepting node. */
      readonly nodeId: number;
      readonly protocolVersion: number;
    }
  | { readonly type: 'helloResult'; readonly ok: false; readonly error: WireError };

type Fields = Record<string, unknown>;

function malformed(what: string): never {
  throw new KeelError('MALFORMED_FRAME', `malformed peer handshake: ${what}`);
}

function asObject(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed(`${what} is not a map`);
  return value as Fields;
}

function isNodeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isAddress(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= PEER_ADDRESS_LENGTH_MAX;
}

function isClusterId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= CLUSTER_ID_LENGTH_MAX;
}

/** Checks the shape of a decoded hello frame. Throws `KeelError('MALFORMED_FRAME')`. */
export function validatePeerHello(value: unknown): PeerHello {
  const f = asObject(value, 'hello');
  if (f['type'] !== 'hello') malformed(`expected a 'hello' frame first`);
  const { clusterId, nodeId, to, protocolVersion, channel, incarnation, peerAddress, clientAddress } = f;
  if (!isClusterId(clusterId)) malformed(`'clusterId' must be a non-empty string of at most ${CLUSTER_ID_LENGTH_MAX} characters`);
  if (!isNodeId(nodeId)) malformed(`'nodeId' must be a positive integer`);
  if (!isNodeId(to)) malformed(`'to' must be a positive integer`);
  if (typeof protocolVersion !== 'number' || !Number.isSafeInteger(protocolVersion)) malformed(`'protocolVersion' must be an integer`);
  if (channel !== 'raft' && channel !== 'snapshot') malformed(`'channel' must be 'raft' or 'snapshot'`);
  // A hello of another protocol version is refused by `checkPeerHello` with a clear message: its
  // version-specific fields are not checked.
  const sameVersion = protocolVersion === PEER_PROTOCOL_VERSION;
  if (sameVersion && (typeof incarnation !== 'string' || incarnation.length === 0 || incarnation.length > INCARNATION_LENGTH_MAX)) {
    malformed(`'incarnation' must be a non-empty string of at most ${INCARNATION_LENGTH_MAX} characters`);
  }
  if (peerAddress !== undefined && !isAddress(peerAddress)) {
    malformed(`'peerAddress' must be a non-empty string of at most ${PEER_ADDRESS_LENGTH_MAX} characters`);
  }
  if (clientAddress !== undefined && !isAddress(clientAddress)) {
    malformed(`'clientAddress' must be a non-empty string of at most ${PEER_ADDRESS_LENGTH_MAX} characters`);
  }
  return {
    type: 'hello',
    clusterId,
    nodeId,
    to,
    protocolVersion,
    channel,
    incarnation: sameVersion ? (incarnation as string) : '',
    ...(peerAddress !== undefined ? { peerAddress } : {}),
    ...(clientAddress !== undefined ? { clientAddress } : {}),
  };
}

/** Checks the shape of a decoded hello-result frame. Throws `KeelError('MALFORMED_FRAME')`. */
export function validatePeerHelloResult(value: unknown): PeerHelloResult {
  const f = asObject(value, 'hello result');
  if (f['type'] !== 'helloResult') malformed(`expected a 'helloResult' frame`);
  if (f['ok'] === true) {
    const { clusterId, nodeId, protocolVersion } = f;
    if (!isClusterId(clusterId)) malformed(`'clusterId' must be a non-empty string`);
    if (!isNodeId(nodeId)) malformed(`'nodeId' must be a positive integer`);
    if (typeof protocolVersion !== 'number' || !Number.isSafeInteger(protocolVersion)) malformed(`'protocolVersion' must be an integer`);
    return { type: 'helloResult', ok: true, clusterId, nodeId, protocolVersion };
  }
  if (f['ok'] !== false) malformed(`'ok' must be a boolean`);
  const error = asObject(f['error'], `'error'`);
  const code = error['code'];
  const message = error['message'];
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) malformed(`'error.code' is not a known error code`);
  if (typeof message !== 'string') malformed(`'error.message' must be a string`);
  return {
    type: 'helloResult',
    ok: false,
    error: { code: code as WireError['code'], message, definite: error['definite'] !== false },
  };
}

/** Who this node is, for handshake checks. */
export interface PeerIdentity {
  readonly clusterId: string;
  readonly nodeId: number;
}

/**
 * The accepting side's decision on a (well-formed) hello: `null` to accept, or the
 * `CLUSTER_MISMATCH` error to refuse with (its message is the log line).
 */
export function checkPeerHello(hello: PeerHello, local: PeerIdentity): KeelError | null {
  if (hello.clusterId !== local.clusterId) {
    return new KeelError(
      'CLUSTER_MISMATCH',
      `refusing node ${hello.nodeId}: it belongs to cluster ${JSON.stringify(hello.clusterId)}, this node to ${JSON.stringify(local.clusterId)}`,
    );
  }
  if (hello.protocolVersion !== PEER_PROTOCOL_VERSION) {
    return new KeelError(
      'CLUSTER_MISMATCH',
      `refusing node ${hello.nodeId}: it speaks peer protocol version ${hello.protocolVersion}, this node ${PEER_PROTOCOL_VERSION}`,
    );
  }
  if (hello.to !== local.nodeId) {
    return new KeelError('CLUSTER_MISMATCH', `refusing node ${hello.nodeId}: it meant to reach node ${hello.to}, this is node ${local.nodeId}`);
  }
  if (hello.nodeId === local.nodeId) {
    return new KeelError('CLUSTER_MISMATCH', `refusing a connection that claims this node's own id ${local.nodeId}`);
  }
  return null;
}

/**
 * The dialing side's decision on a (well-formed) hello result: `null` when the connection reached
 * node `expected` of this cluster, or the error to log (the connection is then closed).
 */
export function checkPeerHelloResult(result: PeerHelloResult, local: PeerIdentity, expected: number): KeelError | null {
  if (!result.ok) return KeelError.fromWire(result.error);
  if (result.clusterId !== local.clusterId) {
    return new KeelError(
      'CLUSTER_MISMATCH',
      `node at the address of ${expected} belongs to cluster ${JSON.stringify(result.clusterId)}, this node to ${JSON.stringify(local.clusterId)}`,
    );
  }
  if (result.protocolVersion !== PEER_PROTOCOL_VERSION) {
    return new KeelError(
      'CLUSTER_MISMATCH',
      `node ${result.nodeId} speaks peer protocol version ${result.protocolVersion}, this node ${PEER_PROTOCOL_VERSION}`,
    );
  }
  if (result.nodeId !== expected) {
    return new KeelError('CLUSTER_MISMATCH', `the address of node ${expected} answered as node ${result.nodeId}`);
  }
  return null;
}
