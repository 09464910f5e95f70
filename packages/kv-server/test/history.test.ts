import { afterEach, describe, expect, it } from 'vitest';
import type { Entry, SnapshotMeta } from '@keel/raft';
import { encodeCommand, type Command } from '../src/state-machine/index.js';
import type { HistoryEvent } from '../src/state-machine/history.js';
import { StoreError } from '../src/storage/index.js';
import { BACKENDS, TestStore, newHome, removeHomes, type StoreHome } from './support/stores.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const s = (u: Uint8Array): string => new TextDecoder().decode(u);
const MEMBERS = [{ id: 1, role: 'voter' as const, peerAddress: '127.0.0.1:7001', clientAddress: '127.0.0.1:8001' }];

async function newStore(home?: StoreHome, backend?: (typeof BACKENDS)[number]): Promise<{ store: TestStore; home: StoreHome }> {
  const h = home ?? (await newHome(backend));
  const store = await TestStore.open(h, MEMBERS);
  return { store, home: h };
}
afterEach(removeHomes);

let seq = 0;
const sess = () => ({ clientId: 'h', seq: ++seq, ackedBelow: seq });
const put = (key: string, value: string): Command => ({ op: 'put', key: b(key), value: b(value), session: sess() });
const del = (key: string): Command => ({ op: 'delete', key: b(key), session: sess() });

