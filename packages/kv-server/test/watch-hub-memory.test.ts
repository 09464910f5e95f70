/**
 * A batch's history records share the chunks of one region (state-machine/byte-region.ts); the
 * events a watcher keeps must not: a watcher of one key in a busy store would otherwise hold one
 * 64 KB chunk per queued event. Over a real LevelDB state store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchEventsFrame } from '@keel/protocol';
import type { Entry } from '@keel/raft';
import { encodeCommand, type Command } from '../src/state-machine/index.js';
import { WatchHub } from '../src/watch/watch-hub.js';
import type { WatchSink } from '../src/watch/watcher.js';
import { TestStore, newHome, removeHomes } from './support/stores.js';

const MEMBERS = [{ id: 1, role: 'voter' as const, peerAddress: '127.0.0.1:7701', clientAddress: '127.0.0.1:7702' }];
const b = (s: string): Uint8Array => new TextEncoder().encode(s);

afterEach(removeHomes);

describe('WatchHub and the history of a batch', () => {
  it('hands watchers events whose bytes are their own, not views of the batch chunk', async () => {
    const store = await TestStore.open(await newHome(), MEMBERS);
    const hub = new WatchHub(store.state, { log: () => undefined }, { leader: () => 1, tickMs: 50, noLeaderTicks: 5 });
    const frames: WatchEventsFrame[] = [];
    const sink: WatchSink = { send: (f) => frames.push(f), hasRoom: () => true, room: () => Promise.resolve() };
    const watch = hub.open({ id: 1, op: 'watch', prefix: b('k/') }, sink);

    const commands: Command[] = Array.from({ length: 20 }, (_, i) => ({ op: 'put', key: b(`k/${i % 3}`), value: b(`v${i}`), session: { clientId: 'w', seq: i + 1, ackedBelow: i + 1 } }));
    const first = store.raftStorage.lastIndex() + 1;
    const entries: Entry[] = commands.map((c, k) => ({ type: 'normal', index: first + k, term: 1, data: encodeCommand(c) }));
    await store.persist({ hardState: { term: 1, vote: 1, commit: first + entries.length - 1 }, entries }, true);
    await store.apply(entries);

    const events = frames.flatMap((f) => f.watch.events ?? []);
    expect(events.map((e) => new TextDecoder().decode(e.kv.value))).toEqual(commands.map((c) => new TextDecoder().decode((c as { value: Uint8Array }).value)));
    const buffers = new Set(events.map((e) => e.kv.value.buffer));
    expect(buffers.size).toBe(events.length); // one small buffer per event, none shared
    for (const e of events) expect(e.kv.value.buffer.byteLength).toBeLessThan(1024);
    watch.end();
    await watch.done;
    await store.close();
  });
});
