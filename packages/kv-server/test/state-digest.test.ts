/**
 * StateStore.digest: the convergence check's view of a node — equal for stores that applied the
 * same entries (however they got there: applies or a snapshot install), different as soon as a
 * key, a value, a revision or the applied index differs; and always one consistent view, even
 * while applies go on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Entry } from '@keel/raft';
import { encodeCommand, type Command } from '../src/state-machine/index.js';
import { BACKENDS, TestStore, newHome, removeHomes, type Backend } from './support/stores.js';

const MEMBERS = [1, 2, 3].map((id) => ({ id, role: 'voter' as const, peerAddress: `127.0.0.1:${7000 + id}`, clientAddress: `127.0.0.1:${8000 + id}` }));
const b = (s: string): Uint8Array => new TextEncoder().encode(s);


async function newStore(backend: Backend, bootstrap = true): Promise<TestStore> {
  const store = await TestStore.open(await newHome(backend), bootstrap ? MEMBERS : undefined);
  return store;
}

afterEach(removeHomes);

let seq = 0;
const put = (key: string, value: string): Command => ({ op: 'put', key: b(key), value: b(value), session: { clientId: 'w', seq: ++seq, ackedBelow: seq } });
const del = (key: string): Command => ({ op: 'delete', key: b(key), session: { clientId: 'w', seq: ++seq, ackedBelow: seq } });

/** Persist and apply `commands` (or empty entries, for `null`) as the next entries of `term`. */
async function apply(store: TestStore, commands: ReadonlyArray<Command | null>, term = 1): Promise<void> {
  const first = store.raftStorage.lastIndex() + 1;
  const es: Entry[] = commands.map((c, k) => ({ type: 'normal', index: first + k, term, data: c === null ? new Uint8Array(0) : encodeCommand(c) }));
  await store.persist({ hardState: { term, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  await store.apply(es);
}

describe.each(BACKENDS)('StateStore.digest (%s)', (backend) => {
  it('is equal for stores that applied the same entries, and covers the applied index and the key count', async () => {
    const commands = [put('a', '1'), put('b', '2'), put('a', '3'), del('b'), put('c', '')];
    const [x, y] = [await newStore(backend), await newStore(backend)];
    const bootstrapped = x.appliedIndex();
    const empty = await x.state.digest();
    expect(empty).toMatchObject({ applied: bootstrapped, keys: 0 });
    expect(empty.digest).toMatch(/^[0-9a-f]{64}$/);
    await apply(x, commands);
    await apply(y, commands.slice(0, 2));
    await apply(y, commands.slice(2));
    const dx = await x.state.digest();
    expect(dx).toEqual(await y.state.digest());
    expect(dx).toMatchObject({ applied: bootstrapped + 5, keys: 2 });
    expect(dx.digest).not.toBe(empty.digest);
  });

  it('differs when a value, a revision or only the applied index differs', async () => {
    const [base, value, revision, later] = [await newStore(backend), await newStore(backend), await newStore(backend), await newStore(backend)];
    await apply(base, [put('a', '1'), put('b', '2')]);
    await apply(value, [put('a', '1'), put('b', 'x')]);
    await apply(revision, [put('b', '2'), put('a', '1')]); // same contents, revisions swapped
    await apply(later, [put('a', '1'), put('b', '2'), null]); // an empty entry: contents unchanged
    const digests = await Promise.all([base, value, revision, later].map((s) => s.state.digest()));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(4);
    expect(digests[3]).toMatchObject({ applied: base.appliedIndex() + 1, keys: 2 });
  });

  it('is equal on a node that caught up through a snapshot install', async () => {
    const source = await newStore(backend);
    await apply(source, Array.from({ length: 50 }, (_, i) => put(`k${i % 20}`, `v${i}`)));
    const stream = await source.readSnapshot(4096);
    const target = await newStore(backend, false);
    const install = await target.beginSnapshotInstall(stream.meta);
    for await (const chunk of stream.chunks) await install.write(chunk);
    await target.commitInstall(install);
    expect(await target.state.digest()).toEqual(await source.state.digest());
  });

  it('describes one applied index and exactly its data while applies go on', async () => {
    // Reference digests of every prefix, from a second store applying the same entries one at a time.
    const commands = Array.from({ length: 40 }, (_, i) => put(`k${i % 7}`, `v${i}`));
    const [busy, reference] = [await newStore(backend), await newStore(backend)];
    const expected = new Map<number, string>();
    expected.set(reference.appliedIndex(), (await reference.state.digest()).digest);
    for (const c of commands) {
      await apply(reference, [c]);
      const d = await reference.state.digest();
      expected.set(d.applied, d.digest);
    }
    const digests = [];
    for (const c of commands) {
      const applying = apply(busy, [c]);
      digests.push(busy.state.digest());
      await applying;
    }
    for (const d of await Promise.all(digests)) expect(d.digest).toBe(expected.get(d.applied));
  });
});
