/**
 * `pnpm bench` as a user runs it (the built CLI as a child process): a brief run on a cluster it
 * starts, checked for the JSON shape and that every operation is accounted for; the stand-in node
 * in --duration mode; Ctrl-C in the middle of a run; and --vs-etcd when etcd and Go are here.
 * No assertion on speed: the numbers are whatever the machine gives.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, isAlive, runNode, treeCpuTicks, waitForProgress } from '@keel/test-support';
import { missingPackages } from '../src/etcd.js';
import type { RunResult } from '../src/load.js';

const BENCH = join(ROOT, 'bench/dist/main.js');

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keel-bench-test-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function checkLatency(l: RunResult['latency'], n: number): void {
  expect(l).not.toBeNull();
  expect(l!.n).toBe(n);
  expect(l!.p50ms).toBeGreaterThan(0);
  expect(l!.p50ms).toBeLessThanOrEqual(l!.p90ms);
  expect(l!.p90ms).toBeLessThanOrEqual(l!.p99ms);
  expect(l!.p99ms).toBeLessThanOrEqual(l!.p999ms);
  expect(l!.p999ms).toBeLessThanOrEqual(l!.maxms);
  expect(l!.meanms).toBeGreaterThan(0);
}

describe('pnpm bench', () => {
  it('runs a mix on a cluster it starts, accounts for every op, and stops every node', async () => {
    const r = await runNode(BENCH, ['--json', '--ops', '300', '--warmup', '30', '--concurrency', '8', '--keys', '100', '--mix', 'put=2,lget=1,sget=1']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as RunResult & { nodeStats: unknown[] };
    expect(out).toMatchObject({ system: 'keel', concurrency: 8, ops: 300, valueSize: 256, keys: 100, mix: 'put=2,lget=1,sget=1', warmup: 30 });
    expect(out.prepopulated).toBe(true); // the mix reads, so every key was written first and every read found its key
    expect(out.errors).toBe(0);
    expect(out.errorKinds).toEqual({});
    expect(out.warmupErrors).toBe(0);
    expect(out.opsPerSec).toBeGreaterThan(0);
    expect(out.wallSec).toBeGreaterThan(0);
    checkLatency(out.latency, 300);
    expect(Object.keys(out.byOp).sort()).toEqual(['lget', 'put', 'sget']);
    const perOp = Object.values(out.byOp).map((s) => s?.n ?? 0);
    expect(perOp.reduce((a, b) => a + b, 0)).toBe(300);
    for (const n of perOp) expect(n).toBeGreaterThan(0);
    // three nodes, one leader, CPU and memory for each
    expect(out.servers).toHaveLength(3);
    expect(out.servers.filter((s) => s.role === 'leader')).toHaveLength(1);
    expect(out.cpu.serverPerNodePct).toHaveLength(3);
    expect(out.cpu.serverPct).toBeGreaterThan(0);
    expect(out.cpu.clientPct).toBeGreaterThan(0);
    expect(out.cpu.cores).toBeGreaterThan(0);
    expect(out.memory).toHaveLength(3);
    for (const m of out.memory) {
      expect(m.finalRssMiB).toBeGreaterThan(0);
      expect(m.peakRssMiB).toBeGreaterThanOrEqual(m.finalRssMiB);
      // sampled from the start of the measured phase to its end (every 10 s in between)
      expect(m.samplesMiB!.length).toBeGreaterThanOrEqual(2);
      for (const x of m.samplesMiB!) expect(x).toBeGreaterThan(0);
      expect(m.samplesMiB!.at(-1)).toBe(m.finalRssMiB);
    }
    expect(out.loadAvg.before).toBeGreaterThanOrEqual(0);
    expect(Array.isArray(out.nodeStats)).toBe(true);
    // the bench stopped its nodes by PID before it exited
    for (const s of out.servers) expect(isAlive(s.pid)).toBe(false);
  });

  it('measures for a duration against the stand-in node, and prints the human summary', async () => {
    const r = await runNode(BENCH, ['--stub', '--duration', '1', '--warmup', '20', '--concurrency', '32', '--keys', '50', '--mix', 'put=1,sget=1']);
    expect(r.code, r.stderr).toBe(0);
    const ops = Number(/ops=(\d+)/.exec(r.stdout)?.[1]);
    expect(ops).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/\d+ ops\/s {2}p50 [\d.]+ ms .* errors 0/);
    const put = Number(/put: .*\(n=(\d+)\)/.exec(r.stdout)?.[1]);
    const sget = Number(/sget: .*\(n=(\d+)\)/.exec(r.stdout)?.[1]);
    expect(put + sget).toBe(ops);
    expect(r.stdout).toMatch(/memory \(MiB, final\/peak RSS\): pid \d+ [\d.]+\/[\d.]+/);
  });

  it('--gc runs the nodes under --trace-gc, with --node-flags, and reports their pauses beside the slowest ops', async () => {
    const r = await runNode(BENCH, ['--gc', '--node-flags=--max-semi-space-size=1', '--json', '--ops', '3000', '--warmup', '100', '--concurrency', '16', '--keys', '100']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as RunResult;
    const gc = out.gc!;
    expect(gc.slowOps).toBe(30);
    expect(gc.slowThresholdMs).toBeGreaterThan(0);
    expect(gc.nodes.map((n) => n.nodeId).sort()).toEqual([1, 2, 3]);
    // 3,000 puts allocate more than the leader's young generation of 1 MiB holds: it collected
    const leader = gc.nodes.find((n) => n.role === 'leader')!;
    expect(leader.scavenges).toBeGreaterThan(0);
    expect(leader.pauseMsTotal).toBeGreaterThanOrEqual(0);
    for (const n of gc.nodes) {
      expect(n.slowOpsOverlapPct).toBeGreaterThanOrEqual(0);
      expect(n.slowOpsOverlapPct).toBeLessThanOrEqual(100);
    }
  });

  it('stops every node by PID on Ctrl-C and exits 130', async () => {
    const child = spawn(process.execPath, [BENCH, '--duration', '600', '--concurrency', '4'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const pids = await new Promise<number[]>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /cluster up: (.*); leader/.exec(stderr);
        if (m !== null) resolve([...m[1]!.matchAll(/pid (\d+)/g)].map((x) => Number(x[1])));
      });
      child.on('exit', () => reject(new Error(`bench exited before the cluster was up:\n${stderr}`)));
    });
    const dataDir = /data in (\S+)/.exec(stderr)![1]!;
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('--vs-etcd says which Debian packages to install when they are missing', async () => {
    const r = await runNode(BENCH, ['--vs-etcd', '--out', tempDir()], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/apt-get install -y etcd-server golang-go/);
  });

  const missing = missingPackages('go');
  // The test's own bound is a backstop for a hang the progress wait does not see.
  it.skipIf(missing.length > 0)(`--vs-etcd runs a cell on both systems${missing.length > 0 ? ` (SKIPPED: needs ${missing.join(', ')})` : ''}`, { timeout: 900_000 }, async () => {
    const out = tempDir();
    // 20 puts per system: the pipeline, not the numbers, is under test. Most of the time goes to
    // starting processes (the bench, three keel-servers, three etcd members, the Go generator).
    // A child process watched while it works: on a loaded machine the run takes as long as it
    // takes (go build alone may take minutes); it fails only when the bench stands still.
    const child = spawn(process.execPath, [BENCH, '--vs-etcd', '--reps', '1', '--cells', 'put:4', '--scale', '0.001', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const r = { code: null as number | null, stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (r.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (r.stderr += d));
    let exited = false;
    child.on('close', (code) => ((r.code = code), (exited = true)));
    try {
      await waitForProgress(() => exited, () => [r.stdout.length, r.stderr.length, treeCpuTicks(child.pid!)], () => `the --vs-etcd run\n${r.stderr}`);
    } finally {
      child.kill('SIGINT'); // a run still going stops its clusters by PID
    }
    expect(r.code, r.stderr).toBe(0);
    const runs = readFileSync(join(out, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RunResult);
    expect(runs.map((x) => x.system).sort()).toEqual(['etcd', 'keel']);
    for (const x of runs) {
      expect(x.ops).toBe(20);
      expect(x.errors).toBe(0);
      checkLatency(x.latency, 20);
      expect(x.byOp.put?.n).toBe(20);
      expect(x.cpu.serverPerNodePct).toHaveLength(3);
      for (const s of x.servers) expect(isAlive(s.pid)).toBe(false);
    }
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toMatch(/\| put, 4 in flight \| [\d,]+ \| [\d,]+ \| \*\*[\d.]+\*\* \|/);
    expect(readFileSync(join(out, 'chart.svg'), 'utf8')).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(r.stdout).toContain('Keel/etcd');
  });
});
