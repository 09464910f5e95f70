import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KeelError } from '@keel/protocol';
import { ProposalTracker, type PendingProposal } from '../src/node/proposal-tracker.js';
import { ReadTracker, type PendingRead } from '../src/node/read-tracker.js';

const err = (code: 'TIMEOUT' | 'NOT_LEADER' | 'INDETERMINATE' | 'UNAVAILABLE') => () => new KeelError(code, code);

function proposal(index: number, term: number, deadlineTick: number, log: string[]): PendingProposal<string> {
  return {
    index,
    term,
    bytes: 10 * index,
    deadlineTick,
    onApplied: (r) => log.push(`${index}/${term} ok ${r}`),
    onFailed: (e) => log.push(`${index}/${term} ${e.code}`),
  };
}

describe('ProposalTracker', () => {
  it('settles a proposal by (index, term): same term applied = success, other term = definitely lost', () => {
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    t.add(proposal(5, 2, 100, log));
    t.add(proposal(6, 2, 100, log));
    expect(t.bytes).toBe(110);
    t.applied(5, 2, 'r5', err('NOT_LEADER'));
    expect(t.bytes).toBe(60);
    t.applied(6, 3, 'other', err('NOT_LEADER'));
    t.applied(7, 3, 'nobody waits', err('NOT_LEADER'));
    expect(log).toEqual(['5/2 ok r5', '6/2 NOT_LEADER']);
    expect(t.size).toBe(0);
  });

  it('a newer-term proposal at the same index does not decide the older one; the same term twice is a bug', () => {
    // Reference: §5.4.2 — the older entry may survive elsewhere and still commit; the applied entry decides.
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    t.add(proposal(5, 2, 100, log));
    t.add(proposal(5, 4, 100, log));
    expect(log).toEqual([]);
    expect(() => t.add(proposal(5, 4, 100, log))).toThrow(/proposed twice/);
    t.applied(5, 4, 'r', err('NOT_LEADER'));
    expect(log).toEqual(['5/2 NOT_LEADER', '5/4 ok r']);
  });

  it('expires by tick, caps deadlines on leadership loss, fails through a snapshot and on close', () => {
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    for (let i = 1; i <= 4; i++) t.add(proposal(i, 1, 10 * i, log));
    t.expire(10, err('TIMEOUT'));
    expect(log).toEqual(['1/1 TIMEOUT']);
    expect(t.bytes).toBe(90);
    t.capDeadlines(25);
    t.expire(25, err('INDETERMINATE'));
    expect(log).toEqual(['1/1 TIMEOUT', '2/1 INDETERMINATE', '3/1 INDETERMINATE', '4/1 INDETERMINATE']);
    t.add(proposal(8, 2, 100, log));
    t.add(proposal(9, 2, 100, log));
    t.failThrough(8, err('INDETERMINATE'));
    expect(log.at(-1)).toBe('8/2 INDETERMINATE');
    t.failAll(err('UNAVAILABLE'));
    expect(log.at(-1)).toBe('9/2 UNAVAILABLE');
    expect(t.size).toBe(0);
    expect(t.bytes).toBe(0);
  });
});

/** The tracker as it was, a Map from index to proposals in term order: the model the queue must match. */
class MapTracker {
  readonly byIndex = new Map<number, Array<PendingProposal<string>>>();
  add(p: PendingProposal<string>): void {
    const list = this.byIndex.get(p.index);
    const newest = list?.[list.length - 1];
    if (newest !== undefined && newest.term >= p.term) throw new Error('proposed twice');
    if (list === undefined) this.byIndex.set(p.index, [p]);
    else list.push(p);
  }
  take(index: number): Array<PendingProposal<string>> {
    const list = this.byIndex.get(index) ?? [];
    this.byIndex.delete(index);
    return list;
  }
  all(): Array<PendingProposal<string>> {
    return [...this.byIndex.values()].flat();
  }
}

type TrackerOp =
  | { op: 'add'; index: number; term: number; deadline: number }
  | { op: 'applied'; index: number; term: number }
  | { op: 'failThrough'; index: number }
  | { op: 'cap'; tick: number }
  | { op: 'expire'; tick: number }
  | { op: 'failAll' };

const trackerOp: fc.Arbitrary<TrackerOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), index: fc.integer({ min: 1, max: 12 }), term: fc.integer({ min: 1, max: 4 }), deadline: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('applied' as const), index: fc.integer({ min: 1, max: 12 }), term: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('failThrough' as const), index: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cap' as const), tick: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('expire' as const), tick: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('failAll' as const) }) },
);

