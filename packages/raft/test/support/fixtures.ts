import { MemoryStorage, type ConfState, type Entry, type HardState, type Message, type NodeId } from '@keel/raft';
import { enc } from './network.js';

/** Normal entries with the given terms at indexes `from`, `from + 1`, … */
export function entriesWithTerms(terms: readonly number[], from = 1): Entry[] {
  return terms.map((term, k) => ({ type: 'normal', index: from + k, term, data: enc(`e${from + k}t${term}`) }));
}

export function entry(index: number, term: number, data = `e${index}t${term}`): Entry {
  return { type: 'normal', index, term, data: enc(data) };
}

/** A storage holding a log with `terms` (indexes 1..n) and the given hard state. */
export function storageWith(conf: ConfState, terms: readonly number[], hard?: Partial<HardState>): MemoryStorage {
  const s = new MemoryStorage(conf);
  s.append(entriesWithTerms(terms));
  const lastTerm = terms[terms.length - 1] ?? 0;
  s.setHardState({ term: hard?.term ?? lastTerm, vote: hard?.vote ?? 0, commit: hard?.commit ?? 0 });
  return s;
}

export const voters = (...ids: NodeId[]): ConfState => ({ voters: ids, learners: [] });

/** Message builders with every field spelled out (defaults for the rest). */
export const msg = {
  app: (from: NodeId, to: NodeId, term: number, prevIndex: number, prevTerm: number, entries: Entry[] = [], commit = 0): Message => ({
    type: 'app',
    from,
    to,
    term,
    prevIndex,
    prevTerm,
    entries,
    commit,
  }),
  appResp: (from: NodeId, to: NodeId, term: number, index: number, reject = false, hintIndex = 0, hintTerm = 0): Message => ({
    type: 'appResp',
    from,
    to,
    term,
    index,
    reject,
    hintIndex,
    hintTerm,
  }),
  heartbeat: (from: NodeId, to: NodeId, term: number, commit = 0): Message => ({ type: 'heartbeat', from, to, term, commit }),
  vote: (from: NodeId, to: NodeId, term: number, lastIndex: number, lastTerm: number, transfer = false): Message => ({
    type: 'vote',
    from,
    to,
    term,
    lastIndex,
    lastTerm,
    transfer,
  }),
  preVote: (from: NodeId, to: NodeId, term: number, lastIndex: number, lastTerm: number): Message => ({
    type: 'preVote',
    from,
    to,
    term,
    lastIndex,
    lastTerm,
    transfer: false,
  }),
  voteResp: (from: NodeId, to: NodeId, term: number, reject: boolean): Message => ({ type: 'voteResp', from, to, term, reject }),
  preVoteResp: (from: NodeId, to: NodeId, term: number, reject: boolean): Message => ({ type: 'preVoteResp', from, to, term, reject }),
};
