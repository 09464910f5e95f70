import type { ConfState, Entry, HardState, Message, Ready, SoftState } from './types.js';

/**
 * One-line renderings of the core's data for logs and golden transcripts. Stable enough to
 * diff: tests compare transcripts printed by these functions.
 */

export function describeConf(conf: ConfState): string {
  const learners = conf.learners.length > 0 ? ` learners=[${conf.learners.join(',')}]` : '';
  return `voters=[${conf.voters.join(',')}]${learners}`;
}

/** `5/2 normal 3B`, `6/2 conf addVoter 4 -> voters=[1,2,3,4]`. */
export function describeEntry(e: Entry): string {
  if (e.type === 'normal') return `${e.index}/${e.term} ${e.data.byteLength === 0 ? 'noop' : `normal ${e.data.byteLength}B`}`;
  return `${e.index}/${e.term} conf ${e.change.type} ${e.change.nodeId} -> ${describeConf(e.conf)}`;
}

function describeEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return '[]';
  if (entries.length <= 4) return `[${entries.map(describeEntry).join(', ')}]`;
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  return `[${describeEntry(first)} … ${describeEntry(last)} (${entries.length})]`;
}

/** `1->2 app t3 prev=5/2 commit=5 [6/3 noop]`. */
export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'app':
      return `${head} prev=${m.prevIndex}/${m.prevTerm} commit=${m.commit} ${describeEntries(m.entries)}`;
    case 'appResp':
      return m.reject ? `${head} reject index=${m.index} hint=${m.hintIndex}/${m.hintTerm}` : `${head} index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context === undefined ? '' : ` ctx=${m.context}`}`;
    case 'heartbeatResp':
      return `${head}${m.context === undefined ? '' : ` ctx=${m.context}`}`;
    case 'vote':
    case 'preVote':
      return `${head} last=${m.lastIndex}/${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'voteResp':
    case 'preVoteResp':
      return `${head} ${m.reject ? 'reject' : 'grant'}`;
    case 'snap':
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term} ${describeConf(m.snapshot.meta.conf)}`;
    case 'timeoutNow':
      return head;
    case 'readIndex':
      return `${head} req=${m.requestId}`;
    case 'readIndexResp':
      return `${head} req=${m.requestId} ${m.reject ? 'reject' : `index=${m.index}`}`;
  }
}

export function describeSoftState(s: SoftState): string {
  return `${s.role} leader=${s.leader}`;
}

export function describeHardState(h: HardState): string {
  return `term=${h.term} vote=${h.vote} commit=${h.commit}`;
}

/** A Ready as a few lines (one per non-empty part), indented for transcripts. */
export function describeReady(rd: Ready): string {
  const lines: string[] = [];
  if (rd.softState !== undefined) lines.push(`soft: ${describeSoftState(rd.softState)}`);
  if (rd.hardState !== undefined) lines.push(`hard: ${describeHardState(rd.hardState)}${rd.mustSync ? ' (sync)' : ''}`);
  if (rd.snapshot !== undefined) lines.push(`snapshot: ${rd.snapshot.meta.index}/${rd.snapshot.meta.term} ${describeConf(rd.snapshot.meta.conf)}`);
  if (rd.entries.length > 0) lines.push(`entries: ${describeEntries(rd.entries)}`);
  if (rd.committedEntries.length > 0) lines.push(`committed: ${describeEntries(rd.committedEntries)}`);
  for (const m of rd.messages) lines.push(`send: ${describeMessage(m)}`);
  for (const m of rd.messagesAfterPersist) lines.push(`send after persist: ${describeMessage(m)}`);
  for (const r of rd.readStates) lines.push(`read: ${r.requestId} index=${r.index}`);
  for (const r of rd.rejectedReads) lines.push(`readRejected: ${r.requestId} ${r.reason}`);
  return lines.length === 0 ? '(empty)' : lines.join('\n');
}
