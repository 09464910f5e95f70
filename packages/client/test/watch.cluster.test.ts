/**
 * Watches against real clusters of keel-server processes: the delivered sequence of changes is
 * exactly the committed one — in revision order, with neither gap nor duplicate — across a leader
 * kill (the watch resumes on another node), a partition of the node a watch is served by (it
 * catches up after the heal), and a follower cut off for good (the node ends its watches with
 * UNAVAILABLE once it has known no leader for an election timeout; the library and kvctl watch
 * resume on the majority while the partition lasts); a compacted start ends with COMPACTED; a watcher that does not read
 * is cut off with WATCH_OVERFLOW and resumes where it left off; `kvctl watch` and `kvctl compact`
 * as a user runs them.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame, validateServerFrame, type ClientResponse, type WatchEventsFrame } from '@keel/protocol';
import { KeelError, type KeelClient, type KeelWatch, type WatchChange } from '@keel/client';
import { KVCTL_BIN, cleanEnv, waitForProgress, type Cluster } from '@keel/test-support';
import { useClusterClients } from './helpers/cluster-clients.js';

const { start, client } = useClusterClients();

/** Collects a watch's changes in the background; `ended` settles with the iteration's end or error. */
function collect(w: KeelWatch): { changes: WatchChange[]; ended: Promise<unknown> } {
  const changes: WatchChange[] = [];
  const ended = (async () => {
    for await (const c of w) changes.push(c);
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  return { changes, ended };
}

const show = (c: WatchChange): string => `${c.revision} ${c.type} ${c.kv.keyText}=${c.kv.text}`;

/**
 * Checks one watch's changes against what was committed: revision order, no (revision, key)
 * twice, each key's chain of previous values unbroken from its creation (so no change is missing
 * in between), every acknowledged write present, and each key's last change equal to its
 * linearizable value.
 */
async function checkAgainstCommitted(c: KeelClient, changes: readonly WatchChange[], acked: ReadonlyMap<number, [string, string | null]>, keys: readonly string[]): Promise<void> {
  for (let i = 1; i < changes.length; i++) expect(changes[i]!.revision).toBeGreaterThanOrEqual(changes[i - 1]!.revision);
  const seen = new Set(changes.map((x) => `${x.revision}/${x.kv.keyText}`));
  expect(seen.size).toBe(changes.length);
  const last = new Map<string, WatchChange>();
  for (const x of changes) {
    const before = last.get(x.kv.keyText);
    const expectedPrev = before === undefined || before.type === 'delete' ? null : before.kv.text;
    expect(x.prevKv === null ? null : x.prevKv?.text, `previous value of ${show(x)}`).toBe(expectedPrev);
    if (x.prevKv) expect(x.prevKv.revision).toBe(before!.revision);
    last.set(x.kv.keyText, x);
  }
  const byRevision = new Map(changes.map((x) => [x.revision, x]));
  for (const [revision, [key, value]] of acked) {
    const x = byRevision.get(revision);
    expect(x, `acknowledged write at ${revision}`).toBeDefined();
    expect([x!.kv.keyText, x!.type === 'put' ? x!.kv.text : null]).toEqual([key, value]);
  }
  for (const key of keys) {
    const now = await c.get(key);
    const x = last.get(key);
    if (now === null) expect(x === undefined || x.type === 'delete', `${key} is absent`).toBe(true);
    else expect([x?.kv.text, x?.revision]).toEqual([now.text, now.revision]);
  }
}

/** Writes `count` changes to keys w/0..w/4 (every 7th a delete); records the acknowledged ones. */
async function writeSome(c: KeelClient, from: number, count: number, acked: Map<number, [string, string | null]>): Promise<number> {
  let lastRevision = 0;
  for (let i = from; i < from + count; i++) {
    const key = `w/${i % 5}`;
    try {
      if (i % 7 === 6) {
        const r = await c.delete(key);
        if (r.deleted) acked.set(r.revision, [key, null]);
        lastRevision = r.revision;
      } else {
        const r = await c.put(key, `v${i}`);
        acked.set(r.revision, [key, `v${i}`]);
        lastRevision = r.revision;
      }
    } catch (error) {
      if (!(error instanceof KeelError)) throw error; // an unacknowledged write: it may or may not have applied
    }
  }
  return lastRevision;
}

describe('watch against a real cluster', () => {
  it('delivers exactly the committed sequence across a leader kill and a partition of the watched node (caught up by snapshot)', async () => {
    // Snapshots every 10 entries: the partitioned follower catches up by installing a snapshot,
    // and its watch continues from the history the snapshot carries.
    const installed = new Set<number>();
    const cluster = await start({
      nodes: 3,
      network: 'proxy',
      serverArgs: ['--snapshot-entries', '10'],
      onLine: (id, line) => {
        if (line.includes('"snapshot.swapped"')) installed.add(id);
      },
    });
    const writer = client(cluster.endpoints, { timeoutMs: 20_000 });
    const { id: leader } = await cluster.waitForLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    // One watch routed by the client — to the leader, the first endpoint it tries, which is then
    // killed, so the watch must resume on another node — and one on a follower only (then partitioned).
    const leaderFirst = [cluster.node(leader).clientAddress, ...cluster.ids.filter((id) => id !== leader).map((id) => cluster.node(id).clientAddress)];
    const routed = client(leaderFirst).watch({ prefix: 'w/' }, { prevKv: true });
    const pinned = client([cluster.node(follower).clientAddress]).watch({ prefix: 'w/' }, { prevKv: true });
    const start1 = await routed.ready;
    const start2 = await pinned.ready;
    const a = collect(routed);
    const b = collect(pinned);
    const acked = new Map<number, [string, string | null]>();

    await writeSome(writer, 0, 30, acked);
    await cluster.node(leader).kill();
    await writeSome(writer, 30, 30, acked);
    await cluster.node(leader).start();
    // The pinned node must be a follower when it is cut off, so that it falls behind the leader's log.
    const current = await cluster.waitForLeader();
    if (current.id === follower) await writer.transferLeader(cluster.ids.find((id) => id !== follower && id !== leader)!);
    await waitForProgress(
      async () => {
        const now = await cluster.findLeader();
        return now !== undefined && now.id !== follower;
      },
      () => cluster.outputLines,
      () => `leadership still with node ${follower}`,
    );
    // 'reset': what was in flight to it is lost (a blackhole would hold it and deliver it after the heal).
    cluster.isolate(follower, 'reset');
    await writeSome(writer, 60, 30, acked);
    cluster.heal();
    const last = await writeSome(writer, 90, 10, acked);
    await waitForProgress(() => installed.has(follower), () => cluster.outputLines, () => `node ${follower} installed no snapshot`);
    expect(last).toBeGreaterThan(0);

    await waitForProgress(() => routed.revision >= last && pinned.revision >= last, () => [routed.revision, pinned.revision], () => `watches at ${routed.revision} and ${pinned.revision}, last write ${last}`);
    routed.cancel();
    pinned.cancel();
    expect(await a.ended).toBeUndefined();
    expect(await b.ended).toBeUndefined();
    const keys = [0, 1, 2, 3, 4].map((k) => `w/${k}`);
    await checkAgainstCommitted(writer, a.changes, acked, keys);
    await checkAgainstCommitted(writer, b.changes, acked, keys);
    // Both watches started before the first write: they saw the same sequence, change for change.
    expect(Math.max(start1, start2)).toBeLessThan(Math.min(...acked.keys()));
    expect(b.changes.map(show)).toEqual(a.changes.map(show));
    expect(a.changes.length).toBeGreaterThanOrEqual(acked.size);
  });

  // A follower learns that it has no leader by PreVote (its election timeout passes without a
  // word from the leader), a leader by CheckQuorum (it stops hearing from a majority).
  it.each(['follower', 'leader'] as const)('ends the watches of a %s cut off from the cluster with UNAVAILABLE; the library and kvctl watch resume on the majority, change for change', async (role) => {
    /** Per node: the `watches` count of each `watch.no_leader` line it logged. */
    const noLeader = new Map<number, number[]>();
    const cluster = await start({
      nodes: 3,
      network: 'proxy',
      onLine: (id, line) => {
        if (line.includes('"watch.no_leader"')) noLeader.set(id, [...(noLeader.get(id) ?? []), (JSON.parse(line) as { watches: number }).watches]);
      },
    });
    const { id: leader } = await cluster.waitForLeader();
    const cut = role === 'leader' ? leader : cluster.ids.find((id) => id !== leader)!;
    const majority = cluster.ids.filter((id) => id !== cut).map((id) => cluster.node(id).clientAddress);
    const writer = client(majority, { timeoutMs: 20_000 });
    // The client tries its first endpoint first: the watch starts on the node to be cut off. A
    // reference watch on the majority sees the committed sequence the watch must match.
    const watched = client([cluster.node(cut).clientAddress, ...majority]).watch({ prefix: 'w/' }, { prevKv: true });
    const reference = client(majority).watch({ prefix: 'w/' }, { prevKv: true });
    const from = Math.max(await watched.ready, await reference.ready);
    const a = collect(watched);
    const b = collect(reference);
    // A watcher on the raw protocol, at the same node.
    const [host, port] = cluster.node(cut).clientAddress.split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    const frames: Array<WatchEventsFrame | ClientResponse> = [];
    const decoder = new FrameDecoder({ copyBuffers: true });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (v) => frames.push(validateServerFrame(v))));
    // kvctl watch, that node its first endpoint (and no leader remembered from another run).
    const cache = await mkdtemp(join(tmpdir(), 'keel-kvctl-cache-'));
    const kvctl = spawn(
      process.execPath,
      [KVCTL_BIN, '--endpoints', [cluster.node(cut).clientAddress, ...majority].join(','), '-w', 'json', 'watch', 'w/', '--prefix', '--rev', String(from + 1)],
      { env: { ...cleanEnv(), XDG_CACHE_HOME: cache }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    kvctl.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    let err = '';
    kvctl.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const kvctlExited = new Promise<number | null>((resolve) => kvctl.once('exit', (code) => resolve(code)));
    const kvctlChanges = (): string[] =>
      out
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { type: string; revision: number; kv: { key: string; value: string } })
        .map((x) => `${x.revision} ${x.type.toLowerCase()} ${x.kv.key}=${x.kv.value}`);
    try {
      socket.write(encodeFrame({ id: 1, op: 'watch', prefix: new TextEncoder().encode('w/') }));
      await waitForProgress(() => frames.length > 0, () => frames.length, () => 'raw watch announced');
      const acked = new Map<number, [string, string | null]>();
      const before = await writeSome(writer, 0, 20, acked);
      const kvctlAt = (): number => Number(/\d+/.exec(kvctlChanges().at(-1) ?? '0')![0]);
      await waitForProgress(() => kvctlAt() >= before, () => out.length, () => `kvctl printed ${JSON.stringify(out)} ${err}, not yet revision ${before}`);

      // Cut the node off (blackhole: a follower goes on believing in its leader until its election
      // timeout, a leader in its leadership until CheckQuorum) and keep writing through the majority.
      cluster.isolate(cut);
      const isolatedAt = performance.now();
      let stopped = false;
      let firstAfter = 0;
      let written = 20;
      const load = (async () => {
        while (!stopped) {
          const last = await writeSome(writer, written, 10, acked);
          written += 10;
          if (firstAfter === 0) firstAfter = last;
        }
      })();
      try {
        // The node's applied index stands still: only a failover brings the watch on.
        await waitForProgress(() => firstAfter > 0 && watched.revision >= firstAfter, () => watched.revision, () => `the watch at ${watched.revision} passes ${firstAfter}`);
        console.log(`watch failover (${role} cut off): the watch passed the first write after the cut ${Math.round(performance.now() - isolatedAt)} ms after it`);
        await waitForProgress(() => written >= 80, () => watched.revision, () => `${written} writes`);
      } finally {
        stopped = true;
        await load;
      }
      const last = Math.max(...acked.keys());
      await waitForProgress(() => watched.revision >= last && reference.revision >= last, () => [watched.revision, reference.revision], () => `watches at ${watched.revision} and ${reference.revision}, last write ${last}`);
      await waitForProgress(() => kvctlChanges().length >= b.changes.length, () => out.length, () => `kvctl printed ${out.length} bytes ${err}`);
      // The node ended its three watches itself, and the raw watcher was told why.
      expect(noLeader.get(cut)).toEqual([3]);
      await waitForProgress(() => frames.some((f) => 'ok' in f), () => frames.length, () => `${frames.length} raw frames`);
      expect(frames.find((f) => 'ok' in f)).toMatchObject({ id: 1, ok: false, error: { code: 'UNAVAILABLE' } });
      cluster.heal();
      watched.cancel();
      reference.cancel();
      expect(await a.ended).toBeUndefined();
      expect(await b.ended).toBeUndefined();
      expect(from).toBeLessThan(Math.min(...acked.keys()));
      await checkAgainstCommitted(writer, a.changes, acked, [0, 1, 2, 3, 4].map((k) => `w/${k}`));
      expect(a.changes.map(show)).toEqual(b.changes.map(show));
      expect(a.changes.length).toBeGreaterThanOrEqual(acked.size);
      kvctl.kill('SIGINT');
      expect(await kvctlExited).toBe(0);
      expect(kvctlChanges()).toEqual(b.changes.map(show));
    } finally {
      socket.destroy();
      kvctl.kill('SIGKILL');
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('replays history from a revision, ends with COMPACTED before the compaction point, and kvctl watch / compact work as a user runs them', async () => {
    const cluster = await start({ nodes: 3 });
    const c = client(cluster.endpoints);
    const first = await c.put('h/a', '1');
    await c.put('h/b', '2');
    const third = await c.put('h/a', '3');
    await c.delete('h/b');

    // Replay from the first write: everything since, in order, with previous values.
    const replay = c.watch({ prefix: 'h/' }, { fromRevision: first.revision, prevKv: true });
    const r = collect(replay);
    await waitForProgress(() => r.changes.length === 4, () => r.changes.length, () => `replay at ${replay.revision}`);
    replay.cancel();
    expect(r.changes.map((x) => [x.type, x.kv.keyText, x.kv.text, x.prevKv === null ? null : x.prevKv?.text])).toEqual([
      ['put', 'h/a', '1', null],
      ['put', 'h/b', '2', null],
      ['put', 'h/a', '3', '1'],
      ['delete', 'h/b', '', '2'],
    ]);

    // kvctl compact, then a watch from before the compaction point fails with the oldest revision available.
    const compacted = await runKvctl(cluster, ['compact', String(third.revision)]);
    expect(compacted).toMatchObject({ code: 0, stdout: `compacted revision=${third.revision}\n` });
    const stale = collect(c.watch('h/a', { fromRevision: first.revision }));
    const error = await stale.ended;
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).code).toBe('COMPACTED');
    expect((error as KeelError).compactRevision).toBe(third.revision);
    expect((error as KeelError).message).toContain(`oldest available revision is ${third.revision}`);
    const staleCli = await runKvctl(cluster, ['watch', 'h/a', '--rev', String(first.revision)]);
    expect(staleCli.code).toBe(4);
    expect(staleCli.stderr).toContain('COMPACTED');
    // A compaction point in the future is refused.
    expect((await runKvctl(cluster, ['compact', String(third.revision + 1_000_000)])).code).toBe(2);

    // kvctl watch as a child process: replays from --rev, follows live writes, stops on Ctrl-C.
    const child = spawn(process.execPath, [KVCTL_BIN, '--endpoints', cluster.endpoints.join(','), 'watch', 'h/', '--prefix', '--rev', String(third.revision)], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await c.put('h/c', 'live');
      await waitForProgress(() => out.includes('live'), () => out.length + err.length, () => `kvctl printed ${JSON.stringify(out)} ${err}`);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(out).toBe('PUT\nh/a\n3\nDELETE\nh/b\n\nPUT\nh/c\nlive\n');
    const json = await runKvctl(cluster, ['-w', 'json', 'watch', 'h/c', '--rev', String(third.revision)], 'live');
    expect(JSON.parse(json.stdout.split('\n')[0]!)).toMatchObject({ type: 'PUT', kv: { key: 'h/c', value: 'live' } });

    // Closing the client ends its watches: the iteration throws CONNECTION_LOST.
    const closing = client(cluster.endpoints);
    const open = closing.watch('h/c');
    const iterated = collect(open);
    await open.ready;
    await closing.close();
    expect(await iterated.ended).toMatchObject({ code: 'CONNECTION_LOST', message: 'the client was closed' });
  });

  it('--history-retention: the leader compacts the history to the last N revisions on every node', async () => {
    const cluster = await start({ nodes: 3, serverArgs: ['--history-retention', '20'] });
    const c = client(cluster.endpoints);
    let last = 0;
    const puts: number[] = [];
    for (let i = 0; i < 60; i++) puts.push((last = (await c.put(`r/${i % 3}`, `${i}`)).revision));
    // Entries after the puts that are not changes (as a new leader's no-op is) count as revisions.
    for (let i = 0; i < 3; i++) await c.leaseGrant(60, { keepAlive: false });
    // Every node refuses a watch from revision 1 once the compaction reached it, naming the point.
    for (const id of cluster.ids) {
      const local = client([cluster.node(id).clientAddress]);
      let error: unknown;
      await waitForProgress(
        async () => {
          // A watch that starts (nothing compacted yet) resolves `ready`; a compacted start rejects it.
          const w = local.watch('r/0', { fromRevision: 1 });
          error = await w.ready.then(() => undefined, (e: unknown) => e);
          w.cancel();
          return error instanceof KeelError && error.code === 'COMPACTED' && error.compactRevision! > last - 22;
        },
        () => [String(error), cluster.outputLines],
        () => `node ${id}: ${String(error)}`,
      );
      // The last 20 revisions the node applied are still there: the leader compacts to 20 below
      // what it applied, in an entry after it. (The lease grants, the compactions themselves or a
      // new leader's no-op move the point past last - 19: retention counts revisions, not puts.)
      const [status] = await local.status();
      const compactRevision = (error as KeelError).compactRevision!;
      if (status?.ok !== true) throw new Error(`node ${id} did not answer its status: ${String(status)}`);
      expect(status.status.applied - compactRevision + 1).toBeGreaterThanOrEqual(20);
      // From the compaction point on, every put is replayed.
      const kept = local.watch({ prefix: 'r/' }, { fromRevision: compactRevision });
      const got = collect(kept);
      const expected = puts.filter((r) => r >= compactRevision);
      await waitForProgress(() => got.changes.length === expected.length, () => got.changes.length, () => `node ${id} replayed ${got.changes.length} of ${expected.length}`);
      expect(got.changes.map((ch) => ch.revision)).toEqual(expected);
      kept.cancel();
    }
  });

  it('cuts off a watcher that does not read with WATCH_OVERFLOW, and it resumes where it left off', async () => {
    const cluster = await start({ nodes: 1 });
    const c = client(cluster.endpoints, { timeoutMs: 30_000 });
    const [host, port] = cluster.endpoints[0]!.split(':') as [string, string];
    const socket = connect({ host, port: Number(port) });
    const frames: Array<WatchEventsFrame | ClientResponse> = [];
    const decoder = new FrameDecoder({ copyBuffers: true });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (v) => frames.push(validateServerFrame(v))));
    try {
      socket.write(encodeFrame({ id: 1, op: 'watch', prefix: new TextEncoder().encode('big/') }));
      await waitForProgress(() => frames.length > 0, () => frames.length, () => 'watch announced');
      socket.pause(); // a watcher that stops reading
      const value = new Uint8Array(1024 * 1024).fill(7);
      let last = 0;
      for (let i = 0; i < 40; i++) last = (await c.put(`big/${i % 4}`, value)).revision;
      socket.resume();
      await waitForProgress(() => frames.some((f) => 'ok' in f), () => frames.length, () => `${frames.length} frames`);
      const end = frames.find((f): f is ClientResponse => 'ok' in f)!;
      expect(end).toMatchObject({ id: 1, ok: false, error: { code: 'WATCH_OVERFLOW' } });
      const events = frames.flatMap((f) => ('watch' in f ? f.watch.events : []));
      const sentThrough = Math.max(...frames.flatMap((f) => ('watch' in f ? [f.watch.revision] : [])));
      expect(events.length).toBeLessThan(40);
      expect(events.every((e, i) => i === 0 || e.revision > events[i - 1]!.revision)).toBe(true);
      if (events.length > 0) expect(events[events.length - 1]!.revision).toBeLessThanOrEqual(sentThrough);
      expect(!('ok' in end) || end.ok ? '' : end.error.message).toContain(`resume from ${sentThrough + 1}`);
      // Resuming from the next revision delivers the rest, from history, paced by the reader.
      const rest = collect(c.watch({ prefix: 'big/' }, { fromRevision: sentThrough + 1 }));
      await waitForProgress(() => events.length + rest.changes.length >= 40, () => rest.changes.length, () => `${rest.changes.length} changes resumed`);
      const all = [...events.map((e) => e.revision), ...rest.changes.map((x) => x.revision)];
      expect(all).toEqual([...new Set(all)].sort((x, y) => x - y));
      expect(all[all.length - 1]).toBe(last);
      expect(all).toHaveLength(40);
    } finally {
      socket.destroy();
    }
  });
});

/** Runs kvctl against `cluster` (stdin: `input`) until it exits. */
function runKvctl(cluster: Cluster, args: readonly string[], stopWhenOutputHas?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KVCTL_BIN, '--endpoints', cluster.endpoints.join(','), ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      if (stopWhenOutputHas !== undefined && stdout.includes(stopWhenOutputHas)) child.kill('SIGINT');
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
