import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '@keel/test-support';
import { wireClient } from './support/wire-client.js';
import type { ClientResponse } from '@keel/protocol';

/**
 * Membership and leadership requests naming members that do not exist (or this node
 * itself) get typed, definite errors, never crash the node or wedge its Ready loop.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

function show(r: ClientResponse): string {
  return r.ok ? `ok ${JSON.stringify(r.result)}` : `${r.error.code} definite=${String(r.error.definite)}`;
}

describe('membership input from clients', () => {
  it('answers unknown ids, self-removal of the only voter and odd transfers with typed errors and keeps serving', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    await cluster.waitForLeader();
    const c = await wireClient(cluster, 1);
    const answers: Record<string, string> = {};
    const ask = async (name: string, body: Parameters<typeof c.request>[0]): Promise<ClientResponse> => {
      const r = await c.request(body);
      answers[name] = show(r);
      return r;
    };
    await ask('remove unknown', { op: 'memberRemove', nodeId: 99 });
    await ask('promote unknown', { op: 'memberPromote', nodeId: 99 });
    await ask('promote voter', { op: 'memberPromote', nodeId: 1 });
    await ask('transfer unknown', { op: 'leaderTransfer', to: 99 });
    await ask('transfer self', { op: 'leaderTransfer', to: 1 });
    await ask('add existing', { op: 'memberAdd', nodeId: 1, peerAddress: '127.0.0.1:1', clientAddress: '127.0.0.1:2', learner: false });
    await ask('remove only voter', { op: 'memberRemove', nodeId: 1 });
    expect(answers).toEqual({
      'remove unknown': 'INVALID_MEMBERSHIP definite=true',
      'promote unknown': 'INVALID_MEMBERSHIP definite=true',
      'promote voter': 'INVALID_MEMBERSHIP definite=true',
      'transfer unknown': 'INVALID_ARGUMENT definite=true',
      'transfer self': 'ok {"leader":1}',
      'add existing': 'INVALID_MEMBERSHIP definite=true',
      'remove only voter': 'INVALID_MEMBERSHIP definite=true',
    });
    expect(cluster.node(1).state).toBe('running');
    // The node still commits writes.
    expect((await c.put('after', 'membership')).ok).toBe(true);
    expect(await c.get('after')).toBe('membership');
  });

  it('names the cause of every membership refusal (issue 9, items 3 and 9)', async () => {
    cluster = await Cluster.start({ nodes: 1 });
    await cluster.waitForLeader();
    const c = await wireClient(cluster, 1);
    const { peerAddress: peer, clientAddress: client } = cluster.node(1).addresses;
    const refusal = async (body: Parameters<typeof c.request>[0]): Promise<string> => {
      const r = await c.request(body);
      if (r.ok) return `ok ${JSON.stringify(r.result)}`;
      expect(r.error).toMatchObject({ code: 'INVALID_MEMBERSHIP', definite: true });
      return r.error.message;
    };
    expect(await refusal({ op: 'memberRemove', nodeId: 9 })).toBe('node 9 is not a member');
    expect(await refusal({ op: 'memberPromote', nodeId: 9 })).toBe('node 9 is not a member');
    expect(await refusal({ op: 'memberPromote', nodeId: 1 })).toBe('node 1 is already a voter');
    expect(await refusal({ op: 'memberRemove', nodeId: 1 })).toBe('node 1 is the only voter; it cannot be removed');
    expect(
      await refusal({ op: 'memberAdd', nodeId: 1, peerAddress: '127.0.0.1:1', clientAddress: '127.0.0.1:2', learner: true }),
    ).toBe('node 1 is already a member (a voter)');
    // Another node's addresses: a phantom member that one paused node would turn into a lost quorum.
    expect(await refusal({ op: 'memberAdd', nodeId: 5, peerAddress: peer, clientAddress: '127.0.0.1:9', learner: true })).toBe(
      `peer address ${peer} is already used by node 1`,
    );
    expect(await refusal({ op: 'memberAdd', nodeId: 5, peerAddress: '127.0.0.1:9', clientAddress: client, learner: false, force: true })).toBe(
      `client address ${client} is already used by node 1`,
    );
    // A voter at once needs force; learner first is the way.
    expect(await refusal({ op: 'memberAdd', nodeId: 5, peerAddress: '127.0.0.1:8', clientAddress: '127.0.0.1:9', learner: false })).toMatch(
      /^adding node 5 as a voter at once .* add it as a learner and promote it once caught up, or force it$/,
    );
    const members = (await c.call({ op: 'memberList' })).members;
    expect(members.map((m) => m.id)).toEqual([1]);
  });

  it('answers a promotion sent to a follower with NOT_LEADER naming the leader, not from its local view', async () => {
    cluster = await Cluster.start({ nodes: 3 });
    const { id: leader } = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const c = await wireClient(cluster, follower);
    for (const nodeId of [99, leader]) {
      const r = await c.request({ op: 'memberPromote', nodeId });
      expect(r.ok ? 'ok' : r.error.code).toBe('NOT_LEADER');
      if (!r.ok) expect(r.error.leaderId).toBe(leader);
    }
  });
});
