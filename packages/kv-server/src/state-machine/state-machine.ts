/**
 * The replicated state machine: applies committed entries to user data, the session table and
 * the membership. Logic over an in-memory overlay (kv-state.ts) — the store reads every key a
 * batch's single-key operations touch in one `getMany` before `execute`, and writes the effects
 * `execute` reports in one batch afterwards, so applying hundreds of entries costs one read and
 * one write. Ranges are read from the store (through `RangeReader`) when they apply: the state
 * they see is the store before the batch with the overlay of the batch's earlier entries on top,
 * the same on every replica however the entries were batched.
 *
 * Semantics (each write's revision is its log index; the operations are in operations.ts):
 *  - put, delete: the operation alone.
 *  - deleteRange: the operation alone, all or nothing: a range holding more than
 *    `LIMITS.deleteRangeKeysMax` keys or `LIMITS.deleteRangeBytesMax` bytes of entries (the
 *    history records each), or (with `prevKv`) more than
 *    `LIMITS.deleteRangePrevKvBytesMax` of entries, is answered TOO_LARGE and nothing is deleted.
 *  - txn: compares, then one branch of operations, all or nothing (txn.ts).
 *  - leaseGrant: a lease with the entry's index as its id (TOO_LARGE past `LIMITS.leasesMax`).
 *  - leaseRevoke: deletes the lease's keys and the lease (LEASE_NOT_FOUND when there is none).
 *  - leaseExpire (the leader's, no session): as a revoke; nothing when the lease is gone already.
 *  - compact: makes its revision the oldest one the history keeps (history.ts), unless it is
 *    older than that already (then nothing changes); a revision beyond the compaction's own is
 *    answered INVALID_ARGUMENT. Not a session write: compacting twice is harmless.
 * Every change a write makes is recorded in the history at the write's revision (history.ts).
 *  - a write already applied for the same (clientId, seq) is answered with its first result and
 *    not applied again; one the session table has forgotten is answered INDETERMINATE.
 *  - an entry whose data does not decode is answered INTERNAL and has no effect.
 *  - auth commands (codes 20–39) change the auth state (auth-state.ts), not user data.
 *  - an authorized write (code 40: a client write the auth gate checked for a user at an auth
 *    revision) applies as its write when the auth state's revision is still the one it was
 *    checked at, or auth is now disabled. When auth changed in between, it is checked again
 *    against the auth state now and the lease table now, with the gate's own decision
 *    (auth/access.ts): refused, it is answered PERMISSION_DENIED (definite), changes nothing and
 *    is recorded in its session as other refusals are (a retry is decided again). A retry of a
 *    write that applied already is answered with its first result, as always.
 *  - no-op entries (empty data) and conf entries have no effect on user data.
 */
import { ERROR_CODES, LIMITS, type ClientResults, type Member, type TxnOp, type TxnOpResult, type WireError } from '@keel/protocol';
import type { ConfState, Entry, Logger } from '@keel/raft';
import { accessDenial } from '../auth/access.js';
import { commandRequirement } from '../auth/permissions.js';
import { isAuthCommand } from './auth-commands.js';
import type { AuthState } from './auth-state.js';
import { decodeCommand, type AuthorizedCommand, type Command, type LogCommand, type SessionCommand } from './commands.js';
import { StateMachineError } from './errors.js';
import { KvState, keyId, type ApplyWriter, type RangeReader } from './kv-state.js';
import type { LeaseChange, LeaseTable } from './leases.js';
import { membersAfter } from './membership.js';
import { Budget, applyKeyOperation, applyOperation, leaseNotFound, tooLarge } from './operations.js';
import type { SessionChange, SessionTable, WriteResult } from './sessions.js';
import { runTxn, txnKeys } from './txn.js';

/** The outcome of one applied entry, in entry order. */
export type ApplyResult =
  | { readonly index: number; readonly term: number; readonly kind: 'noop' }
  | { readonly index: number; readonly term: number; readonly kind: 'conf'; readonly members: Member[] }
  | { readonly index: number; readonly term: number; readonly kind: 'command'; readonly result: WriteResult | CompactResult | WireError };

export type CompactResult = ClientResults['compact'];

export type { ApplyWriter, RangeReader } from './kv-state.js';

/** Entries decoded and the user keys they touch (read them, in this order, before `execute`). */
export interface PreparedApply {
  readonly entries: readonly Entry[];
  readonly commands: ReadonlyArray<LogCommand | StateMachineError | undefined>;
  readonly keys: readonly Uint8Array[];
  /** `keyId` of each of `keys`. */
  readonly ids: readonly string[];
}

export class StateMachine {
  private membersNow: Member[];
  private confNow: ConfState;

  /** `compacted`: the oldest revision the history keeps (1 when never compacted). */
  constructor(
    readonly sessions: SessionTable,
    readonly leases: LeaseTable,
    /** Users, roles and whether auth is enabled, as of the last applied entry (auth-state.ts). */
    readonly auth: AuthState,
    members: readonly Member[],
    conf: ConfState,
    private compacted: number,
    private readonly logger?: Logger,
  ) {
    this.membersNow = [...members];
    this.confNow = conf;
  }

