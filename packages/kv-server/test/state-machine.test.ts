import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS, type CasExpectation, type CompareOp, type KeyValue, type TxnCompare, type TxnOp, type WriteSession } from '@keel/protocol';
import { compareHolds } from '../src/state-machine/txn.js';
import type { StoredValue } from '../src/state-machine/stored-value.js';
import { casTxn } from '../src/node/client-requests.js';
import type { Entry } from '@keel/raft';
import type { ApplyResult } from '../src/storage/index.js';
import { BACKENDS, TestStore, newHome, removeHomes, type Backend, type StoreHome } from './support/stores.js';
import {
  SessionTable,
  StateMachineError,
  decodeCommand,
  decodeMemberContext,
  encodeCommand,
  encodeMemberContext,
  type Command,
  type SessionCommand,
  type WriteResult,
} from '../src/state-machine/index.js';

const MEMBERS = [{ id: 1, role: 'voter' as const, peerAddress: '127.0.0.1:7001', clientAddress: '127.0.0.1:8001' }];
const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);
const s = (u: Uint8Array): string => dec.decode(u);

type NodeStore = TestStore;

/** A new store (or the one in `dir` again); `bootstrap` writes MEMBERS as its first log entries. */
async function newStore(dir?: StoreHome, opts: { bootstrap?: boolean; backend?: Backend } = {}): Promise<{ store: NodeStore; dir: StoreHome }> {
  const d = dir ?? (await newHome(opts.backend));
  const store = await TestStore.open(d, opts.bootstrap === true ? MEMBERS : undefined);
  return { store, dir: d };
}

afterEach(removeHomes);

/** Drives a store like the node does: persist, commit, apply; one entry per command. */
class Driver {
  term = 1;
  constructor(public store: NodeStore) {}

  async run(datas: Array<Uint8Array | Entry>): Promise<ApplyResult[]> {
    const first = this.store.raftStorage.lastIndex() + 1;
    const es: Entry[] = datas.map((d, k) =>
      d instanceof Uint8Array ? { type: 'normal', index: first + k, term: this.term, data: d } : { ...d, index: first + k, term: this.term },
    );
    const last = first + es.length - 1;
    await this.store.persist({ hardState: { term: this.term, vote: 1, commit: last }, entries: es }, true);
    return this.store.apply(es);
  }

  async one(c: Command): Promise<WriteResult | unknown> {
    const [r] = await this.run([encodeCommand(c)]);
    return r!.kind === 'command' ? r!.result : r;
  }
}

let seqs = new Map<string, number>();
function session(clientId = 'c1', ackedBelow?: number): WriteSession {
  const seq = (seqs.get(clientId) ?? 0) + 1;
  seqs.set(clientId, seq);
  return { clientId, seq, ackedBelow: ackedBelow ?? seq };
}
type PutCommand = Extract<Command, { op: 'put' }>;
type DeleteCommand = Extract<Command, { op: 'delete' }>;
const put = (key: string, value: string, sess = session()): PutCommand => ({ op: 'put', key: b(key), value: b(value), session: sess });
const del = (key: string, sess = session()): DeleteCommand => ({ op: 'delete', key: b(key), session: sess });
const cas = (key: string, expect: CasExpectation, value: string, sess = session()): Command => casTxn(b(key), expect, b(value), sess);
const delRange = (start: string, end: string | undefined, prevKv = false, sess = session()): Command => ({
  op: 'deleteRange',
  start: b(start),
  ...(end !== undefined ? { end: b(end) } : {}),
  ...(prevKv ? { prevKv } : {}),
  session: sess,
});
const resultsOf = (rs: ApplyResult[]): unknown[] => rs.map((r) => (r.kind === 'command' ? r.result : r));

describe('commands', () => {
  it('round-trips every command shape through encode/decode', () => {
    seqs = new Map();
    const commands: Command[] = [
      put('k', 'v'),
      del('k'),
      cas('k', { value: b('old') }, 'new'),
      cas('k', { revision: 42 }, 'new'),
      cas('k', { absent: true }, 'new'),
      {
        op: 'txn',
        compare: [
          { key: b('a'), target: 'value', op: '<', value: b('x') },
          { key: b('b'), target: 'version', op: '!=', value: 0 },
          { key: b('c'), target: 'createRevision', op: '>', value: 2 ** 40 },
          { key: b('d'), target: 'modRevision', op: '=', value: 7 },
          { key: b('e'), target: 'exists', value: false },
        ],
        success: [
          { op: 'put', key: b('a'), value: b(''), prevKv: true },
          { op: 'delete', key: b('b') },
          { op: 'deleteRange', start: b(''), prevKv: true },
          { op: 'get', key: b('c') },
          { op: 'range', start: b('a'), end: b('z'), limit: 10 },
        ],
        failure: [{ op: 'deleteRange', start: b('a'), end: b('b') }],
        session: session(),
      },
      { op: 'txn', compare: [], success: [], failure: [], session: session() },
      put('k', '', { clientId: 'ü-client', seq: 2 ** 40, ackedBelow: 7 }),
      { ...put('k', 'v'), prevKv: true },
      { ...del('k'), prevKv: true },
      delRange('a', 'b'),
      delRange('', undefined, true),
      delRange('a', undefined),
    ];
    for (const c of commands) expect(decodeCommand(encodeCommand(c))).toEqual(c);
  });

  it('encodes a put or delete without prevKv exactly as before prevKv existed (logs already written stay valid)', () => {
    const sess = { clientId: 'c', seq: 3, ackedBelow: 2 };
    // msgpack fixarray of 6 / 5 elements: [1, key, value, clientId, seq, ackedBelow] / [2, key, clientId, seq, ackedBelow].
    expect(encodeCommand({ op: 'put', key: b('k'), value: b('v'), session: sess })[0]).toBe(0x96);
    expect(encodeCommand({ op: 'put', key: b('k'), value: b('v'), prevKv: false, session: sess })[0]).toBe(0x96);
    expect(encodeCommand({ op: 'delete', key: b('k'), session: sess })[0]).toBe(0x95);
    expect(encodeCommand({ op: 'put', key: b('k'), value: b('v'), prevKv: true, session: sess })[0]).toBe(0x97);
  });

  it('refuses to encode commands that break the rules (TypeError)', () => {
    const sess = { clientId: 'c', seq: 1, ackedBelow: 0 };
    expect(() => encodeCommand({ op: 'put', key: new Uint8Array(0), value: b('v'), session: sess })).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: b('v'), session: { clientId: '', seq: 1, ackedBelow: 0 } })).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: b('v'), session: { clientId: 'c', seq: 1, ackedBelow: 2 } })).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: b('v'), session: { clientId: 'c', seq: 1.5, ackedBelow: 0 } })).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'put', key: new Uint8Array(5000), value: b('v'), session: sess })).toThrow(/key exceeds/);
    const txn = { op: 'txn' as const, compare: [], success: [], failure: [], session: sess };
    expect(() => encodeCommand({ ...txn, compare: [{ key: b('k'), target: 'version', op: '=', value: -1 }] })).toThrow(/non-negative integer/);
    expect(() => encodeCommand({ ...txn, compare: [{ key: b('k'), target: 'size', op: '=', value: 1 } as unknown as TxnCompare] })).toThrow(/target/);
    expect(() => encodeCommand({ ...txn, success: [{ op: 'range', start: b('a'), limit: 0 }] })).toThrow(/range limit/);
    expect(() => encodeCommand({ ...txn, failure: Array.from({ length: LIMITS.txnOpsMax + 1 }, () => ({ op: 'get' as const, key: b('k') })) })).toThrow(/at most/);
    expect(() => encodeCommand({ ...txn, success: [{ op: 'put', key: new Uint8Array(0), value: b('v') }] })).toThrow(/key must not be empty/);
    expect(() => encodeCommand({ op: 'deleteRange', start: b('a'), end: new Uint8Array(0), session: sess })).toThrow(/range end/);
    expect(() => encodeCommand({ op: 'deleteRange', start: new Uint8Array(5000), session: sess })).toThrow(/range start/);
  });

  it('decodes arbitrary bytes to a command or a typed MALFORMED_COMMAND error, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const c = decodeCommand(bytes);
          expect(['put', 'delete', 'txn', 'deleteRange']).toContain(c.op);
        } catch (err) {
          expect(err).toBeInstanceOf(StateMachineError);
          expect((err as StateMachineError).code).toBe('MALFORMED_COMMAND');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips member contexts and rejects garbage with a typed error', () => {
    const m = { peerAddress: '10.0.0.1:7000', clientAddress: '10.0.0.1:8000' };
    expect(decodeMemberContext(encodeMemberContext(m))).toEqual(m);
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof StateMachineError ? err.code : 'not a StateMachineError';
      }
      return undefined;
    };
    expect(codeOf(() => decodeMemberContext(b('garbage')))).toBe('MALFORMED_MEMBER_CONTEXT');
    expect(codeOf(() => decodeMemberContext(new Uint8Array([0xc1])))).toBe('MALFORMED_MEMBER_CONTEXT');
    expect(codeOf(() => decodeMemberContext(encodeCommand(put('k', 'v'))))).toBe('MALFORMED_MEMBER_CONTEXT');
  });
});

