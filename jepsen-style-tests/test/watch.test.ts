/** The watch checker: each watcher delivers exactly the committed changes of its keys, in order. */
import { describe, expect, it } from 'vitest';
import { checkWatch, type WatchResult } from '../src/checker/watch.js';
import { validateHistory } from '../src/history/validate.js';
import { change, history, watch, type OpSpec } from './support/build.js';

/** a=1 at revision 5, b=2 at 6, a deleted at 7 (all acknowledged); a=3 indeterminate. */
const changes: OpSpec[] = [
  change(1, 'w/a', 1, 5, 0, 1),
  change(2, 'w/b', 2, 6, 2, 3),
  change(1, 'w/a', null, 7, 4, 5),
  change(3, 'w/a', 3, undefined, 6, undefined),
];

function check(...specs: OpSpec[]): WatchResult {
  const h = history(...specs);
  expect(validateHistory(h)).toEqual([]);
  return checkWatch(h);
}

const kinds = (r: WatchResult): string[] => Object.keys(r.counts).sort();

describe('watch checker', () => {
  it('valid: every watcher delivers its range\'s committed changes in revision order, an indeterminate one included', () => {
    const r = check(
      ...changes,
      watch(10, 'w/', 1, [[5, 'w/a', 1], [6, 'w/b', 2], [7, 'w/a', null], [8, 'w/a', 3]], 0, 20),
      watch(11, 'w/b', 6, [[6, 'w/b', 2]], 0, 20),
      watch(12, 'w/', 7, [[7, 'w/a', null]], 0, 4.5, { type: 'fail' }), // ended early with an error
    );
    expect(r).toMatchObject({ verdict: 'valid', changes: { ok: 3, fail: 0, info: 1 }, recovered: 1, violations: [] });
    expect(r.watchers.map((w) => [w.prefix, w.from, w.outcome, w.delivered, w.last, w.verdict])).toEqual([
      ['w/', 1, 'ok', 4, 8, 'valid'],
      ['w/b', 6, 'ok', 1, 6, 'valid'],
      ['w/', 7, 'fail', 1, 7, 'valid'],
    ]);
  });

  it('a gap: a committed change skipped before the watcher\'s last event', () => {
    const r = check(...changes, watch(10, 'w/', 1, [[5, 'w/a', 1], [7, 'w/a', null]], 0, 20, { type: 'info' }));
    expect(kinds(r)).toEqual(['gap']);
    expect(r.violations[0]!.text).toContain('skipped 1 committed change before its last event (revision 7), first 2 of "w/b" at revision 6');
  });

  it('a duplicate and a reordering', () => {
    expect(kinds(check(...changes, watch(10, 'w/', 5, [[5, 'w/a', 1], [5, 'w/a', 1], [6, 'w/b', 2], [7, 'w/a', null]], 0, 20)))).toEqual(['duplicate']);
    expect(kinds(check(...changes, watch(10, 'w/', 5, [[6, 'w/b', 2], [5, 'w/a', 1], [7, 'w/a', null]], 0, 20)))).toEqual(['reorder']);
  });

  it('nothing uncommitted: a change that definitely failed, a value nobody put, a delete nobody made', () => {
    const failed = change(4, 'w/b', 4, undefined, 8, 9, { type: 'fail' });
    expect(kinds(check(...changes, failed, watch(10, 'w/b', 6, [[6, 'w/b', 2], [9, 'w/b', 4]], 0, 20)))).toEqual(['uncommitted']);
    const r = check(...changes, watch(10, 'w/b', 6, [[6, 'w/b', 2], [9, 'w/b', 99], [10, 'w/b', null]], 0, 20));
    expect(kinds(r)).toEqual(['phantom']);
    expect(r.violations.map((v) => v.text)).toEqual([
      expect.stringContaining('delivered 99 of "w/b" at revision 9, which no change put'),
      expect.stringContaining('delivered a delete of "w/b" at revision 10, but no delete of that key was acknowledged'),
    ]);
  });

  it('an event at another revision than the change was acknowledged with', () => {
    expect(kinds(check(...changes, watch(10, 'w/b', 1, [[9, 'w/b', 2]], 0, 20, { type: 'info' })))).toEqual(['gap', 'wrong-revision']); // revision 6 skipped too
  });

  it('two watchers that disagree about a revision, or a watcher and the acknowledged change', () => {
    const r = check(...changes, watch(10, 'w/', 8, [[8, 'w/a', 3]], 0, 20, { type: 'info' }), watch(11, 'w/', 8, [[8, 'w/a', 1]], 0, 20, { type: 'info' }));
    expect(kinds(r)).toEqual(['disagree', 'wrong-revision']); // and 1 was acknowledged at revision 5
    expect(r.violations[0]!.text).toContain('delivered 1 of "w/a" at revision 8, but the watch of "w/" from revision 8 by p10 (line 2) says 3 of "w/a" at revision 8');
    expect(kinds(check(...changes, watch(10, 'w/a', 5, [[5, 'w/a', 3]], 0, 20, { type: 'info' })))).toEqual(['disagree']);
  });

  it('a watcher that ended ok without a change acknowledged before it ended missed it', () => {
    const r = check(...changes, watch(10, 'w/', 1, [[5, 'w/a', 1], [6, 'w/b', 2]], 0, 20));
    expect(kinds(r)).toEqual(['missed']);
    expect(r.violations[0]!.text).toContain('ended without 1 change acknowledged before it ended, first a delete of "w/a" at revision 7');
    // Ended by an error, it is only held to what it delivered.
    expect(check(...changes, watch(10, 'w/', 1, [[5, 'w/a', 1], [6, 'w/b', 2]], 0, 20, { type: 'info' })).verdict).toBe('valid');
  });

  it('an event outside the watcher\'s prefix or before its start', () => {
    expect(kinds(check(...changes, watch(10, 'w/b', 6, [[5, 'w/a', 1], [6, 'w/b', 2]], 0, 20)))).toEqual(['out-of-range']);
  });

  it('unknown without a watch', () => {
    expect(check(...changes)).toMatchObject({ verdict: 'unknown', reason: 'the history has no watch' });
  });
});
