/**
 * Every error the node's two network ports build — the peer transport (peer links, the peer
 * port, snapshot streams) and the client port's connections — from the protocol's codes
 * (`ERROR_CODES`): one place per decision about a code, its message and whether it is definite.
 * Errors the node answers client requests with are `node/errors.ts`.
 */
import { ERROR_CODES, KeelError, describeTlsFailure } from '@keel/protocol';

// -------------------------------------------------------------------------------------------
// Any connection
// -------------------------------------------------------------------------------------------

/** Bytes or a frame that break the protocol spoken on the connection. */
export function malformedFrameError(what: string): KeelError {
  return new KeelError(ERROR_CODES.MALFORMED_FRAME, what);
}

/** `error` itself when it is a `KeelError`, else INTERNAL naming it (after `context`, when given). */
export function asKeelError(error: unknown, context?: string): KeelError {
  if (error instanceof KeelError) return error;
  return new KeelError(ERROR_CODES.INTERNAL, context === undefined ? String(error) : `${context}: ${String(error)}`);
}

/** The connection failed, was closed, or could not be opened. */
export function connectionLostError(what: string, cause?: unknown): KeelError {
  return new KeelError(ERROR_CODES.CONNECTION_LOST, what, cause === undefined ? {} : { cause });
}

/**
 * A socket error on a connection this node opened: TLS_FAILED when it is a TLS failure (a
 * configuration error; `describeTlsFailure` says what it means), else CONNECTION_LOST.
 */
export function dialFailedError(what: string, error: Error): KeelError {
  const tls = describeTlsFailure(error);
  if (tls !== undefined) return new KeelError(ERROR_CODES.TLS_FAILED, `${what}: ${tls}`, { cause: error });
  return connectionLostError(`${what}: ${error.message}`, error);
}

/** The two ends' TLS set-ups do not fit (`why`, from `describeTlsFailure` or a port's refusal). Definite: nothing was done. */
export function tlsFailedError(why: string): KeelError {
  return new KeelError(ERROR_CODES.TLS_FAILED, why);
}

/**
 * Nothing arrived in time. `mayHaveApplied`: the wait was for the answer to something the other
 * side may have acted on, so the outcome is unknown (not definite).
 */
export function waitTimeoutError(what: string, mayHaveApplied = false): KeelError {
  return new KeelError(ERROR_CODES.TIMEOUT, what, { definite: !mayHaveApplied });
}

// -------------------------------------------------------------------------------------------
// The peer transport
// -------------------------------------------------------------------------------------------

/** The transport was closed: it sends and dials nothing more. */
export function transportClosedError(): KeelError {
  return new KeelError(ERROR_CODES.SHUTTING_DOWN, 'the transport is closed');
}

/** No address is known for `nodeId` (or it is this node). */
export function noPeerAddressError(nodeId: number): KeelError {
  return new KeelError(ERROR_CODES.UNAVAILABLE, `no address for node ${nodeId}`);
}

/** A second process claims the id of a node whose raft connection is alive from elsewhere. */
export function duplicateNodeError(nodeId: number, remote: string, connectedFrom: string): KeelError {
  return new KeelError(
    ERROR_CODES.CLUSTER_MISMATCH,
    `refusing node ${nodeId} from ${remote}: node ${nodeId} is already connected from ${connectedFrom}, ` +
      `a different process; are two processes running with id ${nodeId}?`,
  );
}

/** A client reached the peer port: its answer names the client port (`clientAddress`, '' when unknown). */
export function clientAtPeerPortError(clientAddress: string): KeelError {
  return new KeelError(
    ERROR_CODES.WRONG_PORT,
    clientAddress === '' ? 'this is a peer port, not a client port' : `this is a peer port; the client port is ${clientAddress}`,
  );
}

