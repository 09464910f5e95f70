#!/usr/bin/env node
// Checker throughput: prints numbers, asserts nothing.
//   npx --yes pnpm@10 build && node jepsen-style-tests/scripts/bench-checker.mjs [--ops 100000] [--keys 50] [--clients 10]
// Simulated register histories (see src/testing/simulate.ts) checked for linearizability: a clean
// one, one where 10% of operations time out, and one with injected stale reads (so the invalid
// keys are shrunk and explained); then a set history of the same size.
import { parseArgs } from 'node:util';
import { checkLinearizable, checkSet, validateHistory } from '../dist/index.js';
import { simulateRegisterHistory, simulateSetHistory } from '../dist/testing/index.js';

const { values: args } = parseArgs({
  options: { ops: { type: 'string', default: '100000' }, keys: { type: 'string', default: '50' }, clients: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } },
});
const ops = Number(args.ops);
const keys = Number(args.keys);
const clients = Number(args.clients);
const seed = Number(args.seed);

const time = (f) => {
  const t0 = performance.now();
  const result = f();
  return [result, performance.now() - t0];
};
const mb = () => `${Math.round(process.memoryUsage().rss / 2 ** 20)} MB rss`;

console.log(`${ops.toLocaleString('en-US')} operations, ${keys} keys, ${clients} concurrent clients`);
for (const [name, extra] of [
  ['clean', {}],
  ['10% timeouts', { infoRate: 0.1 }],
  ['stale reads', { staleReadRate: 0.001 }],
]) {
  const history = simulateRegisterHistory({ seed, ops, keys, clients, ...extra });
  const [problems, validateMs] = time(() => validateHistory(history));
  const [result, checkMs] = time(() => checkLinearizable(history));
  const steps = result.keys.reduce((a, k) => a + k.steps, 0);
  const worst = result.keys.reduce((a, k) => Math.max(a, k.steps), 0);
  const explained = result.keys.filter((k) => k.explanation).map((k) => k.explanation.ops.length);
  console.log(
    `register, ${name}: ${result.verdict} (${result.counts.valid} valid, ${result.counts.invalid} invalid, ${result.counts.unknown} unknown); ` +
      `validate ${validateMs.toFixed(0)} ms (${problems.length} problems), check ${checkMs.toFixed(0)} ms, ` +
      `${steps.toLocaleString('en-US')} search steps (worst key ${worst.toLocaleString('en-US')})` +
      `${explained.length > 0 ? `, slices of ${explained.join('/')} ops` : ''}; ${mb()}`,
  );
}
const setHistory = simulateSetHistory({ seed, ops, clients, infoRate: 0.05 });
const [set, setMs] = time(() => checkSet(setHistory));
console.log(`set: ${set.verdict}, ${set.sets[0].finalRead.size.toLocaleString('en-US')} elements, check ${setMs.toFixed(0)} ms; ${mb()}`);
