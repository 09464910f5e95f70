/** results.json, report.html and the run directory the runner writes through `writeRun`. */
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readHistory } from '../src/history/jsonl.js';
import type { Op } from '../src/history/op.js';
import type { NemesisInterval } from '../src/history/timeline.js';
import { renderReport } from '../src/report/html.js';
import { fitLabel } from '../src/report/plots.js';
import { RESULTS_FORMAT, checkRun, type RunMeta } from '../src/report/results.js';
import { createRunDir, newRunId, writeRun } from '../src/report/run-dir.js';
import { simulateRegisterHistory, simulateSetHistory } from '../src/testing/simulate.js';

const S = 1_000_000_000;
const timeline: NemesisInterval[] = [
  { label: 'isolate-leader n1', kind: 'partition', start: 1 * S, end: 2 * S, nodes: [1], minority: [1] },
  { label: 'kill-one n3', kind: 'kill', start: 3 * S, end: 3.5 * S, nodes: [3] },
];
const meta: RunMeta = { id: 'test-run', workload: 'register', nemesis: 'mixed', seed: 5, nodes: 3, clients: 6, readMode: 'linearizable' };
const agreed = [1, 2, 3].map((node) => ({ node, applied: 77, digest: 'd1' }));

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'keel-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function selfContained(html: string): void {
  expect(html.startsWith('<!doctype html>')).toBe(true);
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=/i);
}

describe('checkRun', () => {
  it('a register run: linearizability, availability and convergence, counts per f and outcome', () => {
    const history = simulateRegisterHistory({ seed: 5, ops: 3000, keys: 4, clients: 6, timeline, staleReadRate: 0.01 });
    const r = checkRun({ meta, history, timeline, finalStates: agreed });
    expect(r.format).toBe(RESULTS_FORMAT);
    expect(r.verdict).toBe('invalid');
    expect(r.checkers.history.verdict).toBe('valid');
    expect(r.checkers.linearizable?.verdict).toBe('invalid');
    expect(r.checkers.availability?.verdict).toBe('valid');
    expect(r.checkers.convergence?.verdict).toBe('valid');
    expect(r.checkers.set).toBeUndefined();
    const total = Object.values(r.counts).reduce((a, c) => a + c.ok + c.fail + c.info, 0);
    expect(total).toBe(3000);
    expect(Object.keys(r.counts).sort()).toEqual(['cas', 'delete', 'read', 'write']);
    expect(r.span.start).toBe(Math.min(history[0]!.time, 1 * S));
  });

  it('a set run uses the set checker, and no convergence without final states', () => {
    const history = simulateSetHistory({ seed: 5, ops: 500, clients: 4, timeline });
    const r = checkRun({ meta: { ...meta, workload: 'set' }, history, timeline });
    expect(r.verdict).toBe('valid');
    expect(r.checkers.set?.verdict).toBe('valid');
    expect(r.checkers.linearizable).toBeUndefined();
    expect(r.checkers.convergence).toBeUndefined();
  });

  it('serializable reads answered by the minority do not fail availability', () => {
    const history: Op[] = [
      { process: 1, type: 'invoke', f: 'read', key: 'k', value: null, time: 1.2 * S, node: 1 },
      { process: 1, type: 'ok', f: 'read', key: 'k', value: null, time: 1.3 * S, node: 1 },
    ];
    expect(checkRun({ meta, history, timeline }).checkers.availability?.verdict).toBe('invalid');
    expect(checkRun({ meta: { ...meta, readMode: 'serializable' }, history, timeline }).checkers.availability?.verdict).toBe('valid');
  });

  it('a malformed history makes the run unknown and skips the other checkers', () => {
    const history: Op[] = [{ process: 1, type: 'ok', f: 'read', key: 'k', value: null, time: 5 }];
    const r = checkRun({ meta, history, timeline, finalStates: agreed });
    expect(r.verdict).toBe('unknown');
    expect(r.checkers).toEqual({ history: { verdict: 'invalid', problemCount: 1, problems: [{ line: 1, process: 1, message: 'ok read "k" completes nothing: the process has no operation outstanding' }] } });
    const html = renderReport({ results: r, history });
    selfContained(html);
    expect(html).toContain('History problems');
    expect(html).toContain('line 1 (process 1): ok read &quot;k&quot; completes nothing');
  });
});

