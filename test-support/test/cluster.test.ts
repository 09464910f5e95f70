/**
 * The harness itself, on real keel-server processes: node lifecycle, logs, cleanup (also when
 * the process that started a cluster dies without cleaning up), directed cuts through the
 * proxies, and membership changes that keep every peer link behind a proxy.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ProxyNetwork, ROOT, isAlive, waitForProgress } from '@keel/test-support';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: Parameters<typeof Cluster.start>[0] = {}): Promise<Cluster> {
  const cluster = await Cluster.start(options);
  cleanups.push(() => cluster.destroy());
  return cluster;
}

describe('Cluster', () => {
  it('starts, pauses, resumes, kills, stops and restarts nodes on their data; destroy() leaves nothing behind, twice', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'keel-harness-logs-'));
    cleanups.push(() => rmSync(logDir, { recursive: true, force: true }));
    const cluster = await start({ nodes: 3, logDir });
    const pids = cluster.nodes.map((n) => n.pid!);
    expect(pids.every(isAlive)).toBe(true);
    expect(cluster.nodes.map((n) => n.state)).toEqual(['running', 'running', 'running']);
    const client = cluster.client({ timeoutMs: 10_000 });
    await client.put('kept', 'across restarts');

    cluster.node(2).pause();
    expect(cluster.node(2).state).toBe('paused');
    const reports = await cluster.statuses();
    expect(reports.find((r) => r.id === 2)).toMatchObject({ state: 'paused', error: 'paused' });
    expect(reports.filter((r) => r.status !== undefined).map((r) => r.id)).toEqual([1, 3]);
    cluster.node(2).resume();
    expect(cluster.node(2).state).toBe('running');

    expect(await cluster.node(3).kill()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(cluster.node(3).state).toBe('stopped');
    const again = await cluster.node(3).start();
    expect(again.pid).not.toBe(pids[2]);
    pids.push(again.pid);
    expect(await cluster.node(1).stop()).toEqual({ code: 0, signal: null });
    pids.push((await cluster.node(1).start()).pid);
    await cluster.waitForLeader();
    const local = cluster.client({ endpoints: [cluster.node(3).clientAddress] });
    await waitForProgress(async () => (await local.get('kept', { consistency: 'serializable' }))?.text === 'across restarts', () => cluster.outputLines, 'node 3 serves its data after the restart');

    await cluster.destroy();
    await cluster.destroy();
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(cluster.dataRoot)).toBe(false);
    // The log file keeps every process of node 1, with the harness's own events in between.
    const lines = readFileSync(join(logDir, 'node-1.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    const events = lines.map((l) => l.event);
    expect(events.filter((e) => e === 'harness.spawn')).toHaveLength(2);
    expect(events.filter((e) => e === 'node.started')).toHaveLength(2);
    expect(events).toContain('harness.stop');
    expect(events.indexOf('harness.stop')).toBeLessThan(events.lastIndexOf('node.started'));
  });

  it('kills the nodes and removes the data of a process that exits or dies without destroy()', async () => {
    // A child process starts a cluster from the built harness, reports it, and then ends badly.
    const script = `
      const { Cluster } = await import(${JSON.stringify(join(ROOT, 'test-support/dist/index.js'))});
      const cluster = await Cluster.start({ nodes: 1 });
      console.log(JSON.stringify({ pids: cluster.nodes.map((n) => n.pid), dataRoot: cluster.dataRoot }));
      // Told to go on, it exits (argument "exit") or waits to be killed.
      process.stdin.once('data', () => (process.argv[1] === 'exit' ? process.exit(0) : undefined));
    `;
    const runs = ['exit', 'SIGTERM'].map(async (ending) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, ending], { stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      const [line] = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value as string]);
      const report = JSON.parse(line!) as { pids: number[]; dataRoot: string };
      cleanups.push(() => {
        for (const pid of report.pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        rmSync(report.dataRoot, { recursive: true, force: true });
      });
      expect(report.pids.every(isAlive)).toBe(true);
      child.stdin.write('go\n');
      if (ending === 'SIGTERM') child.kill('SIGTERM');
      // Exiting normally stays normal; a signal nobody else handles still ends the process.
      expect(await exited).toEqual(ending === 'exit' ? { code: 0, signal: null } : { code: null, signal: 'SIGTERM' });
      await waitForProgress(() => report.pids.every((pid) => !isAlive(pid)), () => report.pids.filter(isAlive).length, 'its nodes are gone');
      expect(existsSync(report.dataRoot)).toBe(false);
    });
    await Promise.all(runs);
  });

  it('a directed cut through the proxies: the follower hears nothing from the leader, the leader still hears the follower; heal converges', async () => {
    const network = new ProxyNetwork();
    const cluster = await start({ network });
    const { id: leader } = await cluster.waitForLeader();
    const [follower] = cluster.ids.filter((id) => id !== leader);
    const client = cluster.client({ timeoutMs: 20_000 });
    await client.put('before', 'cut');

    cluster.cut(leader, follower!, 'blackhole');
    expect(cluster.cuts()).toEqual([{ from: leader, to: follower, mode: 'blackhole' }]);
    const fromLeader = network.bytes(leader, follower!);
    const fromFollower = network.bytes(follower!, leader);
    // The follower hears no heartbeat, times out and asks for votes: its messages still arrive.
    await waitForProgress(() => network.bytes(follower!, leader) > fromFollower, () => [network.bytes(follower!, leader), cluster.outputLines], 'the follower reaches the leader');
    for (let i = 0; i < 20; i++) await client.put(`during-${i}`, 'cut');
    expect(network.bytes(leader, follower!)).toBe(fromLeader);

    cluster.heal();
    expect(cluster.cuts()).toEqual([]);
    const local = cluster.client({ endpoints: [cluster.node(follower!).clientAddress] });
    await waitForProgress(async () => (await local.get('during-19', { consistency: 'serializable' }))?.text === 'cut', () => cluster.outputLines, 'the follower catches up after the heal');
    await cluster.waitForLeader();
  });

  it('isolating the leader (blackhole) elects another among the rest; after the heal all agree again', async () => {
    const cluster = await start({ network: 'proxy' });
    const { id: old } = await cluster.waitForLeader();
    const rest = cluster.ids.filter((id) => id !== old);
    cluster.isolate(old);
    const next = await cluster.waitForLeader({ among: rest });
    expect(rest).toContain(next.id);
    cluster.heal();
    const agreed = await cluster.waitForLeader();
    expect(agreed.term).toBeGreaterThanOrEqual(next.term);
  });

  it('joins, promotes and replaces members, each of them behind its proxy', async () => {
    const network = new ProxyNetwork();
    const cluster = await start({ network });
    const client = cluster.client({ timeoutMs: 20_000 });
    await client.put('before', 'join');

    const n4 = await cluster.join();
    expect(n4.id).toBe(4);
    expect(n4.membership).toBe('voter');
    const { id: leader } = await cluster.waitForLeader();
    expect(network.bytes(leader, 4)).toBeGreaterThan(0);
    expect(network.bytes(4, leader)).toBeGreaterThan(0);

    const n5 = await cluster.replace(1);
    expect(cluster.node(1)).toMatchObject({ membership: 'removed', state: 'stopped' });
    expect(cluster.endpoints).toEqual([2, 3, 4, 5].map((id) => cluster.node(id).clientAddress));
    const voters = (await client.memberList()).members.filter((m) => m.role === 'voter');
    expect(voters.map((m) => [m.id, m.peerAddress]).sort()).toEqual(
      [2, 3, 4, 5].map((id) => [id, cluster.node(id).peerAddress]),
    );
    // Writes still commit with the new member cut off (3 of 4 voters remain).
    cluster.isolate(n5.id);
    await cluster.client({ endpoints: cluster.endpoints.filter((e) => e !== n5.clientAddress), timeoutMs: 20_000 }).put('after', 'replace');
    cluster.heal();
    const local = cluster.client({ endpoints: [n5.clientAddress] });
    await waitForProgress(async () => (await local.get('after', { consistency: 'serializable' }))?.text === 'replace', () => cluster.outputLines, 'the new member catches up');
  });
});
