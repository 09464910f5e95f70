/**
 * Byte layouts of everything the store keeps in LevelDB besides user data and sessions
 * (those are in `../state-machine/`). One place per layout; every decoder validates and throws
 * `StoreError('CORRUPTED')` instead of handing garbage to the core.
 */
import type { Member } from '@keel/protocol';
import type { ConfChange, ConfState, Entry, HardState, SnapshotMeta } from '@keel/raft';
import { pack, unpack } from '../state-machine/msgpack.js';
import { readUint64, writeUint64 } from '../state-machine/stored-value.js';
import { StoreError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Log: key = index as u64 big-endian (byte order = numeric order); value below.
// ---------------------------------------------------------------------------------------------

export function logKey(index: number): Uint8Array {
  const key = new Uint8Array(8);
  writeUint64(new DataView(key.buffer), 0, index);
  return key;
}

export function logIndex(key: Uint8Array): number {
  if (key.byteLength !== 8) throw corrupted(`log key of ${key.byteLength} bytes`);
  return readUint64(new DataView(key.buffer, key.byteOffset, 8), 0);
}

const ENTRY_NORMAL = 0;
const ENTRY_CONF = 1;
const NORMAL_HEADER_BYTES = 9;
const CHANGE_TYPES: readonly ConfChange['type'][] = ['addVoter', 'addLearner', 'removeNode'];

/**
 * normal: [0][term: u64 BE][data]      (no msgpack on the hot path: one allocation, one copy)
 * conf:   [1][msgpack [term, changeType, nodeId, context | null, voters, learners]]
 * The index is the key.
 */
export function encodeEntry(e: Entry): Uint8Array {
  if (e.type === 'normal') {
    // From Node's shared buffer pool (every byte is written below): the encoding lives only until
    // LevelDB copies it into its batch, and a pooled slice costs the young generation no
    // ArrayBuffer of its own (a scavenge sweeps every young ArrayBuffer).
    const out = Buffer.allocUnsafe(NORMAL_HEADER_BYTES + e.data.byteLength);
    out[0] = ENTRY_NORMAL;
    writeUint64(new DataView(out.buffer, out.byteOffset, NORMAL_HEADER_BYTES), 1, e.term);
    out.set(e.data, NORMAL_HEADER_BYTES);
    return out;
  }
  const body = pack([e.term, CHANGE_TYPES.indexOf(e.change.type), e.change.nodeId, e.change.context ?? null, e.conf.voters, e.conf.learners]);
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = ENTRY_CONF;
  out.set(body, 1);
  return out;
}

export function decodeEntry(index: number, bytes: Uint8Array): Entry {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === ENTRY_NORMAL && bytes.byteLength >= NORMAL_HEADER_BYTES) {
    return {
      type: 'normal',
      index,
      term: readUint64(view, 1),
      data: new Uint8Array(bytes.buffer, bytes.byteOffset + NORMAL_HEADER_BYTES, bytes.byteLength - NORMAL_HEADER_BYTES),
    };
  }
  if (bytes[0] === ENTRY_CONF) {
    const a = unpackOrCorrupt(bytes.subarray(1), `log entry ${index}`);
    if (Array.isArray(a) && a.length === 6 && isCount(a[0]) && CHANGE_TYPES[a[1] as number] !== undefined && isCount(a[2])) {
      const context = a[3];
      const change: ConfChange =
        context instanceof Uint8Array
          ? { type: CHANGE_TYPES[a[1] as number]!, nodeId: a[2], context: plain(context) }
          : { type: CHANGE_TYPES[a[1] as number]!, nodeId: a[2] };
      return { type: 'confChange', index, term: a[0], change, conf: toConf(a[4], a[5], `log entry ${index}`) };
    }
  }
  throw corrupted(`log entry ${index} is not a valid entry`);
}

/** Whether the encoding at `bytes[offset]` is a configuration entry's (read without decoding it). */
export function isConfEntryAt(bytes: Uint8Array, offset: number): boolean {
  return bytes[offset] === ENTRY_CONF;
}

/**
 * `decodeEntry` of the `length` bytes at `offset` of `bytes`, for a reader that keeps each
 * entry's term apart (the packed log): a normal entry is its data's view and the object, with no
 * DataView to read the term.
 */
export function decodeEntryAt(index: number, term: number, bytes: Uint8Array, offset: number, length: number): Entry {
  if (bytes[offset] === ENTRY_NORMAL && length >= NORMAL_HEADER_BYTES) {
    return { type: 'normal', index, term, data: new Uint8Array(bytes.buffer, bytes.byteOffset + offset + NORMAL_HEADER_BYTES, length - NORMAL_HEADER_BYTES) };
  }
  return decodeEntry(index, bytes.subarray(offset, offset + length));
}

// ---------------------------------------------------------------------------------------------
// Meta records (msgpack arrays)
// ---------------------------------------------------------------------------------------------

