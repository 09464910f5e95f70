/**
 * A real Prometheus (Debian's `prometheus` package) scrapes a `pnpm cluster` run with the scrape
 * configuration the README documents, and every target is up. Skipped, saying so, where the
 * binary is not installed (`apt-get install prometheus`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_CLI, ROOT, freeBasePort, freePort, isAlive, waitForProgress } from '@keel/test-support';

/** The prometheus executable on PATH, or undefined. */
function findPrometheus(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, 'prometheus');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const prometheus = findPrometheus();
const skipReason = prometheus === undefined ? 'no prometheus on PATH (apt-get install prometheus)' : undefined;
if (skipReason !== undefined) console.warn(`SKIPPED (prometheus): ${skipReason}`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts `argv` and registers its stop by PID (SIGTERM, then SIGKILL); collects its output. */
function start(file: string, args: readonly string[], signal: NodeJS.Signals): { child: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const late = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(late);
  });
  return { child, output: () => output, exited };
}

/** The README's scrape configuration (the yaml block of its Prometheus section). */
function documentedScrapeConfig(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Prometheus'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section);
  if (block === null) throw new Error('README: no yaml block in the Prometheus section');
  return block[1]!;
}

interface QueryResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

describe.skipIf(skipReason !== undefined)(`Prometheus scrapes a pnpm cluster run${skipReason === undefined ? '' : ` — SKIPPED: ${skipReason}`}`, () => {
  it('with the README scrape configuration, every target is up and the leader is scraped', async () => {
    const base = await freeBasePort([0, 1, 2, 100, 101, 102, 200, 201, 202]);
    const dataDir = mkdtempSync(join(tmpdir(), 'keel-prometheus-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));

    const cluster = start(process.execPath, [CLUSTER_CLI, '--base-port', String(base), '--data-dir', join(dataDir, 'cluster'), '--fresh'], 'SIGINT');
    await waitForProgress(() => cluster.output().includes('Keel cluster ready'), () => cluster.output().length, () => `the cluster ready\n${cluster.output().slice(-4000)}`);

    // The documented configuration, pointed at this cluster's admin ports (7201-7203 → base+200..).
    const config = documentedScrapeConfig().replace(/127\.0\.0\.1:720(\d)/g, (_, i: string) => `127.0.0.1:${base + 200 + Number(i) - 1}`);
    expect(config).toContain(`127.0.0.1:${base + 202}`);
    writeFileSync(join(dataDir, 'prometheus.yml'), config);
    const port = await freePort();
    const server = start(
      prometheus!,
      [
        `--config.file=${join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      'SIGTERM',
    );
    /** What the last query answered, its evaluation time left out: with the programs' output, what the waits below watch move. */
    let answered: unknown;
    const moving = (): unknown => [answered, server.output().length, cluster.output().length];
    const query = async (promql: string): Promise<QueryResult[]> => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await r.json()) as { status: string; data: { result: QueryResult[] } };
      if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
      answered = body.data.result.map((r) => [r.metric, r.value[1]]);
      return body.data.result;
    };

    const up = await waitForProgress(
      async () => {
        const results = await query('up{job="keel"}').catch(() => []);
        return results.length === 3 && results.every((r) => r.value[1] === '1') ? results : undefined;
      },
      moving,
      () => `every target scraped and up\n${`${server.output()}\n${cluster.output()}`.slice(-4000)}`,
    );
    expect(up.map((r) => r.metric['instance']).sort()).toEqual([0, 1, 2].map((i) => `127.0.0.1:${base + 200 + i}`));
    const leaders = await waitForProgress(
      async () => {
        const results = await query('keel_raft_is_leader == 1').catch(() => []);
        return results.length === 1 ? results : undefined;
      },
      moving,
      () => `the leader scraped\n${server.output().slice(-4000)}`,
    );
    const leaderIds = await query('keel_raft_leader_id');
    expect(new Set(leaderIds.map((r) => r.value[1])).size).toBe(1); // every node names the same leader
    expect(leaders[0]!.metric['instance']).toBe(`127.0.0.1:${base + 200 + Number(leaderIds[0]!.value[1]) - 1}`);

    // Stop both by PID: Prometheus first, then the cluster (Ctrl-C), which must stop cleanly.
    server.child.kill('SIGTERM');
    await server.exited;
    const pid = server.child.pid!;
    expect(isAlive(pid)).toBe(false);
    cluster.child.kill('SIGINT');
    await cluster.exited;
    expect(cluster.child.exitCode).toBe(0);
  });
});
