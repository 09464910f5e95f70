/**
 * Stable error codes shared by server, client and `kvctl`. Codes never change meaning; messages
 * may improve. Programmer mistakes in the client library stay `TypeError`s.
 */
export const ERROR_CODES = {
  /** This node is not the leader; `leaderHint` names the leader when known. Definite: not applied. */
  NOT_LEADER: 'NOT_LEADER',
  /** No leader is known or reachable (election in progress, minority partition). */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The request timed out. When `definite` is false a write may still apply. */
  TIMEOUT: 'TIMEOUT',
  /** The request was sent but its outcome is unknown (connection lost, leader changed). */
  INDETERMINATE: 'INDETERMINATE',
  /** A field is missing, of the wrong type, or out of range. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A key, value, request or frame exceeds its documented limit. */
  TOO_LARGE: 'TOO_LARGE',
  /** The request names an operation the server does not know. */
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  /** The bytes on the connection are not a valid frame; the connection is closed. */
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  /** Too many requests in flight on this connection or node. Definite: not applied. */
  OVERLOADED: 'OVERLOADED',
  /** A leadership transfer is in progress; retry shortly. Definite: not applied. */
  TRANSFER_IN_PROGRESS: 'TRANSFER_IN_PROGRESS',
  /** A membership change is already in progress, or the leader has not committed in its term. */
  CONF_CHANGE_PENDING: 'CONF_CHANGE_PENDING',
  /** The membership change is not valid (unknown node, duplicate, learner not caught up, …). */
  INVALID_MEMBERSHIP: 'INVALID_MEMBERSHIP',
  /**
   * The peer belongs to another cluster, speaks another protocol version, reached the wrong node,
   * or claims the id of a node that is already connected.
   */
  CLUSTER_MISMATCH: 'CLUSTER_MISMATCH',
  /**
   * The connection reached a port that serves another protocol: a client at a node's peer port, or
   * a node at a client port. The message names the right port. Definite: nothing was done.
   */
  WRONG_PORT: 'WRONG_PORT',
  /**
   * The TLS set-up of the two ends does not fit: a plaintext connection to a TLS port or the
   * reverse, a certificate not signed by a trusted CA, expired, or missing where one is required.
   * The message says which. Definite: nothing was done.
   */
  TLS_FAILED: 'TLS_FAILED',
  /**
   * Auth is enabled and the request's user may not do it (no role grants the keys, or the call
   * needs the root role). Nothing about keys the user may not read is in the message. Definite.
   */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /**
   * Auth is enabled and the connection has not authenticated (or its user was deleted or its
   * password changed since): authenticate, then retry. Definite: nothing was done.
   */
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  /** Wrong user name or password (the message does not say which). Definite. */
  AUTH_FAILED: 'AUTH_FAILED',
  /** The user or role named does not exist. Definite. */
  AUTH_NOT_FOUND: 'AUTH_NOT_FOUND',
  /**
   * The auth change conflicts with the auth state: the user or role already exists, auth cannot
   * be enabled without a `root` user, the `root` role cannot be edited or taken from `root` while
   * auth is enabled, …; the message says which. Definite.
   */
  AUTH_CONFLICT: 'AUTH_CONFLICT',
  /** The node is shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /**
   * A watch asked for history older than the oldest revision kept (compacted away);
   * `compactRevision` names the oldest one available. The watch has ended.
   */
  COMPACTED: 'COMPACTED',
  /**
   * The watcher fell more than `LIMITS.watchQueueBytesMax` behind the live stream and the server
   * cancelled it; resume from the revision after the last one delivered.
   */
  WATCH_OVERFLOW: 'WATCH_OVERFLOW',
  /** The connection to the server closed or could not be opened. */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** A bug or an unexpected failure on the server; the message says more. */
  INTERNAL: 'INTERNAL',
  /** The lease does not exist: never granted, revoked, or expired (its keys are gone). Definite. */
  LEASE_NOT_FOUND: 'LEASE_NOT_FOUND',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The error as it travels on the wire. */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  /** True when the operation certainly did not take effect; false when it may have. */
  readonly definite: boolean;
  /** With NOT_LEADER: the leader's node id and client address, when known. */
  readonly leaderId?: number;
  readonly leaderAddress?: string;
  /** With COMPACTED: the oldest revision still available. */
  readonly compactRevision?: number;
}

export interface KeelErrorOptions {
  readonly definite?: boolean;
  readonly leaderId?: number;
  readonly leaderAddress?: string;
  readonly compactRevision?: number;
  readonly cause?: unknown;
}

/** Every failure Keel reports to a caller, with a stable `code`. */
export class KeelError extends Error {
  override readonly name = 'KeelError';
  readonly code: ErrorCode;
  /** True when the operation certainly did not take effect. */
  readonly definite: boolean;
  readonly leaderId: number | undefined;
  readonly leaderAddress: string | undefined;
  /** With COMPACTED: the oldest revision still available. */
  readonly compactRevision: number | undefined;

  constructor(code: ErrorCode, message: string, options: KeelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.definite = options.definite ?? true;
    this.leaderId = options.leaderId;
    this.leaderAddress = options.leaderAddress;
    this.compactRevision = options.compactRevision;
  }

  toWire(): WireError {
    const wire: { -readonly [K in keyof WireError]: WireError[K] } = {
      code: this.code,
      message: this.message,
      definite: this.definite,
    };
    if (this.leaderId !== undefined) wire.leaderId = this.leaderId;
    if (this.leaderAddress !== undefined) wire.leaderAddress = this.leaderAddress;
    if (this.compactRevision !== undefined) wire.compactRevision = this.compactRevision;
    return wire;
  }

  static fromWire(wire: WireError): KeelError {
    const options: KeelErrorOptions = { definite: wire.definite };
    return new KeelError(wire.code, wire.message, {
      ...options,
      ...(wire.leaderId !== undefined ? { leaderId: wire.leaderId } : {}),
      ...(wire.leaderAddress !== undefined ? { leaderAddress: wire.leaderAddress } : {}),
      ...(wire.compactRevision !== undefined ? { compactRevision: wire.compactRevision } : {}),
    });
  }
}

/** A frame of `bytes` bytes over the limit of `maxBytes`: the one wording every encoder and decoder uses. */
export function frameTooLargeError(bytes: number, maxBytes: number): KeelError {
  return new KeelError('TOO_LARGE', `frame of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`);
}

export function isKeelError(value: unknown): value is KeelError {
  return value instanceof KeelError;
}
