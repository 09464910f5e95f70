import { afterEach, describe, expect, it } from 'vitest';
import type { ClientResults } from '@keel/protocol';
import { Cluster } from '@keel/test-support';
import { errorOf, memberChange, waitApplied, wireClient } from './support/wire-client.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('membership and leadership over the client API', () => {
  it('transfers leadership to a chosen follower', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const target = cluster.nodes.find((s) => s.id !== leader)!.id;
    const l = await wireClient(cluster, leader);
    expect((await l.put('before', 'transfer')).ok).toBe(true);

    const moved = await l.call({ op: 'leaderTransfer', to: target });
    expect(moved.leader).toBe(target);
    expect((await cluster.waitForLeader()).id).toBe(target);
    // The old leader now redirects, and the new one serves what was written before.
    expect(errorOf(await l.put('x', 'y')).code).toBe('NOT_LEADER');
    const t = await wireClient(cluster, target);
    expect(await t.get('before')).toBe('transfer');
    // Transferring to an unknown node is refused as invalid.
    expect(errorOf(await t.request({ op: 'leaderTransfer', to: 42 })).code).toBe('INVALID_ARGUMENT');
  });

  it('adds a learner, promotes it to voter and removes it; the new node receives the data', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const l = await wireClient(cluster, leader);
    for (let i = 0; i < 50; i++) expect((await l.put(`m${i}`, `v${i}`)).ok).toBe(true);

    const joiner = await cluster.startJoiner(4);
    const added = await memberChange(l, {
      op: 'memberAdd',
      nodeId: 4,
      peerAddress: joiner.peerAddress,
      clientAddress: joiner.clientAddress,
      learner: true,
    });
    expect(added.ok, JSON.stringify(added)).toBe(true);
    if (!added.ok) return;
    const addedMembers = (added.result as ClientResults['memberAdd']).members;
    expect(addedMembers.find((m) => m.id === 4)?.role).toBe('learner');

    // The learner catches up and serves the data locally.
    const n4 = await wireClient(cluster, 4);
    const commit = (await l.call({ op: 'status' })).commit;
    await waitApplied(n4, commit);
    expect(await n4.get('m49', 'serializable')).toBe('v49');

    const promoted = await memberChange(l, { op: 'memberPromote', nodeId: 4 });
    expect(promoted.ok, JSON.stringify(promoted)).toBe(true);
    const list = await l.call({ op: 'memberList' });
    expect(list.members.filter((m) => m.role === 'voter').map((m) => m.id).sort()).toEqual([1, 2, 3, 4]);
    expect(list.members.find((m) => m.id === 4)?.clientAddress).toBe(joiner.clientAddress);
    // Writes still commit with four voters.
    expect((await l.put('four', 'voters')).ok).toBe(true);

    const removed = await memberChange(l, { op: 'memberRemove', nodeId: 4 });
    expect(removed.ok, JSON.stringify(removed)).toBe(true);
    const after = await l.call({ op: 'memberList' });
    expect(after.members.map((m) => m.id).sort()).toEqual([1, 2, 3]);
    expect((await l.put('three', 'again')).ok).toBe(true);

    // Invalid changes get INVALID_MEMBERSHIP.
    const promoteVoter = await l.request({ op: 'memberPromote', nodeId: leader });
    expect(errorOf(promoteVoter).code).toBe('INVALID_MEMBERSHIP');
  });
});
