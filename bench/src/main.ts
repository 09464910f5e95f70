/**
 * `pnpm bench`: one closed-loop run against a fresh Keel cluster (or `--endpoints`), the standard
 * matrix (`--matrix`), or the matrix side by side with etcd (`--vs-etcd`). See USAGE and the
 * repository README, "Benchmarks".
 *
 * Exit status: 0; 1 when operations failed or a run could not be made; 2 on a bad command line
 * (or, for --vs-etcd, when etcd or Go is not installed); 130 on Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, requireBuilt } from '@keel/test-support';
import { runOnCluster, runOnEndpoints, runOnStub } from './keel-run.js';
import { runMatrix } from './matrix.js';
import { USAGE, UsageError, parseCommandLine, type CliOptions } from './options.js';
import { summarizeProfiles } from './profile.js';
import { Progress } from './progress.js';
import { formatRun } from './summary.js';
import { MissingToolError } from './etcd.js';
import { interruption } from './interrupt.js';

/** bench/results/<timestamp>/ (git-ignored), unless --out. */
export function resultsDir(o: CliOptions): string {
  const dir = o.outDir ?? join(ROOT, 'bench', 'results', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function single(o: CliOptions): Promise<number> {
  const progress = new Progress(o.load.label || 'keel');
  if (o.endpoints !== undefined || o.stub) {
    const result = o.stub ? await runOnStub(o.load, progress) : await runOnEndpoints(o.load, o.endpoints!, o.cpuPids, progress);
    process.stdout.write(`${o.json ? JSON.stringify(result) : formatRun(result)}\n`);
    return result.errors > 0 ? 1 : 0;
  }
  const profileDir = o.profile ? join(resultsDir(o), 'profile') : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const run = await runOnCluster(o.load, { nodes: o.nodes, logLevel: o.logLevel, serverArgs: o.serverArgs, tls: o.tls, gc: o.gc, nodeFlags: o.nodeFlags, ...(profileDir ? { profileDir } : {}) }, progress);
  const out = o.json ? { ...run.result, nodeStats: run.nodeStats } : run.result;
  process.stdout.write(`${o.json ? JSON.stringify(out) : formatRun(run.result)}\n`);
  if (profileDir !== undefined) {
    const text = summarizeProfiles(profileDir, run.result, run.nodeStats);
    process.stderr.write(`${text}\nprofiles and summary: ${profileDir}\n`);
  }
  return run.result.errors > 0 ? 1 : 0;
}

async function main(argv: readonly string[]): Promise<number> {
  let o: CliOptions | undefined;
  try {
    o = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n`);
    return 2;
  }
  if (o === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  requireBuilt();
  if (o.mode === 'run') return single(o);
  return runMatrix(o, resultsDir(o));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (!interruption.aborted) process.exit(code);
  },
  (error: unknown) => {
    if (interruption.aborted) return; // the interrupt handler stops the clusters and exits 130
    if (error instanceof MissingToolError) {
      process.stderr.write(`bench: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
