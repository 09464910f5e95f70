/**
 * {@link KeelClient}: the public client. Validates at the boundary, then runs each operation as a
 * series of attempts: route (router.ts), send (connection.ts), decide (retry.ts), with writes
 * identified by a write session (session.ts) so that retries apply at most once.
 */
import { randomUUID } from 'node:crypto';
import { KeelError } from '@keel/protocol';
import { AUTH_LIMITS } from '@keel/protocol';
import type { ClientOp, ClientResults, Consistency, KeyValue, Member, PermissionMode, StateDigest, WriteSession } from '@keel/protocol';
import { PERMISSION_MODES, permissionInterval, type PermissionRange } from './auth.js';
import { NodeConnection } from './connection.js';
import type { RequestBody, Watch } from './connection.js';
import { KvEntry } from './entry.js';
import { Lease, type LeaseHost } from './lease.js';
import { Election } from './recipes/election.js';
import { acquireLock, type HeldLock, type LockOptions } from './recipes/lock.js';
import { resolveOptions } from './options.js';
import type { KeelClientOptions, ResolvedOptions } from './options.js';
import type { CasResult, DeleteRangeResult, DeleteResult, EndpointStatus, MemberList, NewMember, PutResult, ScanResult } from './results.js';
import { RetryState } from './retry.js';
import { checkTxn, txnOperationResult } from './txn.js';
import type { TxnRequest, TxnResult } from './txn.js';
import type { OpKind, RetryTuning } from './retry.js';
import type { DialFailure, DialFailureKind } from './dial-failure.js';
import { Router } from './router.js';
import { WriteSessionTracker } from './session.js';
import type { WriteTicket } from './session.js';
import {
  checkAddress,
  checkCasCondition,
  checkConsistency,
  checkDeleteRange,
  checkKey,
  checkLeaseId,
  checkLeaseTtl,
  checkNodeId,
  checkRequestSize,
  checkScanLimit,
  checkScanRange,
  checkValue,
  parseAddress,
  prefixBounds,
} from './validate.js';
import type { CasCondition, DeleteRange, ScanRange } from './validate.js';
import type { BytesInput } from './bytes.js';
import { describeType, toBytes } from './bytes.js';
import { KeelWatch, checkFromRevision, watchRange } from './watch.js';
import type { WatchOptions, WatchStreams, WatchTarget } from './watch.js';

/** Options of a read. */
export interface ReadOptions {
  /** `linearizable` (default): reflects every write acknowledged before the read began. `serializable`: may be stale. */
  readonly consistency?: Consistency;
}

/** Options of a write that can answer with what it replaced. */
export interface PrevKvOptions {
  /**
   * Also return the entry the write replaced or deleted (`prevKv`, `null` when there was none;
   * `prevKvs` for a range delete). Absent in the result when the write had already applied and a
   * retry was answered from the server's session table, which keeps no values.
   */
  readonly prevKv?: boolean;
}

/** Options of a put. */
export interface PutOptions extends PrevKvOptions {
  /**
   * Attach the key to this lease (an id, or a `Lease`): the key is deleted when the lease is
   * revoked or expires. Absent: the key has no lease (a put without one detaches it from the
   * lease it had). An unknown lease fails with `LEASE_NOT_FOUND`.
   */
  readonly lease?: number | Lease;
}

/** Options of `leaseGrant`. */
export interface LeaseGrantOptions {
  /** Keep the lease alive in the background while it is held (default true). */
  readonly keepAlive?: boolean;
}

/** A lease's TTLs as the leader sees them. */
export interface LeaseTimeToLive {
  readonly id: number;
  /** The granted TTL, in seconds. */
  readonly ttl: number;
  /** Whole seconds (rounded up) before the leader expires the lease without a keep-alive. */
  readonly remaining: number;
  /** The keys attached, in byte order (when asked for with `keys: true`). */
  readonly keys?: readonly Uint8Array[];
}

/** Options of a scan. */
export interface ScanOptions extends ReadOptions {
  /** Most entries to return, 1..10000. Default 1000. */
  readonly limit?: number;
}

const now = (): number => performance.now();

/**
 * Where an operation's attempts go. `leader`: only the leader serves it (writes, lease and admin
 * changes, linearizable reads with `reads: 'leader'`); a success names the leader. `any`: every
 * node serves it from its own state (serializable and admin reads); it goes to the leader when
 * known, else to the next node in turn. `spread`: every node serves it, each operation at the next
 * node in turn (reads with `reads: 'spread'`). `quorum`: the answer needs the cluster (a
 * linearizable read needs the leader's confirmation wherever it is served), so a node that shows
 * no commit progress is given up on (connection.ts).
 */
interface Route {
  readonly to: 'leader' | 'any' | 'spread';
  readonly quorum: boolean;
}
const LEADER: Route = { to: 'leader', quorum: true };
const ANY: Route = { to: 'any', quorum: false };
const SPREAD_LINEARIZABLE: Route = { to: 'spread', quorum: true };
const SPREAD_SERIALIZABLE: Route = { to: 'spread', quorum: false };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A client of a Keel cluster. Safe to share: any number of operations may be in flight at once;
 * they are pipelined over one TCP connection per node.
 *
 * Every failure is a `KeelError` with a stable `code`; `error.definite === false` means the
 * operation may or may not have taken effect (only possible for writes and membership changes).
 * Wrong argument types throw `TypeError`; arguments over a documented limit are rejected with
 * `INVALID_ARGUMENT` or `TOO_LARGE` before anything is sent.
 */
