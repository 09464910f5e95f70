/**
 * Validation of client requests at the boundary (STYLE item 10): the server checks every decoded
 * frame here before it calls its handler, and a client may check what it is about to send.
 *
 * Rules (each produces one stable error code):
 * - the frame is not an object with a non-negative integer `id`  -> MALFORMED_FRAME (no request to
 *   answer: the server replies with `NO_REQUEST_ID` and closes the connection);
 * - the request frame exceeds `LIMITS.requestBytesMax`            -> TOO_LARGE;
 * - `op` missing or not a string                                  -> INVALID_ARGUMENT;
 * - `op` not a known operation                                    -> UNKNOWN_COMMAND;
 * - a field missing, of the wrong type, or out of range           -> INVALID_ARGUMENT;
 * - a key over `LIMITS.keyBytesMax` or value over `LIMITS.valueBytesMax` -> TOO_LARGE;
 * - a scan `limit` outside 1..`LIMITS.scanLimitMax`               -> INVALID_ARGUMENT.
 * - a txn with more than `LIMITS.txnOpsMax` compares, or operations in a branch -> INVALID_ARGUMENT.
 * - a lease TTL outside `LIMITS.leaseTtlSecondsMin`..`leaseTtlSecondsMax`, or a lease id below 1 -> INVALID_ARGUMENT.
 * - a user or role name not a string of 1..`AUTH_LIMITS.nameChars` characters, a password not
 *   a non-empty string of at most `AUTH_LIMITS.passwordBytesMax` bytes, a permission's mode not
 *   read/write/readwrite or its range empty                     -> INVALID_ARGUMENT.
 * - a watch without exactly one of `key`, `prefix`, `start`; an `end` without `start`, or not
 *   after it; a `fromRevision` or compaction `revision` below 1  -> INVALID_ARGUMENT.
 * Keys (and scan bounds) must be non-empty byte strings; values may be empty. A `deleteRange`
 * `start` may be empty (from the first key); its `end`, when given, may not. `prevKv`, when
 * present, must be a boolean. A txn's compares and operations follow the same rules, their
 * field names qualified in messages (`'success[2].key' must not be empty`).
 */
import type { CasExpectation, ClientOp, ClientRequest, CompareOp, Consistency, TxnCompare, TxnOp, WriteSession } from './client-api.js';
import { LIMITS } from './client-api.js';
import { AUTH_LIMITS, type Permission } from './auth-api.js';
import { KeelError, type ErrorCode } from './errors.js';

/**
 * The id carried by a response that answers no request but the connection itself: an error sent
 * just before the server closes it (a malformed frame, a refused connection, a client frame on a
 * peer port). Every request still unanswered on the connection fails with it; its `definite` flag
 * says whether the server may have processed any of them (false: some may still apply).
 */
export const NO_REQUEST_ID = -1;

/** Every operation the client API knows. */
export const CLIENT_OPS: readonly ClientOp[] = [
  'get',
  'put',
  'delete',
  'deleteRange',
  'cas',
  'txn',
  'scan',
  'watch',
  'watchCancel',
  'compact',
  'status',
  'digest',
  'memberList',
  'memberAdd',
  'memberPromote',
  'memberRemove',
  'leaderTransfer',
  'leaseGrant',
  'leaseRevoke',
  'leaseKeepAlive',
  'leaseTimeToLive',
  'leaseList',
  'authenticate',
  'authStatus',
  'authEnable',
  'authDisable',
  'userAdd',
  'userDelete',
  'userGet',
  'userList',
  'userPasswd',
  'userGrantRole',
  'userRevokeRole',
  'roleAdd',
  'roleDelete',
  'roleGet',
  'roleList',
  'roleGrant',
  'roleRevoke',
];

const KNOWN_OPS: ReadonlySet<string> = new Set(CLIENT_OPS);

/**
 * A request that failed validation. `id` is the request id when one could be read (answer with
 * `{ id, ok: false, error: error.toWire() }`), or `NO_REQUEST_ID` when the frame is not a request
 * at all (answer, then close the connection).
 */
export class RequestValidationError extends KeelError {
  readonly requestId: number;
  constructor(requestId: number, error: { readonly code: ErrorCode; readonly message: string }) {
    super(error.code, error.message, { definite: true });
    this.requestId = requestId;
  }
}

/**
 * Why a request is refused, thrown inside validation and turned into the one
 * `RequestValidationError` at its boundary. Not an `Error`: a bad request costs no stack trace
 * (capturing one was most of the cost of refusing a request).
 */
