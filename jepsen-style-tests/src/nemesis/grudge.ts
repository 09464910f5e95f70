/**
 * Partitions as grudges (Jepsen's word: each node mapped to the nodes it refuses to hear), beyond
 * the symmetric groups of `@keel/test-support`'s topology: one-way cuts, a ring that works on 3
 * nodes, and which nodes a set of cuts leaves without a majority.
 */
import { partitionCuts, ring, type Link } from '@keel/test-support';

/** Below this many nodes no symmetric ring exists (each node would see everyone): the ring is one-way. */
export const SYMMETRIC_RING_NODES_MIN = 5;

export const majoritySize = (n: number): number => Math.floor(n / 2) + 1;

/**
 * A majorities ring over `ids` in the given order: every node hears a majority, and no two hear
 * the same one. From 5 nodes on, the harness's symmetric ring (each node keeps its neighbours).
 * With 3 nodes only a one-way ring does it, as Jepsen's `majorities-ring` grudge: node i hears
 * itself and the next node, and refuses the rest (1 hears 2, 2 hears 3, 3 hears 1).
 */
export function ringCuts(ids: readonly number[]): Link[] {
  if (ids.length >= SYMMETRIC_RING_NODES_MIN) return partitionCuts(ring(ids), ids);
  const n = ids.length;
  const m = majoritySize(n);
  const cuts: Link[] = [];
  ids.forEach((to, i) => {
    const hears = new Set(Array.from({ length: m }, (_, k) => ids[(i + k) % n]!));
    for (const from of ids) if (!hears.has(from)) cuts.push([from, to]);
  });
  return cuts;
}

/** One-way loss: nothing `id` sends arrives (`outbound`), or nothing reaches it (`inbound`). */
export function oneWayCuts(id: number, ids: readonly number[], direction: 'inbound' | 'outbound'): Link[] {
  return ids.filter((o) => o !== id).map((o): Link => (direction === 'outbound' ? [id, o] : [o, id]));
}

/**
 * The nodes left without a majority by `cuts`: those that exchange messages both ways with fewer
 * than a majority of `ids` (themselves included). Such a node can neither commit as a leader nor
 * reach one for a read index, so it must not acknowledge a write or a linearizable read.
 */
export function minorityOf(cuts: readonly Link[], ids: readonly number[]): number[] {
  const cut = new Set(cuts.map(([from, to]) => `${from}>${to}`));
  const m = majoritySize(ids.length);
  return ids.filter((x) => ids.filter((y) => y === x || (!cut.has(`${x}>${y}`) && !cut.has(`${y}>${x}`))).length < m);
}
