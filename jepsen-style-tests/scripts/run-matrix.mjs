#!/usr/bin/env node
// The verdict table of RESULTS.md: every nemesis × the workloads × the given cluster sizes, on one
// network, one `pnpm jepsen` run after another (each a child process, as a user runs it).
//   npx --yes pnpm@10 build && node jepsen-style-tests/scripts/run-matrix.mjs --net proxy|netns --store <dir> [--nodes 3,5] [--time 20] [--workloads register,set]
// Seeds are fixed: size × 100 + the row's number (with the default workloads, 3-node register
// isolate-follower is 301, its set run 302, …), so any row reruns alone with the command the script prints. One line per run:
// the command, its exit status and wall time, after the run's own output. Render the table with
// results-table.mjs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NEMESES } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    net: { type: 'string', default: 'proxy' },
    store: { type: 'string' },
    nodes: { type: 'string', default: '3,5' },
    time: { type: 'string', default: '20' },
    workloads: { type: 'string', default: 'register,set' },
  },
});
if (args.store === undefined) throw new Error('--store <dir> is required');
const cli = fileURLToPath(new URL('../dist/cli/jepsen.js', import.meta.url));

for (const nodes of args.nodes.split(',').map(Number)) {
  let row = 0;
  for (const nemesis of NEMESES) {
    for (const workload of args.workloads.split(',')) {
      const seed = nodes * 100 + ++row;
      const argv = ['--workload', workload, '--nemesis', nemesis, '--time', args.time, '--seed', String(seed), '--nodes', String(nodes), '--net', args.net, '--store', args.store];
      const t0 = Date.now();
      const { status, signal } = spawnSync(process.execPath, [cli, ...argv], { stdio: 'inherit' });
      const seconds = ((Date.now() - t0) / 1000).toFixed(0);
      console.log(`pnpm jepsen ${argv.join(' ')}  -> exit ${status ?? signal} (${seconds} s)`);
    }
  }
}
