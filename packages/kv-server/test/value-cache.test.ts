import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueCache } from '../src/storage/value-cache.js';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

describe('ValueCache', () => {
  it('answers what was last set, forgets deletions and everything on clear', () => {
    const c = new ValueCache(10_000);
    c.set('a', bytes(10, 1));
    c.set('b', bytes(10, 2));
    c.set('a', bytes(20, 3));
    expect(c.get('a')).toEqual(bytes(20, 3));
    c.set('b', undefined);
    expect(c.get('b')).toBeUndefined();
    expect(c.size).toBe(1);
    c.clear();
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('stays within its byte bound, evicting the least recently used first', () => {
    // Each entry costs 1 (id) + 36 (value) + 64 = 101 bytes: three fit in 310.
    const c = new ValueCache(310);
    c.set('a', bytes(36));
    c.set('b', bytes(36));
    c.set('c', bytes(36));
    c.get('a'); // a is now the most recently used
    c.set('d', bytes(36));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.get('c')).toBeDefined();
    expect(c.get('d')).toBeDefined();
    c.set('e', bytes(1000)); // larger than the whole bound: not kept, and evicts nothing
    expect(c.get('e')).toBeUndefined();
    expect(c.size).toBe(3);
  });

  it('agrees with a plain map on every key it holds, whatever the sequence of sets, deletes and reads', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), size: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ kind: fc.constant('del' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
      fc.record({ kind: fc.constant('get' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const c = new ValueCache(600);
        const truth = new Map<string, Uint8Array>();
        let n = 0;
        for (const o of ops) {
          if (o.kind === 'set') {
            const v = bytes(o.size, ++n % 256);
            c.set(o.id, v);
            truth.set(o.id, v);
          } else if (o.kind === 'del') {
            c.set(o.id, undefined);
            truth.delete(o.id);
          } else {
            const got = c.get(o.id);
            if (got !== undefined) expect(got).toBe(truth.get(o.id));
          }
        }
        let held = 0;
        for (const [id, v] of truth) {
          const got = c.get(id);
          if (got !== undefined) {
            expect(got).toBe(v);
            held += id.length + v.byteLength + 64;
          }
        }
        expect(held).toBeLessThanOrEqual(600);
      }),
    );
  });
});
