/**
 * Leases, locks and elections against real 3-node clusters of keel-server processes: keys go
 * when keep-alives stop and stay while they run, also across a leader kill and a partition that
 * isolates the leader (a new leader gives every lease its full TTL again); every node deletes the
 * same keys; locks exclude each other, hand out strictly increasing fencing tokens, and pass on
 * when a holder dies; elections campaign, proclaim, resign and are observed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KeelError, LIMITS, type KeelClient, type KeelWatch, type Lease } from '@keel/client';
import { waitForProgress, type Cluster } from '@keel/test-support';
import { useClusterClients } from './helpers/cluster-clients.js';

const { start, client } = useClusterClients();

/** Every running node reports the same digest at the same applied index (poll until they do, while they apply). */
async function nodesAgree(cluster: Cluster, c: KeelClient): Promise<void> {
  let seen: unknown;
  await waitForProgress(
    async () => {
      const digests = await Promise.all(cluster.nodes.filter((n) => n.serving).map((n) => c.digest(n.clientAddress)));
      seen = digests;
      return digests.every((d) => d.applied === digests[0]!.applied && d.digest === digests[0]!.digest);
    },
    () => seen,
    'every node at the same applied index and digest',
  );
}

/** Waits until the leader has expired `lease`; the remaining TTL it reports, counting down, is the progress. */
async function expired(c: KeelClient, lease: Lease): Promise<void> {
  let remaining: unknown;
  await waitForProgress(
    async () => {
      try {
        remaining = (await c.leaseTimeToLive(lease)).remaining;
        return false;
      } catch (error) {
        if (error instanceof KeelError && error.code === 'LEASE_NOT_FOUND') return true;
        throw error;
      }
    },
    () => remaining,
    `lease ${lease.id} expiring`,
  );
}

/**
 * Waits until `seconds` have passed on the leader's own clock, the one that expires leases: a
 * lease of that TTL granted now and never kept alive has expired. What lived on meanwhile was
 * kept alive all that time, however slowly this machine ran.
 */
async function leaderClockPasses(c: KeelClient, seconds: number): Promise<void> {
  await expired(c, await c.leaseGrant(seconds, { keepAlive: false }));
}

/** Watches `c` opens from now on (the lock and election recipes wait on them), and those a node confirmed. */
function watchesOf(c: KeelClient): { opened: KeelWatch[]; confirmed: KeelWatch[] } {
  const opened: KeelWatch[] = [];
  const confirmed: KeelWatch[] = [];
  const watch = c.watch.bind(c);
  c.watch = (...args) => {
    const w = watch(...args);
    opened.push(w);
    void w.ready.then(() => confirmed.push(w), () => undefined);
    return w;
  };
  return { opened, confirmed };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (error instanceof KeelError) return error.code;
    throw error;
  }
}

