import { afterEach, describe, expect, it } from 'vitest';
import { TEST_TUNING, TestCluster, sleep } from './support/cluster.js';
import { TcpProxy, proxyEveryPeerLink } from './support/tcp-proxy.js';

let cluster: TestCluster | undefined;
const proxies = new Map<string, TcpProxy>();
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
  await Promise.all([...proxies.values()].map((p) => p.close()));
  proxies.clear();
});

describe('peer links through harness proxies (--peers dial overrides)', () => {
  it('routes every peer link through its proxy; isolating the leader elects a new one; healing converges', async () => {
    cluster = await TestCluster.start({
      args: TEST_TUNING,
      nodeArgs: proxyEveryPeerLink(proxies),
    });
    const leader = await cluster.waitForLeader();
    const l = await cluster.client(leader);
    for (let i = 0; i < 20; i++) expect((await l.put(`p${i}`, `v${i}`)).ok).toBe(true);
    // The leader reached both followers only through its proxies.
    for (const s of cluster.specs) {
      if (s.id !== leader) expect(proxies.get(`${leader}->${s.id}`)!.bytesForwarded).toBeGreaterThan(0);
    }

    // Isolate the leader: cut every link to and from it.
    for (const [name, proxy] of proxies) if (name.startsWith(`${leader}->`) || name.endsWith(`->${leader}`)) proxy.cut();
    const others = cluster.specs.filter((s) => s.id !== leader).map((s) => s.id);
    const o = await cluster.client(others[0]!);
    let newLeader = 0;
    for (let i = 0; i < 400 && (newLeader === 0 || newLeader === leader); i++) {
      newLeader = (await o.call({ op: 'status' })).leader;
      await sleep(25);
    }
    expect(others).toContain(newLeader);
    const n = await cluster.client(newLeader);
    expect((await n.put('during', 'partition')).ok).toBe(true);
    // The isolated old leader cannot commit: a write there is refused or left unknown, never acknowledged.
    const stranded = await l.put('stranded', 'x');
    expect(stranded.ok).toBe(false);

    // Heal: the old leader follows the new one and gets the write it missed.
    for (const proxy of proxies.values()) proxy.heal();
    for (let i = 0; ; i++) {
      const got = await l.get('during', 'serializable');
      if (got === 'partition') break;
      if (i > 400) throw new Error('old leader did not catch up after healing');
      await sleep(25);
    }
    expect(await n.get('stranded')).toBeNull();
  });
});
