import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FrameBatch, FrameDecoder, KeelError, encodeFrame, encodeFrames } from '@keel/protocol';

/** Values the frame codec must carry unchanged: JSON-like data plus byte strings. */
const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)), // msgpackr packs -0 as the integer 0
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 5 },
    ),
  ),
})).value;

/** Byte strings become `{ bytes: [...] }` so that Buffer and Uint8Array compare equal. */
function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

function decodeAll(decoder: FrameDecoder, chunks: readonly Uint8Array[]): { values: unknown[]; sizes: number[] } {
  const values: unknown[] = [];
  const sizes: number[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (value, bytes) => {
      values.push(value);
      sizes.push(bytes);
    });
  }
  return { values, sizes };
}

function isTypedFrameError(error: unknown): boolean {
  return error instanceof KeelError && (error.code === 'MALFORMED_FRAME' || error.code === 'TOO_LARGE');
}

describe('FrameDecoder', () => {
  it('round-trips any stream of valid frames identically, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(wireValue, { minLength: 0, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.boolean(),
        (values, cuts, copyBuffers) => {
          const stream = encodeFrames(values);
          const decoder = new FrameDecoder({ copyBuffers });
          const { values: decoded, sizes } = decodeAll(decoder, split(stream, cuts));
          expect(decoded.map(canonical)).toEqual(values.map(canonical));
          expect(sizes.reduce((a, b) => a + b + FRAME_HEADER_BYTES, 0)).toBe(stream.length);
          expect(decoder.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('delivers byte-at-a-time input exactly like one big chunk', () => {
    fc.assert(
      fc.property(fc.array(wireValue, { minLength: 1, maxLength: 6 }), (values) => {
        const stream = encodeFrames(values);
        const whole = decodeAll(new FrameDecoder(), [stream]).values;
        const bytewise = decodeAll(
          new FrameDecoder(),
          Array.from(stream, (_, i) => stream.subarray(i, i + 1)),
        ).values;
        expect(bytewise.map(canonical)).toEqual(whole.map(canonical));
        expect(whole.map(canonical)).toEqual(values.map(canonical));
      }),
      { numRuns: 200 },
    );
  });

  it('never throws anything but MALFORMED_FRAME / TOO_LARGE on arbitrary bytes and splits', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 1024 }),
        fc.boolean(),
        (bytes, cuts, maxFrameBytes, copyBuffers) => {
          const decoder = new FrameDecoder({ maxFrameBytes, copyBuffers });
          let failure: unknown = null;
          try {
            decodeAll(decoder, split(bytes, cuts));
          } catch (error) {
            failure = error;
          }
          if (failure !== null) {
            expect(isTypedFrameError(failure)).toBe(true);
            // A failed decoder stays failed with the same error.
            expect(() => decoder.push(new Uint8Array([0]), () => {})).toThrow(failure as Error);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but typed errors on valid headers around garbage payloads', () => {
    // Random bytes rarely form plausible length prefixes; build frames with honest lengths.
    const garbageFrame = fc.uint8Array({ minLength: 1, maxLength: 200 }).map((payload) => {
      const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
      frame.writeUInt32BE(payload.length, 0);
      frame.set(payload, FRAME_HEADER_BYTES);
      return frame;
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(garbageFrame, wireValue.map((v) => encodeFrame(v))), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const decoder = new FrameDecoder();
        try {
          decodeAll(decoder, split(Buffer.concat(frames), cuts));
        } catch (error) {
          expect(isTypedFrameError(error)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('delivers every frame before a bad one, then fails with MALFORMED_FRAME', () => {
    const good = encodeFrames([{ a: 1 }, 'two']);
    const bad = Buffer.from([0, 0, 0, 2, 0x93, 0x01]); // an array of 3 with one element
    const decoder = new FrameDecoder();
    const seen: unknown[] = [];
    expect(() => decoder.push(Buffer.concat([good, bad, encodeFrame(3)]), (v) => seen.push(v))).toThrow(
      expect.objectContaining({ code: 'MALFORMED_FRAME' }),
    );
    expect(seen).toEqual([{ a: 1 }, 'two']);
    expect(decoder.error?.code).toBe('MALFORMED_FRAME');
  });

  it('rejects trailing bytes inside a frame and empty frames as MALFORMED_FRAME', () => {
    const twoValues = Buffer.from([0, 0, 0, 2, 0x01, 0x02]);
    expect(() => new FrameDecoder().push(twoValues, () => {})).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0]), () => {})).toThrow(
      expect.objectContaining({ code: 'MALFORMED_FRAME' }),
    );
  });

  it('rejects an oversized frame as TOO_LARGE from its length prefix alone', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1000 });
    decoder.push(Buffer.from([0, 0]), () => {});
    expect(() => decoder.push(Buffer.from([0x03, 0xe9]), () => {})).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    // Exactly the limit is fine.
    const atLimit = encodeFrame(new Uint8Array(1000 - 3)); // bin16 header is 3 bytes
    expect(atLimit.length - FRAME_HEADER_BYTES).toBe(1000);
    const values: unknown[] = [];
    new FrameDecoder({ maxFrameBytes: 1000 }).push(atLimit, (v) => values.push(v));
    expect((values[0] as Uint8Array).length).toBe(997);
  });

  it('copies byte strings when asked, and views the chunk otherwise', () => {
    const frame = encodeFrame({ data: new Uint8Array([1, 2, 3]) });
    for (const copyBuffers of [true, false]) {
      const chunk = Buffer.from(frame);
      let decoded: { data: Uint8Array } | undefined;
      new FrameDecoder({ copyBuffers }).push(chunk, (v) => (decoded = v as { data: Uint8Array }));
      chunk.fill(9);
      expect(Array.from(decoded!.data)).toEqual(copyBuffers ? [1, 2, 3] : [9, 9, 9]);
      expect(decoded!.data).toBeInstanceOf(Uint8Array);
    }
  });

  it('rejects a nonsensical maxFrameBytes with a TypeError', () => {
    expect(() => new FrameDecoder({ maxFrameBytes: 0 })).toThrow(TypeError);
    expect(() => new FrameDecoder({ maxFrameBytes: 2 ** 33 })).toThrow(TypeError);
  });
});

describe('frame encoding', () => {
  it('batches several frames into one buffer equal to the frames one by one', () => {
    const values = [{ op: 'put' }, new Uint8Array([7]), 42, 'x'];
    const batch = new FrameBatch();
    let total = 0;
    for (const v of values) total += batch.add(v);
    expect(batch.count).toBe(4);
    expect(batch.byteLength).toBe(total);
    const joined = batch.take();
    expect(joined.equals(Buffer.concat(values.map((v) => encodeFrame(v))))).toBe(true);
    expect(joined.equals(encodeFrames(values))).toBe(true);
    expect(batch.count).toBe(0);
    expect(batch.take().length).toBe(0);
  });

  it('refuses to encode a frame over the limit with TOO_LARGE', () => {
    expect(() => encodeFrame(new Uint8Array(2000), 1000)).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    expect(() => new FrameBatch(10).add('a string longer than ten bytes')).toThrow(KeelError);
  });
});
