/**
 * Structural validation of Raft messages received from peers. Frames are decoded by the shared
 * frame codec (`@keel/protocol`); this module checks that a decoded value really is a `Message`
 * (every field of the right type) before it reaches the Raft core, so a garbage message from a
 * peer is dropped and logged instead of crashing the node. Byte strings (entry data, conf-change
 * context, snapshot data) arrive as `Uint8Array`s (Node `Buffer`s).
 */
import { malformedFrameError } from './errors.js';
import type { ConfChange, ConfState, Entry, Message, SnapshotMeta } from '@keel/raft';

type Fields = Record<string, unknown>;

/** Thrown for a structurally invalid message; `code` is MALFORMED_FRAME. */
function bad(what: string): never {
  throw malformedFrameError(`invalid raft message: ${what}`);
}

function obj(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) bad(`${what} is not a map`);
  return value as Fields;
}

function nat(f: Fields, name: string): void {
  const v = f[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`'${name}' must be a non-negative integer`);
}

function nodeId(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) bad(`${what} must be a positive node id`);
}

function bool(f: Fields, name: string): void {
  if (typeof f[name] !== 'boolean') bad(`'${name}' must be a boolean`);
}

function optionalString(f: Fields, name: string): void {
  const v = f[name];
  if (v !== undefined && typeof v !== 'string') bad(`'${name}' must be a string when present`);
}

function nodeIds(v: unknown, what: string): void {
  if (!Array.isArray(v)) bad(`${what} must be an array of node ids`);
  for (const id of v) nodeId(id, `${what} element`);
}

/** Checks a decoded `ConfState`. */
export function validateConfState(value: unknown): ConfState {
  const f = obj(value, 'conf');
  nodeIds(f['voters'], "'conf.voters'");
  nodeIds(f['learners'], "'conf.learners'");
  return f as unknown as ConfState;
}

/** Checks a decoded `SnapshotMeta`. Throws `KeelError('MALFORMED_FRAME')`. */
export function validateSnapshotMeta(value: unknown): SnapshotMeta {
  const f = obj(value, 'snapshot meta');
  nat(f, 'index');
  nat(f, 'term');
  validateConfState(f['conf']);
  return f as unknown as SnapshotMeta;
}

function validateConfChange(value: unknown): void {
  const f = obj(value, "'change'");
  const type = f['type'];
  if (type !== 'addVoter' && type !== 'addLearner' && type !== 'removeNode') bad(`unknown conf change type`);
  nodeId(f['nodeId'], "'change.nodeId'");
  const context = f['context'];
  if (context !== undefined && !(context instanceof Uint8Array)) bad(`'change.context' must be a byte string when present`);
}

function validateEntry(value: unknown): void {
  const f = obj(value, 'entry');
  nat(f, 'index');
  nat(f, 'term');
  if (f['type'] === 'normal') {
    if (!(f['data'] instanceof Uint8Array)) bad(`entry 'data' must be a byte string`);
  } else if (f['type'] === 'confChange') {
    validateConfChange(f['change']);
    validateConfState(f['conf']);
  } else {
    bad(`unknown entry type`);
  }
}

/** Per message type: the checks beyond `from`, `to` and `term`. */
const CHECKS: Record<Message['type'], (f: Fields) => void> = {
  app(f) {
    nat(f, 'prevIndex');
    nat(f, 'prevTerm');
    nat(f, 'commit');
    const entries = f['entries'];
    if (!Array.isArray(entries)) bad(`'entries' must be an array`);
    for (const entry of entries as unknown[]) validateEntry(entry as Entry);
  },
  appResp(f) {
    nat(f, 'index');
    bool(f, 'reject');
    nat(f, 'hintIndex');
    nat(f, 'hintTerm');
  },
  heartbeat(f) {
    nat(f, 'commit');
    optionalString(f, 'context');
  },
  heartbeatResp(f) {
    optionalString(f, 'context');
  },
  vote: checkVote,
  preVote: checkVote,
  voteResp: checkVoteResp,
  preVoteResp: checkVoteResp,
  snap(f) {
    const snapshot = obj(f['snapshot'], "'snapshot'");
    validateSnapshotMeta(snapshot['meta']);
    if (!(snapshot['data'] instanceof Uint8Array)) bad(`'snapshot.data' must be a byte string`);
  },
  timeoutNow() {},
  readIndex(f) {
    if (typeof f['requestId'] !== 'string') bad(`'requestId' must be a string`);
  },
  readIndexResp(f) {
    if (typeof f['requestId'] !== 'string') bad(`'requestId' must be a string`);
    nat(f, 'index');
    bool(f, 'reject');
  },
};

function checkVote(f: Fields): void {
  nat(f, 'lastIndex');
  nat(f, 'lastTerm');
  bool(f, 'transfer');
}

function checkVoteResp(f: Fields): void {
  bool(f, 'reject');
}

/**
 * Checks that a decoded frame is a well-formed Raft `Message` and returns it (the same object).
 * Throws `KeelError('MALFORMED_FRAME')` naming the first problem found.
 */
export function validateMessage(value: unknown): Message {
  const f = obj(value, 'message');
  const type = f['type'];
  if (typeof type !== 'string' || !Object.hasOwn(CHECKS, type)) {
    bad(`unknown message type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 32)) : `(a ${typeof type})`}`);
  }
  nodeId(f['from'], "'from'");
  nodeId(f['to'], "'to'");
  nat(f, 'term');
  CHECKS[type as Message['type']](f);
  return f as unknown as Message;
}