  /** The oldest revision the history keeps, as of the last applied entry. */
  compactRevision(): number {
    return this.compacted;
  }

  /** Membership with addresses as of the last applied entry. */
  members(): Member[] {
    return this.membersNow;
  }

  conf(): ConfState {
    return this.confNow;
  }

  /** Decode the commands of `entries` (never throws on bad data) and list the keys to read. */
  prepare(entries: readonly Entry[]): PreparedApply {
    const commands: Array<LogCommand | StateMachineError | undefined> = new Array(entries.length);
    const keys: Uint8Array[] = [];
    const ids: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type !== 'normal' || e.data.byteLength === 0) continue;
      try {
        const c = decodeCommand(e.data);
        commands[i] = c;
        if (isAuthCommand(c)) continue;
        // A range delete reads its range when it applies.
        const touched = this.keysOf(c.op === 'authorized' ? c.command : c);
        for (const key of touched) {
          const id = keyId(key);
          if (!seen.has(id)) {
            seen.add(id);
            keys.push(key);
            ids.push(id);
          }
        }
      } catch (err) {
        commands[i] =
          err instanceof StateMachineError ? err : new StateMachineError('MALFORMED_COMMAND', String(err), { cause: err });
      }
    }
    return { entries, commands, keys, ids };
  }

  /**
   * The keys command `c` reads or writes one by one (read before the batch): a range delete reads
   * its range when it applies; a revoke deletes the keys its lease holds now or gains earlier in
   * the batch (those are read for the puts that attach them).
   */
  private keysOf(c: Command): readonly Uint8Array[] {
    switch (c.op) {
      case 'put':
      case 'delete':
        return [c.key];
      case 'txn':
        return txnKeys(c);
      case 'leaseRevoke':
      case 'leaseExpire':
        return [...(this.leases.get(c.lease)?.keys.values() ?? [])];
      case 'deleteRange':
      case 'leaseGrant':
      case 'compact':
        return [];
    }
  }

  /**
   * Apply prepared entries. `current[k]` is the stored value of `prepared.keys[k]` (undefined when
   * absent); `store` is read for ranges, and must not change until the effects are written.
   * Effects on user data go to `writer`; the session records to write come back in
   * `sessionChanges`. The in-memory session table and membership change at once (the caller must
   * treat a failed write of the effects, or a failed read, as fatal).
   */
  async execute(
    prepared: PreparedApply,
    current: ReadonlyArray<Uint8Array | undefined>,
    writer: ApplyWriter,
    store: RangeReader,
  ): Promise<{ results: ApplyResult[]; membershipChanged: boolean; authChanged: boolean; sessionChanges: SessionChange[]; leaseChanges: LeaseChange[] }> {
    const state = new KvState(prepared.keys, prepared.ids, current, store, writer, this.leases);
    const results: ApplyResult[] = new Array(prepared.entries.length);
    let membershipChanged = false;
    let authChanged = false;
    for (let i = 0; i < prepared.entries.length; i++) {
      const e = prepared.entries[i]!;
      if (e.type === 'confChange') {
        this.membersNow = membersAfter(this.membersNow, e, this.logger);
        this.confNow = e.conf;
        membershipChanged = true;
        results[i] = { index: e.index, term: e.term, kind: 'conf', members: this.membersNow };
        continue;
      }
      const logged = prepared.commands[i];
      if (logged === undefined) {
        results[i] = { index: e.index, term: e.term, kind: 'noop' };
        continue;
      }
      if (logged instanceof StateMachineError) {
        this.logger?.log('error', 'apply.command.undecodable', { index: e.index, error: logged.message });
        const error: WireError = { code: ERROR_CODES.INTERNAL, message: `entry ${e.index}: ${logged.message}`, definite: true };
        results[i] = { index: e.index, term: e.term, kind: 'command', result: error };
        continue;
      }
      const c = logged.op === 'authorized' ? logged.command : logged;
      const denied = logged.op === 'authorized' ? this.authorizeAgain(logged, state) : undefined;
      if (c.op === 'compact') {
        results[i] = { index: e.index, term: e.term, kind: 'command', result: this.compact(c.revision, e.index, writer) };
        continue;
      }
      if (c.op === 'leaseExpire') {
        const result = await revoke(c.lease, e.index, state, true);
        state.commit(e.index);
        results[i] = { index: e.index, term: e.term, kind: 'command', result };
        continue;
      }
      if (isAuthCommand(c)) {
        // Auth changes are idempotent or refused when repeated: no write session.
        const result = this.auth.apply(c, e.index);
        authChanged ||= !('code' in result);
        results[i] = { index: e.index, term: e.term, kind: 'command', result };
        continue;
      }
      const seen = this.sessions.lookup(c.session);
      let result: WriteResult | WireError;
      if (seen.kind === 'duplicate') {
        result = seen.result;
        this.sessions.record(c.session, e.index, undefined);
      } else if (seen.kind === 'forgotten') {
        result = {
          code: ERROR_CODES.INDETERMINATE,
          message: `write ${c.session.clientId}/${c.session.seq} was retried after its result was forgotten (acknowledged or evicted); it was not applied again`,
          definite: false,
        };
        this.sessions.record(c.session, e.index, undefined);
      } else if (denied !== undefined) {
        result = denied;
        this.sessions.record(c.session, e.index, undefined);
      } else {
        const fresh = c.op === 'put' || c.op === 'delete' ? runKeyCommand(c, e.index, state) : await runCommand(c, e.index, state);
        if ('code' in fresh) state.rollback();
        else state.commit(e.index);
        result = fresh;
        this.sessions.record(c.session, e.index, 'code' in fresh ? undefined : fresh);
      }
      results[i] = { index: e.index, term: e.term, kind: 'command', result };
    }
    return { results, membershipChanged, authChanged, sessionChanges: this.sessions.drainChanges(), leaseChanges: this.leases.drainChanges() };
  }

  /**
   * An authorized write, checked again when auth changed since the gate checked it (see the
   * module doc): PERMISSION_DENIED, or undefined when it may apply.
   */
  private authorizeAgain(c: AuthorizedCommand, state: KvState): WireError | undefined {
    if (c.authRevision === this.auth.revision) return undefined;
    const denial = accessDenial(this.auth, c.user, commandRequirement(c.command), (lease) => state.leases.get(lease)?.keys.values());
    if (denial === undefined) return undefined;
    return {
      code: ERROR_CODES.PERMISSION_DENIED,
      message: `${denial}: auth changed (revision ${this.auth.revision}) after the request was checked (revision ${c.authRevision})`,
      definite: true,
    };
  }

  /** The compact command at log index `index` (see the module doc). */
  private compact(revision: number, index: number, writer: ApplyWriter): CompactResult | WireError {
    if (revision > index) {
      return { code: ERROR_CODES.INVALID_ARGUMENT, message: `cannot compact to revision ${revision}: it is beyond the compaction's own revision ${index}`, definite: true };
    }
    if (revision > this.compacted) {
      this.compacted = revision;
      writer.compact(revision);
    }
    return { revision: index, compactRevision: this.compacted };
  }
}

