/**
 * {@link KeelClient}: the public client. Validates at the boundary, then runs each operation as a
 * series of attempts: route (router.ts), send (connection.ts), decide (retry.ts), with writes
 * identified by a write session (session.ts) so that retries apply at most once.
 */
import { randomUUID } from 'node:crypto';
import { KeelError } from '@keel/protocol';
import type { ClientOp, ClientResults, Consistency, Member, StateDigest, WriteSession } from '@keel/protocol';
import { NodeConnection } from './connection.js';
import type { RequestBody, Watch } from './connection.js';
import { KvEntry } from './entry.js';
import { resolveOptions } from './options.js';
import type { KeelClientOptions, ResolvedOptions } from './options.js';
import type { CasResult, DeleteResult, EndpointStatus, MemberList, NewMember, PutResult, ScanResult } from './results.js';
import { RetryState } from './retry.js';
import type { OpKind } from './retry.js';
import { Router } from './router.js';
import { WriteSessionTracker } from './session.js';
import type { WriteTicket } from './session.js';
import {
  checkAddress,
  checkCasCondition,
  checkConsistency,
  checkKey,
  checkNodeId,
  checkRequestSize,
  checkScanLimit,
  checkScanRange,
  checkValue,
  parseAddress,
} from './validate.js';
import type { CasCondition, ScanRange } from './validate.js';
import type { BytesInput } from './bytes.js';
import { describeType } from './bytes.js';

/** Options of a read. */
export interface ReadOptions {
  /** `linearizable` (default): reflects every write acknowledged before the read began. `serializable`: may be stale. */
  readonly consistency?: Consistency;
}

/** Options of a scan. */
export interface ScanOptions extends ReadOptions {
  /** Most entries to return, 1..10000. Default 1000. */
  readonly limit?: number;
}