describe('leases against a real cluster', () => {
  it('deletes a lease’s keys on every node once keep-alives stop, and keeps them while they run', async () => {
    const cluster = await start({ nodes: 3 });
    const c = client(cluster.endpoints);
    expect(await code(c.leaseGrant(LIMITS.leaseTtlSecondsMin - 1))).toBe('INVALID_ARGUMENT');

    const kept = await c.leaseGrant(3);
    const dropped = await c.leaseGrant(2);
    await c.put('svc/kept', 'a', { lease: kept });
    await c.put('svc/dropped', 'b', { lease: dropped.id });
    await c.put('svc/plain', 'c');
    expect(await c.leaseList()).toEqual([kept.id, dropped.id].sort((x, y) => x - y));
    const ttl = await c.leaseTimeToLive(dropped, { keys: true });
    expect(ttl).toMatchObject({ id: dropped.id, ttl: 2 });
    expect(ttl.remaining).toBeLessThanOrEqual(2);
    expect(ttl.keys?.map((k) => Buffer.from(k).toString())).toEqual(['svc/dropped']);

    dropped.release(); // no more keep-alives: the leader expires it
    await expired(c, dropped);
    expect(await c.get('svc/dropped')).toBeNull();
    expect(await code(c.put('svc/late', 'x', { lease: dropped }))).toBe('LEASE_NOT_FOUND');

    // The kept lease lived through three of its TTLs by keep-alives alone.
    await leaderClockPasses(c, 3 * 3);
    expect(kept.isAlive).toBe(true);
    expect((await c.get('svc/kept'))?.text).toBe('a');
    expect((await c.scan({ prefix: 'svc/' })).entries.map((e) => e.keyText)).toEqual(['svc/kept', 'svc/plain']);
    await nodesAgree(cluster, c);

    await kept.revoke();
    expect(await c.get('svc/kept')).toBeNull();
    expect(await c.leaseList()).toEqual([]);
    expect(await code(c.leaseRevoke(kept.id))).toBe('LEASE_NOT_FOUND');
    await nodesAgree(cluster, c);
  });

  it('a new leader gives every lease its full TTL again; a kept-alive lease survives the leader’s death', async () => {
    const cluster = await start({ nodes: 3 });
    const c = client(cluster.endpoints);
    // The client counts a lease lost once no renewal succeeded for a whole TTL from the sending of
    // the last one that did (up to a third of the TTL before the kill), so a renewal must get
    // through within two thirds of a TTL of the kill: the election (the test tuning's randomized
    // timeout is 1-2 s) plus the client's retries (backoff up to 400 ms). With a TTL of 4 s that
    // left a few hundred ms, or nothing, when the election drew near 2 s (lost at +2.8 s after an
    // election of 1.9 s: about 1 run in 5); 6 s leaves at least 1.5 s.
    const held = await c.leaseGrant(6);
    const idle = await c.leaseGrant(60, { keepAlive: false });
    await c.put('held', '1', { lease: held });
    await c.put('idle', '1', { lease: idle });
    // The idle lease's clock runs down on the old leader.
    let remaining = 60;
    await waitForProgress(async () => (remaining = (await c.leaseTimeToLive(idle)).remaining) < 60, () => remaining, 'the idle lease running down');
    const before = { remaining };

    const old = await cluster.waitForLeader();
    await cluster.node(old.id).kill();
    const next = await cluster.waitForLeader({ among: cluster.ids.filter((id) => id !== old.id) });
    expect(next.id).not.toBe(old.id);
    // The new leader started the idle lease's clock afresh when it took over: more left than before.
    const after = await c.leaseTimeToLive(idle);
    expect(after.remaining).toBeGreaterThan(before.remaining);

    // The held lease was renewed through the election and lives on with its key.
    await leaderClockPasses(c, 2 * 6);
    expect(held.isAlive).toBe(true);
    expect((await c.get('held'))?.text).toBe('1');
    expect((await c.get('idle'))?.text).toBe('1');
    await held.revoke();
    await idle.revoke();
  });

  it('across a partition that isolates the leader: the majority expires an idle lease, a kept-alive one lives on, and the nodes agree after healing', async () => {
    const cluster = await start({ nodes: 3, network: 'proxy' });
    const c = client(cluster.endpoints);
    const held = await c.leaseGrant(6);
    const idle = await c.leaseGrant(3, { keepAlive: false });
    await c.put('part/held', '1', { lease: held });
    await c.put('part/idle', '1', { lease: idle });

    const old = await cluster.waitForLeader();
    cluster.isolate(old.id);
    await cluster.waitForLeader({ among: cluster.ids.filter((id) => id !== old.id) });
    let idleValue: unknown;
    await waitForProgress(
      async () => (idleValue = (await c.get('part/idle'))?.text ?? null) === null,
      () => [idleValue, cluster.outputLines],
      'the idle lease expiring on the majority side',
    );
    await leaderClockPasses(c, 2 * 6); // two TTLs on the majority side, renewed through the new leader
    expect(held.isAlive).toBe(true);
    expect((await c.get('part/held'))?.text).toBe('1');

    cluster.heal();
    await nodesAgree(cluster, c);
    await held.revoke();
    await nodesAgree(cluster, c);
  });

  it('reports the loss of a lease revoked behind its holder’s back', async () => {
    const cluster = await start({ nodes: 3 });
    const holder = client(cluster.endpoints);
    const other = client(cluster.endpoints);
    const lease = await holder.leaseGrant(3);
    let heard: KeelError | undefined;
    lease.onLost((e) => (heard = e));
    await other.leaseRevoke(lease.id);
    const reason = await lease.lost;
    expect(reason.code).toBe('LEASE_NOT_FOUND');
    expect(heard).toBe(reason);
    expect(lease.isAlive).toBe(false);
    await lease.revoke(); // after a loss, revoking a lease already gone is not an error
  });
});

