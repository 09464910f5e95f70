/**
 * The client-session table: exactly-once application of retried writes.
 *
 * Every write carries `(clientId, seq, ackedBelow)`. The table remembers, per client, the result of
 * each applied write by `seq`, so a retry that reaches the log again is answered with the first
 * result instead of being applied twice. `ackedBelow` is the client's promise that it has every
 * answer below that seq, so those results are dropped.
 *
 * The table is bounded, and every decision it makes depends only on the sequence of applied
 * entries, so every replica (and every replica restored from a snapshot) decides the same:
 *  - at most `sessionsMax` sessions: beyond that the least recently used session (smallest
 *    `lastApplied` index) is forgotten entirely — a later retry from that client of a write it
 *    sent before is then applied again (the classic limit of session tables, documented);
 *  - at most `resultsPerSessionMax` results per session: beyond that the smallest seq is dropped
 *    and the session's `floor` rises past it;
 *  - at most `resultsTotalMax` results over all sessions: least recently used sessions go first.
 * A write with a seq the table no longer remembers (below `ackedBelow` or `floor`) is not applied:
 * its answer is "forgotten" (the caller answers INDETERMINATE, definite: false).
 *
 * The table lives in memory (it is bounded) and is written through to the store: sessions touched
 * since the last `drainChanges()` are encoded once each and written in the same batch as the
 * entries' other effects — one record per client, however many of its writes the batch holds.
 * Only what identifies a result is remembered: previous entries (`prevKv`, `prevKvs`) and a txn's
 * operation results are not, so the answer to a retried write that had applied lacks them.
 *
 * Every write touches the table, so it changes no JS Map on that path: a Map that lives in old
 * space and has keys deleted and added (an LRU order kept by delete + set, results added at one
 * end and dropped at the other) rehashes its table every few dozen writes, and each table it
 * leaves behind keeps what it held alive until the next full collection. The LRU order is a list
 * through the sessions themselves (`LruList`); a session's results are arrays in seq order.
 * Record layout:
 *   key   = clientId in UTF-8
 *   value = msgpack [lastApplied, ackedBelow, floor, [seq, code, revision, seq, code, revision, …]]
 *           code: 0 put, 1 delete (not found), 2 delete (deleted), 3 txn (failed), 4 txn (succeeded),
 *           5 deleteRange or leaseRevoke, followed by one more element: the number of keys it deleted,
 *           6 leaseGrant, followed by one more element: the TTL (the lease id is the revision)
 */
import { LIMITS, type ClientResults, type WriteSession } from '@keel/protocol';
import { StateMachineError } from './errors.js';
import { LruList, type LruLinks } from './lru-list.js';
import { pack, unpack } from './msgpack.js';

export type WriteResult =
  | ClientResults['put']
  | ClientResults['delete']
  | ClientResults['deleteRange']
  | ClientResults['txn']
  | ClientResults['leaseGrant']
  | ClientResults['leaseRevoke'];

/** Bounds of the table. Part of the replicated state machine: every node must use the same values. */
export interface SessionLimits {
  readonly sessionsMax: number;
  readonly resultsPerSessionMax: number;
  readonly resultsTotalMax: number;
}

/** The limits every Keel node uses. */
export const SESSION_LIMITS: SessionLimits = {
  sessionsMax: 10_000,
  resultsPerSessionMax: LIMITS.inflightPerConnectionMax,
  resultsTotalMax: 1_000_000,
};

export type SessionLookup =
  | { readonly kind: 'new' }
  | { readonly kind: 'duplicate'; readonly result: WriteResult }
  | { readonly kind: 'forgotten' };

/** A session record to write (`value` undefined: delete it). */
export type SessionChange = readonly [key: Uint8Array, value: Uint8Array | undefined];

interface Session extends LruLinks<Session> {
  readonly clientId: string;
  /** Index of the last entry that carried this client's write (LRU order). */
  lastApplied: number;
  /** Every seq below this was answered (the client said so). */
  ackedBelow: number;
  /** Every seq below this may have been dropped because of `resultsPerSessionMax`. */
  floor: number;
  /** Seqs with a remembered result, ascending. */
  readonly seqs: number[];
  /** The result of `seqs[i]` at `results[i]`. */
  readonly results: WriteResult[];
}

export class SessionTable {
  /** Sessions by client id. */
  private readonly sessions = new Map<string, Session>();
  /** The sessions, least recently used first (LRU order; a touched session moves to the end). */
  private readonly lru = new LruList<Session>();
  /** Clients whose record changed since the last `drainChanges()` (a new set each time: never cleared in place). */
  private dirty = new Set<string>();
  private resultsTotal = 0;

  constructor(readonly limits: SessionLimits = SESSION_LIMITS) {}

  /** Number of sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Number of remembered results over all sessions. */
  get resultCount(): number {
    return this.resultsTotal;
  }

