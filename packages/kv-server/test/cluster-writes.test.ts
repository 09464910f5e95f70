import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '@keel/test-support';
import { bytes, errorOf, text, waitApplied, wireClient } from './support/wire-client.js';
import { key, pipelined, value } from './support/workload.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

describe('a 3-node cluster of real keel-server processes', () => {
  it('takes 10,000 pipelined writes and serves every one of them, from the leader and from the followers', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const c = await wireClient(cluster, leader);
    const N = 10_000;
    const responses = await pipelined(N, 256, (i) => c.put(key(i), value(i)));
    const revisions = responses.map((r, i) => {
      expect(r?.ok, `write ${i}: ${JSON.stringify(r)}`).toBe(true);
      return (r as { result: { revision: number } }).result.revision;
    });
    // Each write applied at its own log index.
    expect(new Set(revisions).size).toBe(N);
    const lastRevision = Math.max(...revisions);

    // Linearizable point reads from the leader (pipelined) see every write.
    const reads = await pipelined(N, 256, (i) => c.request({ op: 'get', key: bytes(key(i)), consistency: 'linearizable' }));
    reads.forEach((r, i) => {
      expect(r?.ok, `read ${i}: ${JSON.stringify(r)}`).toBe(true);
      const kv = (r as { result: { kv: { value: Uint8Array; modRevision: number } | null } }).result.kv;
      expect(kv === null ? null : text(kv.value)).toBe(value(i));
      expect(kv?.modRevision).toBe(revisions[i]);
    });

    // Every follower applies the same data; a serializable scan there returns all of it.
    for (const s of cluster.nodes) {
      if (s.id === leader) continue;
      const f = await wireClient(cluster, s.id);
      await waitApplied(f, lastRevision);
      const scan = await f.call({ op: 'scan', prefix: bytes('key-'), limit: N, consistency: 'serializable' });
      expect(scan.more).toBe(false);
      expect(scan.kvs).toHaveLength(N);
      scan.kvs.forEach((kv, i) => {
        expect(text(kv.key)).toBe(key(i));
        expect(text(kv.value)).toBe(value(i));
      });
    }
  });

  it('answers writes on a follower with NOT_LEADER naming the leader and its client address', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const follower = cluster.nodes.find((s) => s.id !== leader)!;
    const f = await wireClient(cluster, follower.id);
    const err = errorOf(await f.put('a', 'b'));
    expect(err.code).toBe('NOT_LEADER');
    expect(err.definite).toBe(true);
    expect(err.leaderId).toBe(leader);
    expect(err.leaderAddress).toBe(cluster.node(leader).clientAddress);

    // A linearizable read on a follower is answered (ReadIndex forwarded to the leader) and sees
    // a write acknowledged just before it.
    const l = await wireClient(cluster, leader);
    expect((await l.put('fresh', 'yes')).ok).toBe(true);
    expect(await f.get('fresh', 'linearizable')).toBe('yes');

    const members = await f.call({ op: 'memberList' });
    expect(members.leader).toBe(leader);
    expect(members.members.map((m) => m.id).sort()).toEqual([1, 2, 3]);
  });
});