/** A TLS handshake reached this node's plaintext peer port (the dialling node has `--peer-cert`, this one not). */
export function tlsPeerAtPlaintextPortError(nodeId: number): KeelError {
  return tlsFailedError(`node ${nodeId}'s peer port does not use TLS (it has no --peer-cert), and the dialling node does`);
}

/** A plaintext connection reached this node's TLS peer port. */
export function plaintextPeerAtTlsPortError(nodeId: number): KeelError {
  return tlsFailedError(
    `node ${nodeId}'s peer port requires TLS (a certificate signed by its --peer-ca); the dialling node has no --peer-cert`,
  );
}

/** A dialling node completed the TLS handshake without a certificate signed by `--peer-ca` (`why`). */
export function untrustedPeerError(nodeId: number, why: string): KeelError {
  return tlsFailedError(`node ${nodeId} refuses the dialling node: ${why} (by its --peer-ca)`);
}

/** A snapshot receiver answered "done" before it had every chunk the sender streamed. */
export function snapshotEndedEarlyError(chunksAcknowledged: number): KeelError {
  return new KeelError(ERROR_CODES.INTERNAL, `the receiver finished the snapshot after ${chunksAcknowledged} of its chunks`);
}

// -------------------------------------------------------------------------------------------
// The client port
// -------------------------------------------------------------------------------------------

/** A node dialled the client port as its peer port: the refusal names the peer port (`peerAddress`, '' when unknown). */
export function peerAtClientPortError(peerAddress: string): KeelError {
  return new KeelError(
    ERROR_CODES.WRONG_PORT,
    peerAddress === '' ? 'this is a client port, not a peer port' : `this is a client port; the peer port is ${peerAddress}`,
  );
}

/** A TLS handshake reached this plaintext client port. */
export function tlsClientAtPlaintextPortError(): KeelError {
  return tlsFailedError('this client port does not use TLS (the server has no --client-cert)');
}

/** A plaintext client reached this TLS client port. */
export function plaintextClientAtTlsPortError(): KeelError {
  return tlsFailedError('this client port requires TLS: connect with the CA certificate (kvctl --cacert)');
}

/** A client completed the TLS handshake without a certificate signed by `--client-ca` (`why`). */
export function untrustedClientError(why: string): KeelError {
  return tlsFailedError(`this node refuses the client: ${why} (kvctl --cert, --key)`);
}

/** A new connection refused because `max` client connections are open (nothing it sent is read). */
export function connectionsFullError(max: number): KeelError {
  return new KeelError(ERROR_CODES.OVERLOADED, `the server has ${max} client connections open; retry later`);
}

/** A connection that sent nothing, closed to make room for a newcomer. */
export function evictedError(max: number, silentMs: number): KeelError {
  return new KeelError(ERROR_CODES.OVERLOADED, `the server has ${max} client connections open, and this one sent nothing for ${Math.round(silentMs)} ms`);
}

/** A request beyond the connection's `max` accepted requests (not run). */
export function inflightFullError(max: number): KeelError {
  return new KeelError(ERROR_CODES.OVERLOADED, `more than ${max} requests in flight on this connection`);
}

/** A request frame begun and not finished within `timeoutMs` (slowloris). */
export function frameTimeoutError(timeoutMs: number): KeelError {
  return new KeelError(ERROR_CODES.TIMEOUT, `a request frame stayed incomplete for more than ${timeoutMs} ms; closing the connection`);
}

/** A request handler failed with something other than a `KeelError`: a bug; the request may have had an effect. */
export function handlerFailedError(message: string): KeelError {
  return new KeelError(ERROR_CODES.INTERNAL, message, { definite: false });
}

/** A response that could not be encoded (`error` says why; a `KeelError`'s code is kept). The request ran. */
export function unsendableResponseError(error: unknown): KeelError {
  const code = error instanceof KeelError ? error.code : ERROR_CODES.INTERNAL;
  return new KeelError(code, `the response could not be sent: ${(error as Error).message}`, { definite: false });
}
