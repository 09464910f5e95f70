/** The human summary of one run (the etcd generators' layout, plus memory and the machine's load). */
import { formatGcReport } from './gc-report.js';
import type { RunResult } from './load.js';
import { RSS_SAMPLE_MS } from './proc-stats.js';

export function formatRun(r: RunResult): string {
  const l = r.latency;
  const c = r.cpu;
  const lines = [
    `${r.label ? `${r.label}: ` : ''}${r.system} mix=${r.mix} c=${r.concurrency} ops=${r.ops} value=${r.valueSize}B keys=${r.keys} endpoints=${r.endpoints}`,
    l === null
      ? '  no operation measured'
      : `  ${r.opsPerSec} ops/s  p50 ${l.p50ms} ms  p90 ${l.p90ms} ms  p99 ${l.p99ms} ms  p99.9 ${l.p999ms} ms  max ${l.maxms} ms  errors ${r.errors}`,
  ];
  const byOp = Object.entries(r.byOp);
  if (byOp.length > 1) for (const [op, s] of byOp) if (s) lines.push(`  ${op}: p50 ${s.p50ms} ms  p99 ${s.p99ms} ms  (n=${s.n})`);
  const nodes = r.servers.map((s, i) => `${s.id === undefined ? `pid ${s.pid}` : `n${s.id}`}${s.role === 'leader' ? '*' : ''} ${c.serverPerNodePct[i]}`);
  lines.push(
    `  cpu (% of one core): client ${c.clientPct}  servers ${c.serverPct ?? 'n/a'}${nodes.length ? ` (${nodes.join(' / ')}; * leader)` : ''}  machine ${c.machineBusyPct} of ${c.cores * 100}`,
    `  other cpu: kernel threads ${c.kernelThreadsPct}  irq ${c.irqPct}  steal ${c.stealPct}  foreign processes ${c.foreignPct}  unattributed ${c.unattributedPct}`,
  );
  if (r.memory.length > 0) {
    const mem = r.memory.map((m, i) => `${r.servers[i]?.id === undefined ? `pid ${m.pid}` : `n${r.servers[i]!.id}`} ${m.finalRssMiB}/${m.peakRssMiB}`);
    lines.push(`  memory (MiB, final/peak RSS): ${mem.join('  ')}`);
    if ((r.memory[0]?.samplesMiB?.length ?? 0) > 2) {
      const series = r.memory.map((m, i) => `${r.servers[i]?.id === undefined ? `pid ${m.pid}` : `n${r.servers[i]!.id}`} ${m.samplesMiB!.join(' ')}`);
      lines.push(`  RSS every ${RSS_SAMPLE_MS / 1000} s (MiB): ${series.join('  |  ')}`);
    }
  }
  if (r.gc !== undefined) lines.push(...formatGcReport(r.gc));
  lines.push(`  load average (1 min): ${r.loadAvg.before} before, ${r.loadAvg.after} after`);
  if (r.errors > 0) lines.push(`  error kinds: ${JSON.stringify(r.errorKinds)}`);
  return lines.join('\n');
}
