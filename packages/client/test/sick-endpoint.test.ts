/**
 * Issue 9, item 8: one sick endpoint (a paused process: its kernel accepts connections, nothing
 * answers) must cost little. A fresh client asks for status first and hedges to the other nodes
 * when the first one is silent, so no request waits on the silent node; kvctl remembers the
 * leader between runs (cli/leader-cache.ts) and goes straight to it. Scripted nodes over real
 * TCP play the cluster; kvctl runs as a real child process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientRequest, NodeStatus } from '@keel/protocol';
import { KeelClient } from '@keel/client';
import { LeaderCache, leaderCachePath } from '../src/cli/leader-cache.js';
import { KVCTL_BIN, runNode, waitForProgress } from '@keel/test-support';
import { ScriptedServer } from './helpers/scripted-server.js';

const servers: ScriptedServer[] = [];
const clients: KeelClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function status(id: number, role: NodeStatus['role'], leader: number): NodeStatus {
  return { id, role, term: 3, leader, commit: 9, applied: 9, lastIndex: 9, clientAddress: '' };
}

/** A three-node cluster: node 1 silent (paused), node 2 a follower, node 3 the leader. */
async function sickCluster(): Promise<{ silent: ScriptedServer; follower: ScriptedServer; leader: ScriptedServer }> {
  const silent = await new ScriptedServer(() => {}).listen();
  const leader = await new ScriptedServer((r, conn) => {
    if (r.op === 'status') conn.reply({ id: r.id, ok: true, result: status(3, 'leader', 3) });
    else if (r.op === 'put') conn.reply({ id: r.id, ok: true, result: { revision: 10 } });
    else if (r.op === 'get') conn.reply({ id: r.id, ok: true, result: { kv: null, revision: 10 } });
  }).listen();
  const follower = await new ScriptedServer((r, conn) => {
    if (r.op === 'status') conn.reply({ id: r.id, ok: true, result: status(2, 'follower', 3) });
    else {
      conn.reply({
        id: r.id,
        ok: false,
        error: { code: 'NOT_LEADER', message: 'not the leader', definite: true, leaderId: 3, leaderAddress: leader.address },
      });
    }
  }).listen();
  servers.push(silent, follower, leader);
  return { silent, follower, leader };
}

const ops = (s: ScriptedServer): string[] => s.requests.map((r: ClientRequest) => r.op);

describe('a paused endpoint (item 8)', () => {
  it('a fresh client sends no request to a silent first endpoint: it hedges its search to the other nodes', async () => {
    const { silent, follower, leader } = await sickCluster();
    const c = new KeelClient({ endpoints: [silent.address, follower.address, leader.address], timeoutMs: 20_000 });
    clients.push(c);
    expect(await c.put('k', 'v')).toEqual({ revision: 10 });
    expect(await c.get('k')).toBeNull();
    expect(ops(silent).filter((op) => op !== 'status')).toEqual([]); // only the search asked it
    expect(ops(leader)).toContain('put');
    expect(c.leaderAddress).toBe(leader.address);
  });

  it('closing the client while it searches ends the operation, and the search asks nobody else', async () => {
    const { silent, follower, leader } = await sickCluster();
    const options = { timeoutMs: 20_000, stallTimeoutMs: 200 };
    const c = new KeelClient({ endpoints: [silent.address, follower.address, leader.address], ...options });
    // Its twin, on a cluster like it, is not closed: once the twin's search has asked the others
    // and found the leader, the closed client's search would have asked them too (its timers
    // started first, and fire first).
    const other = await sickCluster();
    const twin = new KeelClient({ endpoints: [other.silent.address, other.follower.address, other.leader.address], ...options });
    clients.push(twin);
    const put = c.put('k', 'v').catch((e: unknown) => e);
    const twinPut = twin.put('k', 'v');
    await waitForProgress(() => ops(silent).length > 0, () => ops(silent).length, 'the search asking the silent node');
    await c.close();
    expect(await put).toMatchObject({ code: 'CONNECTION_LOST' });
    expect(await twinPut).toEqual({ revision: 10 });
    expect(ops(other.follower).length + ops(other.leader).length).toBeGreaterThan(0);
    expect([ops(follower), ops(leader)]).toEqual([[], []]);
  });

  it('with a leader hint the first request goes straight to the leader, without a search', async () => {
    const { silent, follower, leader } = await sickCluster();
    const c = new KeelClient({ endpoints: [silent.address, follower.address], leaderHint: leader.address });
    clients.push(c);
    expect(await c.put('k', 'v')).toEqual({ revision: 10 });
    expect([ops(silent), ops(follower), ops(leader)]).toEqual([[], [], ['put']]);
  });

  it('kvctl remembers the leader per endpoint list and goes straight to it next time', async () => {
    const { silent, follower, leader } = await sickCluster();
    const cache = mkdtempSync(join(tmpdir(), 'keel-cache-'));
    dirs.push(cache);
    const endpoints = [silent.address, follower.address, leader.address];
    const kvctl = (args: string[]) => runNode(KVCTL_BIN, ['--endpoints', endpoints.join(','), ...args], { env: { XDG_CACHE_HOME: cache } });

    expect((await kvctl(['put', 'k', 'v'])).code).toBe(0);
    const path = leaderCachePath({ XDG_CACHE_HOME: cache });
    expect(new LeaderCache(path).read([...endpoints].reverse())).toBe(leader.address);

    const before = [silent, follower, leader].map((s) => s.requests.length);
    expect((await kvctl(['put', 'k', 'w'])).code).toBe(0);
    const added = [silent, follower, leader].map((s, i) => ops(s).slice(before[i]));
    expect(added).toEqual([[], [], ['put']]);
  });

  it('kvctl shrugs off a corrupt cache file and concurrent runs never leave a torn one', async () => {
    const { leader } = await sickCluster();
    const cache = mkdtempSync(join(tmpdir(), 'keel-cache-'));
    dirs.push(cache);
    const path = leaderCachePath({ XDG_CACHE_HOME: cache });
    new LeaderCache(path).write(['127.0.0.1:1'], '127.0.0.1:2'); // creates the directory
    writeFileSync(path, '{"version":1,"entries":{"x":');
    const env = { XDG_CACHE_HOME: cache };
    expect((await runNode(KVCTL_BIN, ['--endpoints', leader.address, 'put', 'k', 'v'], { env })).code).toBe(0);

    // Twelve runs at once, each with its own endpoint list (a leader hint learned from a redirect).
    const runs = Array.from({ length: 12 }, (_, i) =>
      runNode(KVCTL_BIN, ['--endpoints', `${leader.address},127.0.0.1:${1000 + i}`, 'put', `k${i}`, 'v'], { env }),
    );
    for (const r of await Promise.all(runs)) expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(readFileSync(path, 'utf8')) as { version: number; entries: Record<string, { leader: string }> };
    expect(file.version).toBe(1);
    expect(Object.values(file.entries).length).toBeGreaterThan(0);
    for (const e of Object.values(file.entries)) expect(e.leader).toBe(leader.address);
  });
});
