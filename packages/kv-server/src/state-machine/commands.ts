/**
 * The commands the state machine applies, and their encoding in log entries.
 *
 * A command is what a client write becomes once the leader proposes it: the operation and the
 * write session that makes retries exactly-once. Encoding is a compact msgpackr array whose first
 * element is the operation code (the codes are stable: they are stored in every log):
 *
 *   put:         [1, key, value, clientId, seq, ackedBelow]      (+ 1 at the end: answer with the previous entry;
 *                                                                 + prevKv (0 or 1), lease: attach to a lease)
 *   delete:      [2, key, clientId, seq, ackedBelow]             (+ 1 at the end: answer with the deleted entry)
 *   deleteRange: [4, start, end | null, prevKv (0 or 1), clientId, seq, ackedBelow]
 *   txn:         [5, compares, success, failure, clientId, seq, ackedBelow]     (txn-codec.ts)
 *   compact:     [6, revision]                                   (no session: compacting twice is harmless)
 *   leaseGrant:  [7, ttlSeconds, clientId, seq, ackedBelow]      (the lease's id is the entry's index)
 *   leaseRevoke: [8, lease, clientId, seq, ackedBelow]
 *   leaseExpire: [9, lease]          proposed by the leader when a lease ran out; no session (a
 *                                    lease already gone makes it a no-op)
 *   authorized:  [40, user, authRevision, command]                 a client write (any of the session
 *                                    commands above, as its array) that the auth gate checked for `user`
 *                                    against the auth state at `authRevision` (auth-state.ts `revision`);
 *                                    the state machine checks it again when auth changed since
 * (Code 3 was cas, before store format 2: a cas is now a txn.) Codes 20–39 are the auth commands
 * (auth-commands.ts): they carry no write session. Code 40 is proposed only while auth is enabled,
 * for users other than root: writes without auth are encoded as before.
 *
 * `encodeCommand` rejects a command that breaks the rules below with a `TypeError` (a programmer
 * mistake: the client port validates requests first), so nothing malformed reaches the log.
 * `decodeCommand` checks the same rules and throws `StateMachineError('MALFORMED_COMMAND')`.
 *
 * Rules: key 1..LIMITS.keyBytesMax bytes; value <= LIMITS.valueBytesMax bytes; a range's start
 * 0..LIMITS.keyBytesMax bytes and its end (when present) 1..LIMITS.keyBytesMax bytes; clientId a
 * non-empty string of at most `CLIENT_ID_BYTES_MAX` UTF-8 bytes; seq and ackedBelow safe
 * integers with 0 <= ackedBelow <= seq; a txn's parts as txn-codec.ts says; a lease id a positive
 * safe integer; a TTL in LIMITS.leaseTtlSecondsMin..leaseTtlSecondsMax; a compaction revision a
 * safe integer >= 1; an authorized write's user a name (auth-commands.ts), its auth revision a
 * safe integer >= 0 and its command a session command (not compact, leaseExpire or authorized).
 */
import { LIMITS, type TxnCompare, type TxnOp, type WriteSession } from '@keel/protocol';
import { authCommandProblem, isAuthCode, nameProblem, toAuthCommand, type AuthCommand } from './auth-commands.js';
import { StateMachineError } from './errors.js';
import { isCount, keyProblem, leaseIdProblem, rangeProblem, valueProblem } from './field-rules.js';
import { pack, plainBytes, unpack } from './msgpack.js';
import { decodeCompares, decodeTxnOps, encodeCompares, encodeTxnOps, txnProblem } from './txn-codec.js';

/** Longest client id, in UTF-8 bytes (the client API's documented limit). */
export const CLIENT_ID_BYTES_MAX: number = LIMITS.clientIdBytesMax;
/** Longest peer or client address in a member context, in characters. */
export const MEMBER_ADDRESS_CHARS_MAX = 1024;

