/**
 * @keel/client against real 3-node clusters of keel-server processes: the operations, redirects
 * from followers, failover from stopped and paused nodes, and a leader crash under load.
 */
import { describe, expect, it } from 'vitest';
import { KeelError } from '@keel/client';
import { waitForProgress } from '@keel/test-support';
import { useClusterClients } from './helpers/cluster-clients.js';

const { start, client } = useClusterClients();

describe('KeelClient against a real cluster', () => {
  it('puts, gets, deletes, compares-and-swaps and scans', async () => {
    const cluster = await start({ nodes: 3 });
    const c = client(cluster.endpoints);

    const put = await c.put('user/1', 'ada');
    expect(put.revision).toBeGreaterThan(0);
    const got = await c.get('user/1');
    expect(got?.text).toBe('ada');
    expect(got?.revision).toBe(put.revision);
    expect(await c.get('user/404')).toBeNull();

    const bytes = new Uint8Array([0, 1, 2, 255]);
    await c.put(new Uint8Array([1, 2]), bytes);
    expect([...(await c.get(new Uint8Array([1, 2])))!.value]).toEqual([...bytes]);

    expect(await c.cas('user/1', { expectValue: 'bob' }, 'eve')).toMatchObject({ succeeded: false });
    const swapped = await c.cas('user/1', { expectRevision: put.revision }, 'grace');
    expect(swapped.succeeded).toBe(true);
    expect((await c.get('user/1'))?.text).toBe('grace');
    expect((await c.cas('user/2', { expectAbsent: true }, 'alan')).succeeded).toBe(true);
    expect((await c.cas('user/2', { expectAbsent: true }, 'again')).succeeded).toBe(false);

    await c.put('user/3', 'barbara');
    await c.put('users', 'not in the prefix');
    const scan = await c.scan({ prefix: 'user/' });
    expect(scan.entries.map((e) => [e.keyText, e.text])).toEqual([
      ['user/1', 'grace'],
      ['user/2', 'alan'],
      ['user/3', 'barbara'],
    ]);
    expect(scan.more).toBe(false);
    const page = await c.scan({ start: 'user/2', end: 'user/4' }, { limit: 1 });
    expect(page.entries.map((e) => e.keyText)).toEqual(['user/2']);
    expect(page.more).toBe(true);

    const del = await c.delete('user/3');
    expect(del.deleted).toBe(true);
    expect((await c.delete('user/3')).deleted).toBe(false);
    expect(await c.get('user/3')).toBeNull();

    // Serializable reads are served by whichever node is asked; once a write is acknowledged
    // every node applies it, so each node's local read shows it eventually.
    for (const endpoint of cluster.endpoints) {
      const local = client([endpoint]);
      let seen: string | undefined;
      await waitForProgress(
        async () => (seen = (await local.get('user/2', { consistency: 'serializable' }))?.text) === 'alan',
        () => [seen, cluster.outputLines],
        `the write read back by a serializable read at ${endpoint}`,
      );
    }

    // scanAll pages through a range in order, each key once.
    const pageKeys = Array.from({ length: 23 }, (_, i) => `page/${String(i).padStart(2, '0')}`);
    await Promise.all(pageKeys.map((k) => c.put(k, k)));
    await c.put('pagf', 'just after the prefix');
    const scanned: string[] = [];
    for await (const e of c.scanAll({ prefix: 'page/' }, { pageSize: 5 })) scanned.push(e.keyText);
    expect(scanned).toEqual(pageKeys);
    await c.put(new Uint8Array([1, 0xff, 0]), 'a');
    await c.put(new Uint8Array([1, 0xff, 5]), 'b');
    await c.put(new Uint8Array([2]), 'c');
    const binary: string[] = [];
    for await (const e of c.scanAll({ prefix: new Uint8Array([1, 0xff]) }, { pageSize: 1 })) binary.push(e.text);
    expect(binary).toEqual(['a', 'b']);

    const statuses = await c.status();
    expect(statuses).toHaveLength(3);
    const ok = statuses.flatMap((x) => (x.ok ? [x.status] : []));
    expect(ok).toHaveLength(3);
    expect(ok.filter((x) => x.role === 'leader')).toHaveLength(1);
    expect(new Set(ok.map((x) => x.id))).toEqual(new Set([1, 2, 3]));

    const members = await c.memberList();
    expect(members.members.map((m) => m.id).sort()).toEqual([1, 2, 3]);
    expect(members.leader).toBe(ok.find((x) => x.role === 'leader')?.id);
  });

  it('follows redirects when it only knows a follower', async () => {
    const cluster = await start({ nodes: 3 });
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
    const c = client([follower.clientAddress]);
    const { revision } = await c.put('redirected', 'yes');
    const read = await c.get('redirected');
    expect(read?.text).toBe('yes');
    expect(read?.revision).toBe(revision);
    expect(await c.transferLeader(follower.id)).toMatchObject({ leader: follower.id });
    // The old leader now redirects; the client follows again.
    const again = client([cluster.node(leader.id).clientAddress]);
    await again.put('after-transfer', '1');
    expect((await again.get('after-transfer'))?.text).toBe('1');
  });

  it('fails over from a stopped node and from a paused (unresponsive) node', async () => {
    const cluster = await start({ nodes: 3 });
    const leader = await cluster.waitForLeader();
    const [f1, f2] = cluster.nodes.filter((n) => n.id !== leader.id);
    // A crashed follower listed first: connection refused, the client moves on.
    await cluster.node(f1!.id).kill();
    const c = client([f1!.clientAddress, f2!.clientAddress, cluster.node(leader.id).clientAddress]);
    await c.put('failover', 'one');
    expect((await c.get('failover'))?.text).toBe('one');
    await cluster.node(f1!.id).start();
    // A paused follower listed first: it accepts the connection but never answers.
    cluster.node(f2!.id).pause();
    const p = client([f2!.clientAddress, cluster.node(leader.id).clientAddress], { stallTimeoutMs: 500 });
    await p.put('paused', 'two');
    expect((await p.get('paused'))?.text).toBe('two');
    cluster.node(f2!.id).resume();
  });

  it.each(['killed', 'paused'] as const)(
    'when the leader is %s mid-load, every acknowledged write survives and none applies twice',
    async (fault) => {
      const cluster = await start({ nodes: 3 });
      const leader = await cluster.waitForLeader();
      const c = client(cluster.endpoints, { timeoutMs: 8000, stallTimeoutMs: 1000 });
      type Outcome = { key: string; value: string; kind: 'ok' | 'fail' | 'info'; revision?: number };
      const outcomes: Outcome[] = [];
      let acked = 0;
      const writers = 8;
      const perWriter = 60;
      const faultAfter = 80;

      const nemesis = (async () => {
        await waitForProgress(() => acked >= faultAfter, () => acked, `${faultAfter} acknowledged writes`);
        if (fault === 'killed') await cluster.node(leader.id).kill();
        else cluster.node(leader.id).pause();
      })();

      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < perWriter; i++) {
            const key = `load/${w}/${i}`;
            const value = `v-${w}-${i}`;
            try {
              const { revision } = await c.put(key, value);
              outcomes.push({ key, value, kind: 'ok', revision });
              acked++;
            } catch (error) {
              if (!(error instanceof KeelError)) throw error;
              outcomes.push({ key, value, kind: error.definite ? 'fail' : 'info' });
            }
          }
        }),
      );
      await nemesis;
      expect(outcomes).toHaveLength(writers * perWriter);
      // Writes after the fault went through: the client found the new leader.
      expect(outcomes.filter((o) => o.kind === 'ok').length).toBeGreaterThan(faultAfter);
      // A paused leader comes back as a follower; whatever it still holds must not apply twice.
      if (fault === 'paused') cluster.node(leader.id).resume();

      const newLeader = await cluster.waitForLeader();
      if (fault === 'killed') expect(newLeader.id).not.toBe(leader.id);
      const reader = client(cluster.endpoints);
      for (const o of outcomes) {
        const entry = await reader.get(o.key);
        if (o.kind === 'ok') {
          expect(entry?.text, `acknowledged write ${o.key} is missing`).toBe(o.value);
          expect(entry?.revision).toBe(o.revision);
        }
        if (o.kind === 'fail') expect(entry, `definitely failed write ${o.key} is present`).toBeNull();
        if (o.kind === 'info' && entry !== null) expect(entry.text).toBe(o.value);
        // At most once: a key the client wrote once was created and last modified by one entry.
        if (entry !== null) expect(entry.createRevision, `${o.key} applied more than once`).toBe(entry.revision);
      }
    },
  );
});
