/**
 * KeelClient.digest against a real 3-node cluster: every node reports the same applied index and
 * digest once it has applied the same log, including a node that was killed and restarted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeelClient, type KeelError, type StateDigest } from '@keel/client';
import { Cluster, waitForProgress } from '@keel/test-support';

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Polls until every node reports the same applied index (no writes run meanwhile), then returns the digests. */
async function settled(c: Cluster): Promise<StateDigest[]> {
  const client = c.client({ timeoutMs: 5000 });
  let applied: number[] = [];
  return waitForProgress(
    async () => {
      const digests = await Promise.all(c.endpoints.map((e) => client.digest(e)));
      applied = digests.map((d) => d.applied);
      return digests.every((d) => d.applied === digests[0]!.applied) ? digests : undefined;
    },
    () => applied,
    'every node at the same applied index',
  );
}

describe('KeelClient.digest', () => {
  it('reports the same digest on every node after writes, a crash and a restart', async () => {
    cluster = await Cluster.start({ nodes: 3 });
    const client = cluster.client({ timeoutMs: 10_000 });
    for (let i = 0; i < 20; i++) await client.put(`k${i % 7}`, `v${i}`);
    await client.delete('k3');
    const first = await settled(cluster);
    expect(new Set(first.map((d) => d.digest)).size).toBe(1);
    expect(first[0]).toMatchObject({ keys: 6 });

    await cluster.node(2).kill();
    await client.put('k0', 'after the crash');
    await cluster.node(2).start();
    const second = await settled(cluster);
    expect(new Set(second.map((d) => d.digest)).size).toBe(1);
    expect(second[0]!.applied).toBeGreaterThan(first[0]!.applied);
    expect(second[0]!.digest).not.toBe(first[0]!.digest);
  });

  it('rejects an address that is not host:port before sending anything', async () => {
    const client = new KeelClient({ endpoints: ['127.0.0.1:1'] });
    await expect(client.digest('nowhere')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' } satisfies Partial<KeelError>);
    await client.close();
  });
});
