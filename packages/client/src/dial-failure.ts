/**
 * Why a connection ended before the node answered anything on it, and what that says about the
 * endpoint. One place decides how socket errors and connection-level answers are classified; the
 * router ({@link Router}) decides what to do about them.
 */
import type { ErrorCode } from '@keel/protocol';

/**
 * - `refused`: nothing listens there (ECONNREFUSED): no node, or not yet.
 * - `unresolvable`: the host name does not resolve (ENOTFOUND): a typo, or a name not yet known.
 * - `unreachable`: could not be opened for another reason (no route, connect timeout, DNS server
 *   failure): maybe transient.
 * - `overloaded`: the server refused the connection itself (OVERLOADED or SHUTTING_DOWN with id -1):
 *   it is there, but busy or stopping.
 * - `rejected`: something answered that cannot serve a client there: an error with id -1 that
 *   another attempt cannot fix (a peer port answers so), or bytes that are not the client protocol.
 * - `tls`: the TLS handshake failed, or one end speaks TLS and the other not (`TLS_FAILED`): a
 *   configuration error that another attempt cannot fix.
 * - `auth`: the node refused the client's credentials (`AUTH_FAILED` answering the connection's
 *   `authenticate`): every node will, until the credentials change.
 * - `dropped`: opened, then closed by the other side without a word (a crash, or a refusal whose
 *   answer was lost).
 */
export type DialFailureKind = 'refused' | 'unresolvable' | 'unreachable' | 'overloaded' | 'rejected' | 'tls' | 'auth' | 'dropped';

export interface DialFailure {
  readonly kind: DialFailureKind;
  /** What happened, for messages: "ECONNREFUSED", or the server's own words. */
  readonly detail: string;
}

/** Socket error codes meaning the host name does not resolve (getaddrinfo). */
const UNRESOLVABLE: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL']);

/** Codes with which a server refuses a connection it may accept later. */
const BUSY: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['OVERLOADED', 'SHUTTING_DOWN', 'UNAVAILABLE']);

/** The kind of a connection that could not be opened, from the socket's error code. */
export function connectFailureKind(errorCode: string | undefined): DialFailureKind {
  if (errorCode === 'ECONNREFUSED') return 'refused';
  if (errorCode !== undefined && UNRESOLVABLE.has(errorCode)) return 'unresolvable';
  return 'unreachable';
}

/** The kind of a connection the server answered with an error frame (id -1) before anything else. */
export function refusalKind(code: ErrorCode): DialFailureKind {
  if (code === 'TLS_FAILED') return 'tls';
  if (code === 'AUTH_FAILED') return 'auth';
  return BUSY.has(code) ? 'overloaded' : 'rejected';
}