  /** What the table knows about write `s` (no change). */
  lookup(s: WriteSession): SessionLookup {
    const session = this.sessions.get(s.clientId);
    if (session === undefined) return NEW;
    const at = position(session.seqs, s.seq);
    if (session.seqs[at] === s.seq) return { kind: 'duplicate', result: session.results[at]! };
    if (s.seq < session.ackedBelow || s.seq < session.floor) return FORGOTTEN;
    return NEW;
  }

  /**
   * Record that the entry at `index` carried write `s`; `result` is its result when it was applied
   * now (undefined for a duplicate or a forgotten write).
   */
  record(s: WriteSession, index: number, result: WriteResult | undefined): void {
    let session = this.sessions.get(s.clientId);
    if (session === undefined) {
      session = { clientId: s.clientId, lastApplied: index, ackedBelow: 0, floor: 0, seqs: [], results: [], older: undefined, newer: undefined };
      this.sessions.set(s.clientId, session);
      this.lru.append(session);
    } else {
      if (!(index > session.lastApplied)) throw new Error(`SessionTable.record: index ${index} not after ${session.lastApplied}`);
      this.lru.touch(session);
    }
    this.dirty.add(s.clientId);
    session.lastApplied = index;

    if (s.ackedBelow > session.ackedBelow) {
      session.ackedBelow = s.ackedBelow;
      let drop = 0;
      while (drop < session.seqs.length && session.seqs[drop]! < s.ackedBelow) drop++;
      this.dropFront(session, drop);
    }
    const at = position(session.seqs, s.seq);
    if (result !== undefined && session.seqs[at] !== s.seq) {
      if (at === session.seqs.length) {
        session.seqs.push(s.seq);
        session.results.push(remembered(result));
      } else {
        session.seqs.splice(at, 0, s.seq);
        session.results.splice(at, 0, remembered(result));
      }
      this.resultsTotal++;
      if (session.seqs.length > this.limits.resultsPerSessionMax) {
        session.floor = Math.max(session.floor, session.seqs[0]! + 1);
        this.dropFront(session, 1);
      }
    }

    while (this.sessions.size > this.limits.sessionsMax || this.resultsTotal > this.limits.resultsTotalMax) {
      const lru = this.lru.oldest!;
      if (lru === session) break; // never evict the session being written
      this.dropFront(lru, lru.seqs.length);
      this.lru.remove(lru);
      this.sessions.delete(lru.clientId);
      this.dirty.add(lru.clientId);
    }
  }

  /** The records changed since the last call, one per client (encoded now), and forget them. */
  drainChanges(): SessionChange[] {
    const changes: SessionChange[] = [];
    for (const clientId of this.dirty) {
      const session = this.sessions.get(clientId);
      changes.push([sessionKey(clientId), session === undefined ? undefined : encodeSession(session)]);
    }
    if (this.dirty.size > 0) this.dirty = new Set();
    return changes;
  }

  /** The sessions as plain data, least recently used first (for tests and diagnostics). */
  describe(): Array<{ clientId: string; lastApplied: number; ackedBelow: number; floor: number; seqs: number[] }> {
    return [...this.lru].map((s) => ({
      clientId: s.clientId,
      lastApplied: s.lastApplied,
      ackedBelow: s.ackedBelow,
      floor: s.floor,
      seqs: [...s.seqs],
    }));
  }

  private dropFront(session: Session, count: number): void {
    if (count === 0) return;
    session.seqs.splice(0, count);
    session.results.splice(0, count);
    this.resultsTotal -= count;
  }

  /** Rebuild a table from its stored records (any order). Throws `StateMachineError('MALFORMED_SESSION')`. */
  static fromRecords(records: Iterable<readonly [Uint8Array, Uint8Array]>, limits: SessionLimits = SESSION_LIMITS): SessionTable {
    const builder = new SessionTableBuilder(limits);
    for (const [key, value] of records) builder.add(key, value);
    return builder.build();
  }
}

/** Collects stored session records one at a time (a snapshot streams them), then builds the table. */
export class SessionTableBuilder {
  private readonly sessions: Session[] = [];
  private readonly seen = new Set<string>();
  private results = 0;

  constructor(private readonly limits: SessionLimits = SESSION_LIMITS) {}

  /** Validate and add one record. Throws `StateMachineError('MALFORMED_SESSION')`. */
  add(key: Uint8Array, value: Uint8Array): void {
    const clientId = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');
    if (clientId.length === 0 || this.seen.has(clientId)) throw malformed('session record with an empty or repeated client id');
    const session = decodeSession(clientId, value);
    if (session.seqs.length > this.limits.resultsPerSessionMax) throw malformed(`session ${clientId} has too many results`);
    this.seen.add(clientId);
    this.sessions.push(session);
    this.results += session.seqs.length;
    if (this.sessions.length > this.limits.sessionsMax || this.results > this.limits.resultsTotalMax) {
      throw malformed('session records exceed the table limits');
    }
  }

