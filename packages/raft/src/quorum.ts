import type { NodeId } from './types.js';

/** The outcome of counting votes (or acknowledgements) in one majority configuration. */
export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The highest index known to be replicated on a majority of `voters` (etcd's
 * `MajorityConfig.CommittedIndex`). `matchOf` returns a voter's match index, `undefined` when
 * unknown (counted as 0). An empty configuration commits nothing (returns 0).
 */
export function majorityCommitIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number | undefined): number {
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id) ?? 0);
  if (matches.length === 0) return 0;
  matches.sort((a, b) => b - a);
  // The (n/2 + 1)-th largest match index is present on a majority.
  return matches[Math.floor(matches.length / 2)]!;
}

/**
 * Tally votes in a majority configuration: `won` once a majority granted, `lost` once a
 * majority can no longer be reached, `pending` otherwise. An empty configuration wins
 * (etcd's convention; the core never campaigns without being a voter).
 */
export function majorityVoteResult(voters: Iterable<NodeId>, voteOf: (id: NodeId) => boolean | undefined): VoteResult {
  let granted = 0;
  let missing = 0;
  let total = 0;
  for (const id of voters) {
    total++;
    const v = voteOf(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  if (total === 0) return 'won';
  const quorum = Math.floor(total / 2) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}