describe('state machine: apply', () => {
  it('returns the log index as revision and keeps create/mod revisions per key', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    expect(await d.one(put('a', '1'))).toEqual({ revision: 1 });
    expect(await d.one(put('b', '1'))).toEqual({ revision: 2 });
    expect(await d.one(put('a', '2'))).toEqual({ revision: 3 });
    expect(await store.get(b('a'))).toEqual({ key: b('a'), value: b('2'), createRevision: 1, modRevision: 3, version: 2 });
    expect(await d.one(del('a'))).toEqual({ revision: 4, deleted: true });
    expect(await d.one(del('a'))).toEqual({ revision: 5, deleted: false });
    expect(await store.get(b('a'))).toBeNull();
    expect(await d.one(put('a', '3'))).toEqual({ revision: 6 });
    expect(await store.get(b('a'))).toMatchObject({ createRevision: 6, modRevision: 6, version: 1 });
    expect(store.appliedIndex()).toBe(6);
  });

  it('applies a retried write once and answers it with the first result', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    const first = put('k', 'v1', { clientId: 'c1', seq: 1, ackedBelow: 0 });
    expect(await d.one(first)).toEqual({ revision: 1 });
    expect(await d.one(put('k', 'other', { clientId: 'c2', seq: 1, ackedBelow: 0 }))).toEqual({ revision: 2 });
    // The retry reaches the log again (e.g. through a new leader): not applied, same answer.
    expect(await d.one(first)).toEqual({ revision: 1 });
    expect(await store.get(b('k'))).toMatchObject({ value: b('other'), modRevision: 2 });
    // Duplicates inside one batch too.
    const c = cas('n', { absent: true }, 'x', { clientId: 'c3', seq: 5, ackedBelow: 0 });
    const results = await d.run([encodeCommand(c), encodeCommand(c)]);
    expect(results.map((r) => (r.kind === 'command' ? r.result : r))).toEqual([
      { revision: 4, succeeded: true, results: [{ op: 'put' }] },
      { revision: 4, succeeded: true }, // a txn's results are not remembered
    ]);
  });

  it('forgets results below ackedBelow and answers a late retry INDETERMINATE without applying it', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    await d.one(put('k', 'v1', { clientId: 'c', seq: 1, ackedBelow: 0 }));
    await d.one(put('k', 'v2', { clientId: 'c', seq: 2, ackedBelow: 2 }));
    const late = await d.one(put('k', 'v1', { clientId: 'c', seq: 1, ackedBelow: 0 }));
    expect(late).toMatchObject({ code: 'INDETERMINATE', definite: false });
    expect(await store.get(b('k'))).toMatchObject({ value: b('v2'), modRevision: 2 });
    // seq 2 is still remembered
    expect(await d.one(put('k', 'v2', { clientId: 'c', seq: 2, ackedBelow: 2 }))).toEqual({ revision: 2 });
  });

  it('answers put and delete with the previous entry when asked; a retry answered from the session table has none', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    expect(await d.one({ ...put('k', 'v1'), prevKv: true })).toEqual({ revision: 1, prevKv: null });
    const second = { ...put('k', 'v2', { clientId: 'retrying', seq: 1, ackedBelow: 0 }), prevKv: true };
    expect(await d.one(second)).toEqual({ revision: 2, prevKv: { key: b('k'), value: b('v1'), createRevision: 1, modRevision: 1, version: 1 } });
    expect(await d.one(put('k', 'v3'))).toEqual({ revision: 3 });
    expect(await d.one({ ...del('k'), prevKv: true })).toEqual({
      revision: 4,
      deleted: true,
      prevKv: { key: b('k'), value: b('v3'), createRevision: 1, modRevision: 3, version: 3 },
    });
    expect(await d.one({ ...del('k'), prevKv: true })).toEqual({ revision: 5, deleted: false, prevKv: null });
    expect(await d.one(second)).toEqual({ revision: 2 }); // not applied again; values are not remembered
    expect(await store.get(b('k'))).toBeNull();
  });

  it('deletes a range atomically: [start, end), from a key, everything; counting keys the batch wrote or removed', async () => {
    seqs = new Map();
    const { store, dir } = await newStore();
    const d = new Driver(store);
    await d.run(['a', 'b', 'b1', 'b2', 'c', 'd'].map((k) => encodeCommand(put(k, k.toUpperCase()))));
    expect(await d.one(delRange('b', 'c'))).toEqual({ revision: 7, deleted: 3 });
    expect((await store.scan({}, 100)).kvs.map((kv) => s(kv.key))).toEqual(['a', 'c', 'd']);
    expect(await d.one(delRange('b', 'c'))).toEqual({ revision: 8, deleted: 0 });
    expect(await d.one(delRange('z', 'a'))).toEqual({ revision: 9, deleted: 0 }); // empty range
    // One batch: a key created and one deleted before the range delete, one recreated after it.
    const batch = await d.run([encodeCommand(put('cc', 'new')), encodeCommand(del('d')), encodeCommand(delRange('c', undefined, true)), encodeCommand(put('c', 'again'))]);
    expect(resultsOf(batch)).toEqual([
      { revision: 10 },
      { revision: 11, deleted: true },
      {
        revision: 12,
        deleted: 2,
        prevKvs: [
          { key: b('c'), value: b('C'), createRevision: 5, modRevision: 5, version: 1 },
          { key: b('cc'), value: b('new'), createRevision: 10, modRevision: 10, version: 1 },
        ],
      },
      { revision: 13 },
    ]);
    expect((await store.scan({}, 100)).kvs.map((kv) => [s(kv.key), kv.createRevision])).toEqual([
      ['a', 1],
      ['c', 13],
    ]);
    const everything = delRange('', undefined, false, { clientId: 'retrying', seq: 1, ackedBelow: 0 });
    expect(await d.one(everything)).toEqual({ revision: 14, deleted: 2 });
    expect((await store.scan({}, 100)).kvs).toEqual([]);
    // A retry of the range delete (after a restart too) is answered from the session table.
    await store.close();
    const reopened = (await newStore(dir)).store;
    const d2 = new Driver(reopened);
    await d2.one(put('x', 'y'));
    expect(await d2.one(everything)).toEqual({ revision: 14, deleted: 2 });
    expect(await reopened.get(b('x'))).not.toBeNull();
  });

  it(`refuses a range delete of more than ${LIMITS.deleteRangeKeysMax} keys, or of more than the prevKv byte limit, deleting nothing`, async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    const keys = Array.from({ length: LIMITS.deleteRangeKeysMax + 1 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    await d.run(keys.map((k) => encodeCommand(put(k, ''))));
    const tooMany = await d.one(delRange('k', 'l'));
    expect(tooMany).toMatchObject({ code: 'TOO_LARGE', definite: true });
    expect((tooMany as { message: string }).message).toContain(`more than ${LIMITS.deleteRangeKeysMax} keys`);
    expect((await store.scan({ prefix: b('k') }, 10_000)).kvs).toHaveLength(10_000); // nothing deleted
    // Exactly the limit is fine (a key created in the same batch counts too).
    const batch = await d.run([
      encodeCommand(del(keys[0]!)),
      encodeCommand(del(keys[1]!)),
      encodeCommand(put('k-new', '')),
      encodeCommand(delRange('k', 'l')),
    ]);
    expect(resultsOf(batch)[3]).toMatchObject({ deleted: LIMITS.deleteRangeKeysMax });

    const big = 'x'.repeat(LIMITS.valueBytesMax);
    const count = Math.ceil(LIMITS.deleteRangePrevKvBytesMax / LIMITS.valueBytesMax) + 1;
    await d.run(Array.from({ length: count }, (_, i) => encodeCommand(put(`big${i}`, big))));
    expect(await d.one(delRange('big', 'bih', true))).toMatchObject({ code: 'TOO_LARGE', definite: true });
    for (let i = 0; i < count; i++) expect(await store.get(b(`big${i}`))).not.toBeNull();
    expect(await d.one(delRange('big', 'bih'))).toMatchObject({ deleted: count });
  });

  it('compares in txns as etcd does: values in byte order and never on a missing key, numbers 0 for a missing key', () => {
    const k = b('k');
    const v: StoredValue = { value: b('m'), createRevision: 3, modRevision: 5, version: 2 };
    const holds = (target: 'value' | 'version' | 'createRevision' | 'modRevision', op: CompareOp, value: string | number, current: StoredValue | null): boolean =>
      compareHolds(target === 'value' ? { key: k, target, op, value: b(value as string) } : { key: k, target, op, value: value as number }, current);
    expect(['=', '!=', '<', '>'].map((op) => holds('value', op as CompareOp, 'm', v))).toEqual([true, false, false, false]);
    expect(['=', '!=', '<', '>'].map((op) => holds('value', op as CompareOp, 'z', v))).toEqual([false, true, true, false]);
    expect(['=', '!=', '<', '>'].map((op) => holds('value', op as CompareOp, 'a', v))).toEqual([false, true, false, true]);
    expect(holds('value', '<', 'mm', v)).toBe(true); // a prefix sorts first
    expect(['=', '!=', '<', '>'].map((op) => holds('value', op as CompareOp, 'x', null))).toEqual([false, false, false, false]);
    expect(['=', '!=', '<', '>'].map((op) => holds('value', op as CompareOp, '', null))).toEqual([false, false, false, false]);
    expect([holds('version', '=', 2, v), holds('createRevision', '=', 3, v), holds('modRevision', '=', 5, v)]).toEqual([true, true, true]);
    expect([holds('modRevision', '<', 6, v), holds('modRevision', '>', 4, v), holds('modRevision', '!=', 5, v)]).toEqual([true, true, false]);
    for (const target of ['version', 'createRevision', 'modRevision'] as const) {
      expect([holds(target, '=', 0, null), holds(target, '<', 1, null), holds(target, '>', 0, null)]).toEqual([true, true, false]);
    }
    expect(compareHolds({ key: k, target: 'exists', value: true }, v)).toBe(true);
    expect(compareHolds({ key: k, target: 'exists', value: false }, v)).toBe(false);
    expect(compareHolds({ key: k, target: 'exists', value: false }, null)).toBe(true);
  });

  it('runs a txn branch in order at one revision, each operation seeing the ones before', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    await d.run([encodeCommand(put('a', '1')), encodeCommand(put('b', '1'))]);
    const txn = (compare: TxnCompare[], success: TxnOp[], failure: TxnOp[] = []): Command => ({ op: 'txn', compare, success, failure, session: session() });
    const r = await d.one(
      txn(
        [
          { key: b('a'), target: 'value', op: '=', value: b('1') },
          { key: b('z'), target: 'version', op: '=', value: 0 },
        ],
        [
          { op: 'put', key: b('a'), value: b('2'), prevKv: true },
          { op: 'get', key: b('a') },
          { op: 'put', key: b('c'), value: b('3') },
          { op: 'range', start: b('a'), limit: 2 },
          { op: 'deleteRange', start: b('b'), prevKv: true },
          { op: 'get', key: b('c') },
          { op: 'range', start: b(''), limit: 10 },
        ],
      ),
    );
    const kv = (key: string, value: string, createRevision: number, modRevision: number, version: number): KeyValue => ({ key: b(key), value: b(value), createRevision, modRevision, version });
    expect(r).toEqual({
      revision: 3,
      succeeded: true,
      results: [
        { op: 'put', prevKv: kv('a', '1', 1, 1, 1) },
        { op: 'get', kv: kv('a', '2', 1, 3, 2) },
        { op: 'put' },
        { op: 'range', kvs: [kv('a', '2', 1, 3, 2), kv('b', '1', 2, 2, 1)], more: true },
        { op: 'deleteRange', deleted: 2, prevKvs: [kv('b', '1', 2, 2, 1), kv('c', '3', 3, 3, 1)] },
        { op: 'get', kv: null },
        { op: 'range', kvs: [kv('a', '2', 1, 3, 2)], more: false },
      ],
    });
    // The compare fails: the failure branch runs instead.
    expect(await d.one(txn([{ key: b('a'), target: 'version', op: '>', value: 2 }], [{ op: 'delete', key: b('a') }], [{ op: 'get', key: b('b') }]))).toEqual({
      revision: 4,
      succeeded: false,
      results: [{ op: 'get', kv: null }],
    });
    expect((await store.scan({}, 10)).kvs).toEqual([kv('a', '2', 1, 3, 2)]);
  });

  it('refuses a txn whose answer passes LIMITS.txnResponseBytesMax whole: nothing it did before stays', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    const big = 'x'.repeat(LIMITS.valueBytesMax);
    const count = Math.ceil(LIMITS.txnResponseBytesMax / LIMITS.valueBytesMax) + 1;
    await d.run(Array.from({ length: count }, (_, i) => encodeCommand(put(`big${i}`, big))));
    const reads: TxnOp[] = Array.from({ length: count }, (_, i) => ({ op: 'get', key: b(`big${i}`) }));
    const txn = (success: TxnOp[]): Command => ({ op: 'txn', compare: [], success, failure: [], session: session() });
    // One batch: the refused txn between two writes; the writes apply, the txn leaves nothing.
    const batch = await d.run([
      encodeCommand(put('before', '1')),
      encodeCommand(txn([{ op: 'put', key: b('marker'), value: b('1') }, { op: 'delete', key: b('before') }, ...reads])),
      encodeCommand(put('after', '1')),
    ]);
    expect(resultsOf(batch)[1]).toMatchObject({ code: 'TOO_LARGE', definite: true });
    expect((resultsOf(batch)[1] as { message: string }).message).toContain(`${LIMITS.txnResponseBytesMax} bytes`);
    expect(await store.get(b('marker'))).toBeNull();
    expect(await store.get(b('before'))).toMatchObject({ value: b('1') });
    expect(await store.get(b('after'))).toMatchObject({ value: b('1') });
    // Fewer reads fit.
    expect(await d.one(txn(reads.slice(0, count - 2)))).toMatchObject({ succeeded: true });
  });

  it('compares value, revision or absence in cas (a txn: compare, then put)', async () => {
    const casOf = (r: unknown): unknown => {
      const { revision, succeeded } = r as { revision: number; succeeded: boolean };
      return { revision, succeeded };
    };
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    expect(casOf(await d.one(cas('k', { value: b('x') }, 'v')))).toEqual({ revision: 1, succeeded: false });
    expect(casOf(await d.one(cas('k', { revision: 0 }, 'v')))).toEqual({ revision: 2, succeeded: false });
    expect(casOf(await d.one(cas('k', { absent: true }, 'v1')))).toEqual({ revision: 3, succeeded: true });
    expect(casOf(await d.one(cas('k', { absent: true }, 'v2')))).toEqual({ revision: 4, succeeded: false });
    expect(casOf(await d.one(cas('k', { value: b('v1') }, 'v2')))).toEqual({ revision: 5, succeeded: true });
    expect(casOf(await d.one(cas('k', { value: b('v1') }, 'v3')))).toEqual({ revision: 6, succeeded: false });
    expect(casOf(await d.one(cas('k', { revision: 3 }, 'v3')))).toEqual({ revision: 7, succeeded: false });
    expect(casOf(await d.one(cas('k', { revision: 5 }, 'v3')))).toEqual({ revision: 8, succeeded: true });
    expect(await store.get(b('k'))).toEqual({ key: b('k'), value: b('v3'), createRevision: 3, modRevision: 8, version: 3 });
  });

  it('scans by prefix and by range with limit and more', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    const keys = ['a', 'ab', 'abc', 'abd', 'ac', 'b', 'ba'];
    await d.run(keys.map((k) => encodeCommand(put(k, k.toUpperCase()))));
    await d.run([encodeCommand({ op: 'put', key: new Uint8Array([0xff, 0xff]), value: b('top'), session: session() })]);
    await d.run([encodeCommand({ op: 'put', key: new Uint8Array([0xff, 0xff, 0x01]), value: b('top2'), session: session() })]);
    const names = (r: { kvs: { key: Uint8Array }[] }): string[] => r.kvs.map((kv) => s(kv.key));

    expect(names(await store.scan({ prefix: b('ab') }, 10))).toEqual(['ab', 'abc', 'abd']);
    expect(await store.scan({ prefix: b('ab') }, 2)).toMatchObject({ more: true });
    expect((await store.scan({ prefix: b('ab') }, 3)).more).toBe(false);
    expect(names(await store.scan({ start: b('ab'), end: b('b') }, 10))).toEqual(['ab', 'abc', 'abd', 'ac']);
    expect(names(await store.scan({ start: b('ab'), end: b('b') }, 2))).toEqual(['ab', 'abc']);
    expect(names(await store.scan({ start: b('b') }, 2))).toEqual(['b', 'ba']);
    expect(names(await store.scan({ prefix: b('a'), start: b('abd') }, 10))).toEqual(['abd', 'ac']);
    expect(names(await store.scan({ start: b('b'), end: b('a') }, 10))).toEqual([]);
    const top = await store.scan({ prefix: new Uint8Array([0xff, 0xff]) }, 10);
    expect(top.kvs.map((kv) => s(kv.value))).toEqual(['top', 'top2']);
    const all = await store.scan({}, 100);
    expect(all.kvs.length).toBe(9);
    expect(all.kvs[0]).toEqual({ key: b('a'), value: b('A'), createRevision: 1, modRevision: 1, version: 1 });
    await expect(store.scan({}, 0)).rejects.toThrow(TypeError);
  });

  it('scans with Buffer bounds (as the network delivers them) without changing them', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    await d.run(['ab', 'abc', 'ac'].map((k) => encodeCommand(put(k, k))));
    // Buffer#slice shares memory; computing the prefix's upper bound must not write through it.
    const prefix = Buffer.from('ab');
    const found = await store.scan({ prefix }, 10);
    expect(found.kvs.map((kv) => s(kv.key))).toEqual(['ab', 'abc']);
    expect(prefix.toString()).toBe('ab');
  });

  it('advances the applied index over no-ops and conf changes, and records members with addresses', async () => {
    seqs = new Map();
    // Node 1 with its addresses comes from the bootstrap entry at index 1.
    const { store, dir } = await newStore(undefined, { bootstrap: true });
    const d = new Driver(store);
    const add2: Entry = {
      type: 'confChange', index: 0, term: 0,
      change: { type: 'addLearner', nodeId: 2, context: encodeMemberContext({ peerAddress: 'p2', clientAddress: 'c2' }) },
      conf: { voters: [1], learners: [2] },
    };
    const promote2: Entry = { type: 'confChange', index: 0, term: 0, change: { type: 'addVoter', nodeId: 2 }, conf: { voters: [1, 2], learners: [] } };
    const badContext: Entry = {
      type: 'confChange', index: 0, term: 0,
      change: { type: 'addVoter', nodeId: 3, context: b('not msgpack of two strings') },
      conf: { voters: [1, 2, 3], learners: [] },
    };
    const remove1: Entry = { type: 'confChange', index: 0, term: 0, change: { type: 'removeNode', nodeId: 1 }, conf: { voters: [2, 3], learners: [] } };
    const results = await d.run([new Uint8Array(0), add2, promote2, badContext, remove1]);
    expect(results.map((r) => r.kind)).toEqual(['noop', 'conf', 'conf', 'conf', 'conf']);
    expect(results[1]).toMatchObject({ kind: 'conf', members: [MEMBERS[0], { id: 2, role: 'learner', peerAddress: 'p2', clientAddress: 'c2' }] });
    const expected = [
      { id: 2, role: 'voter', peerAddress: 'p2', clientAddress: 'c2' },
      { id: 3, role: 'voter', peerAddress: '', clientAddress: '' },
    ];
    expect(store.members()).toEqual(expected);
    expect(store.confState()).toEqual({ voters: [2, 3], learners: [] });
    expect(store.appliedIndex()).toBe(6);
    await store.close();
    const { store: again } = await newStore(dir);
    expect(again.members()).toEqual(expected);
    expect(again.confState()).toEqual({ voters: [2, 3], learners: [] });
    expect(again.appliedIndex()).toBe(6);
  });

  it('answers an undecodable entry INTERNAL, applies the rest of the batch and keeps going', async () => {
    seqs = new Map();
    const { store } = await newStore();
    const d = new Driver(store);
    const results = await d.run([encodeCommand(put('a', '1')), b('garbage'), new Uint8Array([0x93, 1, 2]), encodeCommand(put('b', '2'))]);
    expect(results.map((r) => (r.kind === 'command' ? r.result : r))).toEqual([
      { revision: 1 },
      expect.objectContaining({ code: 'INTERNAL', definite: true }),
      expect.objectContaining({ code: 'INTERNAL', definite: true }),
      { revision: 4 },
    ]);
    expect(store.appliedIndex()).toBe(4);
    expect(await d.one(put('c', '3'))).toEqual({ revision: 5 });
  });

  it('keeps data, revisions and sessions across reopen (a retry after restart is still deduplicated)', async () => {
    seqs = new Map();
    const { store, dir } = await newStore();
    const d = new Driver(store);
    const w = put('k', 'v1', { clientId: 'c', seq: 1, ackedBelow: 0 });
    await d.one(w);
    await d.one(put('k', 'v2', { clientId: 'd', seq: 1, ackedBelow: 0 }));
    await store.close();
    const { store: again } = await newStore(dir);
    expect(again.appliedIndex()).toBe(2);
    const d2 = new Driver(again);
    expect(await d2.one(w)).toEqual({ revision: 1 });
    expect(await again.get(b('k'))).toMatchObject({ value: b('v2'), createRevision: 1, modRevision: 2 });
  });

  it('refuses entries that do not follow the applied index', async () => {
    const { store } = await newStore();
    await store.persist({ entries: [{ type: 'normal', index: 1, term: 1, data: new Uint8Array(0) }] }, true);
    await expect(store.apply([{ type: 'normal', index: 2, term: 1, data: new Uint8Array(0) }])).rejects.toThrow(/applied index is 0/);
  });
});