describe('locks against a real cluster', () => {
  it('excludes each other, hands out strictly increasing fencing tokens, and passes on when a holder dies', async () => {
    const cluster = await start({ nodes: 3 });
    const clients = [0, 1, 2].map(() => client(cluster.endpoints));
    let holder: number | undefined;
    const tokens: number[] = [];
    await Promise.all(
      clients.map(async (c, me) => {
        for (let round = 0; round < 3; round++) {
          const lock = await c.lock('jobs/lock', { ttl: 5 });
          expect(holder).toBeUndefined();
          holder = me;
          tokens.push(lock.fencingToken);
          await sleep(30);
          holder = undefined;
          await lock.unlock();
        }
      }),
    );
    expect(tokens).toHaveLength(9);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);

    // A holder that dies without unlocking (its client closes: no keep-alives, no revoke) releases
    // the lock when its lease expires; the waiter gets a higher token.
    const dying = client(cluster.endpoints);
    const first = await dying.lock('jobs/lock', { ttl: 2 });
    const watches = watchesOf(clients[0]!);
    const waiter = clients[0]!.lock('jobs/lock', { ttl: 5 });
    let acquired = false;
    void waiter.then(() => (acquired = true));
    // The waiter has queued and a node confirmed its watch on the holder's key: it waits.
    await waitForProgress(() => watches.confirmed.length > 0 || acquired, () => watches.opened.length, 'the waiter watching the holder');
    expect(acquired).toBe(false);
    await dying.close();
    expect((await first.lost).code).toBe('CONNECTION_LOST');
    const second = await waiter;
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(second.fencingToken).toBeGreaterThan(tokens.at(-1)!);
    await second.unlock();
    expect((await clients[1]!.scan({ prefix: 'jobs/lock/' })).entries).toEqual([]);
  });

  it('leaves the line when the wait is aborted', async () => {
    const cluster = await start({ nodes: 3 });
    const a = client(cluster.endpoints);
    const b = client(cluster.endpoints);
    const held = await a.lock('l');
    const abort = new AbortController();
    const waiting = b.lock('l', { signal: abort.signal });
    let queued = 0;
    await waitForProgress(async () => (queued = (await a.scan({ prefix: 'l/' })).entries.length) === 2, () => queued, 'the second contender queued');
    abort.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect((await a.scan({ prefix: 'l/' })).entries.map((e) => e.keyText)).toEqual([Buffer.from(held.key).toString()]);
    await held.unlock();
  });

  it('waits for a holder whose key was last written at a revision since compacted away', async () => {
    const cluster = await start({ nodes: 3 });
    const a = client(cluster.endpoints);
    const b = client(cluster.endpoints);
    const held = await a.lock('c');
    let revision = 0;
    for (let i = 0; i < 5; i++) ({ revision } = await a.put('filler', String(i)));
    await a.compact(revision); // the holder's key revision is gone: a watch from the one after it is COMPACTED
    let acquired = false;
    const watches = watchesOf(b);
    const waiting = b.lock('c').then((lock) => ((acquired = true), lock));
    // Its first watch, from the compacted revision, fails; it reads again and watches from the
    // compaction point, which a node confirms: it waits.
    await waitForProgress(() => watches.confirmed.length > 0 || acquired, () => watches.opened.length, 'the waiter watching the holder');
    expect(acquired).toBe(false);
    expect(watches.opened).toHaveLength(2);
    await held.unlock();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.unlock();
  });
});

describe('elections against a real cluster', () => {
  it('campaigns first come first served, proclaims, resigns, and is observed', async () => {
    const cluster = await start({ nodes: 3 });
    const [a, b, watcher] = [client(cluster.endpoints), client(cluster.endpoints), client(cluster.endpoints)];
    expect(await watcher.election('svc').leader()).toBeNull();

    const leaderA = await a.election('svc').campaign('node-a');
    const campaignB = b.election('svc').campaign('node-b');
    let queued = 0;
    await waitForProgress(async () => (queued = (await watcher.scan({ prefix: 'svc/' })).entries.length) === 2, () => queued, 'the second candidate queued');
    expect((await watcher.election('svc').leader())?.text).toBe('node-a');

    const abort = new AbortController();
    const seen: string[] = [];
    const observing = (async () => {
      for await (const leader of watcher.election('svc').observe({ signal: abort.signal })) seen.push(leader.text);
    })();
    await waitForProgress(() => seen.length === 1, () => seen.length, 'leader 1 observed');
    await leaderA.proclaim('node-a v2');
    await waitForProgress(() => seen.length === 2, () => seen.length, 'leader 2 observed');
    await leaderA.resign();
    const leaderB = await campaignB;
    expect(leaderB.revision).toBeGreaterThan(leaderA.revision);
    await waitForProgress(() => seen.length === 3, () => seen.length, 'leader 3 observed');
    expect(seen).toEqual(['node-a', 'node-a v2', 'node-b']);
    expect(await code(leaderA.proclaim('too late'))).toBe('LEASE_NOT_FOUND');
    abort.abort();
    await observing;
    await leaderB.resign();
    expect(await watcher.election('svc').leader()).toBeNull();
  });
});
