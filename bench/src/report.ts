/** The matrix as a Markdown table and as a self-contained SVG bar chart. */
import { ratio, type CellRow, type CellStats } from './cell-stats.js';
import type { CellSpec } from './options.js';

const OP_NAMES: Record<CellSpec['kind'], string> = {
  put: 'put',
  lget: 'linearizable get',
  sget: 'serializable get',
  mix: '50/50 put + linearizable get',
};

export function cellTitle(cell: CellSpec): string {
  return `${OP_NAMES[cell.kind]}, ${cell.concurrency} in flight`;
}

function f(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function runsList(s: CellStats): string {
  const list = s.runs.map((r) => f(r.opsPerSec)).join(' / ');
  return s.failed > 0 ? `${list}${list ? ' ' : ''}(${s.failed} failed)` : list;
}

/** Keel alone: one row per cell. */
export function keelTable(rows: readonly CellRow[]): string {
  const out = [
    '| cell | ops/s | p50 ms | p99 ms | server CPU % | server CPU µs/op | client CPU % | peak RSS MiB | unrelated CPU % | load avg | runs: ops/s | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const { cell, keel: k } of rows) {
    out.push(
      `| ${cellTitle(cell)} | ${f(k.opsPerSec)} | ${f(k.p50ms, 2)} | ${f(k.p99ms, 2)} | ${f(k.serverPct)} | ${f(k.serverUsPerOp)} | ` +
        `${f(k.clientPct)} | ${f(k.peakRssMiB)} | ${f(k.unrelatedPct, 1)} | ${f(k.loadAvg, 1)} | ${runsList(k)} | ${k.errors} |`,
    );
  }
  return out.join('\n');
}

/** Keel beside etcd: medians and ratios, then the conditions of the runs. */
export function versusTables(rows: readonly CellRow[]): string {
  const main = [
    '| cell | Keel ops/s | etcd ops/s | Keel/etcd ops/s | Keel p50 ms | etcd p50 ms | p50 Keel/etcd | Keel p99 ms | etcd p99 ms | p99 Keel/etcd | Keel CPU µs/op | etcd CPU µs/op | CPU/op Keel/etcd |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const detail = [
    '| cell | Keel server CPU % | etcd server CPU % | Keel client CPU % | etcd client CPU % | Keel peak RSS MiB | etcd peak RSS MiB | unrelated CPU % (Keel / etcd) | load avg | Keel runs: ops/s | etcd runs: ops/s | errors (Keel / etcd) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|',
  ];
  for (const { cell, keel: k, etcd: e } of rows) {
    if (e === undefined) continue;
    main.push(
      `| ${cellTitle(cell)} | ${f(k.opsPerSec)} | ${f(e.opsPerSec)} | **${f(ratio(k.opsPerSec, e.opsPerSec), 2)}** | ` +
        `${f(k.p50ms, 2)} | ${f(e.p50ms, 2)} | ${f(ratio(k.p50ms, e.p50ms), 2)} | ${f(k.p99ms, 2)} | ${f(e.p99ms, 2)} | ${f(ratio(k.p99ms, e.p99ms), 2)} | ` +
        `${f(k.serverUsPerOp)} | ${f(e.serverUsPerOp)} | ${f(ratio(k.serverUsPerOp, e.serverUsPerOp), 2)} |`,
    );
    detail.push(
      `| ${cellTitle(cell)} | ${f(k.serverPct)} | ${f(e.serverPct)} | ${f(k.clientPct)} | ${f(e.clientPct)} | ${f(k.peakRssMiB)} | ${f(e.peakRssMiB)} | ` +
        `${f(k.unrelatedPct, 1)} / ${f(e.unrelatedPct, 1)} | ${f((k.loadAvg + e.loadAvg) / 2, 1)} | ${runsList(k)} | ${runsList(e)} | ${k.errors} / ${e.errors} |`,
    );
  }
  return `${main.join('\n')}\n\n${detail.join('\n')}`;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars of ops/s per cell (one bar per system), each labelled with ops/s and p99.
 * Linear scale: the 1-in-flight cells are short bars with their numbers beside them.
 */
export function chartSvg(rows: readonly CellRow[], title: string): string {
  const systems = rows.some((r) => r.etcd !== undefined) ? (['keel', 'etcd'] as const) : (['keel'] as const);
  const colors = { keel: '#2f6fb5', etcd: '#9a9a9a' };
  const labelW = 260;
  const barMaxW = 420;
  const barH = 16;
  const rowGap = 12;
  const top = 56;
  const rowH = systems.length * (barH + 3) + rowGap;
  const width = labelW + barMaxW + 200;
  const height = top + rows.length * rowH + 30;
  const max = Math.max(1, ...rows.flatMap((r) => systems.map((s) => r[s]?.opsPerSec ?? 0)).filter(Number.isFinite));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  systems.forEach((s, i) => {
    const x = labelW + i * 90;
    parts.push(`<rect x="${x}" y="34" width="12" height="12" fill="${colors[s]}"/>`, `<text x="${x + 16}" y="44">${s === 'keel' ? 'Keel' : 'etcd'}</text>`);
  });
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y0 + (systems.length * (barH + 3)) / 2 + 4}" text-anchor="end">${escape(cellTitle(r.cell))}</text>`);
    systems.forEach((s, j) => {
      const st = r[s];
      const y = y0 + j * (barH + 3);
      const ops = st?.opsPerSec ?? NaN;
      const w = Number.isFinite(ops) ? Math.max(1, (ops / max) * barMaxW) : 0;
      const text = Number.isFinite(ops) ? `${f(ops)} ops/s · p99 ${f(st!.p99ms, 1)} ms` : 'no run';
      parts.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[s]}"/>`,
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + barH - 4}">${escape(text)}</text>`,
      );
    });
  });
  parts.push(`<text x="12" y="${height - 10}" fill="#666">closed loop, 3 nodes on 127.0.0.1, fsync on; medians of the runs; linear scale</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