/** Persist and apply commands, one entry each (in one batch); returns the result of each. */
async function run(store: TestStore, commands: Command[]): Promise<unknown[]> {
  const first = store.raftStorage.lastIndex() + 1;
  const es: Entry[] = commands.map((c, k) => ({ type: 'normal', index: first + k, term: 1, data: encodeCommand(c) }));
  await store.persist({ hardState: { term: 1, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  return (await store.apply(es)).map((r) => (r.kind === 'command' ? r.result : r.kind));
}

/** Events as short strings: "rev put key=value (prev)" */
function show(events: readonly HistoryEvent[]): string[] {
  return events.map((e) => `${e.revision} ${e.type} ${s(e.kv.key)}${e.type === 'put' ? `=${s(e.kv.value)}` : ''} (${e.prevKv === null ? '-' : s(e.prevKv.value)})`);
}

async function all(store: TestStore, from: number): Promise<string[]> {
  const r = await store.state.readHistory(from, store.appliedIndex(), Number.MAX_SAFE_INTEGER);
  expect(r.through).toBe(store.appliedIndex());
  return show(r.events);
}

describe.each(BACKENDS)('history (%s)', (backend) => {
  it('records every change at its revision with the previous value, in the batch that makes it', async () => {
    const { store } = await newStore(undefined, backend);
    const base = store.appliedIndex();
    await run(store, [put('a', '1'), put('b', '1'), put('a', '2')]);
    await run(store, [
      del('a'),
      { op: 'deleteRange', start: b('a'), session: sess() },
      {
        op: 'txn',
        compare: [],
        success: [
          { op: 'put', key: b('x'), value: b('9') },
          { op: 'put', key: b('y'), value: b('8') },
        ],
        failure: [],
        session: sess(),
      },
    ]);
    expect(await all(store, base + 1)).toEqual([
      `${base + 1} put a=1 (-)`,
      `${base + 2} put b=1 (-)`,
      `${base + 3} put a=2 (1)`,
      `${base + 4} delete a (2)`,
      `${base + 5} delete b (1)`,
      `${base + 6} put x=9 (-)`,
      `${base + 6} put y=8 (-)`,
    ]);
    // A put's event carries the key's revisions; a delete's, the revision of the delete.
    const r = await store.state.readHistory(base + 3, base + 4, 1 << 20);
    expect(r.events[0]!.kv).toMatchObject({ createRevision: base + 1, modRevision: base + 3, version: 2 });
    expect(r.events[1]!.kv).toMatchObject({ createRevision: 0, modRevision: base + 4, version: 0 });
  });

  it('records nothing for a refused txn or a retried write', async () => {
    const { store } = await newStore(undefined, backend);
    const base = store.appliedIndex();
    const once = put('k', 'v');
    await run(store, [once, once, { op: 'delete', key: b('absent'), session: sess() }]);
    expect(await all(store, base + 1)).toEqual([`${base + 1} put k=v (-)`]);
  });

  it('reads whole revisions within a byte budget, resuming after `through`', async () => {
    const { store } = await newStore(undefined, backend);
    const base = store.appliedIndex();
    await run(store, [put('a', 'x'.repeat(100)), { op: 'txn', compare: [], success: ['p', 'q', 'r'].map((k) => ({ op: 'put' as const, key: b(k), value: b('y'.repeat(100)) })), failure: [], session: sess() }, put('z', '1')]);
    // The first revision's row is 150 bytes (12-byte key, 13-byte header, 1-byte key, 124-byte value).
    const first = await store.state.readHistory(base + 1, store.appliedIndex(), 160);
    // The budget is passed within revision base+2, which is still read whole.
    expect(first.events.map((e) => e.revision)).toEqual([base + 1, base + 2, base + 2, base + 2]);
    expect(first.through).toBe(base + 2);
    const rest = await store.state.readHistory(first.through + 1, store.appliedIndex(), 150);
    expect(show(rest.events)).toEqual([`${base + 3} put z=1 (-)`]);
    expect(rest.through).toBe(store.appliedIndex());
    // Nothing to read: `through` stays just below `from`.
    expect((await store.state.readHistory(store.appliedIndex() + 1, store.appliedIndex(), 150)).through).toBe(store.appliedIndex());
  });

  it('compacts through the log: older history is gone, reads of it fail COMPACTED, and it survives a restart', async () => {
    const { store, home } = await newStore(undefined, backend);
    const base = store.appliedIndex();
    await run(store, [put('a', '1'), put('a', '2'), put('a', '3')]);
    expect(store.state.compactRevision()).toBe(1);
    const [compacted] = await run(store, [{ op: 'compact', revision: base + 2 }]);
    expect(compacted).toEqual({ revision: base + 4, compactRevision: base + 2 });
    // Never backwards; never beyond its own revision.
    expect(await run(store, [{ op: 'compact', revision: 1 }])).toEqual([{ revision: base + 5, compactRevision: base + 2 }]);
    const [future] = await run(store, [{ op: 'compact', revision: base + 100 }]);
    expect(future).toMatchObject({ code: 'INVALID_ARGUMENT', definite: true });
    await expect(store.state.readHistory(base + 1, store.appliedIndex(), 1 << 20)).rejects.toSatisfy(
      (e: unknown) => e instanceof StoreError && e.code === 'COMPACTED' && /oldest available is \d+/.test(e.message),
    );
    expect(await all(store, base + 2)).toEqual([`${base + 2} put a=2 (1)`, `${base + 3} put a=3 (2)`]);
    await store.state.idle();
    await store.close();
    const { store: again } = await newStore(home);
    expect(again.state.compactRevision()).toBe(base + 2);
    expect(await all(again, base + 2)).toEqual([`${base + 2} put a=2 (1)`, `${base + 3} put a=3 (2)`]);
  });

  it('tells its listener about each batch after it is written, and about a snapshot swapped in', async () => {
    const { store } = await newStore(undefined, backend);
    const seen: string[] = [];
    store.state.setHistoryListener({
      applied: (rows, applied) => seen.push(`applied ${rows.length} through ${applied} (store at ${store.appliedIndex()})`),
      replaced: (applied) => seen.push(`replaced at ${applied}`),
    });
    const base = store.appliedIndex();
    await run(store, [put('a', '1'), put('b', '2')]);
    expect(seen).toEqual([`applied 2 through ${base + 2} (store at ${base + 2})`]);
  });
});

describe('history of range deletes', () => {
  it(`refuses a range delete of more than LIMITS.deleteRangeBytesMax bytes of entries whole, recording nothing`, async () => {
    const { store } = await newStore(undefined, 'memory');
    const mib = new Uint8Array(1024 * 1024).fill(1);
    const puts: Command[] = [];
    for (let i = 0; i < 65; i++) puts.push({ op: 'put', key: b(`big/${String(i).padStart(2, '0')}`), value: mib, session: sess() });
    await run(store, puts);
    const before = store.appliedIndex();
    const [refused] = await run(store, [{ op: 'deleteRange', start: b('big/'), end: b('big0'), session: sess() }]);
    expect(refused).toMatchObject({ code: 'TOO_LARGE', message: expect.stringContaining('bytes of entries') });
    expect((await store.state.readHistory(before + 1, store.appliedIndex(), 1 << 20)).events).toEqual([]);
    expect(await store.get(b('big/00'))).not.toBeNull();
    expect(await store.get(b('big/64'))).not.toBeNull();
    const [deleted] = await run(store, [{ op: 'deleteRange', start: b('big/'), end: b('big/6'), session: sess() }]);
    expect(deleted).toMatchObject({ deleted: 60 });
  });
});

describe('history in snapshots', () => {
  it('carries the history from the compaction point, so the receiver serves the same history', async () => {
    const { store: a } = await newStore();
    const base = a.appliedIndex();
    await run(a, [put('a', '1'), put('a', '2'), put('b', '1'), del('a')]);
    await run(a, [{ op: 'compact', revision: base + 2 }]);
    const stream = await a.readSnapshot(1024);
    const chunks: Uint8Array[] = [];
    for await (const c of stream.chunks) chunks.push(c);
    const { store: target } = await newStore();
    const replaced: number[] = [];
    target.state.setHistoryListener({ applied: () => undefined, replaced: (applied) => replaced.push(applied) });
    const inst = await target.beginSnapshotInstall(stream.meta as SnapshotMeta);
    for (const c of chunks) await inst.write(c);
    await target.commitInstall(inst);
    expect(replaced).toEqual([stream.meta.index]);
    expect(target.state.compactRevision()).toBe(base + 2);
    expect(await all(target, base + 2)).toEqual(await all(a, base + 2));
    expect(await all(target, base + 2)).toEqual([`${base + 2} put a=2 (1)`, `${base + 3} put b=1 (-)`, `${base + 4} delete a (2)`]);
    await expect(target.state.readHistory(base + 1, target.appliedIndex(), 1 << 20)).rejects.toBeInstanceOf(StoreError);
  });
});
