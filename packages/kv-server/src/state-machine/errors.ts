/**
 * Why bytes from the log, a conf change context or the session table could not be decoded.
 * Stable codes; messages may improve. Apply never lets one escape: a command that fails to decode
 * is answered with an `INTERNAL` error for that entry and the node carries on.
 */
export type StateMachineErrorCode =
  /** A log entry's data is not a valid encoded `Command`. */
  | 'MALFORMED_COMMAND'
  /** A `ConfChange.context` is not a valid encoded member context. */
  | 'MALFORMED_MEMBER_CONTEXT'
  /** A stored session record is not valid (corruption, or a bad snapshot). */
  | 'MALFORMED_SESSION'
  /** A stored key-value record is not valid (corruption, or a bad snapshot). */
  | 'MALFORMED_VALUE'
  /** A stored lease record is not valid (corruption, or a bad snapshot). */
  | 'MALFORMED_LEASE'
  /** The stored auth record is not valid (corruption, or a bad snapshot). */
  | 'MALFORMED_AUTH'
  /** A stored history record is not valid (corruption, or a bad snapshot). */
  | 'MALFORMED_HISTORY';

export class StateMachineError extends Error {
  override readonly name = 'StateMachineError';
  constructor(
    readonly code: StateMachineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