export class KeelClient {
  private readonly options: ResolvedOptions;
  private readonly router: Router;
  private readonly sessions = new WriteSessionTracker(() => randomUUID());
  private readonly connections = new Map<string, NodeConnection>();
  /** Leases this client keeps alive. */
  private readonly leases = new Set<Lease>();
  private readonly leaseHost: LeaseHost = {
    keepAliveOnce: (id) => this.leaseKeepAliveOnce(id),
    revoke: (id) => this.leaseRevoke(id),
    forget: (lease) => this.leases.delete(lease),
  };
  /** Watches open (their streams end with the client). */
  private readonly watches = new Set<KeelWatch>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  /** The node that answered the last successful attempt (for memberList's leader check). */
  private lastTarget: string | undefined;
  /** The search for the leader in progress, shared by the operations that wait for it. */
  private discovery: Promise<void> | undefined;
  /** When the last search for the leader began (ms): at most one per `avoidMs`. */
  private lastDiscoveryMs = -Infinity;
  /** Where this turn's spread reads go (see `spreadTarget`). */
  private spreadTurn: string | undefined;
  private readonly endSpreadTurn = (): void => {
    this.spreadTurn = undefined;
  };
  /** The retry policy's settings and its test for redirect hints, shared by every operation. */
  private readonly retryTuning: RetryTuning;
  private readonly followHint = (address: string): boolean => this.mayContact(address);

