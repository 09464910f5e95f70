/**
 * The simulated clients: each runs one operation at a time against the cluster — put, delete,
 * range delete and CAS under a write session (retried with the same `(clientId, seq)` after a
 * lost answer, so exactly-once application is what makes retries safe; puts and deletes
 * sometimes ask for the previous entries), linearizable and serializable gets and linearizable
 * scans — through the node core's request handling, exactly as the client port hands it requests
 * (`validateClientRequest`, then `NodeCore.handle`). Every operation becomes one history entry
 * per key it touches: `ok`, `fail` (definitely no effect) or unknown (it may have applied). A
 * range delete is a delete of each key in its range, checked key by key (its atomicity across
 * keys is not); with `prevKv`, each answer says what the key held before. A txn compares one
 * key's value (or absence) and then writes it and another key and reads a third, or reads the
 * first when the compare fails: a CAS on its key, a write of the other (applied only with the
 * CAS: unknown-outcome writes may apply at any time, so this is what the checker assumes when the
 * outcome is unknown) and a read of the third, each checked on its key.
 */
import { KeelError, validateClientRequest, type ClientRequest, type ClientResults, type KeyValue, type WriteSession } from '@keel/protocol';
import type { NodeId, SeededRng } from '@keel/raft';
import type { HistoryOp, RegisterOp, RegisterValue } from './linearizability.js';

/** What the clients need from the simulator. */
export interface ClientWorld {
  readonly now: number;
  /** The node clients believe leads (up, highest term), if any. */
  leader(): NodeId | undefined;
  /** Up members. */
  upNodes(): NodeId[];
  /**
   * Send `request` to `node`; `answer` is called once with the result or the error (a node that
   * dies first answers CONNECTION_LOST, outcome unknown).
   */
  send(node: NodeId, request: ClientRequest, answer: (result: unknown, error: KeelError | undefined) => void): void;
  /** A write acknowledged with `revision`: the committed entry there must be this write. */
  acknowledged(clientId: string, seq: number, revision: number): void;
}

export interface ClientCounters {
  clientOps: number;
  clientOk: number;
  clientFailed: number;
  clientUnknown: number;
  clientAttempts: number;
  clientRetries: number;
  /** Range deletes answered (each checked as a delete of every key in its range). */
  rangeDeletes: number;
  /** Txns answered (each checked as a CAS, a write and a read, or a CAS and a read). */
  txns: number;
}

export const KEYS = ['k0', 'k1', 'k2', 'k3'];
/** An attempt not answered within this many time units is given up (the answer may still come). */
const ATTEMPT_TIMEOUT_UNITS = 400;
const ATTEMPTS_MAX = 6;

/** A range of KEYS to delete: `[start, end)`. */
interface KeyRange {
  readonly start: string;
  readonly end: string;
}

type Intent =
  | { readonly kind: 'put'; readonly key: string; readonly value: string; readonly prevKv: boolean }
  | { readonly kind: 'delete'; readonly key: string; readonly prevKv: boolean }
  | { readonly kind: 'deleteRange'; readonly range: KeyRange; readonly prevKv: boolean }
  | { readonly kind: 'cas'; readonly key: string; readonly expect: RegisterValue; readonly value: string }
  | {
      readonly kind: 'txn';
      readonly key: string;
      readonly expect: RegisterValue;
      readonly value: string;
      /** Written with `value` when the compare holds. */
      readonly other: string;
      readonly otherValue: string;
      /** Read when the compare holds. */
      readonly read: string;
    }
  | { readonly kind: 'get'; readonly key: string; readonly consistency: 'linearizable' | 'serializable' }
  | { readonly kind: 'scan' };

interface Running {
  readonly intent: Intent;
  readonly call: number;
  readonly seq: number | undefined;
  attempts: number;
  /** Some attempt may have taken effect (a write whose answer was lost or indeterminate). */
  mayHaveApplied: boolean;
  /** Identity of the attempt whose answer counts. */
  attempt: number;
  deadline: number;
  retryAt: number | undefined;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

class SimClient {
  readonly clientId: string;
  private seq = 0;
  running: Running | undefined;
  private lastSeen = new Map<string, RegisterValue>();

  constructor(readonly index: number) {
    this.clientId = `client-${index}`;
  }

  start(intent: Intent, now: number): Running {
    const isWrite = intent.kind !== 'get' && intent.kind !== 'scan';
    this.running = { intent, call: now, seq: isWrite ? ++this.seq : undefined, attempts: 0, mayHaveApplied: false, attempt: 0, deadline: 0, retryAt: now };
    return this.running;
  }

  session(seq: number): WriteSession {
    // One operation at a time: every earlier seq was answered.
    return { clientId: this.clientId, seq, ackedBelow: seq };
  }

  seen(key: string): RegisterValue {
    return this.lastSeen.get(key) ?? null;
  }

