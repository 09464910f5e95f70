import { afterEach, describe, expect, it } from 'vitest';
import type { Entry } from '@keel/raft';
import { encodeCommand } from '../src/state-machine/index.js';
import { TestStore, newHome, removeHomes } from './support/stores.js';

/** Gets asked for in one turn are read together (one getMany): each must still get its own answer. */
const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const t = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : new TextDecoder().decode(v));

let store: TestStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
  await removeHomes();
});

let seq = 0;
async function put(s: TestStore, pairs: ReadonlyArray<readonly [string, string]>): Promise<void> {
  const first = s.raftStorage.lastIndex() + 1;
  const es: Entry[] = pairs.map(([key, value], k) => {
    seq++;
    return { type: 'normal', index: first + k, term: 1, data: encodeCommand({ op: 'put', key: b(key), value: b(value), session: { clientId: 'w', seq, ackedBelow: seq } }) };
  });
  await s.persist({ hardState: { term: 1, vote: 1, commit: first + es.length - 1 }, entries: es }, true);
  await s.apply(es);
}

describe('state store gets batched per turn', () => {
  it('answers each get of one turn with its own key: present, absent, repeated, with revisions', async () => {
    store = await TestStore.open(await newHome());
    await put(store, [['a', 'one'], ['b', 'two'], ['c', 'three']]);
    await put(store, [['a', 'uno']]);
    const keys = ['a', 'x', 'b', 'a', '', 'c', 'b'];
    const got = await Promise.all(keys.map((k) => store!.get(b(k))));
    expect(got.map((kv) => t(kv?.value))).toEqual(['uno', undefined, 'two', 'uno', undefined, 'three', 'two']);
    expect(got.map((kv) => (kv === null ? null : [t(kv.key), kv.createRevision, kv.modRevision, kv.version]))).toEqual([
      ['a', 1, 4, 2], null, ['b', 2, 2, 1], ['a', 1, 4, 2], null, ['c', 3, 3, 1], ['b', 2, 2, 1],
    ]);
  });

  it('a get asked for after an apply completed sees it, in the same turn as other gets and across turns', async () => {
    store = await TestStore.open(await newHome());
    const many = Array.from({ length: 500 }, (_, i) => [`k${i}`, `v${i}`] as const);
    await put(store, many);
    for (let round = 0; round < 5; round++) {
      const before = Promise.all(many.map(([k]) => store!.get(b(k))));
      await put(store, [[`k${round}`, `w${round}`]]);
      const after = await Promise.all(many.map(([k]) => store!.get(b(k))));
      expect(after.map((kv) => t(kv?.value))).toEqual(many.map(([k, v], i) => (i <= round ? `w${i}` : v)));
      // Asked for before the apply began: the old value or the new one, never anything else.
      const early = await before;
      expect(t(early[round]?.value)).toMatch(new RegExp(`^(v${round}|w${round})$`));
    }
  });

  it('rejects gets with CLOSED once the store is closed', async () => {
    const s = await TestStore.open(await newHome());
    await s.close();
    await expect(s.get(b('a'))).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
