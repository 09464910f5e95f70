import { join } from 'node:path';
import fc from 'fast-check';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, StorageError, type ConfState, type Entry, type HardState, type Storage } from '@keel/raft';
import { StoreError, batchInto, type Db } from '../src/storage/index.js';
import { encodeMemberContext } from '../src/state-machine/index.js';
import { BACKENDS, TestStore, newHome, removeHomes, type Backend, type StoreHome } from './support/stores.js';

const CONF: ConfState = { voters: [1, 2, 3], learners: [] };
const MEMBERS = [1, 2, 3].map((id) => ({ id, role: 'voter' as const, peerAddress: `127.0.0.1:${7000 + id}`, clientAddress: `127.0.0.1:${8000 + id}` }));
const NO_CONF: ConfState = { voters: [], learners: [] };


async function tempDir(backend: Backend = 'level'): Promise<StoreHome> {
  return newHome(backend);
}

afterEach(removeHomes);

function normal(index: number, term: number, text = `e${index}`): Entry {
  return { type: 'normal', index, term, data: new TextEncoder().encode(text) };
}

function entries(from: number, to: number, term: number, tag = ''): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(normal(i, term, `${tag}e${i}`));
  return out;
}

/** Everything the core can ask a Storage, as plain data (bytes as arrays). */
function describeStorage(s: Storage): unknown {
  const plain = (e: Entry): unknown => (e.type === 'normal' ? { ...e, data: Array.from(e.data) } : { ...e, change: { ...e.change, context: e.change.context && Array.from(e.change.context) } });
  const first = s.firstIndex();
  const last = s.lastIndex();
  const terms: number[] = [];
  for (let i = first - 1; i <= last; i++) terms.push(s.term(i));
  return {
    initialState: s.initialState(),
    first,
    last,
    terms,
    entries: last >= first ? s.entries(first, last + 1).map(plain) : [],
    snapshot: s.snapshot().meta,
  };
}