  remember(key: string, value: RegisterValue): void {
    this.lastSeen.set(key, value);
  }
}

export class SimClients {
  private readonly clients: SimClient[];
  private requestId = 0;
  private writeSeq = 0;
  /** Linearizable history per key. */
  readonly history = new Map<string, HistoryOp[]>();
  /** Every value ever written per key (serializable reads must return one of them, or null). */
  private readonly written = new Map<string, Set<string>>();
  /** Serializable reads: [key, value] to check against `written` at the end. */
  readonly serializableReads: Array<{ key: string; value: RegisterValue; label: string }> = [];

  constructor(
    count: number,
    private readonly rng: SeededRng,
    private readonly world: ClientWorld,
    private readonly counters: ClientCounters,
    /** Chance per tick that an idle client starts an operation. */
    private readonly rate: number,
  ) {
    this.clients = Array.from({ length: count }, (_, i) => new SimClient(i + 1));
    for (const k of KEYS) this.history.set(k, []);
  }

  /** Once per tick: start operations, retry and time out attempts. */
  onTick(active: boolean): void {
    const now = this.world.now;
    for (const c of this.clients) {
      const r = c.running;
      if (r === undefined) {
        if (active && this.rng.chance(this.rate)) {
          this.counters.clientOps++;
          c.start(this.intent(c), now);
          this.attempt(c);
        }
        continue;
      }
      if (r.retryAt !== undefined && now >= r.retryAt) this.attempt(c);
      else if (r.retryAt === undefined && now >= r.deadline) this.failedAttempt(c);
    }
  }

  /** The run is over: operations still running have unknown outcomes. */
  finish(): void {
    for (const c of this.clients) if (c.running !== undefined) this.settle(c, { kind: 'unknown' });
  }

  private intent(c: SimClient): Intent {
    const key = KEYS[this.rng.nextInt(KEYS.length)]!;
    const roll = this.rng.nextFloat();
    if (roll < 0.33) return { kind: 'put', key, value: `v${++this.writeSeq}`, prevKv: this.rng.chance(0.3) };
    if (roll < 0.39) return { kind: 'delete', key, prevKv: this.rng.chance(0.3) };
    if (roll < 0.43) return { kind: 'deleteRange', range: this.range(), prevKv: this.rng.chance(0.5) };
    if (roll < 0.5) return { kind: 'cas', key, expect: c.seen(key), value: `v${++this.writeSeq}` };
    if (roll < 0.6) {
      const [other, read] = this.rng.shuffle(KEYS.filter((k) => k !== key));
      return { kind: 'txn', key, expect: c.seen(key), value: `v${++this.writeSeq}`, other: other!, otherValue: `v${++this.writeSeq}`, read: read! };
    }
    if (roll < 0.85) return { kind: 'get', key, consistency: 'linearizable' };
    if (roll < 0.95) return { kind: 'get', key, consistency: 'serializable' };
    return { kind: 'scan' };
  }

  /** Every key (the prefix "k"), or `[KEYS[a], KEYS[b])` where the end may lie past the last key. */
  private range(): KeyRange {
    if (this.rng.chance(0.3)) return { start: 'k', end: 'l' };
    const a = this.rng.nextInt(KEYS.length);
    const b = a + 1 + this.rng.nextInt(KEYS.length - a);
    return { start: KEYS[a]!, end: KEYS[b] ?? `k${KEYS.length}` };
  }

  private request(c: SimClient, r: Running): ClientRequest {
    const id = ++this.requestId;
    const i = r.intent;
    const raw = ((): Record<string, unknown> => {
      switch (i.kind) {
        case 'put':
          return { id, op: 'put', key: enc.encode(i.key), value: enc.encode(i.value), prevKv: i.prevKv, session: c.session(r.seq!) };
        case 'delete':
          return { id, op: 'delete', key: enc.encode(i.key), prevKv: i.prevKv, session: c.session(r.seq!) };
        case 'deleteRange':
          return { id, op: 'deleteRange', start: enc.encode(i.range.start), end: enc.encode(i.range.end), prevKv: i.prevKv, session: c.session(r.seq!) };
        case 'cas':
          return {
            id,
            op: 'cas',
            key: enc.encode(i.key),
            expect: i.expect === null ? { absent: true } : { value: enc.encode(i.expect) },
            value: enc.encode(i.value),
            session: c.session(r.seq!),
          };
        case 'txn':
          return {
            id,
            op: 'txn',
            compare: [i.expect === null ? { key: enc.encode(i.key), target: 'exists', value: false } : { key: enc.encode(i.key), target: 'value', op: '=', value: enc.encode(i.expect) }],
            success: [
              { op: 'put', key: enc.encode(i.key), value: enc.encode(i.value) },
              { op: 'put', key: enc.encode(i.other), value: enc.encode(i.otherValue) },
              { op: 'get', key: enc.encode(i.read) },
            ],
            failure: [{ op: 'get', key: enc.encode(i.key) }],
            session: c.session(r.seq!),
          };
        case 'get':
          return { id, op: 'get', key: enc.encode(i.key), consistency: i.consistency };
        case 'scan':
          return { id, op: 'scan', prefix: enc.encode('k'), limit: 100, consistency: 'linearizable' };
      }
    })();
    // The client port's validation, then the core: the same path as a request over TCP.
    return validateClientRequest(raw);
  }