describe('SessionTable bounds (deterministic)', () => {
  const result = (revision: number): WriteResult => ({ revision });

  it('evicts the least recently used session beyond sessionsMax', () => {
    const t = new SessionTable({ sessionsMax: 2, resultsPerSessionMax: 10, resultsTotalMax: 100 });
    t.record({ clientId: 'a', seq: 1, ackedBelow: 0 }, 1, result(1));
    t.record({ clientId: 'b', seq: 1, ackedBelow: 0 }, 2, result(2));
    t.record({ clientId: 'a', seq: 2, ackedBelow: 0 }, 3, result(3)); // a is now most recent
    expect(t.drainChanges().map(([k, v]) => [s(k), v !== undefined])).toEqual([['a', true], ['b', true]]);
    t.record({ clientId: 'c', seq: 1, ackedBelow: 0 }, 4, result(4));
    expect(t.describe().map((x) => x.clientId)).toEqual(['a', 'c']);
    // The evicted session's record is deleted in the same batch.
    expect(t.drainChanges().map(([k, v]) => [s(k), v !== undefined])).toEqual([['c', true], ['b', false]]);
    expect(t.lookup({ clientId: 'b', seq: 1, ackedBelow: 0 })).toEqual({ kind: 'new' }); // forgotten entirely
    expect(t.lookup({ clientId: 'a', seq: 1, ackedBelow: 0 })).toEqual({ kind: 'duplicate', result: result(1) });
    expect(t.resultCount).toBe(3);
  });

  it('drops the smallest seq beyond resultsPerSessionMax and answers it as forgotten', () => {
    const t = new SessionTable({ sessionsMax: 5, resultsPerSessionMax: 2, resultsTotalMax: 100 });
    for (let seq = 1; seq <= 3; seq++) t.record({ clientId: 'a', seq, ackedBelow: 0 }, seq, result(seq));
    expect(t.lookup({ clientId: 'a', seq: 1, ackedBelow: 0 })).toEqual({ kind: 'forgotten' });
    expect(t.lookup({ clientId: 'a', seq: 2, ackedBelow: 0 })).toEqual({ kind: 'duplicate', result: result(2) });
    expect(t.describe()).toEqual([{ clientId: 'a', lastApplied: 3, ackedBelow: 0, floor: 2, seqs: [2, 3] }]);
  });

  it('evicts whole sessions beyond resultsTotalMax, but never the one being written', () => {
    const t = new SessionTable({ sessionsMax: 5, resultsPerSessionMax: 10, resultsTotalMax: 3 });
    t.record({ clientId: 'a', seq: 1, ackedBelow: 0 }, 1, result(1));
    t.record({ clientId: 'a', seq: 2, ackedBelow: 0 }, 2, result(2));
    t.record({ clientId: 'b', seq: 1, ackedBelow: 0 }, 3, result(3));
    t.record({ clientId: 'b', seq: 2, ackedBelow: 0 }, 4, result(4));
    expect(t.describe().map((x) => x.clientId)).toEqual(['b']);
    expect(t.resultCount).toBe(2);
  });

  it('writes one record per touched client per batch, however many of its writes the batch holds', () => {
    const t = new SessionTable();
    for (let seq = 1; seq <= 50; seq++) t.record({ clientId: 'busy', seq, ackedBelow: Math.max(0, seq - 4) }, seq, result(seq));
    const changes = t.drainChanges();
    expect(changes.length).toBe(1);
    expect(t.drainChanges()).toEqual([]);
  });

  it('rebuilds the same table from its records (as after a restart or a snapshot)', () => {
    const records = new Map<string, [Uint8Array, Uint8Array]>();
    const t = new SessionTable({ sessionsMax: 3, resultsPerSessionMax: 3, resultsTotalMax: 7 });
    const rng = fc.sample(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }), fc.nat(3)), { numRuns: 200, seed: 7 });
    const next = new Map<string, number>();
    rng.forEach(([client, ackLag, kind], k) => {
      const clientId = `client-${client}`;
      const seq = (next.get(clientId) ?? 0) + 1;
      next.set(clientId, seq);
      const r: WriteResult = kind === 0 ? { revision: k + 1 } : kind === 1 ? { revision: k + 1, deleted: k % 2 === 0 } : { revision: k + 1, succeeded: k % 3 === 0 };
      t.record({ clientId, seq, ackedBelow: Math.max(0, seq - ackLag) }, k + 1, r);
      if (k % 5 === 4) {
        for (const [key, value] of t.drainChanges()) {
          if (value === undefined) records.delete(s(key));
          else records.set(s(key), [key, value]);
        }
      }
    });
    for (const [key, value] of t.drainChanges()) {
      if (value === undefined) records.delete(s(key));
      else records.set(s(key), [key, value]);
    }
    const rebuilt = SessionTable.fromRecords(records.values(), t.limits);
    expect(rebuilt.describe()).toEqual(t.describe());
    expect(rebuilt.resultCount).toBe(t.resultCount);
    for (const { clientId, seqs } of t.describe()) {
      for (const seq of seqs) expect(rebuilt.lookup({ clientId, seq, ackedBelow: 0 })).toEqual(t.lookup({ clientId, seq, ackedBelow: 0 }));
    }
  });
});

