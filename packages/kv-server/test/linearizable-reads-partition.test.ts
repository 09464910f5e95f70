import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, waitForProgress } from '@keel/test-support';
import { bytes, text, wireClient, type WireClient } from './support/wire-client.js';

/**
 * Review: linearizable reads on a deposed-but-unaware leader and on followers, through real
 * processes and real TCP partitions (harness proxies on every peer link).
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Outcome of a get: the value read, or the error code. */
async function tryGet(c: WireClient, key: string, consistency: 'linearizable' | 'serializable'): Promise<{ value: string | null } | { code: string }> {
  const r = await c.request({ op: 'get', key: bytes(key), consistency });
  if (!r.ok) return { code: r.error.code };
  const kv = (r.result as { kv: { value: Uint8Array } | null }).kv;
  return { value: kv === null ? null : text(kv.value) };
}

describe('linearizable reads across a leader isolation', () => {
  it('an isolated old leader never answers a linearizable read with the value it had; followers and the new leader see the new one', async () => {
    cluster = await Cluster.start({ network: 'proxy' });
    const { id: oldLeader } = await cluster.waitForLeader();
    const old = await wireClient(cluster, oldLeader);
    expect((await old.put('k', 'v1')).ok).toBe(true);
    expect(await old.get('k')).toBe('v1');

    // Reads keep arriving at the old leader from before the cut until well after the new write.
    cluster.isolate(oldLeader, 'reset');
    const staleReads: Array<Promise<{ value: string | null } | { code: string }>> = [tryGet(old, 'k', 'linearizable')];

    const others = cluster.nodes.filter((s) => s.id !== oldLeader).map((s) => s.id);
    const probe = await wireClient(cluster, others[0]!);
    let seen: unknown;
    const newLeader = await waitForProgress(
      async () => {
        const status = await probe.call({ op: 'status' });
        seen = status;
        return status.leader !== 0 && status.leader !== oldLeader ? status.leader : undefined;
      },
      () => [seen, cluster!.outputLines],
      `node ${others[0]} naming a leader other than node ${oldLeader}`,
    );
    expect(others).toContain(newLeader);
    const fresh = await wireClient(cluster, newLeader);
    expect((await fresh.put('k', 'v2')).ok).toBe(true);
    // The write is acknowledged: from now on no linearizable read anywhere may return v1.
    const afterAck = [tryGet(old, 'k', 'linearizable'), tryGet(old, 'k', 'linearizable')];
    const follower = others.find((id) => id !== newLeader)!;
    const f = await wireClient(cluster, follower);
    expect(await tryGet(f, 'k', 'linearizable')).toEqual({ value: 'v2' });
    expect(await tryGet(fresh, 'k', 'linearizable')).toEqual({ value: 'v2' });

    // Serializable reads on the isolated node are local and documented as possibly stale.
    expect(await tryGet(old, 'k', 'serializable')).toEqual({ value: 'v1' });
    for (const r of await Promise.all(afterAck)) {
      expect(r).not.toEqual({ value: 'v1' });
      expect('code' in r).toBe(true); // it cannot reach a quorum: refused or timed out
    }
    // The read that arrived at the moment of the cut may be served only with a value that was current then.
    const first = await staleReads[0]!;
    if ('value' in first) expect(first.value).toBe('v1');

    cluster.heal();
    let last: unknown;
    const served = await waitForProgress(
      async () => {
        const r = await tryGet(old, 'k', 'linearizable');
        last = r;
        return 'value' in r ? r : undefined;
      },
      () => [last, cluster!.outputLines],
      'a linearizable read served by the old leader after the heal',
    );
    expect(served.value).toBe('v2');
  });
});
