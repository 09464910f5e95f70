/**
 * The lease table in the state machine and the store: grant, attach (put and txn put), detach
 * (put without a lease, delete, range delete), revoke and expiry delete the lease's keys at the
 * entry's revision, all-or-nothing with the write, and the table survives a restart and a
 * snapshot round trip.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS, type WriteSession } from '@keel/protocol';
import type { Entry } from '@keel/raft';
import { decodeCommand, encodeCommand, type Command } from '../src/state-machine/index.js';
import { LeaseTable } from '../src/state-machine/leases.js';
import { TestStore, newHome, removeHomes, type StoreHome } from './support/stores.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);

afterEach(removeHomes);

async function newStore(home?: StoreHome): Promise<{ store: TestStore; home: StoreHome }> {
  const h = home ?? (await newHome());
  const store = await TestStore.open(h);
  return { store, home: h };
}

let seq = 0;
function session(): WriteSession {
  seq++;
  return { clientId: 'lease-test', seq, ackedBelow: seq };
}

/** Apply `commands` as one batch of entries; the results (answer or error) in order. */
async function apply(store: TestStore, commands: Command[]): Promise<unknown[]> {
  const first = store.raftStorage.lastIndex() + 1;
  const es: Entry[] = commands.map((c, k) => ({ type: 'normal', index: first + k, term: 1, data: encodeCommand(c) }));
  await store.persist({ hardState: { term: 1, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  const results = await store.apply(es);
  return results.map((r) => (r.kind === 'command' ? r.result : r.kind));
}

const grant = (ttl = 10): Command => ({ op: 'leaseGrant', ttl, session: session() });
const put = (key: string, lease?: number): Command => ({ op: 'put', key: b(key), value: b(`v-${key}`), ...(lease !== undefined ? { lease } : {}), session: session() });

async function keys(store: TestStore): Promise<string[]> {
  return (await store.scan({}, 1000)).kvs.map((kv) => dec.decode(kv.key));
}

/** The lease table as plain data: id → [ttl, attached keys in order]. */
function table(store: TestStore): Record<number, [number, string[]]> {
  const out: Record<number, [number, string[]]> = {};
  for (const l of store.state.leases().values()) out[l.id] = [l.ttl, [...l.keys.values()].map((k) => dec.decode(k)).sort()];
  return out;
}

describe('lease commands', () => {
  it('encode and decode: grant, revoke, expire, and a put or txn put with a lease', () => {
    const cases: Command[] = [
      grant(5),
      { op: 'leaseRevoke', lease: 12, session: session() },
      { op: 'leaseExpire', lease: 12 },
      { op: 'put', key: b('k'), value: b('v'), lease: 9, session: session() },
      { op: 'put', key: b('k'), value: b('v'), prevKv: true, lease: 9, session: session() },
      { op: 'txn', compare: [], success: [{ op: 'put', key: b('k'), value: b('v'), lease: 3 }], failure: [], session: session() },
    ];
    for (const c of cases) expect(decodeCommand(encodeCommand(c))).toEqual(c);
    expect(() => encodeCommand({ op: 'leaseGrant', ttl: LIMITS.leaseTtlSecondsMin - 1, session: session() })).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'leaseExpire', lease: 0 })).toThrow(TypeError);
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: b('v'), lease: -1, session: session() })).toThrow(TypeError);
  });
});