/** The session table as it was, Maps throughout (LRU order by delete + set): the model the table's lists must match. */
class MapSessionTable {
  readonly sessions = new Map<string, { clientId: string; lastApplied: number; ackedBelow: number; floor: number; results: Map<number, WriteResult> }>();
  dirty = new Set<string>();
  total = 0;
  constructor(readonly limits: { sessionsMax: number; resultsPerSessionMax: number; resultsTotalMax: number }) {}

  lookup(w: WriteSession): unknown {
    const session = this.sessions.get(w.clientId);
    if (session === undefined) return { kind: 'new' };
    const result = session.results.get(w.seq);
    if (result !== undefined) return { kind: 'duplicate', result };
    return w.seq < session.ackedBelow || w.seq < session.floor ? { kind: 'forgotten' } : { kind: 'new' };
  }

  record(w: WriteSession, index: number, result: WriteResult | undefined): void {
    let session = this.sessions.get(w.clientId);
    if (session === undefined) session = { clientId: w.clientId, lastApplied: index, ackedBelow: 0, floor: 0, results: new Map() };
    else this.sessions.delete(w.clientId);
    this.sessions.set(w.clientId, session);
    this.dirty.add(w.clientId);
    session.lastApplied = index;
    const drop = (s: NonNullable<typeof session>, below: number): void => {
      for (const seq of [...s.results.keys()]) {
        if (seq >= below) continue;
        s.results.delete(seq);
        this.total--;
      }
    };
    if (w.ackedBelow > session.ackedBelow) drop(session, (session.ackedBelow = w.ackedBelow));
    if (result !== undefined && !session.results.has(w.seq)) {
      const entries: Array<[number, WriteResult]> = [...session.results, [w.seq, result]];
      session.results = new Map(entries.sort((x, y) => x[0] - y[0]));
      this.total++;
      if (session.results.size > this.limits.resultsPerSessionMax) {
        const smallest = [...session.results.keys()][0]!;
        session.floor = Math.max(session.floor, smallest + 1);
        drop(session, smallest + 1);
      }
    }
    while (this.sessions.size > this.limits.sessionsMax || this.total > this.limits.resultsTotalMax) {
      const lru = [...this.sessions.values()][0]!;
      if (lru === session) break;
      drop(lru, Infinity);
      this.sessions.delete(lru.clientId);
      this.dirty.add(lru.clientId);
    }
  }

