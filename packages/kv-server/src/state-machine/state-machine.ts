/**
 * The replicated state machine: applies committed entries to user data, the session table and
 * the membership. Logic over an in-memory overlay — the store reads every key a batch's
 * single-key commands touch in one `getMany` before `execute`, and writes the effects `execute`
 * reports in one batch afterwards, so applying hundreds of entries costs one read and one write.
 * A range delete reads its range from the store (through `RangeReader`) when it applies: the
 * state it sees is the store before the batch with the overlay of the batch's earlier entries on
 * top, the same on every replica however the entries were batched.
 *
 * Semantics (each write's revision is its log index):
 *  - put: sets the value; createRevision is kept if the key exists, else the index; version is
 *    one more than before (1 for a new key).
 *  - delete: removes the key; `deleted` says whether it existed.
 *  - put and delete with `prevKv` also answer with the entry the key held before (null if none).
 *  - deleteRange: removes every key in [start, end), all or nothing: a range holding more than
 *    `LIMITS.deleteRangeKeysMax` keys, or (with `prevKv`) more than
 *    `LIMITS.deleteRangePrevKvBytesMax` of entries, is answered TOO_LARGE and nothing is deleted;
 *    `deleted` is the number of keys removed, `prevKvs` (with `prevKv`) the entries, in key order.
 *  - cas: compares the current value (bytes), modRevision, or absence; sets the value on success.
 *  - a write already applied for the same (clientId, seq) is answered with its first result and
 *    not applied again; one the session table has forgotten is answered INDETERMINATE.
 *  - an entry whose data does not decode is answered INTERNAL and has no effect.
 *  - no-op entries (empty data) and conf entries have no effect on user data.
 */
import { ERROR_CODES, LIMITS, type KeyValue, type Member, type WireError } from '@keel/protocol';
import type { ConfState, Entry, Logger } from '@keel/raft';
import { decodeCommand, type Command } from './commands.js';
import { StateMachineError } from './errors.js';
import { membersAfter } from './membership.js';
import { bytesEqual, plainBytes } from './msgpack.js';
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

/**
 * What `execute` reads of the store for a range delete: rows in byte order of the keys, from
 * `gte` (inclusive) to `lt` (exclusive, absent: to the last key), values only when asked for.
 * The store's byte-keyed user-data sublevel is one.
 */
export interface RangeReader {
  iterator(options: { gte: Uint8Array; lt?: Uint8Array; values: boolean }): {
    nextv(size: number): Promise<Array<[Uint8Array, Uint8Array]>>;
    close(): Promise<void>;
  };
}

/** Allowance per returned entry for its revisions and encoding (as for scans). */
const PREV_KV_ROW_OVERHEAD_BYTES = 64;
/** Rows a range delete reads from the store at a time. */
const RANGE_READ_ROWS = 64;

/** A key of the overlay: its bytes and its value as of the entries applied so far (null: absent). */
interface Slot {
  readonly key: Uint8Array;
  value: StoredValue | null;
}
type Overlay = Map<string, Slot>;

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
        if (c.op === 'deleteRange') continue; // reads its range when it applies
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
   * absent); `store` is read for range deletes, and must not change until the effects are
   * written. Effects on user data go to `writer`; the session records to write come back in
   * `sessionChanges`. The in-memory session table and membership change at once (the caller must
   * treat a failed write of the effects, or a failed read, as fatal).
   */
  async execute(
    prepared: PreparedApply,
    current: ReadonlyArray<Uint8Array | undefined>,
    writer: ApplyWriter,
    store: RangeReader,
  ): Promise<{ results: ApplyResult[]; membershipChanged: boolean; sessionChanges: SessionChange[] }> {
    const overlay: Overlay = new Map();
    prepared.keys.forEach((key, k) => {
      const bytes = current[k];
      overlay.set(keyId(key), { key, value: bytes === undefined ? null : decodeStoredValue(bytes) });
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
        const fresh = c.op === 'deleteRange' ? await deleteRange(c, e.index, overlay, writer, store) : runCommand(c, e.index, overlay, writer);
        result = fresh;
        this.sessions.record(c.session, e.index, 'code' in fresh ? undefined : fresh);
      }
      results[i] = { index: e.index, term: e.term, kind: 'command', result };
    }
    return { results, membershipChanged, sessionChanges: this.sessions.drainChanges() };
  }
}

type SingleKeyCommand = Exclude<Command, { op: 'deleteRange' }>;