describe('the lease table', () => {
  it('keeps its own copy of an attached key, not a view of the bytes the command came in', () => {
    const table = new LeaseTable();
    table.grant(7, 10);
    const carrier = new Uint8Array(64 * 1024).fill(0x61); // a log chunk or a socket read
    const key = carrier.subarray(100, 103);
    table.attach(key, 7);
    table.commit();
    carrier.fill(0x7a);
    const kept = [...table.get(7)!.keys.values()];
    expect(kept.map((k) => dec.decode(k))).toEqual(['aaa']);
    expect(kept[0]!.buffer.byteLength).toBeLessThan(carrier.byteLength);
    expect(table.leaseOf(b('aaa'))).toBe(7);
  });

  it('grants a lease whose id is the grant index; a put attaches, revoke deletes its keys at its revision', async () => {
    const { store } = await newStore();
    const [g] = (await apply(store, [grant(7)])) as Array<{ revision: number; lease: number; ttl: number }>;
    expect(g).toEqual({ revision: 1, lease: 1, ttl: 7 });
    await apply(store, [put('a', 1), put('b', 1), put('c')]);
    expect(table(store)).toEqual({ 1: [7, ['a', 'b']] });
    const [r] = await apply(store, [{ op: 'leaseRevoke', lease: 1, session: session() }]);
    expect(r).toEqual({ revision: 5, deleted: 2 });
    expect(await keys(store)).toEqual(['c']);
    expect(table(store)).toEqual({});
  });

  it('answers LEASE_NOT_FOUND for a put to an unknown lease or a revoke of one, and changes nothing', async () => {
    const { store } = await newStore();
    const [p, r] = (await apply(store, [put('a', 99), { op: 'leaseRevoke', lease: 99, session: session() }])) as Array<{ code: string }>;
    expect(p!.code).toBe('LEASE_NOT_FOUND');
    expect(r!.code).toBe('LEASE_NOT_FOUND');
    expect(await keys(store)).toEqual([]);
  });

  it('detaches a key on a put without a lease, a delete, a range delete, or a put to another lease', async () => {
    const { store } = await newStore();
    await apply(store, [grant(), grant()]); // leases 1 and 2
    await apply(store, [put('a', 1), put('b', 1), put('c', 1), put('d', 1)]);
    await apply(store, [
      put('a'),
      { op: 'delete', key: b('b'), session: session() },
      { op: 'deleteRange', start: b('c'), end: b('d'), session: session() },
      put('d', 2),
    ]);
    expect(table(store)).toEqual({ 1: [10, []], 2: [10, ['d']] });
    await apply(store, [{ op: 'leaseExpire', lease: 1 }, { op: 'leaseExpire', lease: 2 }]);
    expect(await keys(store)).toEqual(['a']);
    expect(table(store)).toEqual({});
  });

  it('revokes keys attached earlier in the same batch, and expiry of a lease already gone is a no-op', async () => {
    const { store } = await newStore();
    const results = await apply(store, [grant(), put('x', 1), { op: 'leaseExpire', lease: 1 }, put('y'), { op: 'leaseExpire', lease: 1 }]);
    expect(results[2]).toEqual({ revision: 3, deleted: 1 });
    expect(results[4]).toEqual({ revision: 5, deleted: 0 });
    expect(await keys(store)).toEqual(['y']);
  });

  it('undoes the attachments of a txn refused part-way (all or nothing)', async () => {
    const { store } = await newStore();
    await apply(store, [grant()]);
    const [r] = (await apply(store, [
      {
        op: 'txn',
        compare: [],
        success: [
          { op: 'put', key: b('t1'), value: b('v'), lease: 1 },
          { op: 'put', key: b('t2'), value: b('v'), lease: 404 },
        ],
        failure: [],
        session: session(),
      },
    ])) as Array<{ code: string }>;
    expect(r!.code).toBe('LEASE_NOT_FOUND');
    expect(table(store)).toEqual({ 1: [10, []] });
    expect(await keys(store)).toEqual([]);
    // The record the refused txn touched was not written either: a restart sees the same table.
    await apply(store, [put('t3', 1)]);
    expect(table(store)).toEqual({ 1: [10, ['t3']] });
  });

  it('answers a retried grant from the session table with the same lease', async () => {
    const { store } = await newStore();
    const s = session();
    const [first, again] = await apply(store, [
      { op: 'leaseGrant', ttl: 30, session: s },
      { op: 'leaseGrant', ttl: 30, session: s },
    ]);
    expect(first).toEqual({ revision: 1, lease: 1, ttl: 30 });
    expect(again).toEqual(first);
    expect(table(store)).toEqual({ 1: [30, []] });
  });

  it('survives a restart, and travels in a snapshot', async () => {
    const { store, home } = await newStore();
    await apply(store, [grant(4), grant(9), put('a', 1), put('b', 2), put('c', 2), put('plain')]);
    const before = table(store);
    expect(before).toEqual({ 1: [4, ['a']], 2: [9, ['b', 'c']] });
    await store.close();
    const { store: again } = await newStore(home);
    expect(table(again)).toEqual(before);

    const stream = await again.readSnapshot(1024);
    const chunks: Uint8Array[] = [];
    for await (const c of stream.chunks) chunks.push(c);
    const { store: target } = await newStore();
    const install = await target.beginSnapshotInstall(stream.meta);
    for (const c of chunks) await install.write(c);
    await target.commitInstall(install);
    expect(table(target)).toEqual(before);
    // The installed table is live: revoking a lease deletes the keys it carried.
    await target.persist({ hardState: { term: 1, vote: 1, commit: stream.meta.index }, entries: [] }, true);
    const [r] = await apply(target, [{ op: 'leaseRevoke', lease: 2, session: session() }]);
    expect(r).toMatchObject({ deleted: 2 });
    expect(await keys(target)).toEqual(['a', 'plain']);
  });
});
