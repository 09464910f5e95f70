import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorage, StorageError, type ConfState, type Entry } from '@keel/raft';
import { encodeEntry } from '../src/storage/codec.js';
import { PackedLog } from '../src/storage/packed-log.js';

const CONF: ConfState = { voters: [1, 2, 3], learners: [] };

function normal(index: number, term: number, bytes = 8, fill = index): Entry {
  return { type: 'normal', index, term, data: new Uint8Array(bytes).fill(fill & 0xff) };
}

function conf(index: number, term: number, nodeId: number): Entry {
  return {
    type: 'confChange',
    index,
    term,
    change: { type: 'addVoter', nodeId, context: new Uint8Array([nodeId, 7]) },
    conf: { voters: [1, 2, nodeId], learners: [] },
  };
}

function run(from: number, to: number, term: number, bytes = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(normal(i, term, bytes));
  return out;
}

/** Append as `LogStore` does: with the encodings it wrote to LevelDB. */
function append(log: PackedLog, entries: readonly Entry[]): void {
  log.append(entries, entries.map(encodeEntry));
}

/** A value or the StorageError code it threw, so two stores' answers compare with `toEqual`. */
function answer<T>(f: () => T): T | { error: string } {
  try {
    return f();
  } catch (err) {
    if (err instanceof StorageError) return { error: err.code };
    throw err;
  }
}

function plain(e: Entry): unknown {
  const bytes = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  return e.type === 'normal' ? { ...e, data: bytes(e.data) } : { ...e, change: { ...e.change, context: e.change.context && bytes(e.change.context) } };
}

/** The membership as of `index` by the model: its last configuration entry at or before it. */
function modelConfAt(m: MemoryStorage, index: number): ConfState {
  const base = m.snapshot().meta;
  for (let i = index; i > base.index; i--) {
    const e = m.allEntries()[i - base.index - 1]!;
    if (e.type === 'confChange') return e.conf;
  }
  return base.conf;
}

describe('packed log', () => {
  it('answers terms and entries of what it was given, decoded from the encodings', () => {
    const log = new PackedLog(CONF);
    expect(log.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, conf: CONF });
    const es = [...run(1, 3, 1), conf(4, 2, 9), ...run(5, 6, 2)];
    append(log, es);
    expect([log.firstIndex(), log.lastIndex()]).toEqual([1, 6]);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => log.term(i))).toEqual([0, 1, 1, 1, 2, 2, 2]);
    expect(log.entries(1, 7).map(plain)).toEqual(es.map(plain));
    expect(log.confAt(3)).toEqual(CONF);
    expect(log.confAt(6)).toEqual({ voters: [1, 2, 9], learners: [] });
    expect(answer(() => log.term(7))).toEqual({ error: 'UNAVAILABLE' });
    expect(answer(() => log.entries(0, 2))).toEqual({ error: 'COMPACTED' });
    expect(answer(() => log.entries(2, 8))).toEqual({ error: 'UNAVAILABLE' });
  });

  it('hands out at least one entry, then as many as fit in maxBytes (entrySize)', () => {
    const log = new PackedLog();
    append(log, run(1, 5, 1, 100)); // entrySize 124 each
    expect(log.entries(1, 6, 0).length).toBe(1);
    expect(log.entries(1, 6, 247).length).toBe(1);
    expect(log.entries(1, 6, 248).length).toBe(2);
    expect(log.entries(2, 6, 10_000).length).toBe(4);
  });

  it('copies the encodings: the buffers it was given may be reused (a pooled slice, a socket buffer)', () => {
    const log = new PackedLog();
    const e = normal(1, 1, 16, 0x11);
    const bytes = encodeEntry(e);
    log.append([e], [bytes]);
    bytes.fill(0xee);
    expect(plain(log.entries(1, 2)[0]!)).toEqual(plain(e));
  });

  it('overwrites a suffix without changing entries handed out before', () => {
    const log = new PackedLog();
    append(log, run(1, 10, 1));
    const before = log.entries(6, 11).map(plain);
    const handedOut = log.entries(6, 11);
    append(log, run(6, 8, 2, 20));
    expect(log.lastIndex()).toBe(8);
    expect(log.entries(5, 9).map((e) => [e.index, e.term])).toEqual([
      [5, 1],
      [6, 2],
      [7, 2],
      [8, 2],
    ]);
    expect(handedOut.map(plain)).toEqual(before);
  });

  it('refuses a gap and entries that are not contiguous, changing nothing', () => {
    const log = new PackedLog();
    append(log, run(1, 3, 1));
    expect(() => append(log, run(5, 6, 1))).toThrow(/gap/);
    expect(() => append(log, [normal(3, 2), normal(5, 2)])).toThrow(/not contiguous/);
    expect(() => log.append(run(4, 5, 1), [])).toThrow(/encodings/);
    expect([log.lastIndex(), log.term(3)]).toEqual([3, 1]);
  });

  it('keeps an entry larger than a chunk whole, and the entries around it', () => {
    const log = new PackedLog();
    const es = [normal(1, 1, 10), normal(2, 1, 200_000, 5), normal(3, 1, 10)];
    append(log, es);
    expect(log.entries(1, 4).map(plain)).toEqual(es.map(plain));
  });

  it('frees the chunks compaction passes, however many entries went through it', () => {
    const log = new PackedLog();
    let last = 0;
    for (let round = 0; round < 20; round++) {
      append(log, run(last + 1, last + 5000, 1, 300));
      last += 5000;
      // Keep the latest 2,000 entries, as the server keeps some behind each snapshot.
      log.createSnapshot(last - 2000, CONF);
    }
    expect(log.firstIndex()).toBe(last - 1999);
    // 2,000 entries of ~310 bytes: ~620 KB, in 64 KiB chunks (one partly passed, one partly filled).
    expect(log.bytesHeld).toBeLessThanOrEqual(2000 * 310 + 2 * 64 * 1024);
    log.createSnapshot(last, CONF);
    expect(log.bytesHeld).toBe(0);
    append(log, run(last + 1, last + 1, 1));
    expect(log.entries(last + 1, last + 2).map(plain)).toEqual([plain(normal(last + 1, 1))]);
  });

  it('drops its log for a snapshot it does not agree with, keeps the suffix of one it does', () => {
    const log = new PackedLog();
    append(log, run(1, 10, 1));
    log.applySnapshot({ meta: { index: 4, term: 1, conf: CONF }, data: new Uint8Array(0) });
    expect([log.firstIndex(), log.lastIndex(), log.term(4), log.term(10)]).toEqual([5, 10, 1, 1]);
    log.applySnapshot({ meta: { index: 12, term: 3, conf: CONF }, data: new Uint8Array(0) });
    expect([log.firstIndex(), log.lastIndex(), log.term(12), log.bytesHeld]).toEqual([13, 12, 3, 0]);
    expect(log.confAt(12)).toEqual(CONF);
  });
});

