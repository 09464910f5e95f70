import fc from 'fast-check';
import { Unpackr, pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { KeelError, PlainPacker, validateClientRequest } from '@keel/protocol';

/** The frame codec's decoder settings (frame.ts). */
const unpackr = new Unpackr({ useRecords: false });

/**
 * Whether two payloads decode to the same value. The decoded values are compared as msgpackr
 * packs them (deep equality walks large byte strings one element at a time: far too slow here).
 */
function sameValue(a: Buffer, b: Buffer): boolean {
  return pack(unpackr.unpack(a)).equals(pack(unpackr.unpack(b)));
}

/** The subset PlainPacker encodes itself: JSON-like data plus byte strings, any size. */
const plainValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.integer({ min: -0x1_0000_0000, max: 0x1_0000_0000 }),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 30, maxLength: 300 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.integer({ min: 0, max: 70_000 }).map((n) => Buffer.alloc(n, n & 0xff)),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 20, noNullPrototype: true }),
  ),
})).value;

const body = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__' && k !== 'id'),
  plainValue,
  { maxKeys: 20, noNullPrototype: true },
);

describe('PlainPacker', () => {
  it('writes values that decode exactly as msgpackr packs of { ...body, id } do', () => {
    const packer = new PlainPacker();
    fc.assert(
      fc.property(body, fc.nat(), (b, id) => {
        const ours = packer.packWithId(b, id);
        expect(ours).toBeDefined();
        expect(sameValue(ours!, pack({ ...b, id }))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('writes requests a server accepts as the same request', () => {
    const packer = new PlainPacker();
    const session = { clientId: '0f8fa2b4-5c1e-4b8a-9d61-2a0c7e3f9b10', seq: 70_000, ackedBelow: 69_000 };
    const put = { op: 'put', key: Buffer.from('k/é'), value: Buffer.alloc(300, 1), prevKv: true, lease: 2 ** 40, session } as const;
    const payload = packer.packWithId(put, 7)!;
    expect(validateClientRequest(unpackr.unpack(payload), payload.length)).toStrictEqual({ ...put, id: 7 });
  });

  it('leaves values outside its subset to msgpackr', () => {
    const packer = new PlainPacker();
    class Point {
      x = 1;
    }
    for (const odd of [
      { a: undefined },
      { a: 1n },
      { a: new Map([[1, 2]]) },
      { a: new Date(0) },
      { a: new Point() },
      { a: [1, , 3] }, // eslint-disable-line no-sparse-arrays
      { a: Symbol('s') },
      { nested: { deeper: [{ f: () => 1 }] } },
      Object.assign(Object.create(null) as object, { a: 1 }),
      { id: 3 },
    ]) {
      expect(packer.packWithId(odd, 1)).toBeUndefined();
    }
    // A refusal leaves nothing behind: the next payload is whole.
    expect(unpackr.unpack(packer.packWithId({ op: 'status' }, 2)!)).toStrictEqual({ op: 'status', id: 2 });
  });

  it('keeps every payload intact while later ones fill and replace its slab', () => {
    const packer = new PlainPacker();
    const payloads: { readonly payload: Buffer; readonly n: number }[] = [];
    for (let n = 0; n < 400; n++) {
      const value = Buffer.alloc((n * 997) % 20_000, n & 0xff); // some cross a slab's end, some outgrow a slab
      payloads.push({ payload: packer.packWithId({ op: 'put', value }, n)!, n });
    }
    for (const { payload, n } of payloads) {
      expect(sameValue(payload, pack({ op: 'put', value: Buffer.alloc((n * 997) % 20_000, n & 0xff), id: n }))).toBe(true);
    }
  });

  it('refuses a payload over the limit with TOO_LARGE, and packs on afterwards', () => {
    const packer = new PlainPacker();
    let error: unknown;
    try {
      packer.packWithId({ value: Buffer.alloc(2000) }, 1, 1000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).code).toBe('TOO_LARGE');
    expect(unpackr.unpack(packer.packWithId({ op: 'status' }, 2, 1000)!)).toStrictEqual({ op: 'status', id: 2 });
  });
});

describe('PlainPacker.pack (the server\'s answers)', () => {
  it('packs any plain value to a payload that decodes as msgpackr\'s does', () => {
    const packer = new PlainPacker();
    fc.assert(
      fc.property(plainValue, (value) => {
        const plain = packer.pack(value);
        expect(plain).toBeDefined();
        expect(sameValue(plain!, pack(value))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('packs a get answer whole, and leaves what it does not cover to msgpackr', () => {
    const packer = new PlainPacker();
    const answer = { id: 7, ok: true, result: { kv: { key: Buffer.from('k'), value: Buffer.alloc(300, 1), createRevision: 5, modRevision: 2 ** 40, version: 3 } } };
    expect(unpackr.unpack(packer.pack(answer)!)).toEqual(unpackr.unpack(pack(answer)));
    expect(packer.pack({ id: 1, ok: true, result: { prevKv: undefined } })).toBeUndefined();
    expect(packer.pack({ id: 1, ok: true, result: new Map() })).toBeUndefined();
    // a failed attempt leaves nothing behind: the next payload is whole
    expect(unpackr.unpack(packer.pack({ id: 2, ok: false })!)).toEqual({ id: 2, ok: false });
    expect(() => packer.pack({ big: Buffer.alloc(100) }, 50)).toThrow(KeelError);
  });
});
