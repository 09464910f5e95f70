#!/usr/bin/env node
// Prints a Markdown table of the runs under the given store directories (as run-matrix.mjs or
// pnpm jepsen --store left them), one row per run, store by store in start order: the run's
// parameters, its verdict and each checker's, operation counts, the faults it saw, and why it
// broke if it did.
//   node jepsen-style-tests/scripts/results-table.mjs <store-dir>...
// Then a summary line: how many runs, how many of each verdict.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const runs = process.argv.slice(2).flatMap((store) =>
  readdirSync(store, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(store, e.name, 'results.json')))
    .map((e) => JSON.parse(readFileSync(join(store, e.name, 'results.json'), 'utf8')))
    .sort((a, b) => a.run.startedAt.localeCompare(b.run.startedAt)),
);

const total = (counts) => {
  const sum = { ok: 0, fail: 0, info: 0 };
  for (const c of Object.values(counts)) for (const k of Object.keys(sum)) sum[k] += c[k];
  return sum;
};

const header = ['net', 'nodes', 'workload', 'nemesis', 'seed', 's', 'verdict', 'checkers', 'ok / fail / info', 'faults', 'broke'];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
const verdicts = {};
for (const r of runs) {
  const { run, verdict, checkers, counts, timeline } = r;
  verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
  const t = total(counts);
  const checks = Object.entries(checkers)
    .map(([name, c]) => `${name} ${c.verdict}`)
    .join(', ');
  const cells = [run.net, run.nodes, run.workload, run.nemesis, run.seed, run.timeSeconds, `**${verdict}**`, checks, `${t.ok} / ${t.fail} / ${t.info}`, timeline.length, run.extra?.error ?? ''];
  console.log(`| ${cells.map((c) => String(c).replaceAll('|', '\\|')).join(' | ')} |`);
}
console.log(`\n${runs.length} runs: ${Object.entries(verdicts).map(([v, n]) => `${n} ${v}`).join(', ')}.`);
