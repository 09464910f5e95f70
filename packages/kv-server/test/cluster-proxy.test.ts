import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ProxyNetwork, waitForProgress } from '@keel/test-support';
import { wireClient } from './support/wire-client.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('peer links through the harness proxies', () => {
  it('routes every peer link through its proxy; isolating the leader elects a new one; healing converges', async () => {
    const network = new ProxyNetwork();
    cluster = await Cluster.start({ network });
    const { id: leader } = await cluster.waitForLeader();
    const l = await wireClient(cluster, leader);
    for (let i = 0; i < 20; i++) expect((await l.put(`p${i}`, `v${i}`)).ok).toBe(true);
    // The leader reached both followers only through its proxies.
    for (const s of cluster.nodes) {
      if (s.id !== leader) expect(network.bytes(leader, s.id)).toBeGreaterThan(0);
    }

    // Isolate the leader: reset every link to and from it and refuse new connections.
    cluster.isolate(leader, 'reset');
    const others = cluster.nodes.filter((s) => s.id !== leader).map((s) => s.id);
    const o = await wireClient(cluster, others[0]!);
    let seen: unknown;
    const newLeader = await waitForProgress(
      async () => {
        const status = await o.call({ op: 'status' });
        seen = status;
        return status.leader !== 0 && status.leader !== leader ? status.leader : undefined;
      },
      () => [seen, cluster!.outputLines],
      `node ${others[0]} naming a leader other than node ${leader}`,
    );
    expect(others).toContain(newLeader);
    const n = await wireClient(cluster, newLeader);
    expect((await n.put('during', 'partition')).ok).toBe(true);
    // The isolated old leader cannot commit: a write there is refused or left unknown, never acknowledged.
    const stranded = await l.put('stranded', 'x');
    expect(stranded.ok).toBe(false);

    // Heal: the old leader follows the new one and gets the write it missed.
    cluster.heal();
    await waitForProgress(async () => (await l.get('during', 'serializable')) === 'partition', () => cluster!.outputLines, 'the old leader catching up after the heal');
    expect(await n.get('stranded')).toBeNull();
  });
});
