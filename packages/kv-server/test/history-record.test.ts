import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHistoryRecord, encodeHistoryRecord, historyKey } from '../src/state-machine/history.js';
import { pack } from '../src/state-machine/msgpack.js';
import { StateMachineError } from '../src/state-machine/errors.js';
import { encodeStoredValue } from '../src/state-machine/stored-value.js';

const stored = fc
  .record({
    value: fc.uint8Array({ maxLength: 64 }),
    createRevision: fc.integer({ min: 1, max: 2 ** 40 }),
    modRevision: fc.integer({ min: 1, max: 2 ** 40 }),
    version: fc.integer({ min: 1, max: 1000 }),
  })
  .map((v) => encodeStoredValue(v));
const change = fc.record({
  revision: fc.integer({ min: 1, max: 2 ** 40 }),
  key: fc.uint8Array({ minLength: 1, maxLength: 32 }),
  stored: fc.option(stored, { nil: undefined }),
  prev: fc.option(stored, { nil: undefined }),
});

describe('history records', () => {
  it('decode to the change they were encoded from, and to the same event as the msgpack records written before the fixed layout', () => {
    fc.assert(
      fc.property(change, ({ revision, key, stored, prev }) => {
        const hkey = historyKey(revision, 0);
        const event = decodeHistoryRecord(hkey, encodeHistoryRecord(key, stored, prev));
        expect(event.revision).toBe(revision);
        expect(event.type).toBe(stored === undefined ? 'delete' : 'put');
        expect(event.kv.key).toEqual(key);
        expect(event.prevKv === null).toBe(prev === undefined);
        // Records written by earlier builds of format 3 (msgpack) read back as the same event.
        const legacy = Buffer.from(pack([key, stored ?? null, prev ?? null]));
        expect(decodeHistoryRecord(hkey, legacy)).toEqual(event);
      }),
    );
  });

  it('refuses bytes that are not a record with MALFORMED_HISTORY', () => {
    const good = encodeHistoryRecord(new Uint8Array([1, 2, 3]), encodeStoredValue({ value: new Uint8Array([9]), createRevision: 1, modRevision: 2, version: 1 }), undefined);
    const bad = [
      new Uint8Array(0),
      good.subarray(0, good.byteLength - 1), // truncated
      Uint8Array.from([...good, 0]), // trailing byte
      Uint8Array.from([1, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // key length past the end
      pack([new Uint8Array([1]), 'not bytes', null]),
      pack({ key: 1 }),
    ];
    for (const bytes of bad) {
      expect(() => decodeHistoryRecord(historyKey(5, 0), bytes)).toThrow(StateMachineError);
      try {
        decodeHistoryRecord(historyKey(5, 0), bytes);
      } catch (err) {
        expect((err as StateMachineError).code).toBe('MALFORMED_HISTORY');
      }
    }
  });
});