class Refusal {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

type Fields = Record<string, unknown>;

function invalid(message: string): never {
  throw new Refusal('INVALID_ARGUMENT', message);
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function requireBytes(fields: Fields, name: string, maxBytes: number, allowEmpty: boolean): Uint8Array {
  const value = fields[name];
  if (!(value instanceof Uint8Array)) {
    return invalid(`'${name}' must be a byte string, got ${describe(value)}`);
  }
  if (!allowEmpty && value.length === 0) invalid(`'${name}' must not be empty`);
  if (value.length > maxBytes) {
    throw new Refusal('TOO_LARGE', `'${name}' is ${value.length} bytes; the limit is ${maxBytes} bytes`);
  }
  return value;
}

function optionalKeyBytes(fields: Fields, name: string): Uint8Array | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  return requireBytes(fields, name, LIMITS.keyBytesMax, false);
}

function requireKey(fields: Fields): Uint8Array {
  return requireBytes(fields, 'key', LIMITS.keyBytesMax, false);
}

function requireValue(fields: Fields, name = 'value'): Uint8Array {
  return requireBytes(fields, name, LIMITS.valueBytesMax, true);
}

function requireInteger(fields: Fields, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    return invalid(`'${name}' must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) invalid(`'${name}' must be in [${min}, ${max}], got ${value}`);
  return value;
}

function requireNodeId(fields: Fields, name: string): number {
  return requireInteger(fields, name, 1);
}

function requireBoolean(fields: Fields, name: string): boolean {
  const value = fields[name];
  if (typeof value !== 'boolean') return invalid(`'${name}' must be a boolean, got ${describe(value)}`);
  return value;
}

/** An optional boolean flag: absent (or null) is false. */
function optionalFlag(fields: Fields, name: string): boolean {
  const value = fields[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') return invalid(`'${name}' must be a boolean, got ${describe(value)}`);
  return value;
}

/** `{ lease }` when a put names a lease (a positive integer), else nothing. */
function leaseOption(fields: Fields): { lease?: number } {
  const value = fields['lease'];
  if (value === undefined || value === null) return {};
  return { lease: requireInteger(fields, 'lease', 1) };
}

/** `{ prevKv: true }` when the request asks for previous entries, else nothing. */
function prevKvOption(fields: Fields): { prevKv?: true } {
  return optionalFlag(fields, 'prevKv') ? { prevKv: true } : {};
}

function requireConsistency(fields: Fields): Consistency {
  const value = fields['consistency'];
  if (value !== 'linearizable' && value !== 'serializable') {
    return invalid(`'consistency' must be 'linearizable' or 'serializable', got ${describe(value)}`);
  }
  return value;
}

const ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Checks a "host:port" address (IPv6 hosts in brackets); returns it unchanged. */
function requireAddress(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string') return invalid(`'${name}' must be a "host:port" string, got ${describe(value)}`);
  const match = ADDRESS.exec(value);
  const port = match === null ? NaN : Number(match[1]);
  if (value.length > 255 || !(port >= 1 && port <= 65535)) {
    invalid(`'${name}' must be a "host:port" address with a port in [1, 65535], got ${JSON.stringify(value.slice(0, 300))}`);
  }
  return value;
}

function requireSession(fields: Fields): WriteSession {
  const session = fields['session'];
  if (!isObject(session)) return invalid(`'session' must be an object, got ${describe(session)}`);
  const clientId = session['clientId'];
  if (typeof clientId !== 'string' || clientId.length === 0) {
    invalid(`'session.clientId' must be a non-empty string, got ${describe(clientId)}`);
  }
  if (Buffer.byteLength(clientId) > LIMITS.clientIdBytesMax) {
    invalid(`'session.clientId' is longer than ${LIMITS.clientIdBytesMax} bytes`);
  }
  const seq = prefixed('session.', () => requireInteger(session, 'seq', 0));
  const ackedBelow = prefixed('session.', () => requireInteger(session, 'ackedBelow', 0));
  if (ackedBelow > seq) invalid(`'session.ackedBelow' (${ackedBelow}) must not exceed 'session.seq' (${seq})`);
  return { clientId, seq, ackedBelow };
}

function requireExpectation(fields: Fields): CasExpectation {
  const expect = fields['expect'];
  if (!isObject(expect)) return invalid(`'expect' must be an object, got ${describe(expect)}`);
  const has = (name: string): boolean => expect[name] !== undefined && expect[name] !== null;
  const present = ['value', 'revision', 'absent'].filter(has);
  if (present.length !== 1) {
    invalid(`'expect' must hold exactly one of 'value', 'revision' or 'absent', got ${present.length === 0 ? 'none' : present.join(', ')}`);
  }
  if (has('value')) return { value: prefixed('expect.', () => requireValue(expect)) };
  if (has('revision')) return { revision: prefixed('expect.', () => requireInteger(expect, 'revision', 0)) };
  if (expect['absent'] !== true) invalid(`'expect.absent' must be true, got ${describe(expect['absent'])}`);
  return { absent: true };
}

const COMPARE_OPS: ReadonlySet<string> = new Set<CompareOp>(['=', '!=', '<', '>']);
const NUMBER_TARGETS: ReadonlySet<string> = new Set(['version', 'createRevision', 'modRevision']);

/** A list of at most `LIMITS.txnOpsMax` items, each checked by `item` (messages name `name[i]`). */
function requireTxnList<T>(fields: Fields, name: string, item: (fields: Fields) => T): T[] {
  const list = fields[name];
  if (!Array.isArray(list)) return invalid(`'${name}' must be an array, got ${describe(list)}`);
  if (list.length > LIMITS.txnOpsMax) invalid(`'${name}' holds ${list.length} items; the limit is ${LIMITS.txnOpsMax}`);
  return list.map((raw: unknown, i) => {
    if (!isObject(raw)) return invalid(`'${name}[${i}]' must be an object, got ${describe(raw)}`);
    return prefixed(`${name}[${i}].`, () => item(raw));
  });
}

function requireCompare(c: Fields): TxnCompare {
  const key = requireKey(c);
  const target = c['target'];
  if (target === 'exists') return { key, target, value: requireBoolean(c, 'value') };
  const op = c['op'];
  if (typeof op !== 'string' || !COMPARE_OPS.has(op)) return invalid(`'op' must be one of '=', '!=', '<', '>', got ${describe(op)}`);
  if (target === 'value') return { key, target, op: op as CompareOp, value: requireValue(c) };
  if (typeof target === 'string' && NUMBER_TARGETS.has(target)) {
    return { key, target: target as 'version', op: op as CompareOp, value: requireInteger(c, 'value', 0) };
  }
  return invalid(`'target' must be 'value', 'version', 'createRevision', 'modRevision' or 'exists', got ${describe(target)}`);
}

function requireTxnOp(o: Fields): TxnOp {
  const op = o['op'];
  switch (op) {
    case 'put':
      return { op, key: requireKey(o), value: requireValue(o), ...prevKvOption(o), ...leaseOption(o) };
    case 'delete':
      return { op, key: requireKey(o), ...prevKvOption(o) };
    case 'get':
      return { op, key: requireKey(o) };
    case 'deleteRange':
    case 'range': {
      const start = requireBytes(o, 'start', LIMITS.keyBytesMax, true);
      const end = optionalKeyBytes(o, 'end');
      const bounds = { start, ...(end !== undefined ? { end } : {}) };
      return op === 'range' ? { op, ...bounds, limit: requireInteger(o, 'limit', 1, LIMITS.scanLimitMax) } : { op, ...bounds, ...prevKvOption(o) };
    }
    default:
      return invalid(`'op' must be 'put', 'delete', 'deleteRange', 'get' or 'range', got ${describe(op)}`);
  }
}

/** A watch's range: exactly one of `key`, `prefix` (non-empty) or `start` (may be empty) with an optional `end` after it. */
function requireWatchRange(fields: Fields): { key: Uint8Array } | { prefix: Uint8Array } | { start: Uint8Array; end?: Uint8Array } {
  const given = ['key', 'prefix', 'start'].filter((name) => fields[name] !== undefined && fields[name] !== null);
  if (given.length !== 1) invalid(`a watch takes exactly one of 'key', 'prefix' or 'start', got ${given.length === 0 ? 'none' : given.join(', ')}`);
  const end = optionalKeyBytes(fields, 'end');
  if (given[0] !== 'start' && end !== undefined) invalid(`'end' goes with 'start' only`);
  if (given[0] === 'key') return { key: requireKey(fields) };
  if (given[0] === 'prefix') return { prefix: requireBytes(fields, 'prefix', LIMITS.keyBytesMax, false) };
  const start = requireBytes(fields, 'start', LIMITS.keyBytesMax, true);
  if (end !== undefined && Buffer.compare(start, end) >= 0) invalid(`'end' must sort after 'start'`);
  return { start, ...(end !== undefined ? { end } : {}) };
}

/** An optional revision (>= 1): `{ [name]: n }` when present. */
function optionalRevision(fields: Fields, name: string): Record<string, number> {
  const value = fields[name];
  if (value === undefined || value === null) return {};
  return { [name]: requireInteger(fields, name, 1) };
}

/** Runs `check`, qualifying the field name in its message with `prefix`. */
function prefixed<T>(prefix: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof Refusal) throw new Refusal(error.code, error.message.replace(/^'/, `'${prefix}`));
    throw error;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a byte string';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return `a ${typeof value}`;
}

function validateFields(id: number, op: ClientOp, fields: Fields): ClientRequest {
  switch (op) {
    case 'get':
      return { id, op, key: requireKey(fields), consistency: requireConsistency(fields) };
    case 'put':
      return {
        id,
        op,
        key: requireKey(fields),
        value: requireValue(fields),
        ...prevKvOption(fields),
        ...leaseOption(fields),
        session: requireSession(fields),
      };
    case 'delete':
      return { id, op, key: requireKey(fields), ...prevKvOption(fields), session: requireSession(fields) };
    case 'deleteRange': {
      const start = requireBytes(fields, 'start', LIMITS.keyBytesMax, true);
      const end = optionalKeyBytes(fields, 'end');
      return { id, op, start, ...(end !== undefined ? { end } : {}), ...prevKvOption(fields), session: requireSession(fields) };
    }
    case 'cas':
      return {
        id,
        op,
        key: requireKey(fields),
        expect: requireExpectation(fields),
        value: requireValue(fields),
        session: requireSession(fields),
      };
    case 'txn':
      return {
        id,
        op,
        compare: requireTxnList(fields, 'compare', requireCompare),
        success: requireTxnList(fields, 'success', requireTxnOp),
        failure: requireTxnList(fields, 'failure', requireTxnOp),
        session: requireSession(fields),
      };
    case 'scan': {
      const start = optionalKeyBytes(fields, 'start');
      const end = optionalKeyBytes(fields, 'end');
      const prefix = optionalKeyBytes(fields, 'prefix');
      if (prefix !== undefined && (start !== undefined || end !== undefined)) {
        invalid(`a scan takes either 'prefix' or 'start'/'end', not both`);
      }
      const limit = requireInteger(fields, 'limit', 1, LIMITS.scanLimitMax);
      const consistency = requireConsistency(fields);
      return {
        id,
        op,
        ...(start !== undefined ? { start } : {}),
        ...(end !== undefined ? { end } : {}),
        ...(prefix !== undefined ? { prefix } : {}),
        limit,
        consistency,
      };
    }
    case 'watch':
      return { id, op, ...requireWatchRange(fields), ...optionalRevision(fields, 'fromRevision'), ...prevKvOption(fields) };
    case 'watchCancel':
      return { id, op, watchId: requireInteger(fields, 'watchId', 0) };
    case 'compact':
      return { id, op, revision: requireInteger(fields, 'revision', 1) };
    case 'status':
    case 'digest':
    case 'memberList':
      return { id, op };
    case 'memberAdd':
      return {
        id,
        op,
        nodeId: requireNodeId(fields, 'nodeId'),
        peerAddress: requireAddress(fields, 'peerAddress'),
        clientAddress: requireAddress(fields, 'clientAddress'),
        learner: requireBoolean(fields, 'learner'),
        ...(fields.force === undefined ? {} : { force: requireBoolean(fields, 'force') }),
      };
    case 'memberPromote':
    case 'memberRemove':
      return { id, op, nodeId: requireNodeId(fields, 'nodeId') };
    case 'leaderTransfer':
      return { id, op, to: requireNodeId(fields, 'to') };
    case 'leaseGrant':
      return { id, op, ttl: requireInteger(fields, 'ttl', LIMITS.leaseTtlSecondsMin, LIMITS.leaseTtlSecondsMax), session: requireSession(fields) };
    case 'leaseRevoke':
      return { id, op, lease: requireInteger(fields, 'lease', 1), session: requireSession(fields) };
    case 'leaseKeepAlive':
      return { id, op, lease: requireInteger(fields, 'lease', 1) };
    case 'leaseTimeToLive':
      return { id, op, lease: requireInteger(fields, 'lease', 1), ...(optionalFlag(fields, 'keys') ? { keys: true } : {}) };
    case 'leaseList':
      return { id, op };
    case 'authStatus':
    case 'authEnable':
    case 'authDisable':
    case 'userList':
    case 'roleList':
      return { id, op };
    case 'authenticate':
    case 'userAdd':
    case 'userPasswd':
      return { id, op, user: requireName(fields, 'user'), password: requirePassword(fields) };
    case 'userDelete':
    case 'userGet':
      return { id, op, user: requireName(fields, 'user') };
    case 'userGrantRole':
    case 'userRevokeRole':
      return { id, op, user: requireName(fields, 'user'), role: requireName(fields, 'role') };
    case 'roleAdd':
    case 'roleDelete':
    case 'roleGet':
      return { id, op, role: requireName(fields, 'role') };
    case 'roleGrant': {
      const permission = fields['permission'];
      if (!isObject(permission)) return invalid(`'permission' must be a map, got ${describe(permission)}`);
      return { id, op, role: requireName(fields, 'role'), permission: prefixed('permission.', () => requirePermission(permission)) };
    }
    case 'roleRevoke': {
      const { start, end } = requireKeyRange(fields);
      return { id, op, role: requireName(fields, 'role'), start, end };
    }
  }
}

function requireName(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > AUTH_LIMITS.nameChars) {
    return invalid(`'${name}' must be a string of 1 to ${AUTH_LIMITS.nameChars} characters, got ${describe(value)}`);
  }
  return value;
}

function requirePassword(fields: Fields): string {
  const value = fields['password'];
  if (typeof value !== 'string' || value.length === 0) return invalid(`'password' must be a non-empty string`);
  if (Buffer.byteLength(value, 'utf8') > AUTH_LIMITS.passwordBytesMax) invalid(`'password' exceeds ${AUTH_LIMITS.passwordBytesMax} bytes`);
  return value;
}

/** `start` (may be empty: from the first key) and `end` (null: to the last key), a non-empty range. */
function requireKeyRange(fields: Fields): { start: Uint8Array; end: Uint8Array | null } {
  const start = requireBytes(fields, 'start', LIMITS.keyBytesMax, true);
  const end = fields['end'] === null ? null : requireBytes(fields, 'end', LIMITS.keyBytesMax + 1, false);
  if (end !== null && Buffer.compare(start, end) >= 0) invalid(`'end' must be after 'start' (the range would be empty)`);
  return { start, end };
}

function requirePermission(fields: Fields): Permission {
  const mode = fields['mode'];
  if (mode !== 'read' && mode !== 'write' && mode !== 'readwrite') {
    return invalid(`'mode' must be 'read', 'write' or 'readwrite', got ${describe(mode)}`);
  }
  return { mode, ...requireKeyRange(fields) };
}

/**
 * Reads the request id of a decoded frame, or `NO_REQUEST_ID` when it has none (not an object,
 * or `id` not a non-negative safe integer).
 */
export function requestIdOf(value: unknown): number {
  if (!isObject(value)) return NO_REQUEST_ID;
  const id = value['id'];
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : NO_REQUEST_ID;
}

/**
 * Validates a decoded client request frame and returns a well-typed copy holding only the known
 * fields (byte strings are shared, not copied). `frameBytes` is the frame's payload size, checked
 * against `LIMITS.requestBytesMax` (pass 0 to skip, e.g. before encoding on the client).
 *
 * Throws `RequestValidationError` (a `KeelError`; see the module doc for the codes) whose
 * `requestId` says which request to answer.
 */
export function validateClientRequest(value: unknown, frameBytes = 0): ClientRequest {
  const id = requestIdOf(value);
  if (id === NO_REQUEST_ID) {
    throw new RequestValidationError(
      NO_REQUEST_ID,
      new Refusal('MALFORMED_FRAME', `a request must be a map with a non-negative integer 'id', got ${describe(value)}`),
    );
  }
  try {
    if (frameBytes > LIMITS.requestBytesMax) {
      throw new Refusal('TOO_LARGE', `request of ${frameBytes} bytes exceeds the limit of ${LIMITS.requestBytesMax} bytes`);
    }
    const fields = value as Fields;
    const op = fields['op'];
    if (typeof op !== 'string') return invalid(`'op' must be a string naming the operation, got ${describe(op)}`);
    if (!KNOWN_OPS.has(op)) {
      throw new Refusal('UNKNOWN_COMMAND', `unknown operation ${JSON.stringify(op.slice(0, 64))}; known: ${CLIENT_OPS.join(', ')}`);
    }
    return validateFields(id, op as ClientOp, fields);
  } catch (error) {
    if (error instanceof Refusal) throw new RequestValidationError(id, error);
    throw error;
  }
}