  constructor(options: KeelClientOptions) {
    this.options = resolveOptions(options);
    this.retryTuning = { backoffBaseMs: this.options.backoffBaseMs, backoffMaxMs: this.options.backoffMaxMs, immediateRedirectsMax: 3 };
    this.router = new Router(this.options.endpoints, {
      avoidMs: this.options.avoidMs,
      reconnectBackoffBaseMs: this.options.reconnectBackoffBaseMs,
      reconnectBackoffMaxMs: this.options.reconnectBackoffMaxMs,
    });
    if (this.options.leaderHint !== undefined && this.mayContact(this.options.leaderHint)) this.router.believeLeader(this.options.leaderHint);
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepMs);
    this.sweeper.unref();
  }

  /** The endpoints this client was given, validated. */
  get endpoints(): readonly string[] {
    return this.options.endpoints;
  }

  /**
   * The client address of the node this client believes leads, if any: pass it as `leaderHint`
   * to a later client (kvctl remembers it between runs) to skip the search.
   */
  get leaderAddress(): string | undefined {
    return this.router.leaderAddress;
  }

  /** The client id that identifies this client's writes (it changes after an indeterminate write). */
  get clientId(): string {
    return this.sessions.clientId;
  }

  /** Writes `value` under `key`, attached to `options.lease` when given. */
  async put(key: BytesInput, value: BytesInput, options: PutOptions = EMPTY): Promise<PutResult> {
    const k = checkKey(key);
    const v = checkValue(value);
    const prev = checkPrevKv(options);
    const lease = options.lease === undefined ? EMPTY : { lease: checkLeaseId(options.lease) };
    checkRequestSize(k.length + v.length);
    const r = await this.write('put', (session) => ({ op: 'put', key: k, value: v, ...prev, ...lease, session }));
    return { revision: r.revision, ...prevKvOf(r) };
  }

  /** Reads `key`; `null` when it does not exist. */
  async get(key: BytesInput, options: ReadOptions = EMPTY): Promise<KvEntry | null> {
    const k = checkKey(key);
    const consistency = checkConsistency(checkObject(options, 'get options').consistency);
    const r = await this.run('read', 'get', () => ({ op: 'get', key: k, consistency }), this.readRoute(consistency));
    return r.kv === null ? null : new KvEntry(r.kv);
  }

  /** Deletes `key`; `deleted` is false when it did not exist. */
  async delete(key: BytesInput, options: PrevKvOptions = EMPTY): Promise<DeleteResult> {
    const k = checkKey(key);
    const prev = checkPrevKv(options);
    const r = await this.write('delete', (session) => ({ op: 'delete', key: k, ...prev, session }));
    return { revision: r.revision, deleted: r.deleted, ...prevKvOf(r) };
  }

  /**
   * Deletes every key in `range`, atomically (one write): all of them or, when the range holds
   * more than `LIMITS.deleteRangeKeysMax` keys (or, with `prevKv`, more than
   * `LIMITS.deleteRangePrevKvBytesMax` of entries), none, failing with `TOO_LARGE`.
   */
  async deleteRange(range: DeleteRange, options: PrevKvOptions = {}): Promise<DeleteRangeResult> {
    const wire = checkDeleteRange(range);
    const prev = checkPrevKv(options);
    const r = await this.write('deleteRange', (session) => ({ op: 'deleteRange', ...wire, ...prev, session }));
    return { revision: r.revision, deleted: r.deleted, ...(r.prevKvs !== undefined ? { prevKvs: r.prevKvs.map((kv) => new KvEntry(kv)) } : {}) };
  }

  /**
   * Compare-and-swap: writes `newValue` only if `key` currently holds `expectValue`, was last
   * written at `expectRevision`, or (with `expectAbsent: true`) does not exist. The server runs it
   * as a txn (the compare, then a put).
   */
  async cas(key: BytesInput, condition: CasCondition, newValue: BytesInput): Promise<CasResult> {
    const k = checkKey(key);
    const expect = checkCasCondition(condition);
    const v = checkValue(newValue, 'newValue');
    checkRequestSize(k.length + v.length + ('value' in expect ? expect.value.length : 0));
    const r = await this.write('cas', (session) => ({ op: 'cas', key: k, expect, value: v, session }));
    return { succeeded: r.succeeded, revision: r.revision };
  }

  /**
   * A transaction, applied atomically as one write: if every compare holds on the keys' current
   * state, the `success` operations run, else the `failure` ones — in order, each seeing the
   * effects of those before it, every write at the txn's revision. At most `LIMITS.txnOpsMax`
   * compares and operations per branch (else `INVALID_ARGUMENT`); an answer over
   * `LIMITS.txnResponseBytesMax` bytes of entries, or more than `LIMITS.deleteRangeKeysMax` keys
   * deleted, refuses the whole txn with `TOO_LARGE` (nothing applied). Retried like every write:
   * it applies at most once.
   */
  async txn(request: TxnRequest): Promise<TxnResult> {
    const wire = checkTxn(request);
    const r = await this.write('txn', (session) => ({ op: 'txn', ...wire, session }));
    return { succeeded: r.succeeded, revision: r.revision, ...(r.results !== undefined ? { results: r.results.map(txnOperationResult) } : {}) };
  }

  /** Lists keys in a range, in ascending byte order, with their values. */
  async scan(range: ScanRange, options: ScanOptions = {}): Promise<ScanResult> {
    const wire = checkScanRange(range);
    const o = checkObject(options, 'scan options');
    const limit = checkScanLimit(o.limit);
    const consistency = checkConsistency(o.consistency);
    const r = await this.run('read', 'scan', () => ({ op: 'scan', ...wire, limit, consistency }), this.readRoute(consistency));
    return { entries: r.kvs.map((kv) => new KvEntry(kv)), more: r.more, revision: r.revision };
  }

  /**
   * Iterates over every entry in `range`, fetching `pageSize` entries per request. Each page is
   * a separate read: the whole iteration is not one snapshot (a key written meanwhile may or may
   * not appear), but every key present throughout is returned exactly once, in order.
   */
  async *scanAll(range: ScanRange, options: ScanOptions & { readonly pageSize?: number } = {}): AsyncGenerator<KvEntry> {
    const wire = checkScanRange(range);
    const o = checkObject(options, 'scan options');
    const pageSize = checkScanLimit(o.pageSize ?? o.limit);
    const consistency = checkConsistency(o.consistency);
    let bounds: { start?: Uint8Array; end?: Uint8Array } =
      wire.prefix !== undefined ? prefixBounds(wire.prefix) : { ...(wire.start ? { start: wire.start } : {}), ...(wire.end ? { end: wire.end } : {}) };
    for (;;) {
      const page = await this.scan(bounds, { limit: pageSize, consistency });
      for (const e of page.entries) yield e;
      const last = page.entries.at(-1);
      if (!page.more || last === undefined) return;
      bounds = { ...bounds, start: keySuccessor(last.key) };
    }
  }

  /**
   * Asks every endpoint for its status, in parallel, one attempt each. Never rejects for an
   * unreachable node: its entry carries the error instead. A node that says it leads (the one
   * of the highest term, if several do) becomes the client's leader.
   */
  async status(): Promise<EndpointStatus[]> {
    this.assertOpen();
    const statuses = await Promise.all(
      this.options.endpoints.map(async (endpoint): Promise<EndpointStatus> => {
        try {
          const status = (await this.connection(endpoint).send({ op: 'status' }, now() + this.options.stallTimeoutMs, 'local')) as ClientResults['status'];
          return { endpoint, ok: true, status };
        } catch (error) {
          if (!(error instanceof KeelError)) throw error;
          return { endpoint, ok: false, error };
        }
      }),
    );
    let leader: { endpoint: string; term: number } | undefined;
    for (const s of statuses) {
      if (s.ok && s.status.role === 'leader' && (leader === undefined || s.status.term > leader.term)) {
        leader = { endpoint: s.endpoint, term: s.status.term };
      }
    }
    if (leader !== undefined) this.router.believeLeader(leader.endpoint);
    return statuses;
  }

  /**
   * Asks the node at `endpoint` (any node's client address, listed or not) for a digest of its
   * user data as of its applied index, in one attempt: nodes that applied the same log report the
   * same digest. Meant for tests and operators comparing replicas once the cluster is quiet.
   */
  async digest(endpoint: string): Promise<StateDigest> {
    this.assertOpen();
    const address = checkAddress(endpoint, 'endpoint');
    return (await this.connection(address).send({ op: 'digest' }, now() + this.options.timeoutMs, 'local')) as ClientResults['digest'];
  }

  /**
   * The cluster's members and the leader's id, as the leader sees them: a node that answers with
   * another node as leader (its view may be stale, e.g. it was just removed) is not trusted; the
   * client asks that leader instead (once).
   */
  async memberList(): Promise<MemberList> {
    let r = await this.run('read', 'memberList', () => ({ op: 'memberList' }), ANY);
    const leaderAddress = r.members.find((m) => m.id === r.leader)?.clientAddress;
    if (leaderAddress !== undefined && parseAddress(leaderAddress) !== undefined && leaderAddress !== this.lastTarget && this.mayContact(leaderAddress)) {
      this.router.redirected(this.lastTarget ?? leaderAddress, leaderAddress);
      r = await this.run('read', 'memberList', () => ({ op: 'memberList' }), ANY);
    }
    return { members: r.members, leader: r.leader };
  }

  /**
   * Adds a voting member at once. The server refuses unless `force` is set: a voter that is not
   * running and caught up counts toward the quorum and can stop every write. The documented way
   * is `memberAddLearner`, then `memberPromote` once it caught up.
   */
  async memberAdd(member: NewMember, options: { readonly force?: boolean } = {}): Promise<readonly Member[]> {
    return this.addMember(member, false, options.force === true);
  }

  /** Adds a non-voting learner that receives the log; promote it once it has caught up. */
  async memberAddLearner(member: NewMember): Promise<readonly Member[]> {
    return this.addMember(member, true, false);
  }

  /** Turns learner `id` into a voter. */
  async memberPromote(id: number): Promise<readonly Member[]> {
    const nodeId = checkNodeId(id);
    return (await this.run('admin', 'memberPromote', () => ({ op: 'memberPromote', nodeId }), LEADER)).members;
  }

  /** Removes member `id` from the cluster. */
  async memberRemove(id: number): Promise<readonly Member[]> {
    const nodeId = checkNodeId(id);
    return (await this.run('admin', 'memberRemove', () => ({ op: 'memberRemove', nodeId }), LEADER)).members;
  }

  /** Asks the leader to hand leadership to voter `to`; resolves with the leader afterwards. */
  async transferLeader(to: number): Promise<{ readonly leader: number }> {
    const id = checkNodeId(to, 'to');
    const r = await this.run('admin', 'leaderTransfer', () => ({ op: 'leaderTransfer', to: id }), LEADER);
    return { leader: r.leader };
  }

  // -------------------------------------------------------------------------------------------
  // Authentication and authorization (need the root role once auth is enabled, except authStatus)
  // -------------------------------------------------------------------------------------------

  /** Whether auth is enabled, and the log index of the last auth change. */
  authStatus(): Promise<ClientResults['authStatus']> {
    return this.run('read', 'authStatus', () => ({ op: 'authStatus' }), ANY);
  }

  /** Enables auth: the user `root` must exist (AUTH_CONFLICT otherwise); it gets the `root` role. */
  authEnable(): Promise<ClientResults['authEnable']> {
    return this.run('admin', 'authEnable', () => ({ op: 'authEnable' }), LEADER);
  }

  authDisable(): Promise<ClientResults['authDisable']> {
    return this.run('admin', 'authDisable', () => ({ op: 'authDisable' }), LEADER);
  }

  /** Adds a user; the node that receives the password hashes it (scrypt) before it reaches the log. */
  userAdd(user: string, password: string): Promise<ClientResults['userAdd']> {
    const u = checkName(user, 'user');
    const pw = checkPassword(password);
    return this.run('admin', 'userAdd', () => ({ op: 'userAdd', user: u, password: pw }), LEADER);
  }

  userDelete(user: string): Promise<ClientResults['userDelete']> {
    const u = checkName(user, 'user');
    return this.run('admin', 'userDelete', () => ({ op: 'userDelete', user: u }), LEADER);
  }

  /** Sets a user's password: connections authenticated with the old one must authenticate again. */
  userPasswd(user: string, password: string): Promise<ClientResults['userPasswd']> {
    const u = checkName(user, 'user');
    const pw = checkPassword(password);
    return this.run('admin', 'userPasswd', () => ({ op: 'userPasswd', user: u, password: pw }), LEADER);
  }

  userGet(user: string): Promise<ClientResults['userGet']> {
    const u = checkName(user, 'user');
    return this.run('read', 'userGet', () => ({ op: 'userGet', user: u }), ANY);
  }

  async userList(): Promise<readonly string[]> {
    return (await this.run('read', 'userList', () => ({ op: 'userList' }), ANY)).users;
  }

  userGrantRole(user: string, role: string): Promise<ClientResults['userGrantRole']> {
    const u = checkName(user, 'user');
    const r = checkName(role, 'role');
    return this.run('admin', 'userGrantRole', () => ({ op: 'userGrantRole', user: u, role: r }), LEADER);
  }

  userRevokeRole(user: string, role: string): Promise<ClientResults['userRevokeRole']> {
    const u = checkName(user, 'user');
    const r = checkName(role, 'role');
    return this.run('admin', 'userRevokeRole', () => ({ op: 'userRevokeRole', user: u, role: r }), LEADER);
  }

  roleAdd(role: string): Promise<ClientResults['roleAdd']> {
    const r = checkName(role, 'role');
    return this.run('admin', 'roleAdd', () => ({ op: 'roleAdd', role: r }), LEADER);
  }

  /** Deletes a role and takes it from every user. */
  roleDelete(role: string): Promise<ClientResults['roleDelete']> {
    const r = checkName(role, 'role');
    return this.run('admin', 'roleDelete', () => ({ op: 'roleDelete', role: r }), LEADER);
  }

  /** The role's permissions, each with its range as stored (`[start, end)`, end null: to the last key). */
  roleGet(role: string): Promise<ClientResults['roleGet']> {
    const r = checkName(role, 'role');
    return this.run('read', 'roleGet', () => ({ op: 'roleGet', role: r }), ANY);
  }

  async roleList(): Promise<readonly string[]> {
    return (await this.run('read', 'roleList', () => ({ op: 'roleList' }), ANY)).roles;
  }

  /** Grants `mode` on `range` to `role` (replacing a permission on the same range). */
  roleGrant(role: string, mode: PermissionMode, range: PermissionRange): Promise<ClientResults['roleGrant']> {
    const r = checkName(role, 'role');
    if (!PERMISSION_MODES.includes(mode)) throw new TypeError(`mode must be one of ${PERMISSION_MODES.join(', ')}, got ${String(mode)}`);
    const permission = { mode, ...permissionInterval(range) };
    return this.run('admin', 'roleGrant', () => ({ op: 'roleGrant', role: r, permission }), LEADER);
  }

  /** Removes the role's permission on exactly `range`. */
  roleRevoke(role: string, range: PermissionRange): Promise<ClientResults['roleRevoke']> {
    const r = checkName(role, 'role');
    const { start, end } = permissionInterval(range);
    return this.run('admin', 'roleRevoke', () => ({ op: 'roleRevoke', role: r, start, end }), LEADER);
  }

  /**
   * Grants a lease of `ttl` seconds (`LIMITS.leaseTtlSecondsMin`..`leaseTtlSecondsMax`) and keeps
   * it alive in the background while it is held: attach keys to it (`put(k, v, { lease })`),
   * watch `lease.lost` (or `lease.onLost`) to learn that it ended without you, and end it with
   * `lease.revoke()` (keys deleted now) or `lease.release()` (keys deleted when it expires).
   * `close()` stops every keep-alive. See lease.ts for when a lease counts as lost.
   */
  async leaseGrant(ttl: number, options: LeaseGrantOptions = {}): Promise<Lease> {
    const seconds = checkLeaseTtl(ttl);
    const keepAlive = checkObject(options, 'lease options').keepAlive !== false;
    const sentAtMs = now();
    const r = await this.write('leaseGrant', (session) => ({ op: 'leaseGrant', ttl: seconds, session }));
    const lease = new Lease(r.lease, r.ttl, this.leaseHost, sentAtMs);
    if (!keepAlive || this.closed) lease.release();
    else this.leases.add(lease);
    return lease;
  }

  /** Revokes lease `lease` (an id or a `Lease`) now: its keys are deleted. `LEASE_NOT_FOUND` when it does not exist. */
  async leaseRevoke(lease: number | Lease): Promise<{ readonly revision: number; readonly deleted: number }> {
    const id = checkLeaseId(lease);
    const r = await this.write('leaseRevoke', (session) => ({ op: 'leaseRevoke', lease: id, session }));
    return { revision: r.revision, deleted: r.deleted };
  }

  /** Renews lease `lease` to its full TTL once (a held `Lease` does this by itself). `LEASE_NOT_FOUND` when it ended. */
  async leaseKeepAliveOnce(lease: number | Lease): Promise<{ readonly id: number; readonly ttl: number }> {
    const id = checkLeaseId(lease);
    const r = await this.run('read', 'leaseKeepAlive', () => ({ op: 'leaseKeepAlive', lease: id }), LEADER);
    return { id: r.lease, ttl: r.ttl };
  }

  /** Lease `lease`'s granted and remaining TTL (from the leader), with its keys when `keys`. `LEASE_NOT_FOUND` when it ended. */
  async leaseTimeToLive(lease: number | Lease, options: { readonly keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    const id = checkLeaseId(lease);
    const keys = checkObject(options, 'options').keys === true;
    const r = await this.run('read', 'leaseTimeToLive', () => ({ op: 'leaseTimeToLive', lease: id, ...(keys ? { keys } : {}) }), LEADER);
    return { id: r.lease, ttl: r.ttl, remaining: r.remaining, ...(r.keys !== undefined ? { keys: r.keys } : {}) };
  }

  /** The ids of every lease alive in the cluster, ascending. */
  async leaseList(): Promise<readonly number[]> {
    return (await this.run('read', 'leaseList', () => ({ op: 'leaseList' }), LEADER)).leases;
  }

  /**
   * Acquires the lock `name`, waiting in line (first come, first served) until it is free; the
   * lock is held while its lease (`options.ttl` seconds, default 10) is kept alive, and released
   * by `unlock()` or, if the holder dies, when its lease expires. Carry `fencingToken` to what the
   * lock guards: see recipes/lock.ts and the README for what a lock cannot guarantee without it.
   */
  lock(name: BytesInput, options: LockOptions = {}): Promise<HeldLock> {
    return acquireLock(this, name, options);
  }

  /** The election `name`: campaign for it, read or observe its leader (recipes/election.ts). */
  election(name: BytesInput): Election {
    return new Election(this, toBytes(name, 'election name'));
  }


  /**
   * Watch a key, a prefix (`{ prefix }`) or a range (`{ start, end }`): iterate the returned
   * {@link KeelWatch} (`for await`) for every change in revision order, with neither gap nor
   * duplicate, across node failures (it resumes by itself; see watch.ts). Ends with a
   * `KeelError` COMPACTED when `fromRevision` is older than the history kept; `cancel()` or
   * leaving the loop stops it.
   */
  watch(target: WatchTarget, options: WatchOptions = {}): KeelWatch {
    this.assertOpen();
    const range = watchRange(target);
    const fromRevision = checkFromRevision(options.fromRevision);
    let lastAddress: string | undefined;
    const isClosed = (): boolean => this.closed;
    let watch: KeelWatch | undefined;
    const streams: WatchStreams = {
      open: async (body, onFrame) => {
        const address = this.router.pick(now());
        const waitMs = this.connections.has(address) ? 0 : this.router.dialWaitMs(address, now());
        if (waitMs > 0) await sleep(waitMs);
        const connection = this.connection(address);
        lastAddress = address;
        const { id, result } = connection.stream(body, onFrame);
        const cancel = (): void => void connection.send({ op: 'watchCancel', watchId: id }, now() + this.options.timeoutMs, 'local').catch(() => undefined);
        return { result, cancel };
      },
      failed: (error) => {
        // A watcher cut off as too slow resumes on the same node; any other failure tries another.
        if (lastAddress !== undefined && error.code !== 'WATCH_OVERFLOW') this.router.failed(lastAddress, now());
      },
      backoff: (attempt) => sleep(Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2)),
      get closed() {
        return isClosed();
      },
      ended: () => {
        if (watch !== undefined) this.watches.delete(watch);
      },
    };
    watch = new KeelWatch(range, { fromRevision, prevKv: options.prevKv === true }, streams);
    this.watches.add(watch);
    return watch;
  }

  /**
   * Compact the history: `revision` becomes the oldest revision a watch can start from. It must
   * not be beyond the revision the answering node knows committed (INVALID_ARGUMENT); compacting to
   * an older revision than the current compaction point changes nothing. Resolves with the
   * revision of the compaction itself and the compaction point now in force.
   */
  async compact(revision: number): Promise<{ readonly revision: number; readonly compactRevision: number }> {
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 1) {
      throw new KeelError('INVALID_ARGUMENT', `compaction revision must be an integer >= 1, got ${describeType(revision)}`);
    }
    const r = await this.run('write', 'compact', () => ({ op: 'compact', revision }), LEADER);
    return { revision: r.revision, compactRevision: r.compactRevision };
  }

  /**
   * Closes every connection. Operations still in flight fail with `CONNECTION_LOST`; leases held
   * stop being kept alive and report their loss. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lease of [...this.leases]) lease.clientClosed();
    clearInterval(this.sweeper);
    for (const w of [...this.watches]) w.abort(new KeelError('CONNECTION_LOST', 'the client was closed'));
    for (const c of [...this.connections.values()]) c.close('was closed by the client');
    this.connections.clear();
  }

  private async addMember(member: NewMember, learner: boolean, force: boolean): Promise<readonly Member[]> {
    const m = checkObject(member, 'member');
    const nodeId = checkNodeId(m.id, 'member id');
    const peerAddress = checkAddress(m.peerAddress, 'peerAddress');
    const clientAddress = checkAddress(m.clientAddress, 'clientAddress');
    const label = learner ? 'memberAddLearner' : 'memberAdd';
    const r = await this.run('admin', 'memberAdd', () => ({ op: 'memberAdd', nodeId, peerAddress, clientAddress, learner, ...(force ? { force } : {}) }), LEADER, label);
    return r.members;
  }

  /**
   * The node for the spread reads of this turn of the event loop: the next in turn, kept until the
   * turn ends. Reads started together (say, the next ones of callers whose reads were answered in
   * one batch) then travel in one write and share one read index on one node, as they would at the
   * leader; spreading each request on its own splits every batch three ways, and each node pays a
   * round (a wake-up, a ReadIndex, a LevelDB read, a write) for a third of the reads.
   */
  private spreadTarget(): string {
    if (this.spreadTurn === undefined) {
      this.spreadTurn = this.router.spread(now());
      setImmediate(this.endSpreadTurn);
    }
    return this.spreadTurn;
  }

  /**
   * The node for an attempt of an operation on `route`. A retry moves on to the next node in turn:
   * the one that failed may be this turn's.
   */
  private pick(route: Route): string {
    return route.to === 'spread' ? this.router.spread(now()) : this.router.pick(now());
  }

  /** How a read of `consistency` is routed (the `reads` option). */
  private readRoute(consistency: Consistency): Route {
    if (this.options.reads === 'spread') return consistency === 'linearizable' ? SPREAD_LINEARIZABLE : SPREAD_SERIALIZABLE;
    return consistency === 'linearizable' ? LEADER : ANY;
  }

  /**
   * Runs a write under a session ticket: the same identity for every attempt. Every caller awaits
   * it in an async method, so its throws reject that method's promise; it is not async itself,
   * which saves an async function's state and promise per write (measured on the bench's puts).
   */
  private write<Op extends 'put' | 'delete' | 'deleteRange' | 'cas' | 'txn' | 'leaseGrant' | 'leaseRevoke'>(
    op: Op,
    build: (session: WriteSession) => RequestBody,
  ): Promise<ClientResults[Op]> {
    this.assertOpen();
    const ticket: WriteTicket = this.sessions.begin();
    return this.run('write', op, () => build(this.sessions.sessionFor(ticket)), LEADER).then(
      (result) => {
        this.sessions.finish(ticket, 'answered');
        return result;
      },
      (error: unknown) => {
        this.sessions.finish(ticket, error instanceof KeelError && !error.definite ? 'indeterminate' : 'answered');
        throw error;
      },
    );
  }

  /**
   * The attempt loop shared by every routed operation. A node whose connection failed before it
   * answered is not dialled again before its reconnect backoff ends (router.ts); when no node can
   * serve anything (nothing listens anywhere, endpoints that are not client ports) the operation
   * fails at once instead of retrying until its deadline.
   */
  private async run<Op extends ClientOp>(
    kind: OpKind,
    op: Op,
    build: () => RequestBody,
    route: Route,
    opName: string = op,
  ): Promise<ClientResults[Op]> {
    this.assertOpen();
    const startMs = now();
    const deadlineMs = startMs + this.options.timeoutMs;
    const retry = new RetryState({ kind, opName, nowMs: startMs, deadlineMs, tuning: this.retryTuning, followHint: this.followHint });
    const watch: Watch = kind === 'admin' ? 'patient' : route.quorum ? 'quorum' : 'local';
    // A search that dialled every node and found none that can serve: fail now (see the catch below).
    // Spread reads need no leader: they skip the search (a failure still checks `hopeless` below).
    if (route.to !== 'spread' && this.router.leaderAddress === undefined && (await this.discover(deadlineMs))) {
      const hopeless = this.router.hopeless();
      if (hopeless !== undefined) throw unreachable(hopeless);
    }
    let target = route.to === 'spread' ? this.spreadTarget() : this.pick(route);
    let last: KeelError | undefined;
    for (;;) {
      const waitMs = this.connections.has(target) ? 0 : this.router.dialWaitMs(target, now());
      if (waitMs > 0) {
        // The next dial of the node is not due before the deadline: nothing more can be tried.
        if (now() + waitMs >= deadlineMs - LAST_ATTEMPT_MS_MIN) throw retry.deadlineExceeded(now(), last ?? this.notRedialled(target));
        await sleep(waitMs);
        if (this.closed) throw retry.abandoned('the client was closed', last ?? new KeelError('CONNECTION_LOST', 'not sent'));
      }
      try {
        // An attempt lasts until the operation's deadline, unless its node stalls (connection.ts).
        const result = await this.connection(target).send(build(), deadlineMs, watch);
        this.router.succeeded(target, route.to === 'leader');
        this.lastTarget = target;
        // The result's shape is the server's contract for `op` (ClientResults).
        return result as ClientResults[Op];
      } catch (error) {
        if (!(error instanceof KeelError)) throw error;
        last = error;
        const t = now();
        const decision = retry.onFailure(error, t);
        if (error.code === 'NOT_LEADER') {
          const hint = error.leaderAddress;
          this.router.redirected(target, hint !== undefined && this.mayContact(hint) ? hint : undefined);
        }
        else if (error.code === 'UNAVAILABLE') this.router.unavailable(target);
        if (decision.action === 'fail') throw decision.error;
        const hopeless = this.router.hopeless();
        if (hopeless !== undefined) throw retry.final(unreachable(hopeless));
        if (this.closed) throw retry.abandoned('the client was closed', error);
        if (decision.avoidFailedNode) this.router.failed(target, t);
        if (decision.delayMs > 0) await sleep(decision.delayMs);
        if (this.closed) throw retry.abandoned('the client was closed', error);
        target = decision.target.kind === 'address' ? decision.target.address : this.pick(route);
      }
    }
  }

  /**
   * Looks for a node to start with when no leader is known: asks the next node in turn for its
   * status and, if it has not answered within a quarter of `stallTimeoutMs`, every other node
   * that may be dialled too; settles at the first answer (a leader is taken as the leader, any
   * other node is tried first), or once every node asked has failed. So one paused or
   * unreachable endpoint costs a fraction of the stall timeout instead of a stall, while healthy
   * nodes see one connection per client as before. At most one search runs at a time and at
   * most one begins per `avoidMs`. Resolves with true when this search asked every known node
   * and none answered.
   */
  private async discover(deadlineMs: number): Promise<boolean> {
    if (this.discovery !== undefined) {
      await this.discovery;
      return false;
    }
    const t = now();
    const known = this.router.known();
    if (known.length < 2 || t - this.lastDiscoveryMs < this.options.avoidMs) return false;
    const first = this.router.next(t);
    if (this.router.dialWaitMs(first, t) > 0) return false;
    this.lastDiscoveryMs = t;
    const statusDeadlineMs = Math.min(deadlineMs, t + this.options.stallTimeoutMs);
    let asked = 0;
    let answered = false;
    this.discovery = new Promise<void>((resolve) => {
      let unsettled = 0;
      const ask = (address: string): void => {
        asked++;
        unsettled++;
        this.connection(address)
          .send({ op: 'status' }, statusDeadlineMs, 'local')
          .then(
            (result) => {
              if (!answered) {
                answered = true;
                if ((result as ClientResults['status']).role === 'leader') this.router.believeLeader(address);
                else this.router.prefer(address);
              }
              resolve();
            },
            (error: unknown) => {
              if (error instanceof KeelError && error.code === 'TIMEOUT') this.router.failed(address, now());
              if (--unsettled === 0 && asked > 1) resolve();
              else if (unsettled === 0) hedge();
            },
          );
      };
      const hedge = (): void => {
        clearTimeout(timer);
        if (answered || asked > 1) return;
        if (this.closed) {
          resolve();
          return;
        }
        const nowMs = now();
        const others = this.router.known().filter((a) => a !== first && this.router.dialWaitMs(a, nowMs) === 0);
        if (others.length === 0 && unsettled === 0) resolve();
        for (const a of others) ask(a);
      };
      const timer = setTimeout(hedge, Math.max(1, this.options.stallTimeoutMs / 4));
      timer.unref();
      ask(first);
    });
    try {
      await this.discovery;
    } finally {
      this.discovery = undefined;
    }
    return !answered && asked === known.length;
  }

  /** The error of an attempt not made because `address` may not be dialled again yet. */
  private notRedialled(address: string): KeelError {
    const f = this.router.lastFailure(address);
    const why = f === undefined ? '' : ` after it ${FAILURE_TEXT[f.kind]} (${f.detail})`;
    return new KeelError('CONNECTION_LOST', `${address} is not dialled again before the deadline${why}`);
  }

  /** Whether the client may send to `address` (any node, unless `followRedirects` is false). */
  private mayContact(address: string): boolean {
    return this.options.followRedirects || this.options.endpoints.includes(address);
  }

  /** The open connection to `address`, opened on first use and re-opened after it closed. */
  private connection(address: string): NodeConnection {
    this.assertOpen();
    const existing = this.connections.get(address);
    if (existing !== undefined && !existing.isClosed) return existing;
    const connection = new NodeConnection(address, {
      now,
      stallMs: this.options.stallTimeoutMs,
      tls: this.options.tls,
      auth: this.options.auth,
      onAnswered: () => this.router.answered(address),
      onClosed: (c) => {
        if (this.connections.get(address) === c) this.connections.delete(address);
        const failure = c.dialFailure;
        if (failure !== undefined) this.router.dialFailed(address, failure, now());
      },
    });
    this.connections.set(address, connection);
    return connection;
  }

  /** The one timer of the client: fails requests past their deadline and probes nodes that show no progress. */
  private sweep(): void {
    const t = now();
    for (const c of this.connections.values()) c.expire(t);
  }

  private assertOpen(): void {
    if (this.closed) throw new KeelError('CONNECTION_LOST', 'the client was closed');
  }
}