  private attempt(c: SimClient): void {
    const r = c.running!;
    if (r.attempts >= ATTEMPTS_MAX) {
      this.settle(c, r.mayHaveApplied ? { kind: 'unknown' } : { kind: 'fail' });
      return;
    }
    const target = this.target(r);
    if (target === undefined) {
      r.retryAt = this.world.now + 20;
      return;
    }
    r.attempts++;
    if (r.attempts > 1) this.counters.clientRetries++;
    this.counters.clientAttempts++;
    const attempt = ++r.attempt;
    r.retryAt = undefined;
    r.deadline = this.world.now + ATTEMPT_TIMEOUT_UNITS;
    this.world.send(target, this.request(c, r), (result, error) => {
      if (c.running !== r || r.attempt !== attempt) return; // a late answer to an abandoned attempt
      if (error === undefined) this.succeeded(c, result);
      else this.failed(c, error);
    });
  }

  private target(r: Running): NodeId | undefined {
    const up = this.world.upNodes();
    if (up.length === 0) return undefined;
    const leader = this.world.leader();
    // Mostly the leader; sometimes any node (followers forward reads, answer writes NOT_LEADER).
    if (leader !== undefined && (r.intent.kind !== 'get' || this.rng.chance(0.6)) && this.rng.chance(0.85)) return leader;
    return up[this.rng.nextInt(up.length)]!;
  }

  private failed(c: SimClient, error: KeelError): void {
    const r = c.running!;
    const isWrite = r.seq !== undefined;
    if (isWrite && !error.definite) r.mayHaveApplied = true;
    // Definite refusals (not leader, overloaded, …) and unknown outcomes alike: retry, same identity.
    r.retryAt = this.world.now + 5 + this.rng.nextInt(20);
  }

  /** The attempt's answer did not come in time (it may still come: it is ignored then). */
  private failedAttempt(c: SimClient): void {
    const r = c.running!;
    if (r.seq !== undefined) r.mayHaveApplied = true;
    r.retryAt = this.world.now;
  }

  private succeeded(c: SimClient, result: unknown): void {
    const r = c.running!;
    const i = r.intent;
    switch (i.kind) {
      case 'put': {
        const w = result as ClientResults['put'];
        this.world.acknowledged(c.clientId, r.seq!, w.revision);
        this.settle(c, { kind: 'ok', op: { f: 'write', value: i.value, ...previous(w.prevKv) } });
        c.remember(i.key, i.value);
        return;
      }
      case 'delete': {
        const w = result as ClientResults['delete'];
        this.world.acknowledged(c.clientId, r.seq!, w.revision);
        this.settle(c, { kind: 'ok', op: { f: 'delete', deleted: w.deleted, ...previous(w.prevKv) } });
        c.remember(i.key, null);
        return;
      }
      case 'deleteRange': {
        const w = result as ClientResults['deleteRange'];
        this.world.acknowledged(c.clientId, r.seq!, w.revision);
        this.counters.rangeDeletes++;
        // With the deleted entries (a retry answered from the session table has none): each key's
        // previous value; else only that the key is gone.
        const before = w.prevKvs === undefined ? undefined : new Map(w.prevKvs.map((kv) => [dec.decode(kv.key), dec.decode(kv.value)]));
        this.settle(c, {
          kind: 'ok',
          ops: keysIn(i.range).map((key) => {
            const prev = before === undefined ? undefined : (before.get(key) ?? null);
            return { key, op: prev === undefined ? { f: 'delete' } : { f: 'delete', deleted: prev !== null, prev } };
          }),
        });
        for (const key of keysIn(i.range)) c.remember(key, null);
        return;
      }
      case 'cas': {
        const w = result as ClientResults['cas'];
        this.world.acknowledged(c.clientId, r.seq!, w.revision);
        this.settle(c, { kind: 'ok', op: { f: 'cas', expect: i.expect, value: i.value, succeeded: w.succeeded } });
        if (w.succeeded) c.remember(i.key, i.value);
        return;
      }
      case 'txn': {
        const t = result as ClientResults['txn'];
        this.world.acknowledged(c.clientId, r.seq!, t.revision);
        this.counters.txns++;
        // The reads' results (absent when a retry was answered from the session table).
        const got = t.results?.map((x) => (x.op === 'get' ? (x.kv === null ? null : dec.decode(x.kv.value)) : undefined));
        const ops: Array<{ key: string; op: RegisterOp }> = [{ key: i.key, op: { f: 'cas', expect: i.expect, value: i.value, succeeded: t.succeeded } }];
        if (t.succeeded) {
          ops.push({ key: i.other, op: { f: 'write', value: i.otherValue } });
          if (got !== undefined) ops.push({ key: i.read, op: { f: 'read', value: got[2]! } });
          c.remember(i.key, i.value);
          c.remember(i.other, i.otherValue);
        } else if (got !== undefined) {
          ops.push({ key: i.key, op: { f: 'read', value: got[0]! } });
          c.remember(i.key, got[0]!);
        }
        this.settle(c, { kind: 'ok', ops });
        return;
      }
      case 'get': {
        const g = result as ClientResults['get'];
        const value = g.kv === null ? null : dec.decode(g.kv.value);
        c.remember(i.key, value);
        if (i.consistency === 'serializable') {
          this.serializableReads.push({ key: i.key, value, label: c.clientId });
          this.counters.clientOk++;
          c.running = undefined;
          return;
        }
        this.settle(c, { kind: 'ok', op: { f: 'read', value } });
        return;
      }
      case 'scan': {
        const s = result as ClientResults['scan'];
        const values = new Map(s.kvs.map((kv) => [dec.decode(kv.key), dec.decode(kv.value)]));
        for (const key of KEYS) {
          const value = values.get(key) ?? null;
          c.remember(key, value);
          this.history.get(key)!.push({ call: r.call, ret: this.world.now, op: { f: 'read', value }, label: `${c.clientId} scan` });
        }
        this.counters.clientOk++;
        c.running = undefined;
        return;
      }
    }
  }

