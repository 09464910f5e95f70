#!/usr/bin/env node
// Writes a sample run directory from a simulated history, to look at the report without a cluster.
//   npx --yes pnpm@10 build && node jepsen-style-tests/scripts/sample-report.mjs [--workload register|set] [--bug] [--ops 20000] [--seed 7]
// --bug injects stale reads (register) or lost and phantom elements (set), so the report shows
// what an invalid run looks like. Prints the report's path.
import { parseArgs } from 'node:util';
import { checkRun, createRunDir, newRunId, writeRun } from '../dist/index.js';
import { simulateRegisterHistory, simulateSetHistory } from '../dist/testing/index.js';

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string', default: 'register' },
    bug: { type: 'boolean', default: false },
    ops: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '7' },
  },
});
const S = 1e9;
const seed = Number(args.seed);
const ops = Number(args.ops);
const clients = 10;
// About 3 ms per operation per client: 20,000 ops over 10 clients last about 6 s.
const span = (ops / clients) * 3e-3 * S;
const timeline = [
  { label: 'isolate-leader n1', kind: 'partition', start: Math.round(span * 0.15), end: Math.round(span * 0.3), nodes: [1], minority: [1] },
  { label: 'kill-one n3', kind: 'kill', start: Math.round(span * 0.45), end: Math.round(span * 0.55), nodes: [3] },
  { label: 'majority-split {1,2}|{3}', kind: 'partition', start: Math.round(span * 0.7), end: Math.round(span * 0.82), nodes: [3], minority: [3] },
];
const common = { seed, ops, clients, nodes: 3, timeline };
const history =
  args.workload === 'set'
    ? simulateSetHistory({ ...common, ...(args.bug ? { lostRate: 0.002, phantoms: 2 } : {}) })
    : simulateRegisterHistory({ ...common, keys: 8, ...(args.bug ? { staleReadRate: 0.002 } : {}) });
const meta = { workload: args.workload, nemesis: 'sample', seed, nodes: 3, clients, readMode: 'linearizable', net: 'proxy', startedAt: new Date().toISOString(), extra: { simulated: true } };
const { id, dir } = await createRunDir(newRunId(meta));
const finalStates = [1, 2, 3].map((node) => ({ node, applied: 4242, digest: 'sha256:5f2b0c9d1e7a' }));
const results = checkRun({ meta: { ...meta, id }, history, timeline, finalStates });
const paths = await writeRun(dir, { history, results });
console.log(`${results.verdict}: ${paths.report}`);
