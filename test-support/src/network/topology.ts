/**
 * Partitions as sets of directed cuts, independent of how a network makes them.
 *
 * `partitionCuts(groups, ids)`: two nodes keep their links (both ways) when some group holds them
 * both; every other pair is cut both ways. Disjoint groups are a plain split; overlapping groups
 * make a bridge (two sides that share a node) or a ring (each node sees a majority, no two the
 * same majority). A node in no group is isolated.
 */

export type Link = readonly [from: number, to: number];

/** Every directed link between the nodes that share no group. */
export function partitionCuts(groups: readonly (readonly number[])[], ids: readonly number[]): Link[] {
  const together = (a: number, b: number): boolean => groups.some((g) => g.includes(a) && g.includes(b));
  const cuts: Link[] = [];
  for (const a of ids) for (const b of ids) if (a !== b && !together(a, b)) cuts.push([a, b]);
  return cuts;
}

/** Every link to and from `id`. */
export function isolationCuts(id: number, ids: readonly number[]): Link[] {
  return ids.filter((o) => o !== id).flatMap((o): Link[] => [[id, o], [o, id]]);
}

/** [majority, minority]: the first ⌊n/2⌋+1 of `ids`, and the rest. */
export function majorityMinority(ids: readonly number[]): number[][] {
  const m = Math.floor(ids.length / 2) + 1;
  return [ids.slice(0, m), ids.slice(m)];
}

/** Two minorities that share the middle node of `ids` (5 nodes: [1,2,3] and [3,4,5]). */
export function bridge(ids: readonly number[]): number[][] {
  const middle = Math.floor((ids.length - 1) / 2);
  return [ids.slice(0, middle + 1), ids.slice(middle)];
}

/**
 * A ring: each node keeps its links to the nodes within ring distance d of it, the smallest d at
 * which it sees a majority (itself included). Every node then sees a majority and no two see the
 * same one (5 nodes: node 1 sees 5, 1, 2; node 2 sees 1, 2, 3). With 3 nodes nothing is cut.
 * The groups are the pairs of nodes within distance d.
 */
export function ring(ids: readonly number[]): number[][] {
  const n = ids.length;
  const d = Math.ceil(Math.floor(n / 2) / 2);
  const groups: number[][] = [];
  for (let i = 0; i < n; i++) for (let k = 1; k <= d; k++) groups.push([ids[i]!, ids[(i + k) % n]!]);
  return groups;
}