  /** Ends the running operation: an answer (`op` on its key, or `ops` on several), a definite failure, or unknown. */
  private settle(
    c: SimClient,
    outcome: { kind: 'ok'; op: RegisterOp } | { kind: 'ok'; ops: ReadonlyArray<{ key: string; op: RegisterOp }> } | { kind: 'fail' } | { kind: 'unknown' },
  ): void {
    const r = c.running!;
    c.running = undefined;
    const i = r.intent;
    if (i.kind === 'put' || i.kind === 'cas' || i.kind === 'txn') this.wrote(i.key, i.value);
    if (i.kind === 'txn') this.wrote(i.other, i.otherValue);
    if (outcome.kind === 'fail') {
      this.counters.clientFailed++;
      return; // no effect: not part of the history
    }
    const label = `${c.clientId} ${i.kind}${r.seq !== undefined ? `#${r.seq}` : ''}`;
    if (outcome.kind === 'ok') {
      this.counters.clientOk++;
      const ops = 'ops' in outcome ? outcome.ops : [{ key: (i as { key: string }).key, op: outcome.op }];
      for (const { key, op } of ops) this.history.get(key)!.push({ call: r.call, ret: this.world.now, op, label });
      return;
    }
    this.counters.clientUnknown++;
    if (i.kind === 'get' || i.kind === 'scan') return; // a read without an answer has no effect
    const ops: Array<{ key: string; op: RegisterOp }> =
      i.kind === 'put'
        ? [{ key: i.key, op: { f: 'write', value: i.value } }]
        : i.kind === 'delete'
          ? [{ key: i.key, op: { f: 'delete' } }]
          : i.kind === 'deleteRange'
            ? keysIn(i.range).map((key) => ({ key, op: { f: 'delete' } }))
            : i.kind === 'txn'
              ? [
                  { key: i.key, op: { f: 'cas', expect: i.expect, value: i.value } },
                  { key: i.other, op: { f: 'write', value: i.otherValue } },
                ]
              : [{ key: i.key, op: { f: 'cas', expect: i.expect, value: i.value } }];
    for (const { key, op } of ops) this.history.get(key)!.push({ call: r.call, ret: Number.POSITIVE_INFINITY, op, label: `${label} (unknown)` });
  }

  private wrote(key: string, value: string): void {
    let set = this.written.get(key);
    if (set === undefined) this.written.set(key, (set = new Set()));
    set.add(value);
  }

  /** Values a serializable read may return for `key`: any value written to it, or absence. */
  mayHold(key: string, value: RegisterValue): boolean {
    return value === null || (this.written.get(key)?.has(value) ?? false);
  }
}

/** The KEYS a range delete covers. */
function keysIn(range: KeyRange): string[] {
  return KEYS.filter((key) => key >= range.start && key < range.end);
}

/** `{ prev }` from an answer's previous entry; nothing when the answer did not carry one (a retry's). */
function previous(kv: KeyValue | null | undefined): { prev?: RegisterValue } {
  return kv === undefined ? {} : { prev: kv === null ? null : dec.decode(kv.value) };
}