describe('packed log against MemoryStorage (the model)', () => {
  type Op =
    | { kind: 'append'; back: number; count: number; termBump: boolean; bytes: number; confAt: number; bigAt: number }
    | { kind: 'compact'; fraction: number }
    | { kind: 'snapshot'; ahead: number; agree: boolean }
    | { kind: 'hard'; vote: number; commit: number };

  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('append' as const),
        back: fc.nat(6),
        count: fc.integer({ min: 0, max: 40 }),
        termBump: fc.boolean(),
        bytes: fc.nat(3000),
        confAt: fc.nat(60),
        // Now and then an entry beyond a chunk.
        bigAt: fc.nat(200),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.integer({ min: -10, max: 10 }), agree: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hard' as const), vote: fc.nat(3), commit: fc.nat(100) }) },
  );

  /** Everything the core and LogStore can ask, with the errors, including out of range. */
  function describeLog(s: PackedLog | MemoryStorage, probes: readonly [number, number, number][]): unknown {
    const first = s.firstIndex();
    const last = s.lastIndex();
    const terms: unknown[] = [];
    for (let i = first - 3; i <= last + 2; i++) terms.push(answer(() => s.term(i)));
    const confs: ConfState[] = [];
    for (let i = first - 1; i <= last; i++) confs.push(s instanceof PackedLog ? s.confAt(i) : modelConfAt(s, i));
    return {
      initialState: s.initialState(),
      hardState: s.hardState(),
      first,
      last,
      terms,
      confs,
      snapshot: s.snapshot().meta,
      all: last >= first ? s.entries(first, last + 1).map(plain) : [],
      probes: probes.map(([a, b, max]) => answer(() => s.entries(first + a, first + b, max).map(plain))),
    };
  }

  it('gives the same answers as MemoryStorage for any appends, overwrites, compactions and snapshots', () => {
    const probe = fc.tuple(fc.integer({ min: -3, max: 60 }), fc.integer({ min: -3, max: 60 }), fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.nat(20_000)));
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), fc.array(probe, { maxLength: 6 }), (ops, probes) => {
        const log = new PackedLog(CONF);
        const model = new MemoryStorage(CONF);
        let term = 1;
        for (const o of ops) {
          if (o.kind === 'append') {
            if (o.termBump) term++;
            const first = Math.max(model.firstIndex(), model.lastIndex() + 1 - o.back);
            const es: Entry[] = [];
            for (let i = first; i < first + o.count; i++) {
              const k = i - first;
              es.push(k === o.confAt ? conf(i, term, 4 + (i % 5)) : normal(i, term, k === o.bigAt ? 70_000 : o.bytes, i + term));
            }
            append(log, es);
            model.append(es);
          } else if (o.kind === 'compact') {
            const base = model.snapshot().meta.index;
            const index = base + Math.floor((model.lastIndex() - base) * o.fraction);
            const c = modelConfAt(model, index);
            expect(log.createSnapshot(index, c).meta).toEqual(model.createSnapshot(index, c).meta);
          } else if (o.kind === 'snapshot') {
            const index = Math.max(0, model.lastIndex() + o.ahead);
            const known = index >= model.firstIndex() - 1 && index <= model.lastIndex() ? model.term(index) : term;
            const snap = { meta: { index, term: o.agree ? known : known + 1, conf: { voters: [1, 2], learners: [3] } }, data: new Uint8Array(0) };
            log.applySnapshot(snap);
            model.applySnapshot(snap);
            term = Math.max(term, snap.meta.term);
          } else {
            const hs = { term, vote: o.vote, commit: o.commit };
            log.setHardState(hs);
            model.setHardState(hs);
          }
          expect(describeLog(log, probes)).toEqual(describeLog(model, probes));
        }
      }),
      { numRuns: 200 },
    );
  });
});
