import { afterEach, describe, expect, it } from 'vitest';
import type { ClientResponse } from '@keel/protocol';
import { Cluster, waitForProgress } from '@keel/test-support';
import { bytes, text, waitApplied, WireClient, wireClient } from './support/wire-client.js';
import { key, pipelined, value } from './support/workload.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Read `keys` linearizably through `c`, pipelined; returns key -> value (null when absent). */
async function readAll(
  c: WireClient,
  indexes: readonly number[],
  consistency: 'linearizable' | 'serializable' = 'linearizable',
): Promise<Map<number, string | null>> {
  const out = new Map<number, string | null>();
  const rs = await pipelined(indexes.length, 128, (j) => c.request({ op: 'get', key: bytes(key(indexes[j]!)), consistency }));
  rs.forEach((r, j) => {
    if (r === undefined || !r.ok) throw new Error(`read of ${key(indexes[j]!)} failed: ${JSON.stringify(r)}`);
    const kv = (r.result as { kv: { value: Uint8Array } | null }).kv;
    out.set(indexes[j]!, kv === null ? null : text(kv.value));
  });
  return out;
}

describe('keel-server under crashes', () => {
  it('loses no acknowledged write when the leader is killed with SIGKILL mid-load; a new leader serves them', async () => {
    cluster = await Cluster.start();
    const { id: oldLeader } = await cluster.waitForLeader();
    const c = await wireClient(cluster, oldLeader);
    const acked: number[] = [];
    let killed = false;
    const N = 20_000;
    const run = pipelined(
      N,
      64,
      async (i) => {
        const r: ClientResponse = await c.put(key(i), value(i));
        if (r.ok) acked.push(i);
        return r;
      },
      () => killed && c.inFlight === 0,
    );
    let settled = false;
    void run.finally(() => (settled = true));
    await waitForProgress(() => acked.length >= 2_000 || settled, () => acked.length, '2,000 acknowledged writes');
    await cluster.node(oldLeader).kill();
    killed = true;
    const responses = await run;
    // Every write answered after the kill failed as "outcome unknown" (connection lost), never as success.
    expect(acked.length).toBeGreaterThanOrEqual(2_000);
    expect(responses.filter((r) => r !== undefined && !r.ok).every((r) => !r!.ok && r!.error.definite === false)).toBe(true);

    const { id: newLeader } = await cluster.waitForLeader();
    expect(newLeader).not.toBe(oldLeader);
    const n = await wireClient(cluster, newLeader);
    const got = await readAll(n, acked);
    for (const i of acked) expect(got.get(i), key(i)).toBe(value(i));

    // The old leader comes back as a follower and converges on the same data.
    await cluster.node(oldLeader).start();
    const back = await wireClient(cluster, oldLeader);
    const st = await n.call({ op: 'status' });
    await waitApplied(back, st.commit);
    const local = await readAll(back, acked, 'serializable');
    for (const i of acked) expect(local.get(i), key(i)).toBe(value(i));
  });

  it('a node kept down past a snapshot catches up through the snapshot when it restarts', async () => {
    cluster = await Cluster.start({ serverArgs: ['--snapshot-entries', '300'] });
    const { id: leader } = await cluster.waitForLeader();
    const lagger = cluster.nodes.find((s) => s.id !== leader)!.id;
    const l = await wireClient(cluster, leader);
    // Some data before the crash, then kill the follower.
    const before = await pipelined(200, 64, (i) => l.put(key(i), value(i)));
    expect(before.every((r) => r?.ok)).toBe(true);
    await cluster.node(lagger).kill();

    // Write well past several snapshots while it is down (the log behind them is compacted).
    const N = 2_000;
    const during = await pipelined(N - 200, 64, (j) => l.put(key(200 + j), value(200 + j)));
    expect(during.every((r) => r?.ok)).toBe(true);
    // Overwrite and delete some keys too, so the snapshot is not just appends.
    expect((await l.put(key(5), 'overwritten')).ok).toBe(true);
    expect((await l.write({ op: 'delete', key: bytes(key(6)) })).ok).toBe(true);
    await cluster.node(leader).waitForLog((e) => e.event === 'snapshot.created');
    const commit = (await l.call({ op: 'status' })).commit;

    const proc = await cluster.node(lagger).start();
    const installed = await proc.waitForLog((e) => e.event === 'snapshot.installed');
    expect(installed['index']).toBeGreaterThan(200);
    await cluster.node(leader).waitForLog((e) => e.event === 'snapshot.sent' && e['to'] === lagger);

    const f = await wireClient(cluster, lagger);
    await waitApplied(f, commit);
    const scan = await f.call({ op: 'scan', prefix: bytes('key-'), limit: N, consistency: 'serializable' });
    const got = new Map(scan.kvs.map((kv) => [text(kv.key), text(kv.value)]));
    expect(got.size).toBe(N - 1);
    for (let i = 0; i < N; i++) {
      const expected = i === 5 ? 'overwritten' : i === 6 ? undefined : value(i);
      expect(got.get(key(i)), key(i)).toBe(expected);
    }
    // Create/modify revisions came across with the snapshot.
    const g = await f.call({ op: 'get', key: bytes(key(5)), consistency: 'serializable' });
    const lg = await l.call({ op: 'get', key: bytes(key(5)), consistency: 'linearizable' });
    expect(g.kv?.modRevision).toBe(lg.kv?.modRevision);
    expect(g.kv?.createRevision).toBe(lg.kv?.createRevision);
  });

  it('keeps all data when every node is killed at once and restarted', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const l = await wireClient(cluster, leader);
    const N = 3_000;
    const rs = await pipelined(N, 128, (i) => l.put(key(i), value(i)));
    expect(rs.every((r) => r?.ok)).toBe(true);

    await Promise.all(cluster.nodes.map((n) => n.kill()));
    await Promise.all(cluster.nodes.map((n) => n.start()));
    const { id: again } = await cluster.waitForLeader();
    const c = await wireClient(cluster, again);
    const got = await readAll(c, Array.from({ length: N }, (_, i) => i));
    for (let i = 0; i < N; i++) expect(got.get(i), key(i)).toBe(value(i));
    // And the cluster still takes writes.
    expect((await c.put('after-restart', 'ok')).ok).toBe(true);
    expect(await c.get('after-restart')).toBe('ok');
  });

  it('SIGTERM answers writes that cannot commit with SHUTTING_DOWN (outcome unknown) and exits 0', async () => {
    cluster = await Cluster.start();
    const { id: leader } = await cluster.waitForLeader();
    const l = await wireClient(cluster, leader);
    expect((await l.put('w0', 'committed')).ok).toBe(true);
    // Without its followers the leader can append but never commit.
    for (const n of cluster.nodes) if (n.id !== leader) await n.kill();
    const before = (await l.call({ op: 'status' })).lastIndex;
    const pending = Array.from({ length: 10 }, (_, i) => l.put(`stuck${i}`, 'v'));
    let lastIndex = before;
    await waitForProgress(async () => (lastIndex = (await l.call({ op: 'status' })).lastIndex) >= before + 10, () => lastIndex, 'the 10 writes appended');
    const exit = cluster.node(leader).stop();
    const answers = await Promise.all(pending);
    for (const r of answers) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('SHUTTING_DOWN');
        expect(r.error.definite).toBe(false);
      }
    }
    expect(await exit).toEqual({ code: 0, signal: null });
  });
});