/**
 * End lease `lease` at revision `index`: delete its keys, then the lease. A lease that does not
 * exist is LEASE_NOT_FOUND for a client's revoke, and nothing (0 keys) for the leader's expiry.
 */
async function revoke(lease: number, index: number, state: KvState, expiry: boolean): Promise<ClientResults['leaseRevoke'] | WireError> {
  const held = state.leases.get(lease);
  if (held === undefined) return expiry ? { revision: index, deleted: 0 } : leaseNotFound(lease);
  const keys = [...held.keys.values()];
  for (const key of keys) {
    const before = state.get(key);
    if (before !== null) state.remove(key, before);
  }
  state.leases.remove(lease);
  return { revision: index, deleted: keys.length };
}

/** Budget of a write made of one operation: a range delete's limits (a put or delete returns at most one entry). */
const SINGLE_OPERATION_BUDGET = {
  keys: `the range holds more than ${LIMITS.deleteRangeKeysMax} keys; nothing was deleted (delete it in smaller ranges)`,
  bytes: `the deleted entries would exceed ${LIMITS.deleteRangePrevKvBytesMax} bytes; nothing was deleted (delete without prevKv, or in smaller ranges)`,
};

/** Apply command `c` at revision `index`: its answer, or a refusal (the caller undoes its effects then). */
async function runCommand(c: SessionCommand, index: number, state: KvState): Promise<WriteResult | WireError> {
  if (c.op === 'txn') return runTxn(c, index, state);
  if (c.op === 'leaseRevoke') return revoke(c.lease, index, state, false);
  if (c.op === 'leaseGrant') {
    if (state.leases.size >= LIMITS.leasesMax) return tooLarge(`the cluster holds ${LIMITS.leasesMax} leases, the most it keeps; revoke some first`);
    state.leases.grant(index, c.ttl);
    return { revision: index, lease: index, ttl: c.ttl };
  }
  const op: TxnOp =
    c.op === 'deleteRange' ? { op: 'deleteRange', start: c.start, ...(c.end !== undefined ? { end: c.end } : {}), ...(c.prevKv === true ? { prevKv: true } : {}) } : c;
  return writeResult(await applyOperation(op, index, state, singleOperationBudget()), index);
}

/** A put or a delete at revision `index`: `runCommand` without waiting (the key was read before the batch). */
function runKeyCommand(c: Extract<SessionCommand, { op: 'put' | 'delete' }>, index: number, state: KvState): WriteResult | WireError {
  return writeResult(applyKeyOperation(c, index, state, singleOperationBudget()), index);
}

function singleOperationBudget(): Budget {
  return new Budget(LIMITS.deleteRangeKeysMax, LIMITS.deleteRangePrevKvBytesMax, SINGLE_OPERATION_BUDGET);
}

/** A single operation's result as the write's result, at `revision`. */
function writeResult(r: TxnOpResult | WireError, revision: number): WriteResult | WireError {
  if ('code' in r) return r;
  const { op: _op, ...fields } = r;
  return { revision, ...fields } as WriteResult;
}
