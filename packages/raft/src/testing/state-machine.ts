import type { ConfState, Entry, Snapshot } from '../types.js';

/**
 * The simulated application state machine. Its whole state is a digest of the applied log prefix
 * (a rolling hash over every applied entry), so two nodes agree on their state at index `i`
 * exactly when they applied the same entries `1..i`. It also tracks the membership as of the
 * applied index, which is what a snapshot taken at that index must record.
 *
 * The state machine is durable: `applied` and the digest are "written" atomically with each
 * entry's effects, as the server does with LevelDB.
 */
export class SimStateMachine {
  applied: number;
  digest: number;
  /** Number of client (non-empty normal) entries applied. */
  writes: number;
  conf: ConfState;

  constructor(conf: ConfState, applied = 0, digest = 0, writes = 0) {
    this.conf = conf;
    this.applied = applied;
    this.digest = digest;
    this.writes = writes;
  }

  /** Apply the next entry; the caller checks `entry.index === applied + 1`. */
  apply(entry: Entry): void {
    this.applied = entry.index;
    this.digest = mixDigest(this.digest, entryKey(entry));
    if (entry.type === 'confChange') this.conf = entry.conf;
    else if (entry.data.byteLength > 0) this.writes++;
  }

  /** The snapshot payload: the digest and counters (the membership travels in the snapshot's meta). */
  encode(): Uint8Array {
    return encodeAscii(`${this.applied}/${this.digest}/${this.writes}`);
  }

  /** Replace the state with a snapshot's. Throws `TypeError` on a payload this class did not write. */
  restore(snapshot: Snapshot): void {
    const parts = decodeAscii(snapshot.data).split('/').map(Number);
    if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p)) || parts[0] !== snapshot.meta.index) {
      throw new TypeError(`SimStateMachine.restore: bad snapshot payload at ${snapshot.meta.index}`);
    }
    this.applied = parts[0]!;
    this.digest = parts[1]!;
    this.writes = parts[2]!;
    this.conf = snapshot.meta.conf;
  }
}

/** A short, stable identity for an entry: its term, kind and content. */
export function entryKey(entry: Entry): string {
  if (entry.type === 'confChange') return `${entry.term}:cc:${entry.change.type}:${entry.change.nodeId}`;
  return `${entry.term}:${entry.data.byteLength === 0 ? '-' : decodeAscii(entry.data)}`;
}

/** Extend a prefix digest by one entry key (FNV-1a over two lanes, 53 bits). */
export function mixDigest(digest: number, key: string): number {
  let lo = (digest % 0x1_0000_0000) ^ 0x811c9dc5;
  let hi = Math.floor(digest / 0x1_0000_0000) ^ 0x1b873593;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    lo = Math.imul(lo ^ c, 0x01000193);
    hi = Math.imul(hi ^ c ^ (lo >>> 13), 0x5bd1e995);
  }
  return (lo >>> 0) + (hi & 0x1fffff) * 0x1_0000_0000;
}

/** Bytes of an ASCII string (the sim's payloads are ASCII; no TextEncoder in the core's lib). */
export function encodeAscii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f;
  return out;
}

export function decodeAscii(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}
