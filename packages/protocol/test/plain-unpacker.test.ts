import fc from 'fast-check';
import { Unpackr, pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, PlainPacker, encodeFrame } from '@keel/protocol';
import { unpackPlain } from '../src/plain-unpacker.js';

/** The frame codec's decoder settings (frame.ts). */
const unpackr = new Unpackr({ useRecords: false });

/** Values a server may send: JSON-like data plus byte strings, including what PlainUnpacker leaves to msgpackr. */
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer(),
    fc.integer({ min: -0x1_0000_0000, max: 0x1_0000_0000 }),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 30, maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 20 }), tie('value'), { maxKeys: 20 }),
  ),
})).value;

/**
 * What `f` returns, or that it threw. (Not the message: msgpackr's own message for the same bad
 * input can differ from one call to the next, after a failed call left its string state behind.)
 */
function outcome(f: () => unknown): { value: unknown } | { error: true } {
  try {
    return { value: f() };
  } catch {
    return { error: true };
  }
}

/** Decodes `bytes` both ways, with the value placed inside a larger buffer as frames are. */
function bothWays(bytes: Uint8Array): { plain: unknown; msgpackr: unknown } {
  const buf = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([4])]);
  const end = 3 + bytes.length;
  return {
    plain: outcome(() => unpackPlain(buf, 3, end, unpackr)),
    msgpackr: outcome(() => unpackr.unpack(buf, { start: 3, end })),
  };
}

describe('unpackPlain', () => {
  it('decodes every value exactly as msgpackr does', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const { plain, msgpackr } = bothWays(pack(value));
        expect(plain).toStrictEqual(msgpackr);
      }),
      { numRuns: 1000 },
    );
  });

  it('decodes what PlainPacker writes exactly as msgpackr does', () => {
    const packer = new PlainPacker();
    const body = fc.dictionary(
      fc.string({ maxLength: 20 }).filter((k) => k !== 'id'),
      anyValue.filter((v) => v !== undefined),
      { maxKeys: 20, noNullPrototype: true },
    );
    fc.assert(
      fc.property(body, fc.nat(), (b, id) => {
        const payload = packer.packWithId(b, id);
        if (payload === undefined) return; // left to msgpackr (e.g. an undefined inside)
        const { plain, msgpackr } = bothWays(payload);
        expect(plain).toStrictEqual(msgpackr);
      }),
      { numRuns: 500 },
    );
  });

  it('gives garbage, truncated and over-long input the value msgpackr gives, or fails where it fails', () => {
    const truncated = fc.tuple(anyValue, fc.nat()).map(([v, cut]) => {
      const bytes = pack(v);
      return bytes.subarray(0, cut % (bytes.length + 1));
    });
    const trailing = fc.tuple(anyValue, fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([v, extra]) => Buffer.concat([pack(v), extra]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }), truncated, trailing), (bytes) => {
        const { plain, msgpackr } = bothWays(bytes);
        expect(plain).toStrictEqual(msgpackr);
      }),
      { numRuns: 2000 },
    );
  });

  it('interns map keys without mixing up keys that share a cache slot', () => {
    // Many distinct keys of every length up to the interned maximum, decoded twice in a row.
    const keys = Array.from({ length: 3000 }, (_, i) => `k${i.toString(36)}`.padEnd(1 + (i % 16), '_'));
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        expect(unpackPlain(pack({ [key]: 1, id: 2 }), 0, pack({ [key]: 1, id: 2 }).length, unpackr)).toStrictEqual({ [key]: 1, id: 2 });
      }
    }
  });

  it('is what a FrameDecoder with plainValues decodes with, byte strings included', () => {
    const decoder = new FrameDecoder({ copyBuffers: true, plainValues: true });
    const response = { id: 7, ok: true, result: { kv: { key: Buffer.from('k'), value: Buffer.alloc(300, 9), createRevision: 5, modRevision: 9, version: 2 }, revision: 70_000 } };
    const frames: unknown[] = [];
    decoder.push(Buffer.concat([encodeFrame(response), encodeFrame({ id: 8, ok: false, error: { code: 'NOT_LEADER', message: 'é', definite: true } })]), (v) => frames.push(v));
    expect(frames).toStrictEqual([response, { id: 8, ok: false, error: { code: 'NOT_LEADER', message: 'é', definite: true } }]);
  });
});
