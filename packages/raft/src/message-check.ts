import { CHANGE_TYPES } from './conf-change.js';
import type { Entry, Message } from './types.js';

const TYPES: ReadonlySet<string> = new Set([
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'vote',
  'preVote',
  'voteResp',
  'preVoteResp',
  'snap',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
]);

const isIndex = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isIdList = (v: unknown): boolean => Array.isArray(v) && v.every(isId);
/** Messages only a leader or a candidate sends: there is none in term 0. */
const TERM_BOUND: ReadonlySet<string> = new Set(['app', 'heartbeat', 'snap', 'timeoutNow', 'vote', 'preVote']);

/**
 * A membership a leader can send: at least one voter (the last voter cannot be removed), id lists
 * without duplicates (a duplicate would count twice in every quorum), no node both voter and learner.
 */
function isConf(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const conf = v as { voters?: unknown; learners?: unknown };
  if (!isIdList(conf.voters) || !isIdList(conf.learners) || (conf.voters as unknown[]).length === 0) return false;
  const ids = [...(conf.voters as number[]), ...(conf.learners as number[])];
  return new Set(ids).size === ids.length;
}

function entryProblem(e: unknown, index: number, minTerm: number, maxTerm: number): string | undefined {
  if (e === null || typeof e !== 'object') return 'entry is not an object';
  const entry = e as Entry;
  if (entry.index !== index) return `entry index ${String(entry.index)}, expected ${index}`;
  if (!isIndex(entry.term) || entry.term < 1) return 'entry term';
  // A leader's log has non-decreasing terms, none above the leader's own term.
  if (entry.term < minTerm || entry.term > maxTerm) return `entry term ${entry.term} outside [${minTerm}, ${maxTerm}]`;
  if (entry.type === 'normal') return entry.data instanceof Uint8Array ? undefined : 'entry data';
  if (entry.type === 'confChange') {
    if (!isConf(entry.conf)) return 'entry conf';
    const change = entry.change as unknown as { type?: unknown; nodeId?: unknown; context?: unknown } | null;
    if (change === null || typeof change !== 'object' || !CHANGE_TYPES.has(change.type as string) || !isId(change.nodeId)) {
      return 'entry change';
    }
    // Entry sizes (flow control) read the context's byteLength.
    return change.context === undefined || change.context instanceof Uint8Array ? undefined : 'entry change context';
  }
  return 'entry type';
}

/**
 * Why `m` is not a well-formed message, or `undefined` if it is. Checks the shape the core
 * relies on (types, integer fields, contiguous entries) and what one message says about itself
 * (entry and snapshot terms a leader of `m.term` could hold); not the protocol semantics, which
 * need the receiver's state.
 */
export function messageProblem(m: unknown): string | undefined {
  if (m === null || typeof m !== 'object') return 'not an object';
  const msg = m as Message;
  if (!TYPES.has(msg.type)) return `unknown type ${String(msg.type)}`;
  if (!isId(msg.from) || !isId(msg.to) || !isIndex(msg.term)) return 'from/to/term';
  if (msg.term === 0 && TERM_BOUND.has(msg.type)) return `${msg.type} in term 0`;
  switch (msg.type) {
    case 'app': {
      if (!isIndex(msg.prevIndex) || !isIndex(msg.prevTerm) || !isIndex(msg.commit)) return 'app indexes';
      if (!Array.isArray(msg.entries)) return 'app entries';
      let minTerm = msg.prevTerm;
      for (let k = 0; k < msg.entries.length; k++) {
        const p = entryProblem(msg.entries[k], msg.prevIndex + 1 + k, minTerm, msg.term);
        if (p !== undefined) return p;
        minTerm = msg.entries[k]!.term;
      }
      return undefined;
    }
    case 'appResp':
      return isIndex(msg.index) && isIndex(msg.hintIndex) && isIndex(msg.hintTerm) && typeof msg.reject === 'boolean'
        ? undefined
        : 'appResp fields';
    case 'heartbeat':
      if (!isIndex(msg.commit)) return 'heartbeat commit';
      return msg.context === undefined || typeof msg.context === 'string' ? undefined : 'heartbeat context';
    case 'heartbeatResp':
      return msg.context === undefined || typeof msg.context === 'string' ? undefined : 'heartbeatResp context';
    case 'vote':
    case 'preVote':
      return isIndex(msg.lastIndex) && isIndex(msg.lastTerm) ? undefined : 'vote fields';
    case 'voteResp':
    case 'preVoteResp':
      return typeof msg.reject === 'boolean' ? undefined : 'voteResp reject';
    case 'snap': {
      const meta = msg.snapshot?.meta;
      if (meta === undefined || !isIndex(meta.index) || !isIndex(meta.term)) return 'snapshot meta';
      // The snapshot covers the sender's committed entries: terms in [1, its term].
      if (meta.term > msg.term || (meta.index > 0 && meta.term < 1)) return 'snapshot term';
      if (!isConf(meta.conf)) return 'snapshot conf';
      return msg.snapshot.data instanceof Uint8Array ? undefined : 'snapshot data';
    }
    case 'timeoutNow':
      return undefined;
    case 'readIndex':
      return typeof msg.requestId === 'string' ? undefined : 'readIndex requestId';
    case 'readIndexResp':
      return typeof msg.requestId === 'string' && isIndex(msg.index) && typeof msg.reject === 'boolean'
        ? undefined
        : 'readIndexResp fields';
  }
}
