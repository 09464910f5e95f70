/**
 * The replicated state machine: applies committed entries to user data, the session table and
 * the membership. Pure logic over an in-memory overlay — the store reads every key a batch
 * touches in one `getMany` before `execute`, and writes the effects `execute` reports in one
 * batch afterwards, so applying hundreds of entries costs one read and one write.
 *
 * Semantics (each write's revision is its log index):
 *  - put: sets the value; createRevision is kept if the key exists, else the index.
 *  - delete: removes the key; `deleted` says whether it existed.
 *  - cas: compares the current value (bytes), modRevision, or absence; sets the value on success.
 *  - a write already applied for the same (clientId, seq) is answered with its first result and
 *    not applied again; one the session table has forgotten is answered INDETERMINATE.
 *  - an entry whose data does not decode is answered INTERNAL and has no effect.
 *  - no-op entries (empty data) and conf entries have no effect on user data.
 */
import { ERROR_CODES, type Member, type WireError } from '@keel/protocol';
import type { ConfState, Entry, Logger } from '@keel/raft';
import { decodeCommand, type Command } from './commands.js';
import { StateMachineError } from './errors.js';
import { membersAfter } from './membership.js';
import { bytesEqual } from './msgpack.js';
import type { SessionChange, SessionTable, WriteResult } from './sessions.js';
import { decodeStoredValue, encodeStoredValue, type StoredValue } from './stored-value.js';

/** The outcome of one applied entry, in entry order. */
export type ApplyResult =
  | { readonly index: number; readonly term: number; readonly kind: 'noop' }
  | { readonly index: number; readonly term: number; readonly kind: 'conf'; readonly members: Member[] }
  | { readonly index: number; readonly term: number; readonly kind: 'command'; readonly result: WriteResult | WireError };

/** Where `execute` reports the effects on user data. */
export interface ApplyWriter {
  /** `absentBefore`: the key does not exist in the store (as far as this batch knows). */
  putValue(key: Uint8Array, stored: Uint8Array, absentBefore: boolean): void;
  deleteValue(key: Uint8Array): void;
}

/** Entries decoded and the user keys they touch (read them, in this order, before `execute`). */
export interface PreparedApply {
  readonly entries: readonly Entry[];
  readonly commands: ReadonlyArray<Command | StateMachineError | undefined>;
  readonly keys: readonly Uint8Array[];
}

export class StateMachine {
  private membersNow: Member[];
  private confNow: ConfState;

  constructor(
    readonly sessions: SessionTable,
    members: readonly Member[],
    conf: ConfState,
    private readonly logger?: Logger,
  ) {
    this.membersNow = [...members];
    this.confNow = conf;
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
    const commands: Array<Command | StateMachineError | undefined> = new Array(entries.length);
    const keys: Uint8Array[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type !== 'normal' || e.data.byteLength === 0) continue;
      try {
        const c = decodeCommand(e.data);
        commands[i] = c;
        const id = keyId(c.key);
        if (!seen.has(id)) {
          seen.add(id);
          keys.push(c.key);
        }
      } catch (err) {
        commands[i] =
          err instanceof StateMachineError ? err : new StateMachineError('MALFORMED_COMMAND', String(err), { cause: err });
      }
    }
    return { entries, commands, keys };
  }

  /**
   * Apply prepared entries. `current[k]` is the stored value of `prepared.keys[k]` (undefined when
   * absent). Effects on user data go to `writer`; the session records to write come back in
   * `sessionChanges`. The in-memory session table and membership change at once (the caller must
   * treat a failed write of the effects as fatal).
   */
  execute(
    prepared: PreparedApply,
    current: ReadonlyArray<Uint8Array | undefined>,
    writer: ApplyWriter,
  ): { results: ApplyResult[]; membershipChanged: boolean; sessionChanges: SessionChange[] } {
    const overlay = new Map<string, StoredValue | null>();
    prepared.keys.forEach((key, k) => {
      const bytes = current[k];
      overlay.set(keyId(key), bytes === undefined ? null : decodeStoredValue(bytes));
    });
    const results: ApplyResult[] = new Array(prepared.entries.length);
    let membershipChanged = false;
    for (let i = 0; i < prepared.entries.length; i++) {
      const e = prepared.entries[i]!;
      if (e.type === 'confChange') {
        this.membersNow = membersAfter(this.membersNow, e, this.logger);
        this.confNow = e.conf;
        membershipChanged = true;
        results[i] = { index: e.index, term: e.term, kind: 'conf', members: this.membersNow };
        continue;
      }
      const c = prepared.commands[i];
      if (c === undefined) {
        results[i] = { index: e.index, term: e.term, kind: 'noop' };
        continue;
      }
      if (c instanceof StateMachineError) {
        this.logger?.log('error', 'apply.command.undecodable', { index: e.index, error: c.message });
        const error: WireError = { code: ERROR_CODES.INTERNAL, message: `entry ${e.index}: ${c.message}`, definite: true };
        results[i] = { index: e.index, term: e.term, kind: 'command', result: error };
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
      } else {
        const fresh = runCommand(c, e.index, overlay, writer);
        result = fresh;
        this.sessions.record(c.session, e.index, fresh);
      }
      results[i] = { index: e.index, term: e.term, kind: 'command', result };
    }
    return { results, membershipChanged, sessionChanges: this.sessions.drainChanges() };
  }
}

function runCommand(c: Command, index: number, overlay: Map<string, StoredValue | null>, writer: ApplyWriter): WriteResult {
  const id = keyId(c.key);
  const current = overlay.get(id) ?? null;
  const set = (value: Uint8Array): void => {
    const next: StoredValue = { value, createRevision: current?.createRevision ?? index, modRevision: index };
    overlay.set(id, next);
    writer.putValue(c.key, encodeStoredValue(next), current === null);
  };
  switch (c.op) {
    case 'put':
      set(c.value);
      return { revision: index };
    case 'delete':
      if (current !== null) {
        overlay.set(id, null);
        writer.deleteValue(c.key);
      }
      return { revision: index, deleted: current !== null };
    case 'cas': {
      const e = c.expect;
      const ok =
        'value' in e
          ? current !== null && bytesEqual(current.value, e.value)
          : 'revision' in e
            ? current !== null && current.modRevision === e.revision
            : current === null;
      if (ok) set(c.value);
      return { revision: index, succeeded: ok };
    }
  }
}

/** A string identity for a key (map keys). */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
