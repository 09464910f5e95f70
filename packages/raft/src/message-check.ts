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

function entryProblem(e: unknown, index: number): string | undefined {
  if (e === null || typeof e !== 'object') return 'entry is not an object';
  const entry = e as Entry;
  if (entry.index !== index) return `entry index ${String(entry.index)}, expected ${index}`;
  if (!isIndex(entry.term) || entry.term < 1) return 'entry term';
  if (entry.type === 'normal') return entry.data instanceof Uint8Array ? undefined : 'entry data';
  if (entry.type === 'confChange') {
    const conf = entry.conf as unknown as { voters?: unknown; learners?: unknown } | undefined;
    if (conf === null || typeof conf !== 'object' || !isIdList(conf.voters) || !isIdList(conf.learners)) return 'entry conf';
    return entry.change !== null && typeof entry.change === 'object' ? undefined : 'entry change';
  }
  return 'entry type';
}

/**
 * Why `m` is not a well-formed message, or `undefined` if it is. Checks the shape the core
 * relies on (types, integer fields, contiguous entries), not the protocol semantics.
 */
export function messageProblem(m: unknown): string | undefined {
  if (m === null || typeof m !== 'object') return 'not an object';
  const msg = m as Message;
  if (!TYPES.has(msg.type)) return `unknown type ${String(msg.type)}`;
  if (!isId(msg.from) || !isId(msg.to) || !isIndex(msg.term)) return 'from/to/term';
  switch (msg.type) {
    case 'app': {
      if (!isIndex(msg.prevIndex) || !isIndex(msg.prevTerm) || !isIndex(msg.commit)) return 'app indexes';
      if (!Array.isArray(msg.entries)) return 'app entries';
      for (let k = 0; k < msg.entries.length; k++) {
        const p = entryProblem(msg.entries[k], msg.prevIndex + 1 + k);
        if (p !== undefined) return p;
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
      if (meta.conf === null || typeof meta.conf !== 'object' || !isIdList(meta.conf.voters) || !isIdList(meta.conf.learners)) {
        return 'snapshot conf';
      }
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
