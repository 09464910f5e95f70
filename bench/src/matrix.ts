/**
 * `--matrix` and `--vs-etcd`: the standard cells, `reps` runs each on a fresh cluster. With etcd,
 * the two systems alternate cell by cell (and which one goes first alternates by repetition), so
 * slow drifts of a shared machine hit both alike. Every run is appended to `runs.jsonl`; the
 * medians go to `table.md` and `chart.svg` in the results dir, and the table to stdout.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@keel/test-support';
import { cellStats, unrelatedPct, type CellRow, type System } from './cell-stats.js';
import { prepareEtcd, runEtcd } from './etcd.js';
import { interruption } from './interrupt.js';
import { runOnCluster } from './keel-run.js';
import type { RunResult } from './load.js';
import { STANDARD_CELLS, cellMix, cellName, cellOps, parseMix, type CellSpec, type CliOptions, type LoadOptions } from './options.js';
import { loadAverages } from './proc-stats.js';
import { Progress } from './progress.js';
import { cellTitle, chartSvg, keelTable, versusTables } from './report.js';

/** The load of one cell: the command line's value size, keys and timeout; the cell's mix, concurrency and ops. */
/**
 * Unmeasured operations before every cell, on both systems: the single run's default cap
 * (ops/10, at most 2,000). A tenth of a 1-in-flight cell (400 puts, under a second) left Keel's
 * first measured seconds to JIT compilation and heap sizing (paired on one build: 474 / 471 ->
 * 598 / 566 puts/s, p99 6.9 / 6.5 -> 4.1 / 4.9 ms); the same 2,000 go to etcd.
 */
export const CELL_WARMUP_OPS = 2000;

export function cellLoad(base: LoadOptions, cell: CellSpec, scale: number): LoadOptions {
  const ops = cellOps(cell, scale);
  const mixText = cellMix(cell);
  return {
    ...base,
    concurrency: cell.concurrency,
    ops,
    durationSec: undefined,
    mixText,
    mix: parseMix(mixText),
    warmup: CELL_WARMUP_OPS,
    prepopulate: 'auto',
    label: cellName(cell),
  };
}

/** Where Keel's gets go, per the client's `reads` option. */
const KEEL_READS: Readonly<Record<LoadOptions['reads'], string>> = { leader: 'to the leader', spread: 'spread over the members' };

