/**
 * A node cut off from the cluster serves no watch (watch/leader-loss.ts): after `noLeaderTicks`
 * ticks in a row without a leader the hub ends its watches with UNAVAILABLE and refuses new ones,
 * until a leader is known again; a shorter election ends nothing. The decision alone, then the
 * hub over a real LevelDB state store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError, type WatchEventsFrame } from '@keel/protocol';
import { NONE } from '@keel/raft';
import { LeaderLoss } from '../src/watch/leader-loss.js';
import { WatchHub } from '../src/watch/watch-hub.js';
import type { WatchSink } from '../src/watch/watcher.js';
import { TestStore, newHome, removeHomes } from './support/stores.js';

const LIMIT = 5;
const TICK_MS = 50;
const MEMBERS = [{ id: 1, role: 'voter' as const, peerAddress: '127.0.0.1:7701', clientAddress: '127.0.0.1:7702' }];

afterEach(removeHomes);

describe('LeaderLoss', () => {
  it('is cut off from the LIMITth leaderless tick in a row until a leader is known', () => {
    const loss = new LeaderLoss(LIMIT);
    const cutOff: boolean[] = [];
    for (let i = 0; i < LIMIT + 3; i++) cutOff.push(loss.tick(NONE));
    expect(cutOff).toEqual([false, false, false, false, true, true, true, true]);
    expect(loss.cutOff).toBe(true);
    expect(loss.tick(2)).toBe(false);
    expect(loss.cutOff).toBe(false);
  });

  it('never trips while elections end within LIMIT ticks, however often they happen', () => {
    const loss = new LeaderLoss(LIMIT);
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < LIMIT - 1; i++) expect(loss.tick(NONE)).toBe(false);
      expect(loss.cutOff).toBe(false);
      expect(loss.tick(1 + (round % 3))).toBe(false);
    }
  });
});

describe('WatchHub on a node without a leader', () => {
  it('ends open watches with UNAVAILABLE, refuses new ones meanwhile, and serves them again once a leader is known', async () => {
    const store = await TestStore.open(await newHome(), MEMBERS);
    const logged: string[] = [];
    let leader = NONE;
    const hub = new WatchHub(store.state, { log: (_level, event) => logged.push(event) }, { leader: () => leader, tickMs: TICK_MS, noLeaderTicks: LIMIT });
    const frames: WatchEventsFrame[] = [];
    const sink: WatchSink = { send: (f) => frames.push(f), hasRoom: () => true, room: () => Promise.resolve() };
    const open = (id: number) => hub.open({ id, op: 'watch', prefix: new TextEncoder().encode('k/') }, sink);
    const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'ended ok', (e: unknown) => e);

    const first = open(1);
    const firstEnd = failure(first.done);
    for (let i = 0; i < LIMIT - 1; i++) hub.tick();
    expect(hub.size).toBe(1);
    hub.tick();
    const error = await firstEnd;
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', definite: true });
    expect((error as KeelError).message).toContain(`no leader for ${LIMIT * TICK_MS} ms`);
    expect(hub.size).toBe(0);
    expect(logged).toContain('watch.no_leader');

    hub.tick();
    const refused = await failure(open(2).done);
    expect(refused).toMatchObject({ code: 'UNAVAILABLE' });
    expect(frames.filter((f) => f.id === 2)).toEqual([]);

    // A leader found between two ticks serves a new watch at once.
    leader = 3;
    const third = open(3);
    expect(hub.size).toBe(1);
    expect(frames.filter((f) => f.id === 3)).toEqual([{ id: 3, watch: { events: [], revision: store.appliedIndex() } }]);
    hub.tick();
    leader = NONE;
    for (let i = 0; i < LIMIT - 1; i++) hub.tick();
    expect(hub.size).toBe(1);
    third.end();
    expect(await third.done).toEqual({ revision: store.appliedIndex() });

    // Cut off again, a watch opened the moment a leader showed up between two ticks still ends
    // on the next tick should the leader be gone again by then.
    hub.tick();
    leader = 2;
    const fourth = failure(open(4).done);
    expect(hub.size).toBe(1);
    leader = NONE;
    hub.tick();
    expect(await fourth).toMatchObject({ code: 'UNAVAILABLE' });
    expect(hub.size).toBe(0);
    await store.close();
  });
});
