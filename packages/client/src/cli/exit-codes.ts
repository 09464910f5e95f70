/**
 * kvctl's exit statuses. They are part of the interface (scripts depend on them): never change
 * the meaning of a number; add new ones at the end.
 *
 * | status | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | negative answer: `get` found no such key; `cas` did not swap (condition false); the lease does not exist (`LEASE_NOT_FOUND`) |
 * | 2 | usage: bad command line or input rejected as invalid (`INVALID_ARGUMENT`, `TOO_LARGE`), an endpoint that is not a client port (`WRONG_PORT`), or TLS settings that do not fit the server's (`TLS_FAILED`) |
 * | 3 | unavailable: no answer in time, no leader, nodes unreachable, or a write's outcome is unknown (`UNAVAILABLE`, `TIMEOUT`, `INDETERMINATE`, `CONNECTION_LOST`, `NOT_LEADER`, `OVERLOADED`, `TRANSFER_IN_PROGRESS`, `SHUTTING_DOWN`); `status` when no endpoint answered; `endpoint health`/`endpoint status` when any endpoint is unhealthy / did not answer |
 * | 4 | refused or failed by the cluster for another reason (`INVALID_MEMBERSHIP`, `CONF_CHANGE_PENDING`, `CLUSTER_MISMATCH`, `UNKNOWN_COMMAND`, `MALFORMED_FRAME`, `INTERNAL`), or an unexpected error in kvctl |
 * | 5 | `snapshot`: the backup is damaged or truncated (`BACKUP_CORRUPT`, `BACKUP_TRUNCATED`, `BACKUP_UNSUPPORTED`) |
 */
import { BackupError, KeelError } from '@keel/protocol';
import type { ErrorCode } from '@keel/protocol';

export const EXIT = {
  OK: 0,
  NEGATIVE: 1,
  USAGE: 2,
  UNAVAILABLE: 3,
  FAILED: 4,
  BACKUP_DAMAGED: 5,
  DENIED: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_CODE: Record<ErrorCode, ExitCode> = {
  LEASE_NOT_FOUND: EXIT.NEGATIVE,
  INVALID_ARGUMENT: EXIT.USAGE,
  TOO_LARGE: EXIT.USAGE,
  WRONG_PORT: EXIT.USAGE,
  TLS_FAILED: EXIT.USAGE,
  UNAVAILABLE: EXIT.UNAVAILABLE,
  TIMEOUT: EXIT.UNAVAILABLE,
  INDETERMINATE: EXIT.UNAVAILABLE,
  CONNECTION_LOST: EXIT.UNAVAILABLE,
  NOT_LEADER: EXIT.UNAVAILABLE,
  OVERLOADED: EXIT.UNAVAILABLE,
  TRANSFER_IN_PROGRESS: EXIT.UNAVAILABLE,
  SHUTTING_DOWN: EXIT.UNAVAILABLE,
  WATCH_OVERFLOW: EXIT.UNAVAILABLE,
  COMPACTED: EXIT.FAILED,
  INVALID_MEMBERSHIP: EXIT.FAILED,
  CONF_CHANGE_PENDING: EXIT.FAILED,
  CLUSTER_MISMATCH: EXIT.FAILED,
  UNKNOWN_COMMAND: EXIT.FAILED,
  MALFORMED_FRAME: EXIT.FAILED,
  INTERNAL: EXIT.FAILED,
  AUTH_NOT_FOUND: EXIT.FAILED,
  AUTH_CONFLICT: EXIT.FAILED,
  PERMISSION_DENIED: EXIT.DENIED,
  AUTH_REQUIRED: EXIT.DENIED,
  AUTH_FAILED: EXIT.DENIED,
};

/** The exit status for an error that ended a command. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof KeelError) return BY_CODE[error.code] ?? EXIT.FAILED;
  if (error instanceof BackupError) return EXIT.BACKUP_DAMAGED;
  if (error instanceof TypeError) return EXIT.USAGE;
  return EXIT.FAILED;
}

/** The exit-status table as help text. */
export const EXIT_CODES_HELP = `Exit status:
  0  success
  1  get: no such key; cas: condition false, nothing written
  2  usage error, or input rejected as invalid (INVALID_ARGUMENT, TOO_LARGE), or an
     endpoint that is not a client port (WRONG_PORT), or TLS settings that do not
     fit the server's (TLS_FAILED)
  3  cluster unavailable: timeout, no leader, nodes unreachable, or the outcome of a
     write is unknown (UNAVAILABLE, TIMEOUT, INDETERMINATE, CONNECTION_LOST, ...);
     status: no endpoint answered; endpoint health/status: any endpoint unhealthy
  4  refused or failed by the cluster for another reason (INVALID_MEMBERSHIP,
     CONF_CHANGE_PENDING, INTERNAL, ...), or an unexpected error
  5  snapshot: the backup is damaged or truncated
  6  refused by auth: wrong user or password (AUTH_FAILED), not authenticated
     (AUTH_REQUIRED), or the user may not do it (PERMISSION_DENIED)`;
