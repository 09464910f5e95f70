import { describe, expect, it } from 'vitest';
import { bridge, isolationCuts, majorityMinority, partitionCuts, ring } from '@keel/test-support';

const FIVE = [1, 2, 3, 4, 5];

/** Who each node still reaches (itself included) once `groups` are applied. */
function sees(groups: number[][], ids: readonly number[]): Map<number, number[]> {
  const cut = new Set(partitionCuts(groups, ids).map(([a, b]) => `${a}->${b}`));
  return new Map(ids.map((a) => [a, ids.filter((b) => a === b || !cut.has(`${a}->${b}`))]));
}

describe('partitions as directed cuts', () => {
  it('isolation cuts every link to and from the node, both ways', () => {
    expect(isolationCuts(2, [1, 2, 3])).toEqual([
      [2, 1],
      [1, 2],
      [2, 3],
      [3, 2],
    ]);
  });

  it('a majority/minority split cuts every link between the sides and nothing inside them', () => {
    const groups = majorityMinority(FIVE);
    expect(groups).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(sees(groups, FIVE)).toEqual(
      new Map([
        [1, [1, 2, 3]],
        [2, [1, 2, 3]],
        [3, [1, 2, 3]],
        [4, [4, 5]],
        [5, [4, 5]],
      ]),
    );
    // Every cut goes both ways.
    const cuts = partitionCuts(groups, FIVE).map(([a, b]) => `${a}->${b}`);
    for (const c of cuts) expect(cuts).toContain(c.split('->').reverse().join('->'));
  });

  it('a bridge: two minorities that share one node, which sees everyone', () => {
    expect(bridge(FIVE)).toEqual([
      [1, 2, 3],
      [3, 4, 5],
    ]);
    const view = sees(bridge(FIVE), FIVE);
    expect(view.get(3)).toEqual(FIVE);
    expect(view.get(1)).toEqual([1, 2, 3]);
    expect(view.get(5)).toEqual([3, 4, 5]);
    expect(bridge([1, 2, 3])).toEqual([
      [1, 2],
      [2, 3],
    ]);
  });

  it('a ring: every node sees a majority, no two the same one', () => {
    for (const ids of [FIVE, [1, 2, 3, 4, 5, 6, 7]]) {
      const view = sees(ring(ids), ids);
      const majorities = new Set<string>();
      for (const [, seen] of view) {
        expect(seen.length).toBeGreaterThan(ids.length / 2);
        expect(seen.length).toBeLessThan(ids.length);
        majorities.add(seen.join(','));
      }
      expect(majorities.size).toBe(ids.length);
    }
    expect(sees(ring(FIVE), FIVE).get(1)).toEqual([1, 2, 5]);
  });

  it('a node in no group is isolated', () => {
    expect(sees([[1, 2]], [1, 2, 3]).get(3)).toEqual([3]);
  });
});
