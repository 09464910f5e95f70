import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FrameDecoder, KeelError, PlainPacker, encodeFrame } from '@keel/protocol';
import type { Message } from '@keel/raft';
import { validateMessage } from '../src/transport/index.js';

const id = fc.integer({ min: 1, max: 9 });
const nat = fc.nat({ max: 1_000_000 });
const bytes = fc.uint8Array({ maxLength: 32 });
const conf = fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) });
const entry = fc.oneof(
  fc.record({ type: fc.constant('normal' as const), index: nat, term: nat, data: bytes }),
  fc.record({
    type: fc.constant('confChange' as const),
    index: nat,
    term: nat,
    change: fc.record(
      { type: fc.constantFrom('addVoter' as const, 'addLearner' as const, 'removeNode' as const), nodeId: id, context: bytes },
      { requiredKeys: ['type', 'nodeId'] },
    ),
    conf,
  }),
);
const base = { from: id, to: id, term: nat };
/** Every message type the Raft core produces. */
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('app' as const), ...base, prevIndex: nat, prevTerm: nat, entries: fc.array(entry, { maxLength: 4 }), commit: nat }),
  fc.record({ type: fc.constant('appResp' as const), ...base, index: nat, reject: fc.boolean(), hintIndex: nat, hintTerm: nat }),
  fc.record({ type: fc.constant('heartbeat' as const), ...base, commit: nat, context: fc.string() }, { requiredKeys: ['type', 'from', 'to', 'term', 'commit'] }),
  fc.record({ type: fc.constant('heartbeatResp' as const), ...base, context: fc.string() }, { requiredKeys: ['type', 'from', 'to', 'term'] }),
  fc.record({ type: fc.constantFrom('vote' as const, 'preVote' as const), ...base, lastIndex: nat, lastTerm: nat, transfer: fc.boolean() }),
  fc.record({ type: fc.constantFrom('voteResp' as const, 'preVoteResp' as const), ...base, reject: fc.boolean() }),
  fc.record({ type: fc.constant('snap' as const), ...base, snapshot: fc.record({ meta: fc.record({ index: nat, term: nat, conf }), data: bytes }) }),
  fc.record({ type: fc.constant('timeoutNow' as const), ...base }),
  fc.record({ type: fc.constant('readIndex' as const), ...base, requestId: fc.string() }),
  fc.record({ type: fc.constant('readIndexResp' as const), ...base, requestId: fc.string(), index: nat, reject: fc.boolean() }),
);

function decode(frame: Buffer, plainValues = false): unknown {
  let value: unknown;
  new FrameDecoder({ copyBuffers: true, plainValues }).push(frame, (v) => (value = v));
  return value;
}

function frameOf(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
  return value;
}

describe('raft message codec', () => {
  it('accepts every well-formed message after a trip through the frame codec, byte strings intact', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = validateMessage(decode(encodeFrame(m)));
        expect(canonical(back)).toEqual(canonical(m));
      }),
      { numRuns: 1000 },
    );
  });

  it('packs every message with the plain packer (as the transport does), to the value msgpackr gives', () => {
    const packer = new PlainPacker();
    fc.assert(
      fc.property(message, fc.boolean(), (generated, plainValues) => {
        // The core builds messages as object literals (fast-check may give null prototypes).
        const m = structuredClone(generated);
        const payload = packer.pack(m);
        expect(payload).toBeDefined(); // never left to msgpackr: every field is a plain value
        const ours = validateMessage(decode(frameOf(payload!), plainValues));
        expect(canonical(ours)).toEqual(canonical(validateMessage(decode(encodeFrame(m), plainValues))));
        expect(canonical(ours)).toEqual(canonical(m));
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects anything else with MALFORMED_FRAME and never throws another error', () => {
    const mutated = fc.tuple(message, fc.string({ maxLength: 12 }), fc.anything()).map(([m, field, value]) => {
      const copy: Record<string, unknown> = { ...m };
      const keys = Object.keys(copy);
      copy[keys[field.length % keys.length]!] = value;
      return copy;
    });
    fc.assert(
      fc.property(fc.oneof(fc.anything(), mutated), (value) => {
        try {
          validateMessage(value);
        } catch (error) {
          expect(error).toBeInstanceOf(KeelError);
          expect((error as KeelError).code).toBe('MALFORMED_FRAME');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('names the problem', () => {
    expect(() => validateMessage({ type: 'app', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ type: 'normal', index: 1, term: 1, data: 'x' }] })).toThrow(
      /entry 'data' must be a byte string/,
    );
    expect(() => validateMessage({ type: 'vote', from: 0, to: 2, term: 1 })).toThrow(/'from' must be a positive node id/);
    expect(() => validateMessage({ type: 'constructor', from: 1, to: 2, term: 1 })).toThrow(/unknown message type/);
  });
});