describe('run directory', () => {
  it('createRunDir makes store/<id>, points latest at it, and never reuses a name', async () => {
    const a = await createRunDir('run-a', root);
    expect(a).toEqual({ id: 'run-a', dir: join(root, 'run-a') });
    expect(await readlink(join(root, 'latest'))).toBe('run-a');
    const again = await createRunDir('run-a', root);
    expect(again.id).toBe('run-a-2');
    expect(await readlink(join(root, 'latest'))).toBe('run-a-2');
  });

  it('newRunId is sortable and readable', () => {
    expect(newRunId({ workload: 'register', nemesis: 'isolate-leader', seed: 42 }, new Date('2025-03-14T10:15:01.123Z'))).toBe('20250314-101501-register-isolate-leader-s42');
    expect(newRunId({ workload: 'set', nemesis: 'a b/c' }, new Date('2025-03-14T10:15:01Z'))).toBe('20250314-101501-set-a_b_c');
  });

  it('writeRun writes history.jsonl, results.json and a self-contained report.html', async () => {
    const { dir } = await createRunDir('run', root);
    await writeFile(join(dir, 'node-1.log'), 'started\n');
    const history = simulateRegisterHistory({ seed: 6, ops: 2000, keys: 3, clients: 6, timeline, staleReadRate: 0.02 });
    const results = checkRun({ meta, history, timeline, finalStates: agreed });
    const paths = await writeRun(dir, { history, results });
    expect(await readHistory(paths.history)).toEqual(history);
    expect(JSON.parse(await readFile(paths.results, 'utf8'))).toEqual(JSON.parse(JSON.stringify(results)));
    const html = await readFile(paths.report, 'utf8');
    selfContained(html);
    // Verdicts, plots with the nemesis intervals, the explained slices and the node log link.
    expect(html).toContain('<span class="verdict invalid big">invalid</span>');
    expect(html.match(/<svg /g)!.length).toBeGreaterThanOrEqual(6); // 4 latency + throughput + slices
    expect(html).toContain('isolate-leader n1');
    expect(html).toContain('kill-one n3');
    for (const k of results.checkers.linearizable!.keys.filter((x) => x.verdict === 'invalid')) {
      expect(html).toContain(`Key &quot;${k.key}&quot;: these 3 operations cannot be linearized.`);
    }
    expect(html).toContain('<a href="node-1.log">node-1.log</a>');
  });

  it('cuts interval labels to the room before the next label of their row, and leaves out those that do not fit', () => {
    expect(fitLabel('isolate-leader n1 (blackhole)', 1000)).toBe('isolate-leader n1 (blackhole)');
    expect(fitLabel('isolate-leader n1 (blackhole)', 60)).toBe('isolate-l…');
    expect(fitLabel('isolate-leader n1 (blackhole)', 20)).toBe('');
    // A long run: 60 faults of 4 s in 600 s. Every band keeps its full label in its tooltip.
    const many = Array.from({ length: 60 }, (_, i) => ({ label: `membership: replace n${i} (follower) by n${i + 60}`, kind: 'membership', start: (i * 10 + 1) * 1e9, end: (i * 10 + 5) * 1e9, nodes: [i] }));
    const history = simulateRegisterHistory({ seed: 8, ops: 600, keys: 2, clients: 3, thinkMs: 3000 });
    const html = renderReport({ results: checkRun({ meta, history, timeline: many }), history });
    for (const iv of many) expect(html).toContain(`<title>${iv.label}: `);
    expect(html).not.toContain(`>${many[0]!.label}</text>`);
  });

  it('the report shows set results and liveness notes', () => {
    const history = simulateSetHistory({ seed: 7, ops: 800, clients: 4, timeline, lostRate: 0.05, phantoms: 1 });
    const results = checkRun({ meta: { ...meta, workload: 'set' }, history, timeline, finalStates: [...agreed.slice(0, 2), { node: 3, error: 'timeout' }] });
    expect(results.verdict).toBe('invalid');
    const html = renderReport({ results, history });
    selfContained(html);
    expect(html).toContain('Set &quot;set/&quot;');
    expect(html).toContain('1000000');
    expect(html).toContain('no answer: timeout');
  });
});