  drain(): Array<[string, boolean]> {
    const out = [...this.dirty].map((id): [string, boolean] => [id, this.sessions.has(id)]);
    this.dirty = new Set();
    return out;
  }

  describe(): unknown {
    return [...this.sessions.values()].map((x) => ({ clientId: x.clientId, lastApplied: x.lastApplied, ackedBelow: x.ackedBelow, floor: x.floor, seqs: [...x.results.keys()] }));
  }
}

describe('SessionTable against a table of Maps (the structure it replaced)', () => {
  const writeResult: fc.Arbitrary<WriteResult> = fc.oneof(
    fc.record({ revision: fc.integer({ min: 1, max: 1000 }) }),
    fc.record({ revision: fc.integer({ min: 1, max: 1000 }), deleted: fc.boolean() }),
    fc.record({ revision: fc.integer({ min: 1, max: 1000 }), deleted: fc.nat(20) }),
    fc.record({ revision: fc.integer({ min: 1, max: 1000 }), succeeded: fc.boolean() }),
    fc.integer({ min: 1, max: 1000 }).chain((revision) => fc.record({ revision: fc.constant(revision), lease: fc.constant(revision), ttl: fc.integer({ min: 1, max: 60 }) })),
  );
  const step = fc.record({
    client: fc.integer({ min: 0, max: 5 }),
    retry: fc.nat(4), // 0: a new seq; else an earlier one, this many back
    ackLag: fc.nat(4),
    result: writeResult,
    drain: fc.boolean(),
  });

  it('decides, evicts, orders and writes records the same way for any sequence of writes', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.constantFrom({ sessionsMax: 3, resultsPerSessionMax: 3, resultsTotalMax: 7 }, { sessionsMax: 4, resultsPerSessionMax: 5, resultsTotalMax: 30 }), (steps, limits) => {
        const table = new SessionTable(limits);
        const model = new MapSessionTable(limits);
        const records = new Map<string, [Uint8Array, Uint8Array]>();
        const next = new Map<string, number>();
        steps.forEach((st, k) => {
          const clientId = `c${st.client}`;
          const top = next.get(clientId) ?? 0;
          const seq = st.retry === 0 || top === 0 ? top + 1 : Math.max(1, top - st.retry + 1);
          next.set(clientId, Math.max(top, seq));
          const w = { clientId, seq, ackedBelow: Math.max(0, Math.max(top, seq) - st.ackLag) };
          const seen = table.lookup(w);
          expect(seen).toEqual(model.lookup(w));
          const result = seen.kind === 'new' ? st.result : undefined;
          table.record(w, k + 1, result);
          model.record(w, k + 1, result);
          expect(table.describe()).toEqual(model.describe());
          expect(table.resultCount).toBe(model.total);
          expect(table.size).toBe(model.sessions.size);
          if (st.drain || k === steps.length - 1) {
            const changes = table.drainChanges();
            expect(changes.map(([key, value]) => [s(key), value !== undefined])).toEqual(model.drain());
            for (const [key, value] of changes) {
              if (value === undefined) records.delete(s(key));
              else records.set(s(key), [key, value]);
            }
          }
        });
        // The records written rebuild the same table (what a restarted node or a snapshot gets).
        const rebuilt = SessionTable.fromRecords(records.values(), limits);
        expect(rebuilt.describe()).toEqual(model.describe());
        for (const { clientId, seqs } of table.describe()) {
          for (const seq of seqs) expect(rebuilt.lookup({ clientId, seq, ackedBelow: 0 })).toEqual(model.lookup({ clientId, seq, ackedBelow: 0 }));
        }
      }),
      { numRuns: 300 },
    );
  });
});