function runCommand(c: SingleKeyCommand, index: number, overlay: Overlay, writer: ApplyWriter): WriteResult {
  const id = keyId(c.key);
  const current = overlay.get(id)?.value ?? null;
  const set = (value: Uint8Array): void => {
    const next: StoredValue = { value, createRevision: current?.createRevision ?? index, modRevision: index, version: (current?.version ?? 0) + 1 };
    overlay.set(id, { key: c.key, value: next });
    writer.putValue(c.key, encodeStoredValue(next), current === null);
  };
  const prev = (): { prevKv?: KeyValue | null } => (c.op !== 'cas' && c.prevKv === true ? { prevKv: current === null ? null : toKeyValue(c.key, current) } : {});
  switch (c.op) {
    case 'put': {
      const before = prev();
      set(c.value);
      return { revision: index, ...before };
    }
    case 'delete':
      if (current !== null) {
        overlay.set(id, { key: c.key, value: null });
        writer.deleteValue(c.key);
      }
      return { revision: index, deleted: current !== null, ...prev() };
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

/**
 * Deletes every key of `[c.start, c.end)` that exists as of the entries applied so far: the
 * store's rows not touched by the batch, and the batch's own keys that hold a value. All or
 * nothing: past `LIMITS.deleteRangeKeysMax` keys, or `LIMITS.deleteRangePrevKvBytesMax` of
 * returned entries, nothing is deleted and the answer is TOO_LARGE. Reads stop at the limit.
 */
async function deleteRange(
  c: Extract<Command, { op: 'deleteRange' }>,
  index: number,
  overlay: Overlay,
  writer: ApplyWriter,
  store: RangeReader,
): Promise<WriteResult | WireError> {
  const inRange = (key: Uint8Array): boolean =>
    Buffer.compare(key, c.start) >= 0 && (c.end === undefined || Buffer.compare(key, c.end) < 0);
  const prevKv = c.prevKv === true;
  const doomed: Slot[] = [];
  let bytes = 0;
  /** Adds a key to delete; the error when a limit is passed. */
  const add = (slot: Slot): WireError | undefined => {
    doomed.push(slot);
    if (doomed.length > LIMITS.deleteRangeKeysMax) {
      return tooLarge(`the range holds more than ${LIMITS.deleteRangeKeysMax} keys; nothing was deleted (delete it in smaller ranges)`);
    }
    if (prevKv) {
      bytes += slot.key.byteLength + slot.value!.value.byteLength + PREV_KV_ROW_OVERHEAD_BYTES;
      if (bytes > LIMITS.deleteRangePrevKvBytesMax) {
        return tooLarge(
          `the deleted entries would exceed ${LIMITS.deleteRangePrevKvBytesMax} bytes; nothing was deleted (delete without prevKv, or in smaller ranges)`,
        );
      }
    }
    return undefined;
  };
  if (c.end === undefined || Buffer.compare(c.start, c.end) < 0) {
    const it = store.iterator({ gte: c.start, ...(c.end !== undefined ? { lt: c.end } : {}), values: prevKv });
    try {
      for (;;) {
        const rows = await it.nextv(RANGE_READ_ROWS);
        if (rows.length === 0) break;
        for (const [k, v] of rows) {
          if (overlay.has(keyId(k))) continue; // the batch's own value wins (below)
          const key = plainBytes(k);
          const refusal = add({ key, value: prevKv ? decodeStoredValue(v) : EXISTS });
          if (refusal !== undefined) return refusal;
        }
      }
    } finally {
      await it.close();
    }
    for (const slot of overlay.values()) {
      if (slot.value === null || !inRange(slot.key)) continue;
      const refusal = add(slot);
      if (refusal !== undefined) return refusal;
    }
  }
  doomed.sort((a, b) => Buffer.compare(a.key, b.key));
  const prevKvs: KeyValue[] = [];
  for (const slot of doomed) {
    if (prevKv) prevKvs.push(toKeyValue(slot.key, slot.value!));
    overlay.set(keyId(slot.key), { key: slot.key, value: null });
    writer.deleteValue(slot.key);
  }
  return { revision: index, deleted: doomed.length, ...(prevKv ? { prevKvs } : {}) };
}

/** Stands for a stored value that was not read (a range delete without prevKv needs only the key). */
const EXISTS: StoredValue = { value: new Uint8Array(0), createRevision: 0, modRevision: 0, version: 0 };

function tooLarge(message: string): WireError {
  return { code: ERROR_CODES.TOO_LARGE, message, definite: true };
}

function toKeyValue(key: Uint8Array, v: StoredValue): KeyValue {
  return { key, value: v.value, createRevision: v.createRevision, modRevision: v.modRevision, version: v.version };
}

/** A string identity for a key (map keys). */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}
