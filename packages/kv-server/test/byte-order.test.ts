import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readUint32, readUint64, writeUint32, writeUint64 } from '../src/state-machine/byte-order.js';

// The layouts on disk were written through DataView (big-endian): the direct byte code must
// produce and read exactly those bytes, at any offset.
describe('byte-order', () => {
  it('writes and reads u32 exactly as DataView does', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 8 }), (n, at) => {
        const ours = new Uint8Array(at + 4);
        writeUint32(ours, at, n);
        const theirs = new Uint8Array(at + 4);
        new DataView(theirs.buffer).setUint32(at, n);
        expect(ours).toEqual(theirs);
        expect(readUint32(theirs, at)).toBe(n);
      }),
    );
  });

  it('writes and reads every safe integer as 8 big-endian bytes', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat({ max: 8 }), (n, at) => {
        const ours = new Uint8Array(at + 8);
        writeUint64(ours, at, n);
        const view = new DataView(new ArrayBuffer(at + 8));
        view.setBigUint64(at, BigInt(n));
        expect(ours).toEqual(new Uint8Array(view.buffer));
        expect(readUint64(ours, at)).toBe(n);
      }),
    );
  });

  it('reads the edges', () => {
    const max = new Uint8Array([0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(readUint64(max, 0)).toBe(Number.MAX_SAFE_INTEGER);
    expect(readUint32(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0)).toBe(0xffffffff);
    expect(readUint32(new Uint8Array([0x80, 0, 0, 1]), 0)).toBe(0x80000001);
  });
});
