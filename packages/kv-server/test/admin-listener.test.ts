/**
 * The admin listener of real keel-server processes (`--listen-metrics`, through the harness's
 * `admin: true`): the Prometheus metrics move with the work the node does, /health probes the
 * store for real, and /ready on a follower cut off by the proxy network answers 503 and says why
 * until the partition heals.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ROOT, waitForProgress, type ClusterNode } from '@keel/test-support';
import { HEALTH_PROBE_FILE, readiness } from '../src/admin/health.js';
import { quantileMs } from '../src/admin/history.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** The last answer `get` had: with the nodes' output, what a wait below watches move. */
let lastAnswer = '';

async function get(node: ClusterNode, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const r = await fetch(`http://${node.adminAddress}${path}`);
  const answer = { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
  lastAnswer = `${answer.status} ${answer.body}`;
  return answer;
}

const moving = (): unknown => [cluster?.outputLines, lastAnswer];

/** The value of one sample in Prometheus text (`name{labels}` exactly as printed), or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** The metric names the README's metrics table documents. */
function documentedMetrics(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Metrics'));
  return [...section.slice(0, section.indexOf('\n## ')).matchAll(/^\| `(keel_[a-z_]+)`/gm)].map((m) => m[1]!);
}

describe('the admin listener', () => {
  it('serves /metrics, /health and /ready; the metrics follow the work; every keel_ metric is in the README table and back', async () => {
    cluster = await Cluster.start({ admin: true });
    const { id: leaderId } = await cluster.waitForLeader();
    const leader = cluster.node(leaderId);
    const client = cluster.client();
    for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);
    await client.get('k1');

    for (const node of cluster.nodes) {
      expect(await get(node, '/health')).toMatchObject({ status: 200, body: '{"health":true}\n' });
      const ready = await get(node, '/ready');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toMatchObject({ ready: true, leader: leaderId });
    }

    const metrics = await get(leader, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = metrics.body;
    expect(sample(text, 'keel_raft_is_leader')).toBe(1);
    expect(sample(text, `keel_raft_leader_id`)).toBe(leaderId);
    expect(sample(text, 'keel_raft_role{role="leader"}')).toBe(1);
    expect(sample(text, 'keel_client_requests_total{op="put",code="OK"}')).toBe(20);
    expect(sample(text, 'keel_client_requests_total{op="get",code="OK"}')).toBe(1);
    expect(sample(text, 'keel_client_request_duration_seconds_count{op="put"}')).toBe(20);
    expect(sample(text, 'keel_proposals_committed_total')).toBe(20);
    expect(sample(text, 'keel_disk_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(20);
    expect(sample(text, 'keel_persist_batch_entries_sum')).toBeGreaterThanOrEqual(20);
    expect(sample(text, 'keel_raft_applied_index')).toBeGreaterThanOrEqual(23); // 3 bootstrap entries, a no-op, 20 puts
    for (const peer of cluster.ids.filter((id) => id !== leaderId)) {
      expect(sample(text, `keel_peer_reachable{peer="${peer}"}`)).toBe(1);
      expect(sample(text, `keel_peer_messages_sent_total{peer="${peer}",type="app"}`)).toBeGreaterThan(0);
      expect(sample(text, `keel_peer_messages_received_total{peer="${peer}",type="appResp"}`)).toBeGreaterThan(0);
    }
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0); // prom-client's process metrics

    // A follower's view: a leader it knows, indexes that agree once it caught up.
    const follower = cluster.node(cluster.ids.find((id) => id !== leaderId)!);
    const followerText = (await get(follower, '/metrics')).body;
    expect(sample(followerText, 'keel_raft_is_leader')).toBe(0);
    expect(sample(followerText, 'keel_raft_leader_id')).toBe(leaderId);

    // The README's table and the metrics a node exposes are the same set.
    const exposed = new Set([...text.matchAll(/^# TYPE (keel_[a-z_]+) /gm)].map((m) => m[1]!));
    expect(new Set(documentedMetrics())).toEqual(exposed);

    // Every path the listener serves (its 404 lists them) is in the README's table.
    const nowhere = await get(leader, '/nowhere');
    expect(nowhere.status).toBe(404);
    const paths = (JSON.parse(nowhere.body) as { paths: string[] }).paths;
    expect(paths).toContain('/snapshot');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(paths.filter((path) => !readme.includes(`| \`GET ${path}\` |`))).toEqual([]);
    expect((await fetch(`http://${leader.adminAddress}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('/ready on a follower cut off from the others answers 503 and why, /health stays 200, and both recover after the heal', async () => {
    cluster = await Cluster.start({ admin: true, network: 'proxy' });
    const { id: leaderId } = await cluster.waitForLeader();
    const follower = cluster.node(cluster.ids.find((id) => id !== leaderId)!);
    cluster.isolate(follower.id);

    const refused = await waitForProgress(async () => {
      const r = await get(follower, '/ready');
      return r.status === 503 ? r : undefined;
    }, moving, 'the isolated follower to say it is not ready');
    const why = JSON.parse(refused.body) as { ready: boolean; reason: string; leader: number };
    expect(why.ready).toBe(false);
    expect(why.leader).toBe(0);
    expect(why.reason).toMatch(/^no leader known/);
    expect((await get(follower, '/health')).status).toBe(200); // alive: restarting it would not help
    // Its Raft links to the others are down, as its metrics say.
    await waitForProgress(async () => {
      const text = (await get(follower, '/metrics')).body;
      return cluster!.ids.filter((id) => id !== follower.id).every((id) => sample(text, `keel_peer_reachable{peer="${id}"}`) === 0);
    }, moving, 'the peer links to go down');
    // The majority still serves.
    const majority = cluster.ids.filter((id) => id !== follower.id);
    const { id: newLeader } = await cluster.waitForLeader({ among: majority });
    expect((await get(cluster.node(newLeader), '/ready')).status).toBe(200);

    cluster.heal();
    await waitForProgress(async () => (await get(follower, '/ready')).status === 200, moving, 'the healed follower to be ready again');
  });

  it('/health answers 503 with the reason when the data directory cannot be written', async () => {
    cluster = await Cluster.start({ nodes: 1, admin: true });
    const node = cluster.node(1);
    expect((await get(node, '/health')).status).toBe(200);
    // The probe file cannot be rewritten once a directory stands in its place (root or not).
    const probe = join(node.dataDir, HEALTH_PROBE_FILE);
    rmSync(probe, { force: true });
    mkdirSync(probe);
    const sick = await waitForProgress(async () => {
      const r = await get(node, '/health');
      return r.status === 503 ? r : undefined;
    }, moving, 'the probe to fail');
    expect(JSON.parse(sick.body)).toMatchObject({ health: false, reason: expect.stringContaining('cannot write to the data directory') });
    rmSync(probe, { recursive: true });
    await waitForProgress(async () => (await get(node, '/health')).status === 200, moving, 'the probe to pass again');
  });
});

describe('readiness and latency percentiles', () => {
  const status = { id: 1, role: 'follower' as const, term: 3, leader: 2, commit: 5000, applied: 4000, lastIndex: 5000, clientAddress: '' };

  it('is ready with a leader and applied close enough to commit', () => {
    expect(readiness(status, 1000)).toMatchObject({ ready: true });
    expect(readiness(status, 999)).toMatchObject({ ready: false, reason: expect.stringContaining('1000 entries behind the commit index 5000') });
    expect(readiness({ ...status, leader: 0, role: 'preCandidate' }, 1000)).toMatchObject({ ready: false, reason: expect.stringMatching(/^no leader known/) });
  });

  it('interpolates within buckets as histogram_quantile does', () => {
    const buckets: Array<[number, number]> = [
      [0.001, 0],
      [0.01, 50],
      [0.1, 100],
      [Number.POSITIVE_INFINITY, 100],
    ];
    expect(quantileMs(0.5, buckets)).toBe(10); // the 50th observation: the top of the second bucket
    expect(quantileMs(0.25, buckets)).toBe(5.5); // halfway through (1 ms, 10 ms]
    expect(quantileMs(0.99, buckets)).toBe(98.2);
    expect(quantileMs(0.5, [[Number.POSITIVE_INFINITY, 0]])).toBeNull();
    expect(quantileMs(0.99, [[0.5, 1], [Number.POSITIVE_INFINITY, 10]])).toBe(500); // beyond the last bound: that bound
  });
});
