/**
 * The etcd side of `--vs-etcd`: a 3-member etcd cluster from Debian's `etcd-server`, started and
 * stopped by `bench/etcd/cluster.sh` (six free ports on 127.0.0.1, a fresh `mktemp -d` data dir,
 * default durability: the WAL is fsynced on every commit), loaded by etcd's Go client
 * (`bench/etcd/bench.go` through `bench.sh`, built once into the git-ignored `bench/etcd/build/`)
 * or by the dependency-free Node.js generator `bench-node.cjs`. Both generators take the flags
 * and print the JSON that `pnpm bench` does; it is mapped onto the same `RunResult`.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts, ROOT } from '@keel/test-support';
import { onInterrupt } from './interrupt.js';
import type { RunResult } from './load.js';
import type { EtcdGenerator, EtcdTarget, LoadOptions, Op } from './options.js';
import { loadAverages, rssOf, type CpuReport } from './proc-stats.js';

const run = promisify(execFile);

export const ETCD_DIR = join(ROOT, 'bench', 'etcd');
const CLUSTER_SH = join(ETCD_DIR, 'cluster.sh');
const BENCH_SH = join(ETCD_DIR, 'bench.sh');
const BENCH_NODE = join(ETCD_DIR, 'bench-node.cjs');
/** Debian's golang-google-grpc-dev puts grpc-go here (GOPATH mode; no module proxy needed). */
const GRPC_GO = '/usr/share/gocode/src/google.golang.org/grpc';

/** etcd or Go is not installed: the message says what to install. Exit status 2. */
export class MissingToolError extends Error {}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
}

/** The Debian packages `--vs-etcd` needs that are missing (none: ready). */
export function missingPackages(generator: EtcdGenerator): string[] {
  const missing: string[] = [];
  if (!onPath('etcd')) missing.push('etcd-server');
  if (generator === 'go') {
    if (!onPath('go')) missing.push('golang-go');
    if (!existsSync(GRPC_GO)) missing.push('golang-google-grpc-dev');
  }
  return missing;
}

/** Fails with the exact install line when a package is missing; builds bench.go once (go). */
export async function prepareEtcd(generator: EtcdGenerator): Promise<void> {
  const missing = missingPackages(generator);
  if (missing.length > 0) {
    throw new MissingToolError(
      `--vs-etcd needs ${missing.join(', ')} (Debian packages), which ${missing.length === 1 ? 'is' : 'are'} not installed. Run:\n` +
        `  apt-get update && apt-get install -y ${missing.join(' ')}`,
    );
  }
  if (generator === 'go') {
    process.stderr.write('etcd: building bench/etcd/bench.go with Debian\'s Go and grpc-go (once per version)…\n');
    await run(BENCH_SH, ['--build'], { maxBuffer: 1 << 20 });
  }
}