export type Command =
  | {
      readonly op: 'put';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      /** Answer with the key's previous entry. */
      readonly prevKv?: boolean;
      /** Attach the key to this lease (absent: the key has none). */
      readonly lease?: number | undefined;
      readonly session: WriteSession;
    }
  | {
      readonly op: 'delete';
      readonly key: Uint8Array;
      /** Answer with the deleted entry. */
      readonly prevKv?: boolean;
      readonly session: WriteSession;
    }
  | {
      /** Deletes every key in [start, end) (no end: to the last key), all or nothing (see state-machine.ts). */
      readonly op: 'deleteRange';
      readonly start: Uint8Array;
      readonly end?: Uint8Array | undefined;
      /** Answer with the deleted entries. */
      readonly prevKv?: boolean;
      readonly session: WriteSession;
    }
  | {
      /** If every compare holds, runs `success`, else `failure`, all or nothing (see txn.ts). */
      readonly op: 'txn';
      readonly compare: readonly TxnCompare[];
      readonly success: readonly TxnOp[];
      readonly failure: readonly TxnOp[];
      readonly session: WriteSession;
    }
  | {
      /** Makes `revision` the oldest revision the history keeps (see history.ts); never moves it back. */
      readonly op: 'compact';
      readonly revision: number;
    }
  | { readonly op: 'leaseGrant'; readonly ttl: number; readonly session: WriteSession }
  | { readonly op: 'leaseRevoke'; readonly lease: number; readonly session: WriteSession }
  | { readonly op: 'leaseExpire'; readonly lease: number };

/** A command that is a client write, made exactly once through its write session. */
export type SessionCommand = Exclude<Command, { op: 'leaseExpire' } | { op: 'compact' }>;

/** Who the auth gate checked a write for, and the auth revision it checked it at. */
export interface AuthorizedAs {
  readonly user: string;
  readonly authRevision: number;
}

/** A client write checked for a user (see the module doc): applied as `command` unless auth changed since and refuses it. */
export interface AuthorizedCommand extends AuthorizedAs {
  readonly op: 'authorized';
  readonly command: SessionCommand;
}

/** What a log entry's data decodes to: a client write (checked for a user or not) or an auth change. */
export type LogCommand = Command | AuthorizedCommand | AuthCommand;

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DELETE_RANGE = 4;
const OP_TXN = 5;
const OP_COMPACT = 6;
const OP_LEASE_GRANT = 7;
const OP_LEASE_REVOKE = 8;
const OP_LEASE_EXPIRE = 9;
const OP_AUTHORIZED = 40;
/** Trailing element of a put or delete that asks for the previous entry. */
const WITH_PREV_KV = 1;

/** Why a command breaks the rules, or undefined when it is fine. */
export function commandProblem(c: Command | AuthorizedCommand): string | undefined {
  switch (c.op) {
    case 'authorized': {
      if (!isCount(c.authRevision)) return 'auth revision must be a non-negative integer';
      // Decoded from the log, the command may be any: only a client write is one to authorize.
      const inner = c.command as Command | AuthorizedCommand;
      if (inner.op === 'authorized' || inner.op === 'compact' || inner.op === 'leaseExpire') return 'only a client write can be authorized';
      return nameProblem(c.user) ?? commandProblem(inner);
    }
    case 'deleteRange':
      return rangeProblem(c.start, c.end) ?? sessionProblem(c.session);
    case 'txn':
      return txnProblem(c.compare, c.success, c.failure) ?? sessionProblem(c.session);
    case 'put':
      return keyProblem(c.key) ?? valueProblem(c.value) ?? (c.lease === undefined ? undefined : leaseIdProblem(c.lease)) ?? sessionProblem(c.session);
    case 'delete':
      return keyProblem(c.key) ?? sessionProblem(c.session);
    case 'leaseGrant':
      return ttlProblem(c.ttl) ?? sessionProblem(c.session);
    case 'leaseRevoke':
      return leaseIdProblem(c.lease) ?? sessionProblem(c.session);
    case 'leaseExpire':
      return leaseIdProblem(c.lease);
    case 'compact':
      return isCount(c.revision) && c.revision >= 1 ? undefined : 'compaction revision must be an integer >= 1';
    default:
      return `unknown op ${String((c as { op: unknown }).op)}`;
  }
}

function sessionProblem(s: WriteSession | undefined): string | undefined {
  if (s === null || typeof s !== 'object') return 'write session missing';
  if (typeof s.clientId !== 'string' || s.clientId.length === 0) return 'clientId must be a non-empty string';
  if (Buffer.byteLength(s.clientId, 'utf8') > CLIENT_ID_BYTES_MAX) return `clientId exceeds ${CLIENT_ID_BYTES_MAX} bytes`;
  if (!isCount(s.seq)) return 'seq must be a non-negative integer';
  if (!isCount(s.ackedBelow)) return 'ackedBelow must be a non-negative integer';
  if (s.ackedBelow > s.seq) return 'ackedBelow must not exceed seq';
  return undefined;
}

function ttlProblem(ttl: unknown): string | undefined {
  if (!isCount(ttl) || ttl < LIMITS.leaseTtlSecondsMin || ttl > LIMITS.leaseTtlSecondsMax) {
    return `lease TTL must be an integer in ${LIMITS.leaseTtlSecondsMin}..${LIMITS.leaseTtlSecondsMax} seconds`;
  }
  return undefined;
}

