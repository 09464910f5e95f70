/** Convergence: every node at the same applied index and content digest after healing. */
import { describe, expect, it } from 'vitest';
import { checkConvergence } from '../src/checker/convergence.js';

describe('convergence checker', () => {
  it('valid when every node reports the same applied index and digest', () => {
    const r = checkConvergence([1, 2, 3].map((node) => ({ node, applied: 90, digest: 'abc' })));
    expect(r).toMatchObject({ verdict: 'valid', differ: [], summary: 'all 3 nodes at applied index 90, digest abc' });
  });

  it('invalid when a node differs in digest or applied index, naming it', () => {
    const r = checkConvergence([
      { node: 1, applied: 90, digest: 'abc' },
      { node: 2, applied: 90, digest: 'abd' },
      { node: 3, applied: 90, digest: 'abc' },
      { node: 4, applied: 88, digest: 'abc' },
      { node: 5, applied: 90, digest: 'abc' },
    ]);
    expect(r.verdict).toBe('invalid');
    expect(r.differ).toEqual([2, 4]);
    expect(r.groups[0]).toEqual({ applied: 90, digest: 'abc', nodes: [1, 3, 5] });
    expect(r.summary).toContain('node 2 at applied index 90, digest abd');
  });

  it('unknown when a node could not answer, invalid if the others already differ', () => {
    const down = { node: 3, error: 'connect ECONNREFUSED' };
    expect(checkConvergence([{ node: 1, applied: 5, digest: 'x' }, { node: 2, applied: 5, digest: 'x' }, down]).verdict).toBe('unknown');
    expect(checkConvergence([{ node: 1, applied: 5, digest: 'x' }, { node: 2, applied: 6, digest: 'y' }, down]).verdict).toBe('invalid');
    expect(checkConvergence([]).verdict).toBe('unknown');
  });
});