// -------------------------------------------------------------------------------------------------
// Property: the store's state machine against a naive in-memory model, with retries and restarts.
// -------------------------------------------------------------------------------------------------

interface ModelValue {
  value: string;
  create: number;
  mod: number;
  ver: number;
}

/** The naive oracle: a map, and an unbounded session table with the same acknowledgement rule. */
class Model {
  kv = new Map<string, ModelValue>();
  sessions = new Map<string, { acked: number; results: Map<number, unknown> }>();

  apply(index: number, c: SessionCommand): unknown {
    let sess = this.sessions.get(c.session.clientId);
    const { seq, ackedBelow } = c.session;
    let answer: unknown;
    let fresh: unknown;
    if (sess?.results.has(seq)) answer = sess.results.get(seq);
    else if (sess !== undefined && seq < sess.acked) answer = 'INDETERMINATE';
    else answer = fresh = this.run(index, c);
    if (sess === undefined) this.sessions.set(c.session.clientId, (sess = { acked: 0, results: new Map() }));
    sess.acked = Math.max(sess.acked, ackedBelow);
    for (const k of [...sess.results.keys()]) if (k < sess.acked) sess.results.delete(k);
    // A retry's answer carries no previous entries nor txn results: the session table keeps none.
    if (fresh !== undefined) {
      const { prevKv: _kv, prevKvs: _kvs, results: _results, ...kept } = fresh as { prevKv?: unknown; prevKvs?: unknown; results?: unknown };
      sess.results.set(seq, kept);
    }
    return answer;
  }

