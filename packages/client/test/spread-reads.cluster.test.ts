/**
 * `reads: 'spread'` on a real 3-node cluster: reads go to every member in turn, followers
 * included; a linearizable read stays linearizable wherever it is served (a follower asks the
 * leader for the read index), and a follower cut off from the leader never answers one with what
 * it last had. Which node served what is read from each node's request counter (its metrics).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeelClient, KeelError } from '@keel/client';
import { Cluster } from '@keel/test-support';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Gets each node answered OK so far (its `keel_client_requests_total` counter), by node id. */
async function getsServed(c: Cluster): Promise<Map<number, number>> {
  const served = new Map<number, number>();
  for (const node of c.nodes) {
    const text = await (await fetch(`http://${node.adminAddress!}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('keel_client_requests_total{op="get",code="OK"}'));
    served.set(node.id, line === undefined ? 0 : Number(line.split(' ').at(-1)));
  }
  return served;
}

function delta(after: Map<number, number>, before: Map<number, number>): number[] {
  return [...after].map(([id, n]) => n - (before.get(id) ?? 0));
}

describe("KeelClient with reads: 'spread'", () => {
  it('serves reads on every member; each linearizable read reflects the write acknowledged just before it', async () => {
    cluster = await Cluster.start({ nodes: 3, admin: true });
    await cluster.waitForLeader();
    const writer = cluster.client({ timeoutMs: 10_000 });
    const reader = cluster.client({ reads: 'spread', timeoutMs: 10_000 });
    const before = await getsServed(cluster);
    for (let i = 0; i < 30; i++) {
      await writer.put('k', `v${i}`);
      expect((await reader.get('k'))?.text).toBe(`v${i}`);
    }
    const linearizable = delta(await getsServed(cluster), before);
    expect(linearizable.reduce((a, b) => a + b)).toBe(30);
    // In turn: each of the three nodes served a share, the two followers included.
    for (const n of linearizable) expect(n).toBeGreaterThanOrEqual(5);

    // Serializable reads are spread too. A linearizable read of `s` at each node first makes
    // sure every node has applied it (applied indexes only grow): then none can be stale.
    await writer.put('s', 'settled');
    for (const node of cluster.nodes) {
      const pinned = cluster.client({ endpoints: [node.clientAddress], followRedirects: false, reads: 'spread', timeoutMs: 10_000 });
      expect((await pinned.get('s'))?.text).toBe('settled');
    }
    const mid = await getsServed(cluster);
    for (let i = 0; i < 30; i++) expect((await reader.get('s', { consistency: 'serializable' }))?.text).toBe('settled');
    for (const n of delta(await getsServed(cluster), mid)) expect(n).toBeGreaterThanOrEqual(5);
    // Reads never taught the client a leader (followers answered them); writes still find it.
    expect(reader.leaderAddress).toBeUndefined();
    await reader.put('k', 'from the reader');
    expect((await writer.get('k'))?.text).toBe('from the reader');
  });

  it('a follower cut off from the leader answers no linearizable read; a spread client reads the new value elsewhere', async () => {
    cluster = await Cluster.start({ nodes: 3, network: 'proxy' });
    const { id: leader } = await cluster.waitForLeader();
    const writer = cluster.client({ timeoutMs: 10_000 });
    await writer.put('k', 'v1');
    const cut = cluster.nodes.find((n) => n.id !== leader)!;
    // Every node has v1 (the linearizable read at `cut` waits until it applied it).
    const atCut = cluster.client({ endpoints: [cut.clientAddress], followRedirects: false, reads: 'spread', timeoutMs: 3000 });
    expect((await atCut.get('k'))?.text).toBe('v1');

    cluster.isolate(cut.id);
    await writer.put('k', 'v2'); // acknowledged by the leader and the other follower
    // The cut-off follower still holds v1: it must not serve it as a linearizable read.
    const error = await atCut.get('k').then(
      (kv) => kv?.text,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeelError);
    expect(['TIMEOUT', 'UNAVAILABLE']).toContain((error as KeelError).code);
    // A serializable read there is local, and documented as possibly stale.
    expect((await atCut.get('k', { consistency: 'serializable' }))?.text).toBe('v1');

    // A client spreading over all three: the reads that reach the cut-off follower move on.
    const spread = cluster.client({ reads: 'spread', timeoutMs: 10_000 });
    for (let i = 0; i < 6; i++) expect((await spread.get('k'))?.text).toBe('v2');

    cluster.heal();
    const healed = cluster.client({ endpoints: [cut.clientAddress], followRedirects: false, reads: 'spread', timeoutMs: 20_000 });
    expect((await healed.get('k'))?.text).toBe('v2');
  });

  it("refuses a reads option other than 'leader' or 'spread'", () => {
    expect(() => new KeelClient({ endpoints: ['127.0.0.1:1'], reads: 'followers' as unknown as 'spread' })).toThrow(/reads must be 'leader' or 'spread', got 'followers'/);
    expect(() => new KeelClient({ endpoints: ['127.0.0.1:1'], reads: 1 as unknown as 'spread' })).toThrow(TypeError);
  });
});