/** Encode a command for a log entry. Throws `TypeError` if it breaks the rules (see module doc). */
export function encodeCommand(c: Command | AuthorizedCommand): Uint8Array {
  const problem = commandProblem(c);
  if (problem !== undefined) throw new TypeError(`encodeCommand: ${problem}`);
  return pack(c.op === 'authorized' ? [OP_AUTHORIZED, c.user, c.authRevision, commandArray(c.command)] : commandArray(c));
}

/** The array `c` is encoded as (checked already). */
function commandArray(c: Command): unknown[] {
  if (c.op === 'leaseExpire') return [OP_LEASE_EXPIRE, c.lease];
  if (c.op === 'compact') return [OP_COMPACT, c.revision];
  const { clientId, seq, ackedBelow } = c.session;
  const prevKv = (c.op === 'put' || c.op === 'delete' || c.op === 'deleteRange') && c.prevKv === true;
  switch (c.op) {
    case 'put':
      if (c.lease !== undefined) return [OP_PUT, c.key, c.value, clientId, seq, ackedBelow, prevKv ? 1 : 0, c.lease];
      return prevKv ? [OP_PUT, c.key, c.value, clientId, seq, ackedBelow, WITH_PREV_KV] : [OP_PUT, c.key, c.value, clientId, seq, ackedBelow];
    case 'delete':
      return prevKv ? [OP_DELETE, c.key, clientId, seq, ackedBelow, WITH_PREV_KV] : [OP_DELETE, c.key, clientId, seq, ackedBelow];
    case 'deleteRange':
      return [OP_DELETE_RANGE, c.start, c.end ?? null, prevKv ? 1 : 0, clientId, seq, ackedBelow];
    case 'txn':
      return [OP_TXN, encodeCompares(c.compare), encodeTxnOps(c.success), encodeTxnOps(c.failure), clientId, seq, ackedBelow];
    case 'leaseGrant':
      return [OP_LEASE_GRANT, c.ttl, clientId, seq, ackedBelow];
    case 'leaseRevoke':
      return [OP_LEASE_REVOKE, c.lease, clientId, seq, ackedBelow];
    default:
      throw new TypeError(`encodeCommand: unknown op ${String((c as { op: unknown }).op)}`);
  }
}

/** Decode a log entry's command. Throws `StateMachineError('MALFORMED_COMMAND')` on anything invalid. */
export function decodeCommand(data: Uint8Array): LogCommand {
  let raw: unknown;
  try {
    raw = unpack(data);
  } catch (cause) {
    throw new StateMachineError('MALFORMED_COMMAND', 'command is not valid msgpack', { cause });
  }
  if (!Array.isArray(raw)) throw new StateMachineError('MALFORMED_COMMAND', 'command is not an array');
  if (isAuthCode(raw[0])) {
    const auth = toAuthCommand(raw);
    const problem = auth === undefined ? 'unknown auth operation or wrong arity' : authCommandProblem(auth);
    if (problem !== undefined) throw new StateMachineError('MALFORMED_COMMAND', `malformed command: ${problem}`);
    return auth!;
  }
  const command = toCommand(raw);
  const problem = command === undefined ? 'unknown operation or wrong arity' : commandProblem(command);
  if (problem !== undefined) throw new StateMachineError('MALFORMED_COMMAND', `malformed command: ${problem}`);
  return command!;
}

/** A byte string field of a decoded command, as a plain Uint8Array view. */
function bytesAt(a: unknown[], at: number): Uint8Array {
  const v = a[at];
  return v instanceof Uint8Array ? plainBytes(v) : (v as Uint8Array);
}

/** The write session whose three fields start at `a[at]`. */
function sessionAt(a: unknown[], at: number): WriteSession {
  return { clientId: a[at] as string, seq: a[at + 1] as number, ackedBelow: a[at + 2] as number };
}

/** Whether a command of `length` fields asks for previous entries (one more field, WITH_PREV_KV); undefined: wrong arity. */
function prevKvFlag(a: unknown[], length: number): boolean | undefined {
  return a.length === length ? false : a.length === length + 1 && a[length] === WITH_PREV_KV ? true : undefined;
}