  private entry(key: string): unknown {
    const v = this.kv.get(key);
    return v === undefined ? null : { key: b(key), value: b(v.value), createRevision: v.create, modRevision: v.mod, version: v.ver };
  }

  private run(index: number, c: SessionCommand): unknown {
    if (c.op === 'leaseGrant' || c.op === 'leaseRevoke') throw new Error('the model has no leases (leases.test.ts covers them)');
    if (c.op === 'txn') {
      const succeeded = c.compare.every((cmp) => this.holds(cmp));
      return { revision: index, succeeded, results: (succeeded ? c.success : c.failure).map((o) => this.operation(index, o)) };
    }
    const o: TxnOp =
      c.op === 'deleteRange' ? { op: 'deleteRange', start: c.start, ...(c.end !== undefined ? { end: c.end } : {}), ...(c.prevKv === true ? { prevKv: true } : {}) } : c;
    const { op: _op, ...fields } = this.operation(index, o);
    return { revision: index, ...fields };
  }

  /** The naive compare: the key's fields looked up in the map, 0 when absent; values never match an absent key. */
  private holds(c: TxnCompare): boolean {
    const cur = this.kv.get(s(c.key));
    if (c.target === 'exists') return (cur !== undefined) === c.value;
    if (c.target === 'value' && cur === undefined) return false;
    const order =
      c.target === 'value'
        ? Buffer.compare(Buffer.from(cur!.value), Buffer.from(c.value))
        : [cur?.ver ?? 0, cur?.create ?? 0, cur?.mod ?? 0][['version', 'createRevision', 'modRevision'].indexOf(c.target)]! - c.value;
    return c.op === '=' ? order === 0 : c.op === '!=' ? order !== 0 : c.op === '<' ? order < 0 : order > 0;
  }

  private inRange(start: Uint8Array, end: Uint8Array | undefined): string[] {
    return this.rows()
      .map(([k]) => k)
      .filter((k) => k >= s(start) && (end === undefined || k < s(end)));
  }

  private operation(index: number, o: TxnOp): { op: string } & Record<string, unknown> {
    switch (o.op) {
      case 'deleteRange': {
        const doomed = this.inRange(o.start, o.end);
        const prevKvs = doomed.map((k) => this.entry(k));
        for (const k of doomed) this.kv.delete(k);
        return { op: o.op, deleted: doomed.length, ...(o.prevKv === true ? { prevKvs } : {}) };
      }
      case 'range': {
        const keys = this.inRange(o.start, o.end);
        return { op: o.op, kvs: keys.slice(0, o.limit).map((k) => this.entry(k)), more: keys.length > o.limit };
      }
      case 'get':
        return { op: o.op, kv: this.entry(s(o.key)) };
      case 'put':
      case 'delete': {
        const key = s(o.key);
        const prevKv = o.prevKv === true ? { prevKv: this.entry(key) } : {};
        const cur = this.kv.get(key);
        if (o.op === 'delete') {
          this.kv.delete(key);
          return { op: o.op, deleted: cur !== undefined, ...prevKv };
        }
        this.kv.set(key, { value: s(o.value), create: cur?.create ?? index, mod: index, ver: (cur?.ver ?? 0) + 1 });
        return { op: o.op, ...prevKv };
      }
    }
  }

  rows(): Array<[string, ModelValue]> {
    return [...this.kv.entries()].sort(([a], [b2]) => (Buffer.compare(Buffer.from(a), Buffer.from(b2))));
  }
}

type Step =
  | {
      kind: 'write';
      client: number;
      op: 'put' | 'delete' | 'cas' | 'deleteRange' | 'txn';
      key: string;
      value: string;
      expect: number;
      expectValue: string;
      ackLag: number;
      prevKv: boolean;
      start: string;
      end: string | undefined;
      compare: TxnCompare[];
      success: TxnOp[];
      failure: TxnOp[];
    }
  | { kind: 'retry'; pick: number }
  | { kind: 'noop' }
  | { kind: 'garbage' }
  | { kind: 'flush' }
  | { kind: 'reopen' };