/** Which Keel routing is measured against which etcd one (options.ts makes them match). */
function pairing(o: CliOptions): string {
  return `Keel reads ${KEEL_READS[o.load.reads]} vs etcd connections ${o.etcdTarget === 'leader' ? 'to the leader' : 'spread over the members'}`;
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

function runLine(r: RunResult): string {
  const l = r.latency;
  return (
    `${r.opsPerSec} ops/s  p50 ${l?.p50ms ?? 'n/a'} ms  p99 ${l?.p99ms ?? 'n/a'} ms  servers ${r.cpu.serverPct ?? 'n/a'}%  ` +
    `client ${r.cpu.clientPct}%  unrelated ${unrelatedPct(r).toFixed(1)}%  load ${r.loadAvg.before}  errors ${r.errors}`
  );
}

/** Runs the matrix; resolves with the exit status (1 if a run failed or had errors). */
export async function runMatrix(o: CliOptions, dir: string): Promise<number> {
  const cells = o.cells ?? STANDARD_CELLS;
  const withEtcd = o.mode === 'vs-etcd';
  if (withEtcd) await prepareEtcd(o.etcdGenerator);
  const started = new Date();
  const at = commit();
  const loadBefore = loadAverages();
  const runs = new Map<string, Record<System, RunResult[]>>(cells.map((c) => [cellName(c), { keel: [], etcd: [] }]));
  const failed = new Map<string, Record<System, number>>(cells.map((c) => [cellName(c), { keel: 0, etcd: 0 }]));
  const jsonl = join(dir, 'runs.jsonl');
  process.stderr.write(
    `bench: ${withEtcd ? `Keel vs etcd (${o.etcdGenerator === 'go' ? 'bench.go' : 'bench-node.cjs'}, ${pairing(o)})` : `Keel (${KEEL_READS[o.load.reads]})`}, ` +
      `${cells.length} cells × ${o.reps} runs, results in ${dir}\n`,
  );
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const cell of cells) {
      const load = cellLoad(o.load, cell, o.scale);
      const order: System[] = !withEtcd ? ['keel'] : rep % 2 === 1 ? ['keel', 'etcd'] : ['etcd', 'keel'];
      for (const system of order) {
        const tag = `[${rep}/${o.reps}] ${system} ${cellName(cell)}`;
        try {
          const r =
            system === 'keel'
              ? (await runOnCluster(load, { nodes: o.nodes, logLevel: o.logLevel, serverArgs: o.serverArgs, tls: o.tls, gc: false, nodeFlags: o.nodeFlags }, new Progress(tag))).result
              : await runEtcd(load, o.etcdGenerator, o.etcdTarget);
          runs.get(cellName(cell))![system].push(r);
          appendFileSync(jsonl, `${JSON.stringify({ rep, cell: cellName(cell), time: new Date().toISOString(), ...r })}\n`);
          process.stderr.write(`${tag}: ${runLine(r)}\n`);
        } catch (error) {
          if (interruption.aborted) throw error;
          failed.get(cellName(cell))![system]++;
          appendFileSync(jsonl, `${JSON.stringify({ rep, cell: cellName(cell), system, failed: String(error) })}\n`);
          process.stderr.write(`${tag}: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
    }
  }
  const rows: CellRow[] = cells.map((cell) => {
    const r = runs.get(cellName(cell))!;
    const n = failed.get(cellName(cell))!;
    return { cell, keel: cellStats(r.keel, n.keel), ...(withEtcd ? { etcd: cellStats(r.etcd, n.etcd) } : {}) };
  });
  const loadAfter = loadAverages();
  const table = withEtcd ? versusTables(rows) : keelTable(rows);
  const header = [
    `# ${withEtcd ? 'Keel vs etcd' : 'Keel'}: pnpm bench ${process.argv.slice(2).join(' ')}`,
    '',
    `- started ${started.toISOString()}, finished ${new Date().toISOString()}; commit ${at}; ${cpus().length} cores`,
    `- load average (1/5/15 min): ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after`,
    `- ${o.reps} run(s) per cell on a fresh 3-node cluster each, medians; ${o.load.valueSize} B values, ${o.load.keys} keys; CPU in % of one core`,
    `- Keel: @keel/client, reads: '${o.load.reads}' (gets ${KEEL_READS[o.load.reads]})`,
    ...(withEtcd
      ? [
          `- etcd: Debian etcd-server, 3 members, fsync on; generator ${o.etcdGenerator === 'go' ? 'bench.go (Go gRPC client)' : 'bench-node.cjs'}, ` +
            `connections ${o.etcdTarget === 'leader' ? 'to the leader' : 'spread over the members'}; pairing: ${pairing(o)}`,
          '- ratios are Keel/etcd: above 1 is better for ops/s, worse for latency and CPU per op',
        ]
      : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'table.md'), `${header}\n${table}\n`);
  const title = withEtcd ? 'Keel vs etcd: ops/s per cell (3 nodes, fsync on)' : 'Keel: ops/s per cell (3 nodes, fsync on)';
  writeFileSync(join(dir, 'chart.svg'), chartSvg(rows, title));
  process.stdout.write(`\n${header}\n${table}\n\ntable, chart and every run: ${dir}\n`);
  const bad = rows.filter((r) => r.keel.failed + r.keel.errors + (r.etcd?.failed ?? 0) + (r.etcd?.errors ?? 0) > 0);
  if (bad.length > 0) process.stderr.write(`bench: failed runs or errors in: ${bad.map((r) => cellTitle(r.cell)).join('; ')}\n`);
  return bad.length > 0 ? 1 : 0;
}
