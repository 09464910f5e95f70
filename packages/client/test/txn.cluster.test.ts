/**
 * Transactions against real 3-node clusters of keel-server processes: every compare target and
 * operation end to end, the client's checks, and bank transfers as txns while the leader is
 * killed — money is never created or lost, every txn applies at most once, and every read inside
 * a txn sees a consistent total.
 */
import { describe, expect, it } from 'vitest';
import { KeelError, LIMITS } from '@keel/client';
import { waitForProgress } from '@keel/test-support';
import { useClusterClients } from './helpers/cluster-clients.js';

const { start, client } = useClusterClients();

describe('KeelClient.txn against a real cluster', () => {
  it('compares every target, runs the branch that applies and answers each operation', async () => {
    const cluster = await start({ nodes: 3 });
    const c = client(cluster.endpoints);
    const a = await c.put('acct/a', '10');
    await c.put('acct/a', '11');
    await c.put('acct/b', '5');

    const r = await c.txn({
      compare: [
        { key: 'acct/a', target: 'value', op: '=', value: '11' },
        { key: 'acct/a', target: 'version', op: '=', value: 2 },
        { key: 'acct/a', target: 'createRevision', op: '=', value: a.revision },
        { key: 'acct/a', target: 'modRevision', op: '>', value: a.revision },
        { key: 'acct/c', target: 'exists', value: false },
        { key: 'acct/c', target: 'version', op: '=', value: 0 },
      ],
      success: [
        { op: 'put', key: 'acct/a', value: '6', prevKv: true },
        { op: 'put', key: 'acct/c', value: '5' },
        { op: 'range', prefix: 'acct/' },
        { op: 'delete', key: 'acct/b', prevKv: true },
        { op: 'get', key: 'acct/b' },
      ],
      failure: [{ op: 'get', key: 'acct/a' }],
    });
    expect(r.succeeded).toBe(true);
    expect(r.results?.map((x) => x.op)).toEqual(['put', 'put', 'range', 'delete', 'get']);
    const [put, , range, del, get] = r.results!;
    expect(put).toMatchObject({ op: 'put', prevKv: { text: '11', version: 2 } });
    expect(range?.op === 'range' && range.entries.map((e) => [e.keyText, e.text, e.version, e.revision])).toEqual([
      ['acct/a', '6', 3, r.revision],
      ['acct/b', '5', 1, a.revision + 2],
      ['acct/c', '5', 1, r.revision],
    ]);
    expect(del).toMatchObject({ op: 'delete', deleted: true, prevKv: { text: '5' } });
    expect(get).toEqual({ op: 'get', entry: null });
    expect((await c.get('acct/a'))?.revision).toBe(r.revision);

    // A compare that fails runs the failure branch; nothing of the success branch applies.
    const f = await c.txn({
      compare: [{ key: 'acct/a', target: 'value', op: '<', value: '5' }],
      success: [{ op: 'deleteRange', prefix: 'acct/' }],
      failure: [{ op: 'get', key: 'acct/a' }, { op: 'range', start: 'acct/', end: 'acct/c', limit: 1 }],
    });
    expect(f.succeeded).toBe(false);
    expect(f.results).toMatchObject([{ op: 'get', entry: { text: '6' } }, { op: 'range', more: false }]);
    expect((await c.scan({ prefix: 'acct/' })).entries.map((e) => e.keyText)).toEqual(['acct/a', 'acct/c']);

    // The whole branch as one write: a range delete with the entries it removed.
    const all = await c.txn({ success: [{ op: 'deleteRange', prefix: 'acct/', prevKv: true }] });
    expect(all.results).toMatchObject([{ op: 'deleteRange', deleted: 2 }]);
    expect((await c.scan({ prefix: 'acct/' })).entries).toEqual([]);

    // cas is a txn underneath and keeps its answers.
    expect(await c.cas('acct/a', { expectAbsent: true }, '1')).toMatchObject({ succeeded: true });
    const rev = (await c.get('acct/a'))!.revision;
    expect(await c.cas('acct/a', { expectRevision: rev - 1 }, '2')).toMatchObject({ succeeded: false });
    expect(await c.cas('acct/missing', { expectRevision: 0 }, '2')).toMatchObject({ succeeded: false });
  });

  it('refuses malformed txns before sending and over-limit ones whole', async () => {
    const cluster = await start({ nodes: 3 });
    const c = client(cluster.endpoints);
    const tooMany = Array.from({ length: LIMITS.txnOpsMax + 1 }, () => ({ op: 'get' as const, key: 'k' }));
    await expect(c.txn({ success: tooMany })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', definite: true });
    await expect(c.txn({ compare: [{ key: 'k', target: 'value', op: '~' as '=', value: 'v' }] })).rejects.toThrow(TypeError);
    await expect(c.txn({ success: [{ op: 'put', key: '', value: 'v' }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.txn({ compare: [{ key: 'k', target: 'version', op: '=', value: -1 }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // The answer would carry more than LIMITS.txnResponseBytesMax: TOO_LARGE, the put not applied.
    await c.put('big', new Uint8Array(LIMITS.valueBytesMax));
    const reads = Array.from({ length: Math.ceil(LIMITS.txnResponseBytesMax / LIMITS.valueBytesMax) + 1 }, () => ({ op: 'get' as const, key: 'big' }));
    await expect(c.txn({ success: [{ op: 'put', key: 'marker', value: '1' }, ...reads] })).rejects.toMatchObject({ code: 'TOO_LARGE', definite: true });
    expect(await c.get('marker')).toBeNull();
  });

  it('bank transfers as txns while the leader is killed: the total never changes, each applies at most once', async () => {
    const cluster = await start({ nodes: 3 });
    const leader = await cluster.waitForLeader();
    const c = client(cluster.endpoints, { timeoutMs: 8000, stallTimeoutMs: 1000 });
    const accounts = Array.from({ length: 5 }, (_, i) => `bank/${i}`);
    const initial = 100;
    await c.txn({ success: accounts.map((key) => ({ op: 'put' as const, key, value: String(initial) })) });
    const total = accounts.length * initial;

    type Outcome = { marker: string; kind: 'applied' | 'refused' | 'fail' | 'info'; revision?: number };
    const outcomes: Outcome[] = [];
    const totals: number[] = [];
    let answered = 0;
    const faultAfter = 40;
    const nemesis = (async () => {
      await waitForProgress(() => answered >= faultAfter, () => answered, `${faultAfter} answered transactions`);
      await cluster.node(leader.id).kill();
    })();

    await Promise.all(
      Array.from({ length: 6 }, async (_, w) => {
        for (let i = 0; i < 30; i++) {
          const from = accounts[(w + i) % accounts.length]!;
          const to = accounts[(w + 2 * i + 1) % accounts.length]!;
          if (from === to) continue;
          const marker = `transfer/${w}/${i}`;
          try {
            // Read both balances, then move money only if neither changed meanwhile.
            const [fb, tb] = await Promise.all([c.get(from), c.get(to)]);
            const amount = 1 + ((w + i) % 7);
            const r = await c.txn({
              compare: [
                { key: from, target: 'modRevision', op: '=', value: fb!.revision },
                { key: to, target: 'modRevision', op: '=', value: tb!.revision },
              ],
              success: [
                { op: 'put', key: from, value: String(Number(fb!.text) - amount) },
                { op: 'put', key: to, value: String(Number(tb!.text) + amount) },
                { op: 'put', key: marker, value: String(amount) },
                { op: 'range', prefix: 'bank/' },
              ],
              failure: [{ op: 'range', prefix: 'bank/' }],
            });
            outcomes.push({ marker, kind: r.succeeded ? 'applied' : 'refused', revision: r.revision });
            const read = r.results?.at(-1);
            if (read?.op === 'range') totals.push(read.entries.reduce((sum, e) => sum + Number(e.text), 0));
          } catch (error) {
            if (!(error instanceof KeelError)) throw error;
            outcomes.push({ marker, kind: error.definite ? 'fail' : 'info' });
          }
          answered++;
        }
      }),
    );
    await nemesis;
    // Transfers went through after the kill: the client found the new leader.
    expect(outcomes.filter((o) => o.kind === 'applied').length).toBeGreaterThan(faultAfter / 2);
    expect(outcomes.filter((o) => o.kind === 'applied' && o.revision !== undefined).length).toBeGreaterThan(0);
    // Every read inside a txn saw the whole of every transfer or none of it.
    expect(totals.length).toBeGreaterThan(0);
    expect(new Set(totals)).toEqual(new Set([total]));

    const newLeader = await cluster.waitForLeader();
    expect(newLeader.id).not.toBe(leader.id);
    const reader = client(cluster.endpoints);
    const balances = (await reader.scan({ prefix: 'bank/' })).entries;
    expect(balances.reduce((sum, e) => sum + Number(e.text), 0)).toBe(total);
    for (const o of outcomes) {
      const marker = await reader.get(o.marker);
      if (o.kind === 'applied') expect(marker?.revision, `applied transfer ${o.marker}`).toBe(o.revision);
      if (o.kind === 'refused' || o.kind === 'fail') expect(marker, `transfer ${o.marker} did not apply`).toBeNull();
      // At most once: the marker was written by one entry.
      if (marker !== null) expect(marker.version, `${o.marker} applied more than once`).toBe(1);
    }
  });
});
