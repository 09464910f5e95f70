import { join } from 'node:path';
import fc from 'fast-check';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfState, Entry, SnapshotMeta } from '@keel/raft';
import { StoreError, type SnapshotInstall } from '../src/storage/index.js';
import { encodeCommand, encodeMemberContext, type Command } from '../src/state-machine/index.js';
import { TestStore, newHome, removeHomes, type StoreHome } from './support/stores.js';
import { casTxn } from '../src/node/client-requests.js';

type NodeStore = TestStore;
const NO_CONF: ConfState = { voters: [], learners: [] };
const MEMBERS = [1, 2, 3].map((id) => ({ id, role: 'voter' as const, peerAddress: `127.0.0.1:${7000 + id}`, clientAddress: `127.0.0.1:${8000 + id}` }));
const b = (s: string): Uint8Array => new TextEncoder().encode(s);


/** A store in a new directory (or `dir` again); `bootstrap: true` writes MEMBERS as its first log entries. */
async function newStore(opts: { dir?: StoreHome; bootstrap?: boolean } = {}): Promise<{ store: NodeStore; dir: StoreHome }> {
  const dir = opts.dir ?? (await newHome());
  const store = await TestStore.open(dir, opts.bootstrap === true ? MEMBERS : undefined);
  return { store, dir };
}

afterEach(removeHomes);

let seq = 0;
function put(key: string, value: string, clientId = 'writer'): Command {
  seq++;
  return { op: 'put', key: b(key), value: b(value), session: { clientId, seq, ackedBelow: seq } };
}

