/**
 * What a request may cost in response bytes before it runs: the client port reserves this much of
 * a connection's response budget for each request it starts (see `ClientConnection`), so that
 * requests already running can never produce more than the budget between them. One place for
 * these estimates.
 */
import { AUTH_LIMITS, LIMITS, type ClientRequest } from '@keel/protocol';

/** Room for the envelope, revisions and an error message around a response's keys and values. */
const ENVELOPE_BYTES = 4 * 1024;
/** Status, digest, member lists and leadership answers: a few small records. */
const ADMIN_RESPONSE_BYTES = 64 * 1024;

/** Room for one txn operation's result around its entries. */
const TXN_RESULT_BYTES = 64;
/** One entry as a txn's answer may carry it: key, value and the per-row allowance. */
const ENTRY_BYTES = LIMITS.keyBytesMax + LIMITS.valueBytesMax + 64;

/**
 * Upper bound of the encoded size of each op's response, in bytes (length prefix included),
 * without previous entries (see {@link responseBytesBound}).
 */
export const RESPONSE_BYTES_BOUND: { readonly [op in ClientRequest['op']]: number } = {
  get: LIMITS.keyBytesMax + LIMITS.valueBytesMax + ENVELOPE_BYTES,
  // The store stops a scan at about LIMITS.scanResponseBytesMax of keys, values and per-row allowance,
  // which covers each row's encoding; the first row may pass it by up to one key and value.
  scan: LIMITS.scanResponseBytesMax + LIMITS.keyBytesMax + LIMITS.valueBytesMax + ENVELOPE_BYTES,
  put: ENVELOPE_BYTES,
  delete: ENVELOPE_BYTES,
  deleteRange: ENVELOPE_BYTES,
  cas: ENVELOPE_BYTES,
  // The state machine refuses a txn whose entries pass LIMITS.txnResponseBytesMax (per-row
  // allowance included); each operation's result adds a few bytes around them.
  txn: LIMITS.txnResponseBytesMax + LIMITS.txnOpsMax * TXN_RESULT_BYTES + ENVELOPE_BYTES,
  status: ADMIN_RESPONSE_BYTES,
  digest: ADMIN_RESPONSE_BYTES,
  memberList: ADMIN_RESPONSE_BYTES,
  memberAdd: ADMIN_RESPONSE_BYTES,
  memberPromote: ADMIN_RESPONSE_BYTES,
  memberRemove: ADMIN_RESPONSE_BYTES,
  leaseGrant: ENVELOPE_BYTES,
  leaseRevoke: ENVELOPE_BYTES,
  leaseKeepAlive: ENVELOPE_BYTES,
  // A lease's keys are not bounded in number: the node stops the list at LIMITS.scanResponseBytesMax.
  leaseTimeToLive: LIMITS.scanResponseBytesMax + LIMITS.keyBytesMax + ENVELOPE_BYTES,
  // At most LIMITS.leasesMax ids of at most 9 bytes each.
  leaseList: LIMITS.leasesMax * 9 + ENVELOPE_BYTES,
  leaderTransfer: ADMIN_RESPONSE_BYTES,
  authenticate: ENVELOPE_BYTES,
  authStatus: ENVELOPE_BYTES,
  authEnable: ENVELOPE_BYTES,
  authDisable: ENVELOPE_BYTES,
  userAdd: ENVELOPE_BYTES,
  userDelete: ENVELOPE_BYTES,
  userPasswd: ENVELOPE_BYTES,
  userGrantRole: ENVELOPE_BYTES,
  userRevokeRole: ENVELOPE_BYTES,
  roleAdd: ENVELOPE_BYTES,
  roleDelete: ENVELOPE_BYTES,
  roleGrant: ENVELOPE_BYTES,
  roleRevoke: ENVELOPE_BYTES,
  // Bounded by AUTH_LIMITS: 256 role names, 10 000 names, 1024 permissions of two keys each.
  userGet: AUTH_LIMITS.rolesPerUserMax * (AUTH_LIMITS.nameChars * 4 + 8) + ENVELOPE_BYTES,
  userList: AUTH_LIMITS.usersMax * (AUTH_LIMITS.nameChars * 4 + 8) + ENVELOPE_BYTES,
  roleList: AUTH_LIMITS.rolesMax * (AUTH_LIMITS.nameChars * 4 + 8) + ENVELOPE_BYTES,
  roleGet: AUTH_LIMITS.permissionsPerRoleMax * (2 * LIMITS.keyBytesMax + 32) + ENVELOPE_BYTES,
  compact: ENVELOPE_BYTES,
  watchCancel: ENVELOPE_BYTES,
  // A watch's end; its events are bounded by the watch's own queue (LIMITS.watchQueueBytesMax), not by this reservation.
  watch: ENVELOPE_BYTES,
};

/**
 * Response bytes reserved for `request` while it runs: its op's bound, plus the previous entries
 * a write asks for (one key and value; a deleteRange's are capped by the state machine). A txn
 * reserves what its larger branch may read, at most its op's bound.
 */
export function responseBytesBound(request: ClientRequest): number {
  if (request.op === 'txn') return txnBytesBound(request);
  const bound = RESPONSE_BYTES_BOUND[request.op];
  if (request.op === 'watch' || !('prevKv' in request) || request.prevKv !== true) return bound;
  return bound + (request.op === 'deleteRange' ? LIMITS.deleteRangePrevKvBytesMax : LIMITS.keyBytesMax + LIMITS.valueBytesMax);
}

function txnBytesBound(request: Extract<ClientRequest, { op: 'txn' }>): number {
  const branch = (ops: typeof request.success): number =>
    ops.reduce((sum, o) => {
      const entries =
        o.op === 'get' || ((o.op === 'put' || o.op === 'delete') && o.prevKv === true)
          ? ENTRY_BYTES
          : o.op === 'range'
            ? o.limit * ENTRY_BYTES
            : o.op === 'deleteRange' && o.prevKv === true
              ? LIMITS.txnResponseBytesMax
              : 0;
      return sum + entries + TXN_RESULT_BYTES;
    }, ENVELOPE_BYTES);
  return Math.min(RESPONSE_BYTES_BOUND.txn, Math.max(branch(request.success), branch(request.failure)));
}