const KEYS = ['a', 'ab', 'b', 'ba', 'c'];
const VALUES = ['', 'x', 'y'];
const txnCompare: fc.Arbitrary<TxnCompare> = fc
  .record({
    key: fc.constantFrom(...KEYS),
    target: fc.constantFrom('value' as const, 'version' as const, 'createRevision' as const, 'modRevision' as const, 'exists' as const),
    op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    number: fc.integer({ min: 0, max: 12 }),
    value: fc.constantFrom(...VALUES),
    exists: fc.boolean(),
  })
  .map(({ key, target, op, number, value, exists }): TxnCompare =>
    target === 'exists'
      ? { key: b(key), target, value: exists }
      : target === 'value'
        ? { key: b(key), target, op, value: b(value) }
        : { key: b(key), target, op, value: number },
  );
const txnOp: fc.Arbitrary<TxnOp> = fc
  .record({
    op: fc.constantFrom('put' as const, 'delete' as const, 'deleteRange' as const, 'get' as const, 'range' as const),
    key: fc.constantFrom(...KEYS),
    value: fc.constantFrom(...VALUES),
    prevKv: fc.boolean(),
    start: fc.constantFrom('', ...KEYS),
    end: fc.constantFrom(undefined, ...KEYS, 'bb'),
    limit: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ op, key, value, prevKv, start, end, limit }): TxnOp => {
    const flag = prevKv ? { prevKv } : {};
    const bounds = { start: b(start), ...(end !== undefined ? { end: b(end) } : {}) };
    if (op === 'put') return { op, key: b(key), value: b(value), ...flag };
    if (op === 'delete') return { op, key: b(key), ...flag };
    if (op === 'get') return { op, key: b(key) };
    return op === 'range' ? { op, ...bounds, limit } : { op, ...bounds, ...flag };
  });
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      client: fc.integer({ min: 0, max: 2 }),
      op: fc.constantFrom('put' as const, 'put' as const, 'delete' as const, 'cas' as const, 'deleteRange' as const, 'txn' as const, 'txn' as const),
      key: fc.constantFrom(...KEYS),
      value: fc.constantFrom(...VALUES),
      expect: fc.integer({ min: 0, max: 12 }),
      expectValue: fc.constantFrom(...VALUES),
      ackLag: fc.integer({ min: 0, max: 3 }),
      prevKv: fc.boolean(),
      start: fc.constantFrom('', ...KEYS),
      end: fc.constantFrom(undefined, ...KEYS, 'bb'),
      compare: fc.array(txnCompare, { maxLength: 3 }),
      success: fc.array(txnOp, { maxLength: 4 }),
      failure: fc.array(txnOp, { maxLength: 4 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('noop' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

describe.each(BACKENDS)('state store conformance on %s: the state machine against a naive model (property)', (backend) => {
  it('matches the model on every answer, every read and after every restart', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        const model = new Model();
        let { store, dir } = await newStore(undefined, { backend });
        let driver = new Driver(store);
        const sent: SessionCommand[] = [];
        const nextSeq = [0, 0, 0];
        let pending: Array<{ data: Uint8Array; command?: SessionCommand }> = [];
        let index = 0;
        const flush = async (): Promise<void> => {
          if (pending.length === 0) return;
          const results = await driver.run(pending.map((p) => p.data));
          pending.forEach((p, k) => {
            index++;
            const r = results[k]!;
            expect(r.index).toBe(index);
            if (p.command === undefined) {
              expect(r.kind === 'noop' || (r.kind === 'command' && (r.result as { code?: string }).code === 'INTERNAL')).toBe(true);
              return;
            }
            const expected = model.apply(index, p.command);
            const got = r.kind === 'command' ? r.result : r;
            if (expected === 'INDETERMINATE') expect(got).toMatchObject({ code: 'INDETERMINATE', definite: false });
            else expect(got).toEqual(expected);
          });
          pending = [];
        };
        const checkReads = async (): Promise<void> => {
          const all = await store.scan({}, 1000);
          expect(all.more).toBe(false);
          expect(all.kvs.map((kv) => [s(kv.key), { value: s(kv.value), create: kv.createRevision, mod: kv.modRevision, ver: kv.version }])).toEqual(model.rows());
          for (const key of KEYS) {
            const kv = await store.get(b(key));
            const m = model.kv.get(key);
            expect(kv === null ? undefined : { value: s(kv.value), create: kv.createRevision, mod: kv.modRevision, ver: kv.version }).toEqual(m);
          }
          const prefixA = await store.scan({ prefix: b('a') }, 1);
          const modelA = model.rows().filter(([k]) => k.startsWith('a'));
          expect(prefixA.kvs.map((kv) => s(kv.key))).toEqual(modelA.slice(0, 1).map(([k]) => k));
          expect(prefixA.more).toBe(modelA.length > 1);
        };
        try {
          for (const st of steps) {
            if (st.kind === 'write') {
              const seq = ++nextSeq[st.client]!;
              const sess = { clientId: `client-${st.client}`, seq, ackedBelow: Math.max(0, seq - st.ackLag) };
              const prevKv = st.prevKv ? { prevKv: true } : {};
              const c: Command =
                st.op === 'put'
                  ? { op: 'put', key: b(st.key), value: b(st.value), ...prevKv, session: sess }
                  : st.op === 'delete'
                    ? { op: 'delete', key: b(st.key), ...prevKv, session: sess }
                    : st.op === 'deleteRange'
                      ? { op: 'deleteRange', start: b(st.start), ...(st.end !== undefined ? { end: b(st.end) } : {}), ...prevKv, session: sess }
                      : st.op === 'txn'
                        ? { op: 'txn', compare: st.compare, success: st.success, failure: st.failure, session: sess }
                        : casTxn(
                            b(st.key),
                            st.expect % 3 === 0 ? { absent: true } : st.expect % 3 === 1 ? { value: b(st.expectValue) } : { revision: st.expect },
                            b(st.value),
                            sess,
                          );
              sent.push(c);
              pending.push({ data: encodeCommand(c), command: c });
            } else if (st.kind === 'retry') {
              if (sent.length === 0) continue;
              const c = sent[st.pick % sent.length]!;
              pending.push({ data: encodeCommand(c), command: c });
            } else if (st.kind === 'noop') {
              pending.push({ data: new Uint8Array(0) });
            } else if (st.kind === 'garbage') {
              pending.push({ data: b('not a command') });
            } else if (st.kind === 'flush') {
              await flush();
              await checkReads();
            } else {
              await flush();
              await store.close();
              ({ store } = await newStore(dir));
              driver = new Driver(store);
              expect(store.appliedIndex()).toBe(index);
              await checkReads();
            }
          }
          await flush();
          await checkReads();
        } finally {
          await store.close();
        }
        void dir;
      }),
      { numRuns: 40 },
    );
  });
});