// Module-level helpers rather than closures: toCommand runs for every entry applied on every node.
function toCommand(a: unknown[]): Command | AuthorizedCommand | undefined {
  switch (a[0]) {
    case OP_PUT: {
      if (a.length === 8) {
        if (a[6] !== 0 && a[6] !== 1) return undefined;
        const key = bytesAt(a, 1);
        const value = bytesAt(a, 2);
        const session = sessionAt(a, 3);
        const lease = a[7] as number;
        return a[6] === 1 ? { op: 'put', key, value, prevKv: true, lease, session } : { op: 'put', key, value, lease, session };
      }
      const prevKv = prevKvFlag(a, 6);
      if (prevKv === undefined) return undefined;
      const key = bytesAt(a, 1);
      const value = bytesAt(a, 2);
      const session = sessionAt(a, 3);
      return prevKv ? { op: 'put', key, value, prevKv, session } : { op: 'put', key, value, session };
    }
    case OP_DELETE: {
      const prevKv = prevKvFlag(a, 5);
      if (prevKv === undefined) return undefined;
      const key = bytesAt(a, 1);
      const session = sessionAt(a, 2);
      return prevKv ? { op: 'delete', key, prevKv, session } : { op: 'delete', key, session };
    }
    case OP_DELETE_RANGE: {
      if (a.length !== 7 || (a[3] !== 0 && a[3] !== 1)) return undefined;
      return {
        op: 'deleteRange',
        start: bytesAt(a, 1),
        ...(a[2] !== null ? { end: bytesAt(a, 2) } : {}),
        ...(a[3] === 1 ? { prevKv: true } : {}),
        session: sessionAt(a, 4),
      };
    }
    case OP_TXN: {
      if (a.length !== 7) return undefined;
      const compare = decodeCompares(a[1]);
      const success = decodeTxnOps(a[2]);
      const failure = decodeTxnOps(a[3]);
      if (compare === undefined || success === undefined || failure === undefined) return undefined;
      return { op: 'txn', compare, success, failure, session: sessionAt(a, 4) };
    }
    case OP_LEASE_GRANT:
      return a.length === 5 ? { op: 'leaseGrant', ttl: a[1] as number, session: sessionAt(a, 2) } : undefined;
    case OP_LEASE_REVOKE:
      return a.length === 5 ? { op: 'leaseRevoke', lease: a[1] as number, session: sessionAt(a, 2) } : undefined;
    case OP_LEASE_EXPIRE:
      return a.length === 2 ? { op: 'leaseExpire', lease: a[1] as number } : undefined;
    case OP_COMPACT:
      return a.length === 2 ? { op: 'compact', revision: a[1] as number } : undefined;
    case OP_AUTHORIZED: {
      // One level only: a nested wrapper is refused before it is decoded (no recursion on garbage).
      if (a.length !== 4 || !Array.isArray(a[3]) || a[3][0] === OP_AUTHORIZED) return undefined;
      const command = toCommand(a[3] as unknown[]);
      // commandProblem refuses a command that is not a client write.
      return command === undefined ? undefined : { op: 'authorized', user: a[1] as string, authRevision: a[2] as number, command: command as SessionCommand };
    }
    default:
      return undefined;
  }
}

/** The addresses a membership change carries in `ConfChange.context`. */
export interface MemberAddresses {
  readonly peerAddress: string;
  readonly clientAddress: string;
}

/** Encode a member's addresses for `ConfChange.context`. Throws `TypeError` on non-strings or over-long addresses. */
export function encodeMemberContext(m: MemberAddresses): Uint8Array {
  if (!isAddress(m.peerAddress) || !isAddress(m.clientAddress)) {
    throw new TypeError(`encodeMemberContext: addresses must be strings of at most ${MEMBER_ADDRESS_CHARS_MAX} characters`);
  }
  return pack([m.peerAddress, m.clientAddress]);
}

/** Decode `ConfChange.context`. Throws `StateMachineError('MALFORMED_MEMBER_CONTEXT')` on anything invalid. */
export function decodeMemberContext(b: Uint8Array): MemberAddresses {
  let raw: unknown;
  try {
    raw = unpack(b);
  } catch (cause) {
    throw new StateMachineError('MALFORMED_MEMBER_CONTEXT', 'member context is not valid msgpack', { cause });
  }
  if (!Array.isArray(raw) || raw.length !== 2 || !isAddress(raw[0]) || !isAddress(raw[1])) {
    throw new StateMachineError('MALFORMED_MEMBER_CONTEXT', 'member context must be [peerAddress, clientAddress]');
  }
  return { peerAddress: raw[0], clientAddress: raw[1] };
}

function isAddress(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MEMBER_ADDRESS_CHARS_MAX;
}
