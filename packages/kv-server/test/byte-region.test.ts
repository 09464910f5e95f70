import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRegion } from '../src/state-machine/byte-region.js';

describe('ByteRegion', () => {
  it('hands out views that never overlap: every one keeps what was written into it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 60 }), (sizes) => {
        const region = new ByteRegion();
        const taken = sizes.map((n, i) => {
          const bytes = region.take(n);
          expect(bytes.byteLength).toBe(n);
          bytes.fill(i % 251);
          return bytes;
        });
        taken.forEach((bytes, i) => expect(bytes.every((b) => b === i % 251)).toBe(true));
      }),
      { numRuns: 200 },
    );
  });

  it('shares chunks among small requests, growing them from 2 KiB, and gives a large one a buffer of its own', () => {
    const region = new ByteRegion();
    const a = region.take(100);
    const b = region.take(200);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + 100);
    expect(a.buffer.byteLength).toBe(2048);
    const c = region.take(2000); // does not fit what is left: the next chunk, twice as large
    expect(c.buffer).not.toBe(a.buffer);
    expect(c.buffer.byteLength).toBe(4096);
    const large = region.take(20_000);
    expect(large.buffer).not.toBe(a.buffer);
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(20_000);
  });
});
