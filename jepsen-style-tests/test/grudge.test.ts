import { describe, expect, it } from 'vitest';
import { bridge, isolationCuts, majorityMinority, partitionCuts, type Link } from '@keel/test-support';
import { majoritySize, minorityOf, oneWayCuts, ringCuts } from '../src/nemesis/grudge.js';

/** Who each node hears (itself included) under `cuts`. */
function hears(cuts: readonly Link[], ids: readonly number[]): Map<number, number[]> {
  const cut = new Set(cuts.map(([f, t]) => `${f}>${t}`));
  return new Map(ids.map((to) => [to, ids.filter((from) => from === to || !cut.has(`${from}>${to}`))]));
}

describe('majorities ring', () => {
  for (const ids of [[1, 2, 3], [3, 1, 2], [1, 2, 3, 4, 5], [5, 3, 1, 4, 2], [1, 2, 3, 4, 5, 6, 7]]) {
    it(`every node hears a majority and no two the same one (${ids.join(' ')})`, () => {
      const heard = [...hears(ringCuts(ids), ids).values()].map((h) => h.sort().join(','));
      for (const h of heard) expect(h.split(',').length).toBeGreaterThanOrEqual(majoritySize(ids.length));
      expect(new Set(heard).size).toBe(ids.length);
    });
  }

  it('is one-way on 3 nodes (every node is then without a majority both ways) and symmetric from 5', () => {
    expect(minorityOf(ringCuts([1, 2, 3]), [1, 2, 3])).toEqual([1, 2, 3]);
    const five = ringCuts([1, 2, 3, 4, 5]);
    for (const [from, to] of five) expect(five).toContainEqual([to, from]);
    expect(minorityOf(five, [1, 2, 3, 4, 5])).toEqual([]);
  });
});

describe('minorityOf', () => {
  const three = [1, 2, 3];
  const five = [1, 2, 3, 4, 5];
  it('names the isolated node, the minority of a split, nobody in a bridge', () => {
    expect(minorityOf(isolationCuts(2, three), three)).toEqual([2]);
    expect(minorityOf(partitionCuts(majorityMinority(five), five), five)).toEqual([4, 5]);
    expect(minorityOf(partitionCuts(bridge(five), five), five)).toEqual([]);
    expect(minorityOf(partitionCuts(bridge(three), three), three)).toEqual([]);
    expect(minorityOf([], five)).toEqual([]);
  });

  it('counts a node that only sends, or only receives, as cut off', () => {
    expect(oneWayCuts(1, three, 'outbound')).toEqual([[1, 2], [1, 3]]);
    expect(oneWayCuts(1, three, 'inbound')).toEqual([[2, 1], [3, 1]]);
    expect(minorityOf(oneWayCuts(3, five, 'outbound'), five)).toEqual([3]);
    expect(minorityOf(oneWayCuts(3, five, 'inbound'), five)).toEqual([3]);
  });
});
