/**
 * Membership and leadership changes through kvctl (real child processes) against a real cluster:
 * add a learner (started with --join and no --peers), let it catch up, promote it, hand it the
 * leadership, check it knows every member's addresses, remove an original member.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeelClient } from '@keel/client';
import { Cluster, KVCTL_BIN, runNode, waitForProgress } from '@keel/test-support';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('kvctl member and leader commands', () => {
  it('add-learner, promote, leader transfer, remove', async () => {
    cluster = await Cluster.start({ nodes: 3 });
    const original = cluster.endpoints;
    const kvctl = (args: string[], endpoints = original) => runNode(KVCTL_BIN, ['--endpoints', endpoints.join(','), ...args]);
    expect((await kvctl(['put', 'before-join', 'yes'])).code).toBe(0);

    const n4 = await cluster.startJoiner();
    const add = await kvctl(['member', 'add-learner', '4', n4.peerAddress, n4.clientAddress]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^4\s+learner/m);

    // The learner catches up: its own (serializable) read shows the earlier write.
    const local = new KeelClient({ endpoints: [n4.clientAddress], timeoutMs: 2000 });
    try {
      let seen: string | undefined;
      await waitForProgress(
        async () => (seen = (await local.get('before-join', { consistency: 'serializable' }).catch(() => null))?.text) === 'yes',
        () => [seen, cluster!.outputLines],
        () => `the learner catching up\n${cluster!.tail(30)}`,
      );
    } finally {
      await local.close();
    }

    const promote = await kvctl(['member', 'promote', '4']);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toMatch(/^4\s+voter/m);

    const transfer = await kvctl(['leader', 'transfer', '4']);
    expect(transfer.code, transfer.stderr).toBe(0);
    expect(transfer.stdout).toBe('leader is now 4\n');

    // The joined node (started without --peers) knows every member's addresses, including the
    // bootstrap members' (not in its log: learned from their handshakes).
    type Addressed = { members: { id: number; peerAddress: string; clientAddress: string }[]; leader: number };
    const onJoined = await kvctl(['--json', 'member', 'list'], [n4.clientAddress]);
    expect(onJoined.code, onJoined.stderr).toBe(0);
    const joinedView = JSON.parse(onJoined.stdout) as Addressed;
    expect(joinedView.members.map((m) => [m.id, m.peerAddress, m.clientAddress]).sort()).toEqual(
      [1, 2, 3, 4].map((id) => [id, cluster!.node(id).peerAddress, cluster!.node(id).clientAddress]),
    );
    // As leader it serves writes.
    expect((await kvctl(['put', 'after-transfer', 'yes'], [n4.clientAddress])).code).toBe(0);

    const all = cluster.endpoints;
    const remove = await kvctl(['member', 'remove', '1'], all);
    expect(remove.code, remove.stderr).toBe(0);
    // memberList answers from the applied membership, which may trail the commit that answered
    // `member remove` by a moment: wait until the removal shows.
    type List = { members: { id: number; role: string }[]; leader: number };
    let parsed: List = { members: [], leader: 0 };
    await waitForProgress(
      async () => {
        const list = await kvctl(['--json', 'member', 'list'], all);
        expect(list.code, list.stderr).toBe(0);
        parsed = JSON.parse(list.stdout) as List;
        return !parsed.members.some((m) => m.id === 1);
      },
      () => [parsed, cluster!.outputLines],
      'the removal of node 1 showing in the member list',
    );
    expect(parsed.members.map((m) => [m.id, m.role]).sort()).toEqual([
      [2, 'voter'],
      [3, 'voter'],
      [4, 'voter'],
    ]);
    expect(parsed.leader).toBe(4);

    // Refusals are exit status 4 with the server's code.
    const unknown = await kvctl(['--json', 'member', 'remove', '9'], all);
    expect(unknown.code).toBe(4);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'INVALID_MEMBERSHIP', definite: true } });
  });
});
