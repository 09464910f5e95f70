/**
 * `--profile`: what the `.cpuprofile` files (V8's sampling profiler, `node --cpu-prof`) say about
 * where each node's CPU went: self time by area of the code and the top self-time functions,
 * written as `summary.txt` beside the profiles. Open a profile in Chrome DevTools (Performance)
 * or speedscope for the flame graph.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeStatsLine } from './keel-run.js';
import type { RunResult } from './load.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time (µs) per profile node id. */
function selfTimes(p: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, p.timeDeltas[i] ?? 0));
  }
  return self;
}

/** The area of the code a frame belongs to. */
export function areaOf(f: CallFrame): string {
  const u = f.url;
  if (u === '') {
    if (f.functionName === '(idle)') return 'idle';
    if (f.functionName === '(garbage collector)') return 'garbage collector';
    if (f.functionName === '(program)') return '(program): V8 and native code outside JS';
    return 'native builtins';
  }
  const pkg = /\/packages\/([a-z-]+)\/dist\/(?:([a-z-]+)\/)?/.exec(u);
  if (pkg !== null) return pkg[1] === 'kv-server' && pkg[2] !== undefined ? `kv-server/${pkg[2]}` : pkg[1]!;
  const dep = /\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (dep !== null) return `dependency ${dep[1]}`;
  if (u.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(u);
    return `node:${m?.[1] ?? u}`;
  }
  return u;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/packages/');
  if (i >= 0) return url.slice(i + '/packages/'.length);
  const j = url.lastIndexOf('/node_modules/');
  return j >= 0 ? url.slice(j + '/node_modules/'.length) : url;
}

interface Row {
  readonly name: string;
  readonly us: number;
}

function top(m: Map<string, number>, n: number): Row[] {
  return [...m.entries()]
    .map(([name, us]) => ({ name, us }))
    .sort((a, b) => b.us - a.us)
    .slice(0, n);
}

/** The summary of one node's profile; `ops` = operations the cluster served while it ran. */
export function summarizeProfile(p: CpuProfile, title: string, ops: number, topN = 20): string {
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfTimes(p)) {
    const f = frames.get(id);
    if (f === undefined) continue;
    total += us;
    const area = areaOf(f);
    if (area === 'idle') {
      idle += us;
      continue;
    }
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const name = f.url === '' ? f.functionName : `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `${title}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s on the CPU (main thread), ` +
      `${ops > 0 ? `${Math.round(busy / ops)} µs per operation served by the cluster (${ops} ops)` : ''}`,
    '  self time by area (% of busy; the top 12):',
    ...top(byArea, 12).map((r) => `    ${pct(r.us)}  ${r.name}`),
    `  top ${topN} functions by self time:`,
    ...top(byFunction, topN).map((r) => `    ${pct(r.us)}  ${r.name}`),
  ];
  return lines.join('\n');
}

/** The node.stats lines of one node: how many entries each Ready carried, per 10 s interval. */
function readyStats(id: number, stats: readonly NodeStatsLine[]): string {
  const mine = stats.filter((s) => s.nodeId === id);
  if (mine.length === 0) return '  node.stats: none printed (needs --log-level debug and a run longer than one 10 s interval)';
  const histogram = (h: Readonly<Record<string, number>> | undefined): string =>
    h === undefined ? '-' : Object.entries(h).map(([bucket, n]) => `${bucket}: ${n}`).join(', ');
  return [
    '  node.stats per 10 s interval (averages per Ready): entries | committed | messages | persist ms | apply ms | readies | syncs | applied/s',
    ...mine.map(
      (s) =>
        `    ${s.entriesPerReady} | ${s.committedPerReady} | ${s.messagesPerReady} | ${s.persistMsAvg} | ${s.applyMsAvg} | ${s.readies} | ${s.syncs} | ${s.appliedPerSec}`,
    ),
    '  entries per persisted batch (histogram per interval):',
    ...mine.map((s) => `    ${histogram(s.entriesPerPersist)}`),
    '  entries per append message sent (histogram per interval):',
    ...mine.map((s) => `    ${histogram(s.entriesPerAppend)}`),
  ].join('\n');
}

/**
 * Summaries of every node-<id>.cpuprofile in `dir`, with each node's node.stats lines, written to
 * `dir`/summary.txt and returned.
 */
export function summarizeProfiles(dir: string, run: RunResult, stats: readonly NodeStatsLine[]): string {
  const files = readdirSync(dir)
    .filter((f) => /^node-\d+\.cpuprofile$/.test(f))
    .sort();
  const ops = run.ops + run.warmup + (run.prepopulated ? run.keys : 0);
  const parts = files.map((f) => {
    const id = Number(/\d+/.exec(f)![0]);
    const role = run.servers.find((s) => s.id === id)?.role ?? '';
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    return `${summarizeProfile(p, `node ${id}${role ? ` (${role})` : ''}, ${f}`, ops)}\n${readyStats(id, stats)}`;
  });
  const head =
    `profile of a run: mix=${run.mix} c=${run.concurrency}, ${run.opsPerSec} ops/s measured; ` +
    `each profile covers its node's whole life (start, prepopulate, warm-up, measured phase, shutdown)`;
  const text = [head, ...(parts.length > 0 ? parts : ['no .cpuprofile files were written'])].join('\n\n');
  writeFileSync(join(dir, 'summary.txt'), `${text}\n`);
  return text;
}