/** Append and apply commands as entries of `term` (persist, then apply). */
async function write(store: NodeStore, datas: Array<Uint8Array | Entry>, term = 1): Promise<void> {
  const first = store.raftStorage.lastIndex() + 1;
  const es: Entry[] = datas.map((d, k) =>
    d instanceof Uint8Array ? { type: 'normal', index: first + k, term, data: d } : { ...d, index: first + k, term },
  );
  await store.persist({ hardState: { term, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  await store.apply(es);
}

/** Everything a client can read, as plain data. */
async function contents(store: NodeStore): Promise<unknown> {
  const all = await store.scan({}, 10_000);
  return {
    kvs: all.kvs.map((kv) => ({ key: Buffer.from(kv.key).toString('hex'), value: Buffer.from(kv.value).toString('hex'), c: kv.createRevision, m: kv.modRevision, v: kv.version })),
    more: all.more,
    members: store.members(),
    conf: store.confState(),
    applied: store.appliedIndex(),
  };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

/** An install of `chunks`; `commit()` completes it and swaps it in at once. */
async function install(target: NodeStore, meta: SnapshotMeta, chunks: readonly Uint8Array[]): Promise<SnapshotInstall & { commit(): Promise<void> }> {
  const inst = await target.beginSnapshotInstall(meta);
  for (const c of chunks) await inst.write(c);
  return Object.assign(inst, { commit: () => target.commitInstall(inst) });
}

/** A source store with `n` keys (some with large values), a conf change and some sessions. */
async function source(n: number): Promise<NodeStore> {
  const { store } = await newStore();
  const cmds: Uint8Array[] = [];
  for (let i = 0; i < n; i++) cmds.push(encodeCommand(put(`key-${String(i).padStart(4, '0')}`, i % 17 === 0 ? 'v'.repeat(3000) : `value-${i}`, `client-${i % 5}`)));
  await write(store, cmds.slice(0, n >> 1));
  await write(store, [
    {
      type: 'confChange', index: 0, term: 0,
      change: { type: 'addLearner', nodeId: 4, context: encodeMemberContext({ peerAddress: 'p4', clientAddress: 'c4' }) },
      conf: { voters: [1, 2, 3], learners: [4] },
    },
  ]);
  await write(store, cmds.slice(n >> 1), 2);
  return store;
}

describe('createSnapshot', () => {
  it('records the meta at the applied index and compacts the log behind it, durably', async () => {
    const { store, dir } = await newStore();
    await write(store, [encodeCommand(put('a', '1')), encodeCommand(put('b', '2')), encodeCommand(put('c', '3'))]);
    // One more entry persisted but not applied: it must survive compaction.
    await store.persist({ entries: [{ type: 'normal', index: 4, term: 1, data: new Uint8Array(0) }] }, true);
    const meta = await store.createSnapshot();
    expect(meta).toEqual({ index: 3, term: 1, conf: NO_CONF });
    expect(store.raftStorage.snapshot().meta).toEqual(meta);
    expect(store.raftStorage.firstIndex()).toBe(4);
    expect(store.raftStorage.lastIndex()).toBe(4);
    expect(await store.createSnapshot()).toEqual(meta); // nothing applied since: same snapshot
    const before = await contents(store);
    await store.close();

    const { store: again } = await newStore({ dir });
    expect(again.raftStorage.snapshot().meta).toEqual(meta);
    expect(again.raftStorage.firstIndex()).toBe(4);
    expect(again.raftStorage.lastIndex()).toBe(4);
    expect(await contents(again)).toEqual(before);
  });
});

describe('snapshot transfer', () => {
  it('takes the membership of a snapshot from the log, whose first entries are the bootstrap membership', async () => {
    // The root fix of `pnpm sim --seed 10354 --nodes 5`: no log lacks a configuration, so no snapshot lacks voters.
    const { store } = await newStore({ bootstrap: true });
    await write(store, [encodeCommand(put('a', '1')), encodeCommand(put('b', '2'))]);
    const early = store.raftStorage.entries(1, 6);
    expect(await store.createSnapshot({ retainEntries: 1 })).toEqual({ index: 4, term: 1, conf: { voters: [1, 2, 3], learners: [] } });
    await write(store, [
      {
        type: 'confChange', index: 0, term: 0,
        change: { type: 'addLearner', nodeId: 4, context: encodeMemberContext({ peerAddress: 'p4', clientAddress: 'c4' }) },
        conf: { voters: [1, 2, 3], learners: [4] },
      },
      encodeCommand(put('c', '3')),
    ]);
    // Retaining entries puts the snapshot before the configuration entry: the bootstrap's membership.
    expect(await store.createSnapshot({ retainEntries: 2 })).toEqual({ index: 5, term: 1, conf: { voters: [1, 2, 3], learners: [] } });
    expect(await store.createSnapshot()).toEqual({ index: 7, term: 1, conf: { voters: [1, 2, 3], learners: [4] } });
    // A node that joined empty and caught up from index 1 holds the same entries, so the same membership.
    const { store: joined } = await newStore();
    expect(joined.confState()).toEqual(NO_CONF);
    await joined.persist({ hardState: { term: 1, vote: 0, commit: 5 }, entries: early }, true);
    await joined.apply(early);
    expect(joined.confState()).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(joined.members()).toEqual(MEMBERS);
    expect(await joined.createSnapshot()).toEqual({ index: 5, term: 1, conf: { voters: [1, 2, 3], learners: [] } });
  });

  it('streams bounded chunks that install into a fresh store with identical reads, members and sessions', async () => {
    const a = await source(300);
    const meta = await a.createSnapshot();
    const stream = await a.readSnapshot(4096);
    expect(stream.meta).toEqual(meta);
    const chunks = await collect(stream.chunks);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.byteLength).toBeLessThanOrEqual(4096);

    const { store: bStore, dir: bDir } = await newStore({ bootstrap: false });
    expect(bStore.confState()).toEqual({ voters: [], learners: [] });
    const inst = await install(bStore, stream.meta, chunks);
    await inst.commit();
    expect(await contents(bStore)).toEqual(await contents(a));
    expect(bStore.members()).toContainEqual({ id: 4, role: 'learner', peerAddress: 'p4', clientAddress: 'c4' });
    expect(bStore.raftStorage.snapshot().meta).toEqual(meta);
    expect(bStore.raftStorage.firstIndex()).toBe(meta.index + 1);
    expect(bStore.raftStorage.hardState().commit).toBeGreaterThanOrEqual(meta.index);
    for (const prefix of ['key-00', 'key-01', 'key-2']) {
      expect(await bStore.scan({ prefix: b(prefix) }, 7)).toEqual(await a.scan({ prefix: b(prefix) }, 7));
    }

    // Sessions came along: a retry of a write applied on A before the snapshot is not applied again on B.
    const retried = put('key-0000', 'changed', 'client-retry');
    await write(a, [encodeCommand(retried)], 2);
    const s2 = await a.readSnapshot(4096);
    const b2 = await newStore({ bootstrap: false });
    await (await install(b2.store, s2.meta, await collect(s2.chunks))).commit();
    const before = await b2.store.get(b('key-0000'));
    const results = await (async () => {
      const es: Entry[] = [{ type: 'normal', index: s2.meta.index + 1, term: 2, data: encodeCommand(retried) }];
      await b2.store.persist({ hardState: { term: 2, vote: 0, commit: es[0]!.index }, entries: es }, true);
      return b2.store.apply(es);
    })();
    expect(results[0]).toMatchObject({ kind: 'command', result: { revision: s2.meta.index } });
    expect(await b2.store.get(b('key-0000'))).toEqual(before);

    // And all of it survives a restart of the receiver.
    const expected = await contents(bStore);
    await bStore.close();
    const { store: reopened } = await newStore({ dir: bDir });
    expect(await contents(reopened)).toEqual(expected);
    expect(reopened.raftStorage.snapshot().meta).toEqual(meta);
  });

  it('a write after an install builds on the value in the snapshot, not on what the receiver applied before', async () => {
    // The receiver wrote key-0001 three times (its apply keeps the value in memory); the snapshot
    // has it written once. The next write must continue the snapshot's version and create revision.
    const a = await source(50);
    const stream = await a.readSnapshot(2048);
    const chunks = await collect(stream.chunks);
    const { store: target } = await newStore({ bootstrap: false });
    await write(target, [encodeCommand(put('key-0001', 'x')), encodeCommand(put('key-0001', 'y')), encodeCommand(put('key-0001', 'z'))]);
    expect((await target.get(b('key-0001')))?.version).toBe(3);
    await (await install(target, stream.meta, chunks)).commit();
    const inSnapshot = (await a.get(b('key-0001')))!;
    const next = put('key-0001', 'after');
    await write(a, [encodeCommand(next)], 2);
    const es: Entry[] = [{ type: 'normal', index: stream.meta.index + 1, term: 2, data: encodeCommand(next) }];
    await target.persist({ hardState: { term: 2, vote: 0, commit: es[0]!.index }, entries: es }, true);
    await target.apply(es);
    const after = (await target.get(b('key-0001')))!;
    expect(after).toEqual(await a.get(b('key-0001')));
    expect(after.version).toBe(inSnapshot.version + 1);
    expect(after.createRevision).toBe(inSnapshot.createRevision);
  });

  it('sends the state as of the read even while applies continue', async () => {
    const a = await source(50);
    const stream = await a.readSnapshot(2048);
    const atRead = await contents(a);
    await write(a, [encodeCommand(put('key-0001', 'later')), encodeCommand(put('zzz', 'later'))], 2);
    const { store: target } = await newStore({ bootstrap: false });
    await (await install(target, stream.meta, await collect(stream.chunks))).commit();
    expect(await contents(target)).toEqual(atRead);
    expect(stream.meta.index).toBe((atRead as { applied: number }).applied);
  });

  it('swaps a completed install in through persist of the Ready that carries the snapshot, with the entries after it', async () => {
    const a = await source(40);
    const stream = await a.readSnapshot(2048);
    const { store: target } = await newStore({ bootstrap: false });
    const inst = await install(target, stream.meta, await collect(stream.chunks));
    await inst.complete();
    expect(target.appliedIndex()).toBe(0); // nothing visible yet
    const next: Entry = { type: 'normal', index: stream.meta.index + 1, term: 2, data: new Uint8Array(0) };
    await target.persist({ snapshot: { meta: stream.meta, data: new Uint8Array(0) }, hardState: { term: 2, vote: 0, commit: stream.meta.index }, entries: [next] }, true);
    expect(await contents(target)).toEqual(await contents(a));
    expect(target.raftStorage.lastIndex()).toBe(next.index);
    expect(target.raftStorage.hardState()).toEqual({ term: 2, vote: 0, commit: stream.meta.index });
    await target.apply([next]);
    expect(target.appliedIndex()).toBe(next.index);
    // The same snapshot again (already installed) only persists the rest of the Ready.
    await target.persist({ snapshot: { meta: stream.meta, data: new Uint8Array(0) }, entries: [] }, true);
    await inst.abort(); // no-op once swapped in
    expect(target.appliedIndex()).toBe(next.index);
  });

  it('keeps the receiver log after the snapshot when it agrees at the snapshot index, and drops it otherwise', async () => {
    const a = await source(10);
    const stream = await a.readSnapshot(2048);
    const chunks = await collect(stream.chunks);
    const m = stream.meta;

    const { store: agreeing } = await newStore({ bootstrap: false });
    const log = a.raftStorage.entries(a.raftStorage.firstIndex(), a.raftStorage.lastIndex() + 1);
    const extra: Entry = { type: 'normal', index: m.index + 1, term: m.term, data: new Uint8Array(0) };
    await agreeing.persist({ hardState: { term: 2, vote: 0, commit: 0 }, entries: [...log, extra] }, true);
    await (await install(agreeing, m, chunks)).commit();
    expect(agreeing.raftStorage.firstIndex()).toBe(m.index + 1);
    expect(agreeing.raftStorage.lastIndex()).toBe(m.index + 1);

    const { store: diverging } = await newStore({ bootstrap: false });
    const other: Entry[] = [];
    for (let i = 1; i <= m.index + 3; i++) other.push({ type: 'normal', index: i, term: 1, data: new Uint8Array(0) });
    await diverging.persist({ hardState: { term: 2, vote: 0, commit: 0 }, entries: other }, true);
    await (await install(diverging, m, chunks)).commit();
    expect(diverging.raftStorage.lastIndex()).toBe(m.index);
    expect(await contents(diverging)).toEqual(await contents(a));
  });

  it('abort leaves the receiver unchanged, also after a restart', async () => {
    const a = await source(80);
    const stream = await a.readSnapshot(1024);
    const chunks = await collect(stream.chunks);
    const { store: target, dir } = await newStore();
    await write(target, [encodeCommand(put('mine', 'kept'))]);
    const before = await contents(target);
    const inst = await install(target, stream.meta, chunks.slice(0, chunks.length - 1));
    await inst.abort();
    await inst.abort(); // idempotent
    await expect(inst.write(chunks[chunks.length - 1]!)).rejects.toMatchObject({ code: 'SNAPSHOT_ABORTED' });
    expect(await contents(target)).toEqual(before);
    await expect(target.persist({ snapshot: { meta: stream.meta, data: new Uint8Array(0) }, entries: [] }, true)).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_STAGED' });
    await target.close();
    const { store: again } = await newStore({ dir });
    expect(await contents(again)).toEqual(before);
  });

  it('clears a side area left by a crash during an install, and installs again afterwards', async () => {
    const a = await source(60);
    const stream = await a.readSnapshot(1024);
    const chunks = await collect(stream.chunks);
    const { store: target, dir } = await newStore({ bootstrap: false });
    await install(target, stream.meta, chunks.slice(0, 3)); // never completed
    await target.close();
    const { store: again } = await newStore({ dir, bootstrap: false });
    expect(await again.scan({}, 10)).toEqual({ kvs: [], more: false });
    await (await install(again, stream.meta, chunks)).commit();
    expect(await contents(again)).toEqual(await contents(a));
  });

  it('rejects bad chunks with typed errors and aborts the install', async () => {
    const a = await source(30);
    const stream = await a.readSnapshot(1024);
    const chunks = await collect(stream.chunks);
    const { store: target } = await newStore({ bootstrap: false });

    const garbage = await target.beginSnapshotInstall(stream.meta);
    await expect(garbage.write(b('garbage'))).rejects.toMatchObject({ code: 'MALFORMED_SNAPSHOT' });
    await expect(garbage.write(chunks[0]!)).rejects.toMatchObject({ code: 'SNAPSHOT_ABORTED' });

    const wrongMeta = await target.beginSnapshotInstall({ ...stream.meta, index: stream.meta.index + 1 });
    await expect(wrongMeta.write(chunks[0]!)).rejects.toMatchObject({ code: 'SNAPSHOT_MISMATCH' });

    const noHeader = await target.beginSnapshotInstall(stream.meta);
    await expect(noHeader.write(chunks[1]!)).rejects.toMatchObject({ code: 'MALFORMED_SNAPSHOT' });

    const truncated = await install(target, stream.meta, chunks.slice(0, -1));
    await expect(truncated.complete()).rejects.toMatchObject({ code: 'MALFORMED_SNAPSHOT' });

    const stale = await target.beginSnapshotInstall(stream.meta);
    stale satisfies SnapshotInstall;
    await (await install(target, stream.meta, chunks)).commit(); // replaces `stale`
    await expect(stale.write(chunks[0]!)).rejects.toMatchObject({ code: 'SNAPSHOT_ABORTED' });
    await expect(target.beginSnapshotInstall(stream.meta)).rejects.toMatchObject({ code: 'SNAPSHOT_STALE' });
    expect(await contents(target)).toEqual(await contents(a));
  });

  it('never fails with anything but a StoreError on arbitrary chunk bytes', async () => {
    const a = await source(5);
    const stream = await a.readSnapshot(1024);
    const [first] = await collect(stream.chunks);
    const { store: target } = await newStore({ bootstrap: false });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.boolean(), async (bytes, afterHeader) => {
        const inst = await target.beginSnapshotInstall(stream.meta);
        try {
          if (afterHeader) await inst.write(first!).catch(() => undefined);
          await inst.write(bytes);
          await inst.complete();
        } catch (err) {
          expect(err).toBeInstanceOf(StoreError);
        } finally {
          await inst.abort();
        }
      }),
      { numRuns: 150 },
    );
    expect(target.appliedIndex()).toBe(0);
    expect(await target.scan({}, 10)).toEqual({ kvs: [], more: false });
  });
});

describe('createSnapshot with retained entries', () => {
  it('keeps the last entries in the log and takes term and membership from the log', async () => {
    const { store, dir } = await newStore();
    await write(store, [encodeCommand(put('a', '1')), encodeCommand(put('b', '1'))]);
    await write(
      store,
      [
        {
          type: 'confChange', index: 0, term: 0,
          change: { type: 'addLearner', nodeId: 4, context: encodeMemberContext({ peerAddress: 'p4', clientAddress: 'c4' }) },
          conf: { voters: [1, 2, 3], learners: [4] },
        },
        encodeCommand(put('c', '1')),
      ],
      2,
    );
    await write(store, [encodeCommand(put('d', '1')), encodeCommand(put('e', '1'))], 3);
    // applied = 6; retain 3 -> snapshot at 3 (the conf entry, term 2)
    const meta = await store.createSnapshot({ retainEntries: 3 });
    expect(meta).toEqual({ index: 3, term: 2, conf: { voters: [1, 2, 3], learners: [4] } });
    expect(store.raftStorage.firstIndex()).toBe(4);
    expect(await store.createSnapshot({ retainEntries: 4 })).toEqual(meta); // would go backwards: unchanged
    const meta2 = await store.createSnapshot({ retainEntries: 4 - 2 });
    expect(meta2).toEqual({ index: 4, term: 2, conf: { voters: [1, 2, 3], learners: [4] } });
    await expect(store.log.createSnapshot(-1)).rejects.toThrow(TypeError);
    await store.close();
    const { store: again } = await newStore({ dir });
    expect(again.raftStorage.snapshot().meta).toEqual(meta2);
    expect(again.appliedIndex()).toBe(6);
    expect(again.raftStorage.entries(5, 7).map((e) => e.term)).toEqual([3, 3]);
  });
});

describe('readSnapshot stream lifetime', () => {
  it('close() releases the stream even when the consumer stopped pulling mid-way', async () => {
    const a = await source(200);
    const stream = await a.readSnapshot(1024);
    const it = stream.chunks[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    await stream.close(); // must not wait for the abandoned iterator
    await stream.close(); // idempotent
    await expect(it.next()).rejects.toThrow();
    // The store is unaffected and can stream again.
    const again = await a.readSnapshot(1024);
    const chunks = await collect(again.chunks);
    const { store: target } = await newStore({ bootstrap: false });
    await (await install(target, again.meta, chunks)).commit();
    expect(await contents(target)).toEqual(await contents(a));
  });

  it('close() before iterating releases the LevelDB snapshot', async () => {
    const a = await source(10);
    const stream = await a.readSnapshot(1024);
    await stream.close();
    await a.close(); // would hang if the snapshot were still held
  });
});

describe('replicas agree across a snapshot (property)', () => {
  it('a replica restored from a snapshot answers and ends exactly like the one that applied everything', async () => {
    const write = fc.record({
      client: fc.integer({ min: 0, max: 3 }),
      op: fc.constantFrom('put' as const, 'delete' as const, 'cas' as const),
      key: fc.constantFrom('a', 'b', 'c'),
      retryBack: fc.integer({ min: 0, max: 6 }),
      ackLag: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(write, { minLength: 2, maxLength: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), async (steps, cut) => {
        const { store: full } = await newStore();
        const nextSeq = [0, 0, 0, 0];
        const sent: Command[] = [];
        const datas: Uint8Array[] = steps.map((st, i) => {
          if (st.retryBack > 0 && st.retryBack <= sent.length && st.retryBack % 2 === 0) return encodeCommand(sent[sent.length - st.retryBack]!);
          const seqNo = ++nextSeq[st.client]!;
          const session = { clientId: `c${st.client}`, seq: seqNo, ackedBelow: Math.max(0, seqNo - st.ackLag) };
          const c: Command =
            st.op === 'put'
              ? { op: 'put', key: b(st.key), value: b(`v${i}`), session }
              : st.op === 'delete'
                ? { op: 'delete', key: b(st.key), session }
                : casTxn(b(st.key), i % 2 === 0 ? { absent: true } : { revision: i - 1 }, b(`v${i}`), session);
          sent.push(c);
          return encodeCommand(c);
        });
        const k = Math.max(1, Math.floor(datas.length * cut));
        const answers = async (store: NodeStore, from: number): Promise<unknown[]> => {
          const es: Entry[] = datas.slice(from).map((data, j) => ({ type: 'normal', index: from + j + 1, term: 1, data }));
          if (es.length === 0) return [];
          await store.persist({ hardState: { term: 1, vote: 1, commit: datas.length }, entries: es }, true);
          return store.apply(es);
        };
        // `full` applies the first k entries, streams a snapshot, then applies the rest.
        const es: Entry[] = datas.slice(0, k).map((data, j) => ({ type: 'normal', index: j + 1, term: 1, data }));
        await full.persist({ hardState: { term: 1, vote: 1, commit: k }, entries: es }, true);
        await full.apply(es);
        const stream = await full.readSnapshot(1024);
        const chunks = await collect(stream.chunks);
        const fullAnswers = await answers(full, k);

        const { store: restored } = await newStore({ bootstrap: false });
        await (await install(restored, stream.meta, chunks)).commit();
        expect(restored.appliedIndex()).toBe(k);
        expect(await answers(restored, k)).toEqual(fullAnswers);
        expect(await contents(restored)).toEqual(await contents(full));
        await full.close();
        await restored.close();
      }),
      { numRuns: 30 },
    );
  });
});

describe('snapshot chunks with values larger than a chunk', () => {
  it('sends each oversized record alone in its chunk and installs it intact', async () => {
    const { store: a } = await newStore();
    const big = (fill: number): Uint8Array => new Uint8Array(1024 * 1024).fill(fill); // LIMITS.valueBytesMax
    await write(a, [
      encodeCommand({ op: 'put', key: b('big-1'), value: big(1), session: { clientId: 'c', seq: 1, ackedBelow: 0 } }),
      encodeCommand({ op: 'put', key: b('small'), value: b('s'), session: { clientId: 'c', seq: 2, ackedBelow: 0 } }),
      encodeCommand({ op: 'put', key: b('zbig-2'), value: big(2), session: { clientId: 'c', seq: 3, ackedBelow: 0 } }),
    ]);
    const stream = await a.readSnapshot(64 * 1024);
    const chunks = await collect(stream.chunks);
    const oversized = chunks.filter((c) => c.byteLength > 64 * 1024);
    expect(oversized.length).toBe(4); // each large value, and its history record
    for (const c of oversized) expect(c.byteLength).toBeLessThan(1024 * 1024 + 64 * 1024);
    const { store: target } = await newStore({ bootstrap: false });
    await (await install(target, stream.meta, chunks)).commit();
    expect(await contents(target)).toEqual(await contents(a));
    expect((await target.get(b('zbig-2')))!.value).toEqual(big(2));
  });
});

describe('repeated installs', () => {
  it('installs one snapshot after another (new generation each time) and restarts on the latest', async () => {
    const a = await source(40);
    const { store: target, dir } = await newStore({ bootstrap: false });
    for (let round = 0; round < 3; round++) {
      await write(a, [encodeCommand(put(`round-${round}`, 'x')), encodeCommand(put('key-0001', `r${round}`))], 3);
      const stream = await a.readSnapshot(2048);
      await (await install(target, stream.meta, await collect(stream.chunks))).commit();
      expect(await contents(target)).toEqual(await contents(a));
    }
    const expected = await contents(target);
    await target.close();
    // Swapped-out generations were cleared: only the live one (the 4th) holds data.
    const raw = new Level<string, Uint8Array>(join(dir.dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' });
    const sublevels = new Set<string>();
    for await (const key of raw.keys()) sublevels.add(key.slice(0, key.indexOf('!', 1) + 1));
    await raw.close();
    expect([...sublevels].filter((n) => /^!(kv|ss)\d+!$/.test(n)).sort()).toEqual(['!kv4!', '!ss4!']);
    const { store: again } = await newStore({ dir, bootstrap: false });
    expect(await contents(again)).toEqual(expected);
    expect(await again.get(b('round-0'))).not.toBeNull();
  });
});