/** Kills `pid` with SIGKILL if it is still one of this run's members (its command line names `runDir`). */
function killIfOurs(pid: number, runDir: string): void {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${runDir}/`)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** One 3-member etcd cluster of cluster.sh, remembered in a pointer file of its own. */
export class EtcdCluster {
  private stopped = false;
  private readonly exitHook = (): void => {
    for (const pid of this.pids) killIfOurs(pid, this.runDir);
    rmSync(this.pointerDir, { recursive: true, force: true });
  };

  private constructor(
    private readonly pointerDir: string,
    private readonly runDir: string,
    readonly pids: readonly number[],
    readonly endpoints: readonly string[],
  ) {
    process.on('exit', this.exitHook);
  }

  private static env(pointerDir: string): NodeJS.ProcessEnv {
    return { ...process.env, ETCD_ANCHOR_POINTER: join(pointerDir, 'current') };
  }

  /**
   * Starts the members on six free ports and waits until each reports itself healthy. A port
   * taken between the probe and etcd's bind (another process on the machine) means choosing
   * again, a few times, never a failed run.
   */
  static async start(): Promise<EtcdCluster> {
    const pointerDir = mkdtempSync(join(tmpdir(), 'keel-bench-etcd-'));
    const env = EtcdCluster.env(pointerDir);
    for (let attempt = 1; ; attempt++) {
      try {
        await run(CLUSTER_SH, ['start'], { env: { ...env, ETCD_PORTS: (await freePorts(6)).join(',') } });
        break;
      } catch (error) {
        // cluster.sh stops what it started when the members do not come up
        const e = error as { stderr?: string; message: string };
        const why = (e.stderr ?? '').trim() || e.message;
        if (attempt < 5 && why.includes('is in use')) continue;
        rmSync(pointerDir, { recursive: true, force: true });
        throw new Error(`etcd cluster did not start: ${why}`);
      }
    }
    const runDir = readFileSync(join(pointerDir, 'current'), 'utf8').trim();
    const pids = readFileSync(join(runDir, 'pids'), 'utf8').trim().split('\n').map(Number);
    const endpoints = (await run(CLUSTER_SH, ['endpoints'], { env })).stdout.trim().split(',');
    return new EtcdCluster(pointerDir, runDir, pids, endpoints);
  }

  /** The leader's client endpoint (polls briefly: a healthy cluster has one). */
  async leader(): Promise<string> {
    for (let i = 0; i < 50; i++) {
      const out = (await run(CLUSTER_SH, ['leader'], { env: EtcdCluster.env(this.pointerDir) })).stdout.trim().split('\n');
      if (out.length === 1 && out[0] !== '') return out[0]!;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('etcd: no single leader reported');
  }

  /** SIGTERM the members by PID one after another (SIGKILL after 10 s each), remove the data. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await run(CLUSTER_SH, ['stop'], { env: EtcdCluster.env(this.pointerDir) });
    } finally {
      this.exitHook();
      process.removeListener('exit', this.exitHook);
    }
  }
}

/** The etcd generators' JSON (bench.go / bench-node.cjs). */
interface EtcdGeneratorResult extends Omit<RunResult, 'system' | 'cpu' | 'memory' | 'servers' | 'loadAvg' | 'client'> {
  readonly client?: string;
  readonly cpu: Omit<CpuReport, 'serverPct' | 'serverPerNodePct'> & { readonly etcdPct: number | null; readonly etcdPerMemberPct: readonly number[] };
}

/** Runs the generator to completion; resolves with its last stdout line parsed. */
function runGenerator(generator: EtcdGenerator, args: readonly string[]): Promise<EtcdGeneratorResult> {
  const [file, argv] = generator === 'go' ? [BENCH_SH, args] : [process.execPath, [BENCH_NODE, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onInterrupt(async () => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      unregister();
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as EtcdGeneratorResult);
      } catch {
        reject(new Error(`etcd generator exited ${code} without a JSON result:\n${stdout}${stderr}`));
      }
    });
  });
}

/** One run against a fresh etcd cluster, measured as the table measures it. */
export async function runEtcd(load: LoadOptions, generator: EtcdGenerator, target: EtcdTarget): Promise<RunResult> {
  if (load.ops === undefined) throw new Error('the etcd generators take --ops, not --duration');
  const cluster = await EtcdCluster.start();
  const unregister = onInterrupt(() => cluster.stop());
  try {
    const leader = await cluster.leader();
    const endpoints = target === 'leader' ? [leader] : cluster.endpoints;
    const before = loadAverages()[0];
    const r = await runGenerator(generator, [
      '--endpoints', endpoints.join(','),
      '--concurrency', String(load.concurrency),
      '--ops', String(load.ops),
      '--warmup', String(load.warmup),
      '--value-size', String(load.valueSize),
      '--keys', String(load.keys),
      '--mix', load.mixText,
      '--prepopulate', load.prepopulate,
      '--cpu-pids', cluster.pids.join(','),
      '--label', load.label,
      '--json',
    ]);
    const after = loadAverages()[0];
    const { etcdPct, etcdPerMemberPct, ...cpu } = r.cpu;
    return {
      ...r,
      system: 'etcd',
      byOp: Object.fromEntries(Object.entries(r.byOp).filter(([op]) => load.mix[op as Op] > 0)),
      cpu: { ...cpu, serverPct: etcdPct, serverPerNodePct: etcdPerMemberPct },
      memory: cluster.pids.map(rssOf),
      servers: cluster.pids.map((pid, i) => ({ pid, id: i + 1, role: cluster.endpoints[i] === leader ? 'leader' : 'follower' })),
      loadAvg: { before, after },
      client: r.client ?? 'bench-node.cjs (node:http2)',
    };
  } finally {
    unregister();
    await cluster.stop();
  }
}