describe('ProposalTracker against a Map from index (the structure it replaced)', () => {
  it('settles the same proposals the same way, and counts the same, for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(trackerOp, { maxLength: 80 }), (ops) => {
        const t = new ProposalTracker<string>();
        const model = new MapTracker();
        const got: string[] = [];
        const want: string[] = [];
        const make = (o: { index: number; term: number; deadline: number }, log: string[]): PendingProposal<string> => ({
          index: o.index,
          term: o.term,
          bytes: o.index + 100 * o.term,
          deadlineTick: o.deadline,
          onApplied: (r) => log.push(`${o.index}/${o.term} ok ${r}`),
          onFailed: (e) => log.push(`${o.index}/${o.term} ${e.code}`),
        });
        for (const o of ops) {
          switch (o.op) {
            case 'add': {
              let modelThrew = false;
              try {
                model.add(make(o, want));
              } catch {
                modelThrew = true;
              }
              if (modelThrew) expect(() => t.add(make(o, got))).toThrow(/proposed twice/);
              else t.add(make(o, got));
              break;
            }
            case 'applied':
              t.applied(o.index, o.term, 'r', err('NOT_LEADER'));
              for (const p of model.take(o.index)) {
                if (p.term === o.term) p.onApplied('r');
                else p.onFailed(new KeelError('NOT_LEADER', ''));
              }
              break;
            case 'failThrough':
              t.failThrough(o.index, err('INDETERMINATE'));
              for (const i of [...model.byIndex.keys()]) if (i <= o.index) for (const p of model.take(i)) p.onFailed(new KeelError('INDETERMINATE', ''));
              break;
            case 'cap':
              t.capDeadlines(o.tick);
              for (const p of model.all()) p.deadlineTick = Math.min(p.deadlineTick, o.tick);
              break;
            case 'expire':
              t.expire(o.tick, err('TIMEOUT'));
              for (const [i, list] of [...model.byIndex]) {
                const alive = list.filter((p) => p.deadlineTick > o.tick);
                for (const p of list) if (p.deadlineTick <= o.tick) p.onFailed(new KeelError('TIMEOUT', ''));
                if (alive.length === 0) model.byIndex.delete(i);
                else model.byIndex.set(i, alive);
              }
              break;
            case 'failAll':
              t.failAll(err('UNAVAILABLE'));
              for (const p of model.all()) p.onFailed(new KeelError('UNAVAILABLE', ''));
              model.byIndex.clear();
              break;
          }
          // The same settlements (the order among those settled by one call may differ).
          expect([...got].sort()).toEqual([...want].sort());
          const left = model.all();
          expect(t.size).toBe(left.length);
          expect(t.bytes).toBe(left.reduce((n, p) => n + p.bytes, 0));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps up with a long run of in-order proposals and applies (the front is dropped as it is consumed)', () => {
    const log: string[] = [];
    const t = new ProposalTracker<string>();
    let next = 1;
    let applied = 0;
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 100; k++) t.add(proposal(next++, 1, 1e9, log));
      while (applied < next - 11) t.applied(++applied, 1, 'r', err('NOT_LEADER'));
      expect(t.size).toBe(10);
    }
    expect(log.length).toBe(5000 - 10);
    expect(log.every((l) => l.endsWith('ok r'))).toBe(true);
  });
});

describe('ReadTracker', () => {
  function read(name: string, deadlineTick: number, log: string[]): PendingRead {
    return { deadlineTick, serve: () => log.push(`${name} served`), onFailed: (e) => log.push(`${name} ${e.code}`) };
  }

  it('batches queued reads under one request id and serves them once applied reaches the read index', () => {
    const log: string[] = [];
    const t = new ReadTracker(2);
    t.enqueue(read('a', 100, log));
    t.enqueue(read('b', 100, log));
    expect(t.shouldAsk(0)).toBe(true);
    expect(t.takeBatch('r1', 0)).toBe(true);
    expect(t.takeBatch('r2', 0)).toBe(false); // nothing queued
    // A read arriving after the batch was asked for does not join it.
    t.enqueue(read('c', 100, log));
    t.indexKnown('r1', 10);
    t.serveThrough(9);
    expect(log).toEqual([]);
    t.serveThrough(10);
    expect(log).toEqual(['a served', 'b served']);
    expect(t.size).toBe(1);
    expect(t.shouldAsk(0)).toBe(true);
  });

  it('asks for one round at a time: reads arriving meanwhile wait for the next, unless the round is overdue', () => {
    const log: string[] = [];
    const t = new ReadTracker(2);
    expect(t.shouldAsk(0)).toBe(false); // nothing queued
    t.enqueue(read('a', 100, log));
    t.takeBatch('r1', 10);
    t.enqueue(read('b', 100, log));
    t.enqueue(read('c', 100, log));
    expect(t.shouldAsk(10)).toBe(false);
    expect(t.shouldAsk(11)).toBe(false);
    // Answered: the reads that waited go together in the next round.
    t.indexKnown('r1', 7);
    expect(t.shouldAsk(11)).toBe(true);
    t.takeBatch('r2', 11);
    t.enqueue(read('d', 100, log));
    // r2 is never answered (a lost message): after the patience d no longer waits for it.
    expect(t.shouldAsk(12)).toBe(false);
    expect(t.shouldAsk(13)).toBe(true);
    t.takeBatch('r3', 13);
    t.indexKnown('r3', 8);
    t.serveThrough(8);
    expect(log).toEqual(['a served', 'd served']);
    // A refused or deferred round holds nothing back either.
    t.enqueue(read('e', 100, log));
    t.rejected('r2', new KeelError('NOT_LEADER', 'x'));
    expect(log).toEqual(['a served', 'd served', 'b NOT_LEADER', 'c NOT_LEADER']);
    expect(t.shouldAsk(13)).toBe(true);
  });

  it('fails rejected batches, defers transient refusals to the next round, and expires by tick', () => {
    const log: string[] = [];
    const t = new ReadTracker(2);
    t.enqueue(read('a', 5, log));
    t.takeBatch('r1', 0);
    t.defer('r1');
    expect(t.shouldAsk(0)).toBe(false);
    expect(t.retryDeferred()).toBe(true);
    expect(t.shouldAsk(0)).toBe(true);
    expect(t.takeBatch('r2', 0)).toBe(true);
    t.rejected('r2', new KeelError('NOT_LEADER', 'x'));
    expect(log).toEqual(['a NOT_LEADER']);
    t.enqueue(read('b', 5, log));
    t.enqueue(read('c', 50, log));
    t.takeBatch('r3', 0);
    t.expire(5, err('TIMEOUT'));
    expect(log).toEqual(['a NOT_LEADER', 'b TIMEOUT']);
    t.failAll(err('UNAVAILABLE'));
    expect(log).toEqual(['a NOT_LEADER', 'b TIMEOUT', 'c UNAVAILABLE']);
    expect(t.size).toBe(0);
  });
});
