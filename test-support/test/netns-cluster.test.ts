/**
 * A real 3-node cluster in the netns network (Linux, root; skipped with the reason otherwise):
 * each keel-server in its own namespace, partitions made by iptables rules in the kernel, and
 * the kernel's own view of the peer connections (`ss` inside the namespaces).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, NETNS_PEER_PORT, NetnsNetwork, waitForProgress } from '@keel/test-support';
import { netnsSuite, sockets, unavailable, type Socket } from './netns-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(serverArgs: readonly string[] = []): Promise<{ cluster: Cluster; network: NetnsNetwork }> {
  const network = new NetnsNetwork();
  const cluster = await Cluster.start({ network, serverArgs });
  cleanups.push(() => cluster.destroy());
  return { cluster, network };
}

/** Node `id`'s peer connections with node `other`, dialed either way, as its kernel sees them. */
function peerSockets(network: NetnsNetwork, id: number, other: number): Socket[] {
  const [mine, theirs] = [network.address(id), network.address(other)];
  return sockets(network.namespace(id)).filter(
    (s) =>
      (s.local === `${mine}:${NETNS_PEER_PORT}` && s.peer.startsWith(`${theirs}:`)) || // dialed by `other`
      (s.local.startsWith(`${mine}:`) && s.peer === `${theirs}:${NETNS_PEER_PORT}`), // dialed by `id`
  );
}

/** Node `id`'s own dial to `other` (its outbound peer link), preferring an ESTABLISHED one. */
function outbound(network: NetnsNetwork, id: number, other: number): Socket | undefined {
  const dials = peerSockets(network, id, other).filter((s) => s.peer === `${network.address(other)}:${NETNS_PEER_PORT}`);
  return dials.find((s) => s.state === 'ESTAB') ?? dials[0];
}

describe.skipIf(unavailable !== undefined)(netnsSuite('a cluster in network namespaces'), () => {
  it('blackhole: the isolated leader keeps its peer connections ESTABLISHED, retransmitting into the cut; the majority elects a leader; after the heal the old leader catches up', async () => {
    // What the kernel does with a blackholed connection, so keel's own peer liveness (which tears
    // a silent link down after 2 s by default, racing the checks below) is set out of the way.
    const { cluster, network } = await start(['--peer-liveness-timeout-ms', '600000']);
    const client = cluster.client({ timeoutMs: 20_000 });
    await client.put('before', 'partition');
    const { id: old } = await cluster.waitForLeader();
    const rest = cluster.ids.filter((id) => id !== old);
    // One connection each way: the outbound peer link of each node.
    const established = (other: number): number => peerSockets(network, old, other).filter((s) => s.state === 'ESTAB').length;
    for (const other of rest) expect(established(other)).toBe(2);

    cluster.isolate(old, 'blackhole');
    const next = await cluster.waitForLeader({ among: rest });
    expect(rest).toContain(next.id);
    // The kernel keeps the old leader's connections open, with its heartbeats unacknowledged and
    // the retransmission timer backing off; the client port is never cut.
    for (const other of rest) {
      await waitForProgress(() => (outbound(network, old, other)?.backoff ?? 0) > 0, () => outbound(network, old, other), `node ${old} retransmits to node ${other} with backoff`);
      expect(established(other)).toBe(2);
    }
    const reports = await cluster.statuses();
    expect(reports.find((r) => r.id === old)?.status?.id).toBe(old);
    const majority = cluster.client({ endpoints: rest.map((id) => cluster.node(id).clientAddress), timeoutMs: 20_000 });
    for (let i = 0; i < 20; i++) await majority.put(`during-${i}`, 'partition');

    // The old leader hears the new term once bytes flow again: TCP's next retransmission (keel's
    // peer liveness is set out of the way above), or a new connection.
    cluster.heal();
    const local = cluster.client({ endpoints: [cluster.node(old).clientAddress] });
    await waitForProgress(async () => (await local.get('during-19', { consistency: 'serializable' }))?.text === 'partition', () => [cluster.outputLines, rest.map((other) => outbound(network, old, other))], 'the old leader catches up');
    const agreed = await cluster.waitForLeader();
    expect(agreed.term).toBeGreaterThanOrEqual(next.term);
  });

  it("reset: the isolated leader's dials and the new leader's dial to it are reset and refused again; the majority elects a leader; after the heal all agree", async () => {
    const { cluster, network } = await start();
    const client = cluster.client({ timeoutMs: 20_000 });
    const { id: old } = await cluster.waitForLeader();
    const rest = cluster.ids.filter((id) => id !== old);

    cluster.isolate(old, 'reset');
    const next = await cluster.waitForLeader({ among: rest });
    expect(rest).toContain(next.id);
    // A connection's end is reset when it sends into the cut, and every redial is refused. The
    // leaders send (heartbeats), so their dials are down; an end that sends nothing (the side
    // that accepted, or an idle follower's dial) stays ESTABLISHED until it does.
    const down = (from: number, to: number): boolean => outbound(network, from, to)?.state !== 'ESTAB';
    await waitForProgress(() => rest.every((other) => down(old, other)), () => [cluster.outputLines, rest.map((other) => outbound(network, old, other))], 'the old leader has no dial up');
    await waitForProgress(() => down(next.id, old), () => [cluster.outputLines, outbound(network, next.id, old)], 'the new leader has no dial to the old one');
    await client.put('during', 'reset');

    cluster.heal();
    const local = cluster.client({ endpoints: [cluster.node(old).clientAddress] });
    await waitForProgress(async () => (await local.get('during', { consistency: 'serializable' }))?.text === 'reset', () => [cluster.outputLines, rest.map((other) => outbound(network, old, other))], 'the old leader catches up');
    await cluster.waitForLeader();
    for (const other of rest) await waitForProgress(() => !down(old, other), () => [cluster.outputLines, outbound(network, old, other)], `node ${old} dials node ${other} again`);
  });

  it('a joining member gets its own namespace and can be cut like the others', async () => {
    const { cluster, network } = await start();
    const n4 = await cluster.join();
    expect(n4.peerAddress).toBe(`${network.address(4)}:${NETNS_PEER_PORT}`);
    expect(network.namespace(4)).toBe(`${network.run}-4`);
    cluster.isolate(4);
    await cluster.client({ endpoints: cluster.endpoints.filter((e) => e !== n4.clientAddress), timeoutMs: 20_000 }).put('while', 'cut');
    cluster.heal();
    const local = cluster.client({ endpoints: [n4.clientAddress] });
    await waitForProgress(async () => (await local.get('while', { consistency: 'serializable' }))?.text === 'cut', () => cluster.outputLines, 'the new member catches up');
  });
});