/** Below this many milliseconds before the deadline, no dial is waited for. */
const LAST_ATTEMPT_MS_MIN = 20;

const FAILURE_TEXT: Record<DialFailureKind, string> = {
  refused: 'refused the connection',
  unresolvable: 'does not resolve',
  unreachable: 'could not be reached',
  overloaded: 'is overloaded',
  rejected: 'is not a client port',
  tls: 'failed the TLS handshake',
  auth: 'refused the credentials',
  dropped: 'closed the connection',
};

/**
 * The error of an operation that no node can serve (see `Router.hopeless`), with what to check;
 * TLS_FAILED when TLS failed with each, AUTH_FAILED when a node refused the credentials.
 */
function unreachable(failures: ReadonlyArray<readonly [string, DialFailure]>): KeelError {
  // The same TLS set-up fails with every node: a configuration error, reported as such.
  if (failures.every(([, f]) => f.kind === 'tls')) return new KeelError('TLS_FAILED', `no node accepts this client's TLS: ${failures.map(([, f]) => f.detail).join('; ')}`);
  // Wrong credentials: every node would say so.
  const refused = failures.find(([, f]) => f.kind === 'auth');
  if (refused !== undefined) return new KeelError('AUTH_FAILED', refused[1].detail);
  const each = failures.map(([address, f]) => `${address} ${FAILURE_TEXT[f.kind]} (${f.detail})`).join('; ');
  return new KeelError(
    'UNAVAILABLE',
    `no node can be reached: ${each}. Is the cluster running, and are these the client addresses of its nodes?`,
  );
}

