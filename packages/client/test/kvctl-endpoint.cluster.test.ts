/**
 * `kvctl endpoint health` and `kvctl endpoint status` against a real 3-node cluster whose peer
 * links run through proxies: all healthy (exit 0); a follower cut off from the others answers its
 * status but is unhealthy (exit 3, its row says why) while the others stay healthy; a stopped
 * follower fails both commands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, KVCTL_BIN, runNode, type RunResult } from '@keel/test-support';

let cluster: Cluster | undefined;

beforeAll(async () => {
  cluster = await Cluster.start({ nodes: 3, network: 'proxy' });
  await cluster.waitForLeader();
});

afterAll(async () => {
  await cluster?.destroy();
});

function kvctl(args: readonly string[]): Promise<RunResult> {
  return runNode(KVCTL_BIN, ['--endpoints', cluster!.endpoints.join(','), ...args]);
}

interface HealthRow {
  endpoint: string;
  health: boolean;
  tookMs: number;
  error?: { code: string; message: string };
}

describe('kvctl endpoint', () => {
  it('health: a table row per endpoint, exit 0 when all serve a linearizable read', async () => {
    const r = await kvctl(['endpoint', 'health']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ENDPOINT\s+HEALTH\s+TOOK\s+ERROR$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual(cluster!.endpoints.map((e) => [e, 'true']));
    const json = await kvctl(['--json', 'endpoint', 'health']);
    const rows = JSON.parse(json.stdout) as HealthRow[];
    expect(rows.map((row) => [row.endpoint, row.health, row.error])).toEqual(cluster!.endpoints.map((e) => [e, true, undefined]));
    for (const row of rows) expect(row.tookMs).toBeGreaterThanOrEqual(0);
  });

  it('status: the status table, exit 0 when every endpoint answers', async () => {
    const r = await kvctl(['endpoint', 'status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+ENDPOINT\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+LAST-INDEX\n/);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(4);
  });

  it('health: a follower cut off from the majority is unhealthy with the reason (exit 3); the others stay healthy', async () => {
    const c = cluster!;
    const { id: leader } = await c.waitForLeader();
    const follower = c.node(c.ids.find((id) => id !== leader)!);
    c.isolate(follower.id);
    try {
      const r = await kvctl(['--json', '--timeout', '3000', 'endpoint', 'health']);
      expect(r.code, r.stderr).toBe(3);
      const rows = new Map((JSON.parse(r.stdout) as HealthRow[]).map((row) => [row.endpoint, row]));
      const cut = rows.get(follower.clientAddress)!;
      expect(cut.health).toBe(false);
      expect(['UNAVAILABLE', 'TIMEOUT']).toContain(cut.error?.code);
      for (const id of c.ids.filter((id) => id !== follower.id)) expect(rows.get(c.node(id).clientAddress)).toMatchObject({ health: true });

      const table = await kvctl(['--timeout', '3000', 'endpoint', 'health']);
      expect(table.code).toBe(3);
      expect(table.stdout).toMatch(new RegExp(`^${follower.clientAddress.replace(/\./g, '\\.')}\\s+false\\s+\\d+ms\\s+(UNAVAILABLE|TIMEOUT): `, 'm'));
      expect(table.stderr).toBe('kvctl: 1 of 3 endpoints unhealthy\n');
    } finally {
      c.heal();
    }
  });

  it('a stopped node fails both commands (exit 3) and is named', async () => {
    const c = cluster!;
    const { id: leader } = await c.waitForLeader();
    const node = c.node(c.ids.find((id) => id !== leader)!);
    await node.stop();
    try {
      const status = await kvctl(['--json', 'endpoint', 'status']);
      expect(status.code).toBe(3);
      const rows = JSON.parse(status.stdout) as Array<{ endpoint: string; ok: boolean }>;
      expect(rows.filter((row) => !row.ok).map((row) => row.endpoint)).toEqual([node.clientAddress]);
      const health = await kvctl(['--json', '--timeout', '3000', 'endpoint', 'health']);
      expect(health.code).toBe(3);
      expect((JSON.parse(health.stdout) as HealthRow[]).filter((row) => !row.health).map((row) => row.endpoint)).toEqual([node.clientAddress]);
    } finally {
      await node.start();
    }
  });
});