/** Keys of the `meta` sublevel. */
export const META = {
  /** Layout version of the whole database. */
  format: 'format',
  hardState: 'hard',
  /** [index, term] of the last applied entry; written with the entries' effects. */
  applied: 'applied',
  /** Membership with addresses as of the applied index. */
  members: 'members',
  /** Meta of the latest snapshot: the log base. */
  snapshot: 'snapshot',
  /** Which data generation holds user data and sessions. */
  generation: 'generation',
  /** Old data generations still to be cleared. */
  garbage: 'garbage',
  /** The oldest revision the history keeps (1: never compacted); written with the entries' effects. */
  compacted: 'compacted',
  /**
   * The `--initial-cluster` this data directory was bootstrapped with (a membership record), so a
   * restart with a different one is noticed. Absent when the node joined an existing cluster.
   */
  bootstrap: 'bootstrap',
  /** The auth state (users, roles, enabled) as of the applied index (state-machine/auth-state.ts). */
  auth: 'auth',
} as const;

/**
 * 2: stored values carry the key's version (stored-value.ts).
 * 3: a generation holds a lease table (ls<N>) and the history of changes by revision (hs<N>,
 *    state-machine/history.ts); the auth state (`META.auth`) and the compaction point
 *    (`compacted`); snapshots carry all of them.
 */
export const FORMAT_VERSION = 3;

export function encodeHardState(hs: HardState): Uint8Array {
  return pack([hs.term, hs.vote, hs.commit]);
}

export function decodeHardState(b: Uint8Array): HardState {
  const a = unpackOrCorrupt(b, 'hard state');
  if (!Array.isArray(a) || a.length !== 3 || !a.every(isCount)) throw corrupted('hard state is not [term, vote, commit]');
  const [term, vote, commit] = a as [number, number, number];
  return { term, vote, commit };
}

export interface AppliedMark {
  readonly index: number;
  readonly term: number;
}

export function encodeApplied(a: AppliedMark): Uint8Array {
  return pack([a.index, a.term]);
}

export function decodeApplied(b: Uint8Array): AppliedMark {
  const a = unpackOrCorrupt(b, 'applied index');
  if (!Array.isArray(a) || a.length !== 2 || !a.every(isCount)) throw corrupted('applied is not [index, term]');
  const [index, term] = a as [number, number];
  return { index, term };
}

export interface Membership {
  readonly conf: ConfState;
  readonly members: readonly Member[];
}

export function encodeMembership(m: Membership): Uint8Array {
  return pack([m.conf.voters, m.conf.learners, m.members.map((x) => [x.id, x.role === 'voter' ? 0 : 1, x.peerAddress, x.clientAddress])]);
}

export function decodeMembership(b: Uint8Array, what = 'membership'): Membership {
  const a = unpackOrCorrupt(b, what);
  if (!Array.isArray(a) || a.length !== 3 || !Array.isArray(a[2])) throw corrupted(`${what} is not [voters, learners, members]`);
  const conf = toConf(a[0], a[1], what);
  const members = (a[2] as unknown[]).map((x): Member => {
    if (!Array.isArray(x) || x.length !== 4 || !isCount(x[0]) || (x[1] !== 0 && x[1] !== 1) || typeof x[2] !== 'string' || typeof x[3] !== 'string') {
      throw corrupted(`${what}: malformed member`);
    }
    return { id: x[0], role: x[1] === 0 ? 'voter' : 'learner', peerAddress: x[2], clientAddress: x[3] };
  });
  return { conf, members };
}

export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  return pack([m.index, m.term, m.conf.voters, m.conf.learners]);
}

export function decodeSnapshotMeta(b: Uint8Array): SnapshotMeta {
  const a = unpackOrCorrupt(b, 'snapshot meta');
  if (!Array.isArray(a) || a.length !== 4 || !isCount(a[0]) || !isCount(a[1])) throw corrupted('snapshot meta is not [index, term, voters, learners]');
  return { index: a[0], term: a[1], conf: toConf(a[2], a[3], 'snapshot meta') };
}

export function encodeCount(n: number): Uint8Array {
  return pack(n);
}

export function decodeCount(b: Uint8Array, what: string): number {
  const n = unpackOrCorrupt(b, what);
  if (!isCount(n)) throw corrupted(`${what} is not a non-negative integer`);
  return n;
}

export function encodeCounts(ns: readonly number[]): Uint8Array {
  return pack(ns);
}

export function decodeCounts(b: Uint8Array, what: string): number[] {
  const a = unpackOrCorrupt(b, what);
  if (!Array.isArray(a) || !a.every(isCount)) throw corrupted(`${what} is not a list of integers`);
  return a;
}

// ---------------------------------------------------------------------------------------------

export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function toConf(voters: unknown, learners: unknown, what: string): ConfState {
  const ids = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => isCount(x) && x > 0);
  if (!ids(voters) || !ids(learners)) throw corrupted(`${what}: conf is not two lists of node ids`);
  return { voters, learners };
}

function unpackOrCorrupt(b: Uint8Array, what: string): unknown {
  try {
    return unpack(b);
  } catch (cause) {
    throw new StoreError('CORRUPTED', `${what} is not valid msgpack`, { cause });
  }
}

function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function corrupted(message: string): StoreError {
  return new StoreError('CORRUPTED', message);
}
