/**
 * A node started with --join never sees the bootstrap membership's addresses in its log (the
 * bootstrap is not a log entry): it learns them from the peers' handshakes, which carry each
 * dialer's advertised peer and client addresses. (The harness gives a joining node no --peers,
 * so every address checked here was learned.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '@keel/test-support';
import { errorOf, wireClient, type WireClient } from './support/wire-client.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function addLearner(leader: WireClient, id: number, peerAddress: string, clientAddress: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await leader.request({ op: 'memberAdd', nodeId: id, peerAddress, clientAddress, learner: true });
    if (r.ok) return;
    if (r.error.code !== 'CONF_CHANGE_PENDING' || attempt > 50) throw new Error(JSON.stringify(r.error));
    await sleep(100);
  }
}

describe('a joined node learns the members’ addresses from their handshakes', () => {
  it('lists every member with its addresses and hints the leader’s client address', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const l = await wireClient(cluster, leader);
    expect((await l.put('k', 'v')).ok).toBe(true);

    const joiner = await cluster.startJoiner(4);
    await addLearner(l, 4, joiner.peerAddress, joiner.clientAddress);
    const n4 = await wireClient(cluster, 4);
    const commit = (await l.call({ op: 'status' })).commit;
    await until('learner catches up', async () => ((await n4.call({ op: 'status' })).applied >= commit ? true : undefined));

    // Every member, the bootstrap ones included, with the addresses it listens on. The bootstrap
    // members learn about node 4 once they apply its addition and dial it, so wait (bounded).
    const expected = cluster.nodes.map((s) => [s.id, s.peerAddress, s.clientAddress]);
    const seen = await until('joined node knows every address', async () => {
      const list = await n4.call({ op: 'memberList' });
      const rows = list.members.map((m) => [m.id, m.peerAddress, m.clientAddress]).sort();
      return rows.every((r) => r[1] !== '' && r[2] !== '') && rows.length === expected.length ? rows : undefined;
    });
    expect(seen).toEqual(expected);

    // A write on the learner is refused with the leader's id and CLIENT address.
    const refused = errorOf(await n4.put('on-learner', 'x'));
    expect(refused.code).toBe('NOT_LEADER');
    expect(refused.leaderId).toBe(leader);
    expect(refused.leaderAddress).toBe(cluster.node(leader).clientAddress);
  });
});
