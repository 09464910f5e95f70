import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValueCache } from '../src/storage/value-cache.js';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);
/** The bytes alone (the cache hands out `Buffer` copies, as the store does). */
const content = (v: Uint8Array | undefined): number[] | undefined => (v === undefined ? undefined : [...v]);

describe('ValueCache', () => {
  it('answers what was last set, forgets deletions and everything on clear', () => {
    const c = new ValueCache(10_000);
    c.set('a', bytes(10, 1));
    c.set('b', bytes(10, 2));
    c.set('a', bytes(20, 3));
    expect(content(c.get('a'))).toEqual(content(bytes(20, 3)));
    c.set('a', bytes(18, 4)); // into the same buffer
    expect(content(c.get('a'))).toEqual(content(bytes(18, 4)));
    c.set('a', bytes(5, 5)); // a buffer of its own: the old one would be mostly unused
    expect(content(c.get('a'))).toEqual(content(bytes(5, 5)));
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

  it('hands out copies: a value read stays as it was when the key is written again', () => {
    const c = new ValueCache(10_000);
    const written = bytes(30, 1);
    c.set('a', written);
    written.fill(9); // the caller's buffer is the caller's
    const read = c.get('a')!;
    const peeked = c.peek('a')!;
    c.set('a', bytes(30, 2));
    expect(content(read)).toEqual(content(bytes(30, 1)));
    expect(content(peeked)).toEqual(content(bytes(30, 1)));
    expect(content(c.get('a'))).toEqual(content(bytes(30, 2)));
  });

  it('holds the same keys as a least-recently-used map under the same byte bound', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fill: fc.nat(255) }),
      fc.record({ kind: fc.constant('del' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f') }),
      fc.record({ kind: fc.constant('get' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f') }),
      fc.record({ kind: fc.constant('peek' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        // Every entry costs 1 + 35 + 64 = 100 bytes: four fit.
        const c = new ValueCache(400);
        const lru = new Map<string, Uint8Array>(); // least recently used first
        for (const o of ops) {
          if (o.kind === 'set') {
            lru.delete(o.id);
            lru.set(o.id, bytes(35, o.fill));
            while (lru.size > 4) lru.delete(lru.keys().next().value!);
            c.set(o.id, bytes(35, o.fill));
          } else if (o.kind === 'del') {
            lru.delete(o.id);
            c.set(o.id, undefined);
          } else {
            const want = lru.get(o.id);
            if (want !== undefined && o.kind === 'get') {
              lru.delete(o.id);
              lru.set(o.id, want);
            }
            expect(content(o.kind === 'get' ? c.get(o.id) : c.peek(o.id))).toEqual(content(want));
          }
          expect(c.size).toBe(lru.size);
        }
        for (const [id, v] of lru) expect(content(c.peek(id))).toEqual(content(v));
      }),
    );
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
            if (got !== undefined) expect(content(got)).toEqual(content(truth.get(o.id)));
          }
        }
        let held = 0;
        for (const [id, v] of truth) {
          const got = c.get(id);
          if (got !== undefined) {
            expect(content(got)).toEqual(content(v));
            held += id.length + v.byteLength + 64;
          }
        }
        expect(held).toBeLessThanOrEqual(600);
      }),
    );
  });
});
