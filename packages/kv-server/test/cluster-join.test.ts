/**
 * A node started with --join never sees the bootstrap membership's addresses in its log (the
 * bootstrap is not a log entry): it learns them from the peers' handshakes, which carry each
 * dialer's advertised peer and client addresses. (The harness gives a joining node no --peers,
 * so every address checked here was learned.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, waitForProgress } from '@keel/test-support';
import { errorOf, memberChange, waitApplied, wireClient, type WireClient } from './support/wire-client.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function addLearner(leader: WireClient, id: number, peerAddress: string, clientAddress: string): Promise<void> {
  const r = await memberChange(leader, { op: 'memberAdd', nodeId: id, peerAddress, clientAddress, learner: true });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
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
    await waitApplied(n4, commit);

    // Every member, the bootstrap ones included, with the addresses it listens on. The bootstrap
    // members learn about node 4 once they apply its addition and dial it, so wait (bounded).
    const expected = cluster.nodes.map((s) => [s.id, s.peerAddress, s.clientAddress]);
    let rows: Array<[number, string, string]> = [];
    const seen = await waitForProgress(
      async () => {
        const list = await n4.call({ op: 'memberList' });
        rows = list.members.map((m): [number, string, string] => [m.id, m.peerAddress, m.clientAddress]).sort();
        return rows.every((r) => r[1] !== '' && r[2] !== '') && rows.length === expected.length ? rows : undefined;
      },
      () => rows,
      'joined node knows every address',
    );
    expect(seen).toEqual(expected);

    // A write on the learner is refused with the leader's id and CLIENT address.
    const refused = errorOf(await n4.put('on-learner', 'x'));
    expect(refused.code).toBe('NOT_LEADER');
    expect(refused.leaderId).toBe(leader);
    expect(refused.leaderAddress).toBe(cluster.node(leader).clientAddress);
  });
});
