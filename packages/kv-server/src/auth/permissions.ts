/**
 * The one place that says what each client request needs once auth is enabled: a table from
 * every op to its requirement. The table's type lists every `ClientOp`, so a new op that does not
 * declare its permission here does not compile (add its row beside the ones like it).
 *
 *  - anyone: no authentication (`authenticate` itself, `authStatus`, and `status`, which tells a
 *    node's Raft role and indexes and nothing about keys: health checks and client routing use it);
 *  - user:   any authenticated user (`memberList`: clients route with it);
 *  - root:   the `root` role (membership, leader transfer, digest, compaction, every auth and
 *    user/role call);
 *  - lease:  the keys a lease holds now (looked up when the request arrives): write on all of
 *    them to revoke it (its keys are deleted), read on all of them to list them
 *    (`leaseTimeToLive` with `keys`); granting, keeping alive and listing leases needs a user;
 *  - keys:   read and/or write permission on every key range listed (a watch: read on its
 *    range, checked again before each frame of events it sends). A scan, a range delete or a
 *    txn range over keys the user may not all read is refused whole, as etcd does, so nothing
 *    leaks about keys outside the user's ranges; an answer that carries previous entries
 *    (`prevKv`) needs read too; a txn needs read on every compare and `get`/`range`, write on
 *    every `put`/`delete`/`deleteRange`, of both branches.
 */
import type { ClientOp, ClientRequest, TxnOp } from '@keel/protocol';
import type { KeyInterval } from '../state-machine/auth-state.js';
import type { SessionCommand } from '../state-machine/commands.js';

export type Requirement =
  | { readonly kind: 'anyone' }
  | { readonly kind: 'user' }
  | { readonly kind: 'root' }
  | { readonly kind: 'keys'; readonly read: readonly KeyInterval[]; readonly write: readonly KeyInterval[] }
  | { readonly kind: 'lease'; readonly lease: number; readonly access: 'read' | 'write' };

const ANYONE: Requirement = { kind: 'anyone' };
const USER: Requirement = { kind: 'user' };
const ROOT: Requirement = { kind: 'root' };

/** A request's fields, without its id: the log's commands of the same op have them too and are checked with the same row. */
type RequestOf<Op extends ClientOp> = Omit<Extract<ClientRequest, { op: Op }>, 'id'>;

export const REQUIRED_PERMISSION: { readonly [Op in ClientOp]: (request: RequestOf<Op>) => Requirement } = {
  get: (r) => keys([key(r.key)], []),
  put: (r) => keys(r.prevKv === true ? [key(r.key)] : [], [key(r.key)]),
  delete: (r) => keys(r.prevKv === true ? [key(r.key)] : [], [key(r.key)]),
  deleteRange: (r) => keys(r.prevKv === true ? [range(r.start, r.end)] : [], [range(r.start, r.end)]),
  cas: (r) => keys([key(r.key)], [key(r.key)]),
  txn: (r) => {
    const read = r.compare.map((c) => key(c.key));
    const write: KeyInterval[] = [];
    for (const op of [...r.success, ...r.failure]) txnOpNeeds(op, read, write);
    return keys(read, write);
  },
  scan: (r) => keys([scanRange(r)], []),
  status: () => ANYONE,
  digest: () => ROOT,
  memberList: () => USER,
  memberAdd: () => ROOT,
  memberPromote: () => ROOT,
  memberRemove: () => ROOT,
  leaderTransfer: () => ROOT,
  leaseGrant: () => USER,
  leaseRevoke: (r) => ({ kind: 'lease', lease: r.lease, access: 'write' }),
  leaseKeepAlive: () => USER,
  leaseTimeToLive: (r) => (r.keys === true ? { kind: 'lease', lease: r.lease, access: 'read' } : USER),
  leaseList: () => USER,
  watch: (r) => keys([watchInterval(r)], []),
  watchCancel: () => ANYONE, // ends a watch of the same connection, which was checked when it opened
  compact: () => ROOT,
  authenticate: () => ANYONE,
  authStatus: () => ANYONE,
  authEnable: () => ROOT,
  authDisable: () => ROOT,
  userAdd: () => ROOT,
  userDelete: () => ROOT,
  userGet: () => ROOT,
  userList: () => ROOT,
  userPasswd: () => ROOT,
  userGrantRole: () => ROOT,
  userRevokeRole: () => ROOT,
  roleAdd: () => ROOT,
  roleDelete: () => ROOT,
  roleGet: () => ROOT,
  roleList: () => ROOT,
  roleGrant: () => ROOT,
  roleRevoke: () => ROOT,
};

/** What `request` needs (see the module doc). */
export function requirementOf(request: ClientRequest): Requirement {
  return (REQUIRED_PERMISSION[request.op] as (r: ClientRequest) => Requirement)(request);
}

/**
 * What a logged client write needs (checked again when it applies, state-machine.ts): the row of
 * its op. A cas is logged as the txn it stands for (client-requests.ts `casTxn`), whose compare
 * and put need exactly what the cas row says.
 */
export function commandRequirement(c: SessionCommand): Requirement {
  return (REQUIRED_PERMISSION[c.op] as (command: SessionCommand) => Requirement)(c);
}

function keys(read: readonly KeyInterval[], write: readonly KeyInterval[]): Requirement {
  return { kind: 'keys', read, write };
}

function txnOpNeeds(op: TxnOp, read: KeyInterval[], write: KeyInterval[]): void {
  switch (op.op) {
    case 'get':
      read.push(key(op.key));
      return;
    case 'range':
      read.push(range(op.start, op.end));
      return;
    case 'put':
    case 'delete':
      write.push(key(op.key));
      if (op.prevKv === true) read.push(key(op.key));
      return;
    case 'deleteRange':
      write.push(range(op.start, op.end));
      if (op.prevKv === true) read.push(range(op.start, op.end));
      return;
  }
}

/** The interval of exactly one key: `[k, k + 0x00)`. */
export function key(k: Uint8Array): KeyInterval {
  const end = new Uint8Array(k.byteLength + 1);
  end.set(k);
  return { start: k, end };
}

/** `[start, end)`; no end: to the last key. */
function range(start: Uint8Array, end: Uint8Array | undefined): KeyInterval {
  return { start, end: end ?? null };
}

/** The keys a watch covers (watch-range.ts): one key, a prefix, or `[start, end)`. */
function watchInterval(r: RequestOf<'watch'>): KeyInterval {
  if (r.key !== undefined) return key(r.key);
  if (r.prefix !== undefined) return prefixInterval(r.prefix);
  return range(r.start ?? new Uint8Array(0), r.end);
}

/** The keys a scan may return: `[start, end)`, or the keys under `prefix`. */
function scanRange(r: RequestOf<'scan'>): KeyInterval {
  if (r.prefix !== undefined) return prefixInterval(r.prefix);
  return { start: r.start ?? new Uint8Array(0), end: r.end ?? null };
}

/** The keys starting with `prefix`: `[prefix, prefix with its last non-0xff byte + 1)`; to the last key when there is none. */
export function prefixInterval(prefix: Uint8Array): KeyInterval {
  let end = prefix.byteLength;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return { start: prefix, end: null };
  const upper = new Uint8Array(prefix.subarray(0, end));
  upper[end - 1]! += 1;
  return { start: prefix, end: upper };
}