  build(): SessionTable {
    const table = new SessionTable(this.limits);
    const internals = table as unknown as { sessions: Map<string, Session>; lru: LruList<Session>; resultsTotal: number };
    for (const session of [...this.sessions].sort((a, b) => a.lastApplied - b.lastApplied)) {
      internals.sessions.set(session.clientId, session);
      internals.lru.append(session);
    }
    internals.resultsTotal = this.results;
    return table;
  }
}

const NEW: SessionLookup = { kind: 'new' };
const FORGOTTEN: SessionLookup = { kind: 'forgotten' };

const CODE_PUT = 0;
const CODE_DELETE_MISSING = 1;
const CODE_DELETE_DONE = 2;
const CODE_TXN_FAILED = 3;
const CODE_TXN_DONE = 4;
const CODE_DELETE_RANGE = 5;
const CODE_LEASE_GRANT = 6;

/** How many elements a result with `code` takes in the flat list. */
function resultWidth(code: unknown): number {
  return code === CODE_DELETE_RANGE || code === CODE_LEASE_GRANT ? 4 : 3;
}

/** What the table keeps of a result: no previous entries, no txn results. */
function remembered(r: WriteResult): WriteResult {
  if ('succeeded' in r) return { revision: r.revision, succeeded: r.succeeded };
  if ('ttl' in r) return { revision: r.revision, lease: r.lease, ttl: r.ttl };
  if ('deleted' in r) {
    const deleted = r.deleted;
    return typeof deleted === 'number' ? { revision: r.revision, deleted } : { revision: r.revision, deleted };
  }
  return { revision: r.revision };
}

function sessionKey(clientId: string): Uint8Array {
  return Buffer.from(clientId, 'utf8');
}

function encodeSession(s: Session): Uint8Array {
  const flat: number[] = [];
  for (let i = 0; i < s.seqs.length; i++) {
    const seq = s.seqs[i]!;
    const r = s.results[i]!;
    if ('deleted' in r && typeof r.deleted === 'number') {
      flat.push(seq, CODE_DELETE_RANGE, r.revision, r.deleted);
      continue;
    }
    if ('ttl' in r) {
      flat.push(seq, CODE_LEASE_GRANT, r.revision, r.ttl);
      continue;
    }
    const code =
      'deleted' in r ? (r.deleted ? CODE_DELETE_DONE : CODE_DELETE_MISSING) : 'succeeded' in r ? (r.succeeded ? CODE_TXN_DONE : CODE_TXN_FAILED) : CODE_PUT;
    flat.push(seq, code, r.revision);
  }
  return pack([s.lastApplied, s.ackedBelow, s.floor, flat]);
}

function decodeSession(clientId: string, value: Uint8Array): Session {
  let a: unknown;
  try {
    a = unpack(value);
  } catch (cause) {
    throw new StateMachineError('MALFORMED_SESSION', `session ${clientId} is not valid msgpack`, { cause });
  }
  if (!Array.isArray(a) || a.length !== 4 || !isCount(a[0]) || !isCount(a[1]) || !isCount(a[2]) || !Array.isArray(a[3])) {
    throw malformed(`session ${clientId} is not [lastApplied, ackedBelow, floor, results]`);
  }
  const flat = a[3] as unknown[];
  if (!flat.every(isCount)) throw malformed(`session ${clientId} results are malformed`);
  const seqs: number[] = [];
  const results: WriteResult[] = [];
  for (let k = 0; k < flat.length; k += resultWidth(flat[k + 1])) {
    if (k + resultWidth(flat[k + 1]) > flat.length) throw malformed(`session ${clientId} results are malformed`);
    const seq = flat[k] as number;
    const revision = flat[k + 2] as number;
    if (seqs.length > 0 && seq <= seqs[seqs.length - 1]!) throw malformed(`session ${clientId} results are not in seq order`);
    let result: WriteResult;
    switch (flat[k + 1]) {
      case CODE_DELETE_RANGE: result = { revision, deleted: flat[k + 3] as number }; break;
      case CODE_LEASE_GRANT: result = { revision, lease: revision, ttl: flat[k + 3] as number }; break;
      case CODE_PUT: result = { revision }; break;
      case CODE_DELETE_MISSING: result = { revision, deleted: false }; break;
      case CODE_DELETE_DONE: result = { revision, deleted: true }; break;
      case CODE_TXN_FAILED: result = { revision, succeeded: false }; break;
      case CODE_TXN_DONE: result = { revision, succeeded: true }; break;
      default: throw malformed(`session ${clientId} has an unknown result code`);
    }
    seqs.push(seq);
    results.push(result);
  }
  return { clientId, lastApplied: a[0], ackedBelow: a[1], floor: a[2], seqs, results, older: undefined, newer: undefined };
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Where `seq` is in the ascending `seqs`, or would go: the first position whose seq is not below it. */
function position(seqs: readonly number[], seq: number): number {
  let lo = 0;
  let hi = seqs.length;
  if (hi > 0 && seqs[hi - 1]! < seq) return hi; // a new write: after every remembered one
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid]! < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function malformed(message: string): StateMachineError {
  return new StateMachineError('MALFORMED_SESSION', message);
}
