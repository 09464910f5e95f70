/**
 * NodeStore.digest: the convergence check's view of a node — equal for stores that applied the
 * same entries (however they got there: applies or a snapshot install), different as soon as a
 * key, a value, a revision or the applied index differs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfState, Entry } from '@keel/raft';
import { NodeStore } from '../src/storage/index.js';
import { encodeCommand, type Command } from '../src/state-machine/index.js';

const CONF: ConfState = { voters: [1, 2, 3], learners: [] };
const MEMBERS = [1, 2, 3].map((id) => ({ id, role: 'voter' as const, peerAddress: `127.0.0.1:${7000 + id}`, clientAddress: `127.0.0.1:${8000 + id}` }));
const b = (s: string): Uint8Array => new TextEncoder().encode(s);

const dirs: string[] = [];
const open = new Set<NodeStore>();

async function newStore(bootstrap = true): Promise<NodeStore> {
  const dir = await mkdtemp(join(tmpdir(), 'keel-digest-'));
  dirs.push(dir);
  const store = await NodeStore.open({ dir, ...(bootstrap ? { bootstrap: { conf: CONF, members: MEMBERS } } : {}) });
  open.add(store);
  return store;
}

afterEach(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  open.clear();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

let seq = 0;
const put = (key: string, value: string): Command => ({ op: 'put', key: b(key), value: b(value), session: { clientId: 'w', seq: ++seq, ackedBelow: seq } });
const del = (key: string): Command => ({ op: 'delete', key: b(key), session: { clientId: 'w', seq: ++seq, ackedBelow: seq } });

/** Persist and apply `commands` (or empty entries, for `null`) as the next entries of `term`. */
async function apply(store: NodeStore, commands: ReadonlyArray<Command | null>, term = 1): Promise<void> {
  const first = store.raftStorage.lastIndex() + 1;
  const es: Entry[] = commands.map((c, k) => ({ type: 'normal', index: first + k, term, data: c === null ? new Uint8Array(0) : encodeCommand(c) }));
  await store.persist({ hardState: { term, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  await store.apply(es);
}

describe('NodeStore.digest', () => {
  it('is equal for stores that applied the same entries, and covers the applied index and the key count', async () => {
    const commands = [put('a', '1'), put('b', '2'), put('a', '3'), del('b'), put('c', '')];
    const [x, y] = [await newStore(), await newStore()];
    const empty = await x.digest();
    expect(empty).toMatchObject({ applied: 0, keys: 0 });
    expect(empty.digest).toMatch(/^[0-9a-f]{64}$/);
    await apply(x, commands);
    await apply(y, commands.slice(0, 2));
    await apply(y, commands.slice(2));
    const dx = await x.digest();
    expect(dx).toEqual(await y.digest());
    expect(dx).toMatchObject({ applied: 5, keys: 2 });
    expect(dx.digest).not.toBe(empty.digest);
  });

  it('differs when a value, a revision or only the applied index differs', async () => {
    const [base, value, revision, later] = [await newStore(), await newStore(), await newStore(), await newStore()];
    await apply(base, [put('a', '1'), put('b', '2')]);
    await apply(value, [put('a', '1'), put('b', 'x')]);
    await apply(revision, [put('b', '2'), put('a', '1')]); // same contents, revisions swapped
    await apply(later, [put('a', '1'), put('b', '2'), null]); // an empty entry: contents unchanged
    const digests = await Promise.all([base, value, revision, later].map((s) => s.digest()));
    expect(new Set(digests.map((d) => d.digest)).size).toBe(4);
    expect(digests[3]).toMatchObject({ applied: 3, keys: 2 });
  });

  it('is equal on a node that caught up through a snapshot install', async () => {
    const source = await newStore();
    await apply(source, Array.from({ length: 50 }, (_, i) => put(`k${i % 20}`, `v${i}`)));
    const stream = await source.readSnapshot(4096);
    const target = await newStore(false);
    const install = await target.beginSnapshotInstall(stream.meta);
    for await (const chunk of stream.chunks) await install.write(chunk);
    await install.commit();
    expect(await target.digest()).toEqual(await source.digest());
  });
});