/** The smallest key greater than `key` (byte order): `key` followed by a zero byte. */
function keySuccessor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/**
 * One shared, frozen empty object: the default options, and the parts of requests and results
 * that are absent (spread as nothing). Sharing it saves an allocation per call on the hot paths.
 */
const EMPTY: Readonly<Record<string, never>> = Object.freeze({});
const PREV_KV = Object.freeze({ prevKv: true } as const);

/** `{ prevKv: true }` when `options` ask for previous entries. */
function checkPrevKv(options: PrevKvOptions): { readonly prevKv?: true } {
  const prevKv = checkObject(options, 'options').prevKv;
  if (prevKv !== undefined && typeof prevKv !== 'boolean') throw new TypeError(`prevKv must be a boolean, got ${describeType(prevKv)}`);
  return prevKv === true ? PREV_KV : EMPTY;
}

/** A write result's previous entry as a `KvEntry` (or null), when the server sent one. */
function prevKvOf(r: { readonly prevKv?: KeyValue | null }): { prevKv?: KvEntry | null } {
  if (r.prevKv === undefined) return EMPTY;
  return { prevKv: r.prevKv === null ? null : new KvEntry(r.prevKv) };
}

function checkObject<T>(value: T, what: string): T & Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${what} must be an object, got ${describeType(value)}`);
  return value as T & Record<string, unknown>;
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${describeType(value)}`);
  if (value.length === 0 || value.length > AUTH_LIMITS.nameChars) throw new KeelError('INVALID_ARGUMENT', `${what} must have 1 to ${AUTH_LIMITS.nameChars} characters`);
  return value;
}

function checkPassword(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`password must be a string, got ${describeType(value)}`);
  if (value.length === 0) throw new KeelError('INVALID_ARGUMENT', 'password must not be empty');
  return value;
}
