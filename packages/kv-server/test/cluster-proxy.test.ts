import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ProxyNetwork } from '@keel/test-support';
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
    let newLeader = 0;
    for (let i = 0; i < 400 && (newLeader === 0 || newLeader === leader); i++) {
      newLeader = (await o.call({ op: 'status' })).leader;
      await sleep(25);
    }
    expect(others).toContain(newLeader);
    const n = await wireClient(cluster, newLeader);
    expect((await n.put('during', 'partition')).ok).toBe(true);
    // The isolated old leader cannot commit: a write there is refused or left unknown, never acknowledged.
    const stranded = await l.put('stranded', 'x');
    expect(stranded.ok).toBe(false);

    // Heal: the old leader follows the new one and gets the write it missed.
    cluster.heal();
    for (let i = 0; ; i++) {
      const got = await l.get('during', 'serializable');
      if (got === 'partition') break;
      if (i > 400) throw new Error('old leader did not catch up after healing');
      await sleep(25);
    }
    expect(await n.get('stranded')).toBeNull();
  });
});