const now = (): number => performance.now();
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
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  /** The node that answered the last successful attempt (for memberList's leader check). */
  private lastTarget: string | undefined;

  constructor(options: KeelClientOptions) {
    this.options = resolveOptions(options);
    this.router = new Router(this.options.endpoints, { avoidMs: this.options.avoidMs });
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepMs);
    this.sweeper.unref();
  }

  /** The endpoints this client was given, validated. */
  get endpoints(): readonly string[] {
    return this.options.endpoints;
  }

  /** The client id that identifies this client's writes (it changes after an indeterminate write). */
  get clientId(): string {
    return this.sessions.clientId;
  }

  /** Writes `value` under `key`. */
  async put(key: BytesInput, value: BytesInput): Promise<PutResult> {
    const k = checkKey(key);
    const v = checkValue(value);
    checkRequestSize(k.length + v.length);
    const r = await this.write('put', (session) => ({ op: 'put', key: k, value: v, session }));
    return { revision: r.revision };
  }

  /** Reads `key`; `null` when it does not exist. */
  async get(key: BytesInput, options: ReadOptions = {}): Promise<KvEntry | null> {
    const k = checkKey(key);
    const consistency = checkConsistency(checkObject(options, 'get options').consistency);
    const r = await this.run('read', 'get', () => ({ op: 'get', key: k, consistency }), consistency === 'linearizable');
    return r.kv === null ? null : new KvEntry(r.kv);
  }

  /** Deletes `key`; `deleted` is false when it did not exist. */
  async delete(key: BytesInput): Promise<DeleteResult> {
    const k = checkKey(key);
    const r = await this.write('delete', (session) => ({ op: 'delete', key: k, session }));
    return { revision: r.revision, deleted: r.deleted };
  }

  /**
   * Compare-and-swap: writes `newValue` only if `key` currently holds `expectValue`, was last
   * written at `expectRevision`, or (with `expectAbsent: true`) does not exist.
   */
  async cas(key: BytesInput, condition: CasCondition, newValue: BytesInput): Promise<CasResult> {
    const k = checkKey(key);
    const expect = checkCasCondition(condition);
    const v = checkValue(newValue, 'newValue');
    checkRequestSize(k.length + v.length + ('value' in expect ? expect.value.length : 0));
    const r = await this.write('cas', (session) => ({ op: 'cas', key: k, expect, value: v, session }));
    return { succeeded: r.succeeded, revision: r.revision };
  }

  /** Lists keys in a range, in ascending byte order, with their values. */
  async scan(range: ScanRange, options: ScanOptions = {}): Promise<ScanResult> {
    const wire = checkScanRange(range);
    const o = checkObject(options, 'scan options');
    const limit = checkScanLimit(o.limit);
    const consistency = checkConsistency(o.consistency);
    const r = await this.run('read', 'scan', () => ({ op: 'scan', ...wire, limit, consistency }), consistency === 'linearizable');
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
   * unreachable node: its entry carries the error instead.
   */
  async status(): Promise<EndpointStatus[]> {
    this.assertOpen();
    return Promise.all(
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
    let r = await this.run('read', 'memberList', () => ({ op: 'memberList' }), false);
    const leaderAddress = r.members.find((m) => m.id === r.leader)?.clientAddress;
    if (leaderAddress !== undefined && parseAddress(leaderAddress) !== undefined && leaderAddress !== this.lastTarget && this.mayContact(leaderAddress)) {
      this.router.redirected(this.lastTarget ?? leaderAddress, leaderAddress);
      r = await this.run('read', 'memberList', () => ({ op: 'memberList' }), false);
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
    return (await this.run('admin', 'memberPromote', () => ({ op: 'memberPromote', nodeId }), true)).members;
  }

  /** Removes member `id` from the cluster. */
  async memberRemove(id: number): Promise<readonly Member[]> {
    const nodeId = checkNodeId(id);
    return (await this.run('admin', 'memberRemove', () => ({ op: 'memberRemove', nodeId }), true)).members;
  }

  /** Asks the leader to hand leadership to voter `to`; resolves with the leader afterwards. */
  async transferLeader(to: number): Promise<{ readonly leader: number }> {
    const id = checkNodeId(to, 'to');
    const r = await this.run('admin', 'leaderTransfer', () => ({ op: 'leaderTransfer', to: id }), true);
    return { leader: r.leader };
  }

  /** Closes every connection. Operations still in flight fail with `CONNECTION_LOST`. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const c of [...this.connections.values()]) c.close('was closed by the client');
    this.connections.clear();
  }

  private async addMember(member: NewMember, learner: boolean, force: boolean): Promise<readonly Member[]> {
    const m = checkObject(member, 'member');
    const nodeId = checkNodeId(m.id, 'member id');
    const peerAddress = checkAddress(m.peerAddress, 'peerAddress');
    const clientAddress = checkAddress(m.clientAddress, 'clientAddress');
    const label = learner ? 'memberAddLearner' : 'memberAdd';
    const r = await this.run('admin', 'memberAdd', () => ({ op: 'memberAdd', nodeId, peerAddress, clientAddress, learner, ...(force ? { force } : {}) }), true, label);
    return r.members;
  }

  /** Runs a write under a session ticket: the same identity for every attempt. */
  private async write<Op extends 'put' | 'delete' | 'cas'>(
    op: Op,
    build: (session: WriteSession) => RequestBody,
  ): Promise<ClientResults[Op]> {
    this.assertOpen();
    const ticket: WriteTicket = this.sessions.begin();
    try {
      const result = await this.run('write', op, () => build(this.sessions.sessionFor(ticket)), true);
      this.sessions.finish(ticket, 'answered');
      return result;
    } catch (error) {
      this.sessions.finish(ticket, error instanceof KeelError && !error.definite ? 'indeterminate' : 'answered');
      throw error;
    }
  }

  /** The attempt loop shared by every routed operation. */
  private async run<Op extends ClientOp>(
    kind: OpKind,
    op: Op,
    build: () => RequestBody,
    leaderOnly: boolean,
    opName: string = op,
  ): Promise<ClientResults[Op]> {
    this.assertOpen();
    const startMs = now();
    const deadlineMs = startMs + this.options.timeoutMs;
    const retry = new RetryState({
      kind,
      opName,
      nowMs: startMs,
      deadlineMs,
      tuning: { backoffBaseMs: this.options.backoffBaseMs, backoffMaxMs: this.options.backoffMaxMs, immediateRedirectsMax: 3 },
      followHint: (address) => this.mayContact(address),
    });
    const watch: Watch = kind === 'admin' ? 'patient' : leaderOnly ? 'quorum' : 'local';
    let target = this.router.pick(startMs);
    for (;;) {
      try {
        // An attempt lasts until the operation's deadline, unless its node stalls (connection.ts).
        const result = await this.connection(target).send(build(), deadlineMs, watch);
        this.router.succeeded(target, leaderOnly);
        this.lastTarget = target;
        // The result's shape is the server's contract for `op` (ClientResults).
        return result as ClientResults[Op];
      } catch (error) {
        if (!(error instanceof KeelError)) throw error;
        const t = now();
        const decision = retry.onFailure(error, t);
        if (error.code === 'NOT_LEADER') {
          const hint = error.leaderAddress;
          this.router.redirected(target, hint !== undefined && this.mayContact(hint) ? hint : undefined);
        }
        else if (error.code === 'UNAVAILABLE') this.router.unavailable(target);
        if (decision.action === 'fail') throw decision.error;
        if (this.closed) throw retry.abandoned('the client was closed', error);
        if (decision.avoidFailedNode) this.router.failed(target, t);
        if (decision.delayMs > 0) await sleep(decision.delayMs);
        if (this.closed) throw retry.abandoned('the client was closed', error);
        target = decision.target.kind === 'address' ? decision.target.address : this.router.pick(now());
      }
    }
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
      onClosed: (c) => {
        if (this.connections.get(address) === c) this.connections.delete(address);
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

/** The smallest key greater than `key` (byte order): `key` followed by a zero byte. */
function keySuccessor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** `[start, end)` covering exactly the keys that start with `prefix`. */
function prefixBounds(prefix: Uint8Array): { start: Uint8Array; end?: Uint8Array } {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = end[i]! + 1;
      return { start: prefix, end };
    }
  }
  return { start: prefix }; // all 0xff: no upper bound
}

function checkObject<T>(value: T, what: string): T & Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${what} must be an object, got ${describeType(value)}`);
  return value as T & Record<string, unknown>;
}