describe('log store: log and hard state', () => {
  it('bootstraps the membership as the first log entries, once (etcd Bootstrap)', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    expect(store.log.isPristine).toBe(true);
    expect(store.confState()).toEqual(NO_CONF);
    expect(store.raftStorage.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, conf: NO_CONF });
    await store.log.bootstrap([MEMBERS[2]!, MEMBERS[0]!, MEMBERS[1]!]);
    // One addVoter per member in id order, term 1, all committed: the log alone defines the configuration.
    expect(store.raftStorage.lastIndex()).toBe(3);
    expect(store.raftStorage.hardState()).toEqual({ term: 1, vote: 0, commit: 3 });
    const boot = store.raftStorage.entries(1, 4);
    expect(boot.map((e) => (e.type === 'confChange' ? [e.index, e.term, e.change.type, e.change.nodeId, e.conf.voters] : e))).toEqual([
      [1, 1, 'addVoter', 1, [1]],
      [2, 1, 'addVoter', 2, [1, 2]],
      [3, 1, 'addVoter', 3, [1, 2, 3]],
    ]);
    await store.apply(boot);
    expect(store.confState()).toEqual(CONF);
    expect(store.members()).toEqual(MEMBERS);
    expect(store.appliedIndex()).toBe(3);
    await store.close();

    const again = await TestStore.open(dir);
    expect(again.log.isPristine).toBe(false);
    expect(again.log.bootstrappedWith).toEqual(MEMBERS);
    expect(again.confState()).toEqual(CONF);
    expect(again.members()).toEqual(MEMBERS);
    await expect(again.log.bootstrap(MEMBERS)).rejects.toThrow(/not empty/);
  });

  it('persists entries and hard state and rebuilds the same view after reopen', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    const hs: HardState = { term: 2, vote: 1, commit: 3 };
    const conf: Entry = {
      type: 'confChange',
      index: 6,
      term: 2,
      change: { type: 'addLearner', nodeId: 4, context: encodeMemberContext({ peerAddress: 'p4', clientAddress: 'c4' }) },
      conf: { voters: [1, 2, 3], learners: [4] },
    };
    await store.persist({ hardState: hs, entries: [...entries(1, 5, 1), conf, normal(7, 2, '')] }, true);
    const before = describeStorage(store.raftStorage);
    expect(store.raftStorage.lastIndex()).toBe(7);
    expect(store.raftStorage.hardState()).toEqual(hs);
    await store.close();

    const reopened = await TestStore.open(dir);
    expect(describeStorage(reopened.raftStorage)).toEqual(before);
    expect(reopened.raftStorage.entries(6, 7)[0]).toMatchObject({ type: 'confChange', change: { type: 'addLearner', nodeId: 4 } });
  });

  it('overwrites a conflicting suffix and deletes the stored entries beyond the new last index', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    await store.persist({ hardState: { term: 1, vote: 1, commit: 0 }, entries: entries(1, 10, 1) }, true);
    // A new leader in term 3 replaces everything from index 4 with a shorter log.
    await store.persist({ hardState: { term: 3, vote: 2, commit: 0 }, entries: entries(4, 6, 3, 'new') }, true);
    expect(store.raftStorage.lastIndex()).toBe(6);
    expect(store.raftStorage.term(3)).toBe(1);
    expect(store.raftStorage.term(4)).toBe(3);
    const view = describeStorage(store.raftStorage);
    await store.close();

    const reopened = await TestStore.open(dir);
    expect(describeStorage(reopened.raftStorage)).toEqual(view);
    expect(() => reopened.raftStorage.term(7)).toThrow(StorageError);
    const data = reopened.raftStorage.entries(4, 7).map((e) => (e.type === 'normal' ? new TextDecoder().decode(e.data) : ''));
    expect(data).toEqual(['newe4', 'newe5', 'newe6']);
  });

  it('refuses to overwrite an applied entry with a different term (Reference: §5.4 Leader Completeness)', async () => {
    const store = await TestStore.open(await tempDir());
    await store.persist({ hardState: { term: 1, vote: 1, commit: 3 }, entries: entries(1, 3, 1) }, true);
    await store.apply(store.raftStorage.entries(1, 4));
    await expect(store.persist({ entries: entries(3, 4, 2) }, true)).rejects.toThrow(/applied entry/);
    expect(store.raftStorage.lastIndex()).toBe(3);
    // Re-persisting identical entries is harmless.
    await store.persist({ entries: entries(3, 4, 1) }, true);
    expect(store.raftStorage.lastIndex()).toBe(4);
  });

  it('rejects entries that would leave a gap, without writing anything', async () => {
    const store = await TestStore.open(await tempDir());
    await store.persist({ entries: entries(1, 3, 1) }, true);
    await expect(store.persist({ entries: entries(5, 6, 1) }, true)).rejects.toThrow(/gap/);
    expect(store.raftStorage.lastIndex()).toBe(3);
    await expect(store.persist({ entries: [normal(4, 1), normal(6, 1)] }, true)).rejects.toThrow(/contiguous/);
    expect(store.raftStorage.lastIndex()).toBe(3);
  });

  it('resumes exactly where it stopped after a crash-like close (no further writes)', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    await store.persist({ hardState: { term: 1, vote: 1, commit: 2 }, entries: entries(1, 4, 1) }, true);
    await store.apply(store.raftStorage.entries(1, 3));
    // Not synced, and a new vote: still in LevelDB's ordered log, so a process crash keeps it.
    await store.persist({ hardState: { term: 2, vote: 3, commit: 3 }, entries: [] }, false);
    const view = describeStorage(store.raftStorage);
    const applied = store.appliedIndex();
    await store.close();

    const reopened = await TestStore.open(dir);
    expect(describeStorage(reopened.raftStorage)).toEqual(view);
    expect(reopened.appliedIndex()).toBe(applied);
    expect(reopened.appliedIndex()).toBe(2);
    expect(reopened.raftStorage.hardState()).toEqual({ term: 2, vote: 3, commit: 3 });
  });

  it('keeps an unsynced move of the commit index alone in memory; a reopen raises the commit to the applied index', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    await store.persist({ hardState: { term: 1, vote: 1, commit: 2 }, entries: entries(1, 4, 1) }, true);
    await store.apply(store.raftStorage.entries(1, 3));
    await store.persist({ hardState: { term: 1, vote: 1, commit: 4 }, entries: [] }, false);
    expect(store.raftStorage.hardState()).toEqual({ term: 1, vote: 1, commit: 4 });
    await store.apply(store.raftStorage.entries(3, 4));
    await store.close();

    // Commit 4 was never written; 3 is applied, hence committed. Raft learns the rest again from the leader.
    const reopened = await TestStore.open(dir);
    expect(reopened.raftStorage.hardState()).toEqual({ term: 1, vote: 1, commit: 3 });
    expect(reopened.raftStorage.lastIndex()).toBe(4);
    // The next hard state that is written carries the commit index.
    await reopened.persist({ hardState: { term: 1, vote: 1, commit: 4 }, entries: entries(5, 5, 1) }, true);
    await reopened.close();
    expect((await TestStore.open(dir)).raftStorage.hardState()).toEqual({ term: 1, vote: 1, commit: 4 });
  });

  it('refuses a second open of the same directory with a clear error and stays usable', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    await expect(TestStore.open(dir)).rejects.toThrow();
    await store.persist({ entries: entries(1, 1, 1) }, true);
    expect(store.raftStorage.lastIndex()).toBe(1);
  });

  it('refuses damaged metadata with StoreError CORRUPTED and releases the database', async () => {
    const dir = await tempDir();
    await (await TestStore.open(dir)).close();
    const raw = new Level<string, Uint8Array>(join(dir.dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    await raw.put('!meta!hard', new Uint8Array([0xc1, 0xff]));
    await raw.close();
    await expect(TestStore.open(dir)).rejects.toMatchObject({ name: 'StoreError', code: 'CORRUPTED' });
    // Still refused (not a lock error): the failed open closed LevelDB.
    await expect(TestStore.open(dir)).rejects.toMatchObject({ code: 'CORRUPTED' });
  });

  it('refuses a log with a gap with StoreError CORRUPTED', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    await store.persist({ entries: entries(1, 5, 1) }, true);
    await store.close();
    const raw = new Level<Uint8Array, Uint8Array>(join(dir.dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
    const key = new Uint8Array([...new TextEncoder().encode('!log!'), 0, 0, 0, 0, 0, 0, 0, 3]);
    expect(await raw.get(key)).toBeDefined();
    await raw.del(key);
    await raw.close();
    await expect(TestStore.open(dir)).rejects.toMatchObject({ code: 'CORRUPTED', message: expect.stringMatching(/gap/) });
  });

  it('reports CLOSED after close', async () => {
    const store = await TestStore.open(await tempDir());
    await store.close();
    await expect(store.persist({ entries: [] }, true)).rejects.toThrow(StoreError);
    await expect(store.get(new Uint8Array([1]))).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('persists a Ready of hundreds of entries in one call', async () => {
    const dir = await tempDir();
    const store = await TestStore.open(dir);
    const big = entries(1, 500, 1);
    await store.persist({ hardState: { term: 1, vote: 1, commit: 0 }, entries: big }, true);
    expect(store.raftStorage.lastIndex()).toBe(500);
    await store.close();
    const reopened = await TestStore.open(dir);
    expect(reopened.raftStorage.lastIndex()).toBe(500);
    expect(reopened.raftStorage.entries(1, 501).length).toBe(500);
  });
});

describe.each(BACKENDS)('log store conformance on %s: raftStorage answers like MemoryStorage', (backend) => {
  type Op =
    | { kind: 'append'; back: number; count: number; termBump: boolean }
    | { kind: 'hard'; vote: number }
    | { kind: 'applyAndSnapshot'; fraction: number; retain: number }
    | { kind: 'reopen' };

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), back: fc.nat(4), count: fc.integer({ min: 0, max: 8 }), termBump: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('hard' as const), vote: fc.integer({ min: 0, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('applyAndSnapshot' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }), retain: fc.nat(5) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
  );

  it('answers every Storage query like a MemoryStorage fed the same operations, across reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const dir = await tempDir(backend);
        let store = await TestStore.open(dir);
        const model = new MemoryStorage();
        let term = 1;
        let commit = 0;
        try {
          for (const o of ops) {
            if (o.kind === 'append') {
              if (o.termBump) term++;
              // Committed entries never change: a new leader only replaces entries after the commit index.
              const first = Math.max(model.firstIndex(), model.lastIndex() + 1 - o.back, commit + 1);
              const es = entries(first, first + o.count - 1, term, `t${term}`);
              const hs = { term, vote: 1, commit };
              await store.persist({ hardState: hs, entries: es }, true);
              model.append(es);
              model.setHardState(hs);
            } else if (o.kind === 'hard') {
              const hs = { term, vote: o.vote, commit };
              await store.persist({ hardState: hs, entries: [] }, false);
              model.setHardState(hs);
            } else if (o.kind === 'applyAndSnapshot') {
              const target = store.appliedIndex() + Math.floor((model.lastIndex() - store.appliedIndex()) * o.fraction);
              if (target > store.appliedIndex()) {
                commit = Math.max(commit, target);
                const hs = { term, vote: model.hardState().vote, commit };
                await store.persist({ hardState: hs, entries: [] }, true);
                model.setHardState(hs);
                await store.apply(store.raftStorage.entries(store.appliedIndex() + 1, target + 1));
              }
              const meta = await store.createSnapshot({ retainEntries: o.retain });
              expect(meta.index).toBe(Math.max(model.snapshot().meta.index, store.appliedIndex() - o.retain));
              if (meta.index > model.snapshot().meta.index) model.createSnapshot(meta.index, NO_CONF);
            } else {
              await store.close();
              store = await TestStore.open(dir);
            }
            expect(describeStorage(store.raftStorage)).toEqual(describeStorage(model));
          }
          await store.close();
          store = await TestStore.open(dir);
          expect(describeStorage(store.raftStorage)).toEqual(describeStorage(model));
        } finally {
          await store.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('batchInto: one batch of prefixed keys into the root database', () => {
  it("writes the bytes abstract-level's sublevels read and delete (meta's string keys, byte keys, the empty key)", async () => {
    const { MemoryLevel } = await import('memory-level');
    const home = await tempDir();
    const dbs: Db[] = [
      new Level<Uint8Array, Uint8Array>(join(home.dir, 'raw'), { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as Db,
      new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' }) as unknown as Db,
    ];
    for (const db of dbs) {
      await db.open();
      const v = (n: number): Uint8Array => new Uint8Array([n]);
      await batchInto(
        db,
        [
          { type: 'put', sublevel: 'meta', key: 'hard', value: v(1) },
          { type: 'put', sublevel: 'log', key: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9]), value: v(2) },
          { type: 'put', sublevel: 'kv3', key: new Uint8Array(0), value: v(3) },
          { type: 'put', sublevel: 'kv3', key: new TextEncoder().encode('a/b'), value: v(4) },
          { type: 'put', sublevel: 'kv3', key: new TextEncoder().encode('gone'), value: v(5) },
        ],
        false,
      );
      await batchInto(db, [{ type: 'del', sublevel: 'kv3', key: new TextEncoder().encode('gone') }], true);
      const meta = db.sublevel<string, Uint8Array>('meta', { keyEncoding: 'utf8', valueEncoding: 'view' });
      expect([...(await meta.get('hard'))!]).toEqual([1]);
      const log = db.sublevel<Uint8Array, Uint8Array>('log', { keyEncoding: 'view', valueEncoding: 'view' });
      expect([...(await log.get(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9])))!]).toEqual([2]);
      const kv = db.sublevel<Uint8Array, Uint8Array>('kv3', { keyEncoding: 'view', valueEncoding: 'view' });
      expect((await kv.iterator().all()).map(([k, val]) => [new TextDecoder().decode(k), val[0]])).toEqual([
        ['', 3],
        ['a/b', 4],
      ]);
      await db.close();
    }
  });
});
