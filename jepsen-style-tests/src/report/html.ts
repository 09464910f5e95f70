import type { Verdict } from '../checker/verdict.js';
import type { Op, Scalar } from '../history/op.js';
import { pairOperations } from '../history/operations.js';
import { formatAt, formatDuration } from '../history/time.js';
import { describeProblem } from '../history/validate.js';
import { latencyPlot, nemesisColor, slicePlot, throughputPlot } from './plots.js';
import type { RunResults } from './results.js';
import { esc } from './svg.js';

/**
 * `report.html`: one self-contained page (inline CSS and SVG, no script, no network) with the
 * verdicts first, then latency and throughput over time with the nemesis intervals shaded, then
 * each checker's details — for an invalid key, the smallest slice that cannot be linearized,
 * spelled out and drawn.
 */

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f5f5f7;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.nw{white-space:nowrap}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:13px}
.valid{background:#d8f0d8;color:#1b5e20}.invalid{background:#fbd4d4;color:#8b0000}.unknown{background:#fde9c0;color:#7a4b00}
.big{font-size:18px;padding:3px 14px}
pre.explain{background:#fafafa;border:1px solid #e3e3e3;border-left:4px solid #d62728;padding:8px 10px;white-space:pre-wrap;font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}
.caption{color:#666;font-size:12px;margin:0 0 8px}.muted{color:#666}
svg{display:block;margin:4px 0}svg text{font-family:system-ui,sans-serif}
.grid{stroke:#eee}.frame{fill:none;stroke:#bbb}.tick{font-size:10px;fill:#555}.title{font-size:11px;fill:#333}
.legend{font-size:11px;fill:#333}.nemesis{font-size:10px;fill:#6b4b16}.slice{font-size:12px;fill:#222;font-family:ui-monospace,Menlo,monospace}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #bbb;vertical-align:-2px;margin-right:4px}
`;

const plural = (k: number, word: string): string => `${k.toLocaleString('en-US')} ${word}${k === 1 ? '' : 's'}`;
const badge = (v: Verdict, big = false): string => `<span class="verdict ${v}${big ? ' big' : ''}">${v}</span>`;
const n = (x: number): string => `<td class="n">${x.toLocaleString('en-US')}</td>`;

function listOf(xs: readonly Scalar[], limit = 60): string {
  if (xs.length === 0) return '<span class="muted">none</span>';
  const shown = xs.slice(0, limit).map((x) => esc(JSON.stringify(x))).join(', ');
  return xs.length > limit ? `${shown} … (${xs.length} in all)` : shown;
}

export interface ReportInput {
  readonly results: RunResults;
  readonly history: readonly Op[];
  /** Files beside the report to link to (node logs), relative to the run directory. */
  readonly files?: readonly string[];
}

export function renderReport(input: ReportInput): string {
  const { results: r, history } = input;
  const origin = r.span.start;
  const at = (ns: number): string => formatAt(ns, origin);
  /** Table cells: seconds to the millisecond. */
  const sec = (ns: number): string => `${((ns - origin) / 1e9).toFixed(3)} s`;
  const secs = (a: number, b: number): string => `${((a - origin) / 1e9).toFixed(3)}–${((b - origin) / 1e9).toFixed(3)} s`;
  const parts: string[] = [];
  const title = `Keel ${r.run.workload} / ${r.run.nemesis} — ${r.run.id}`;
  parts.push(`<h1>${esc(title)}</h1><p>Verdict: ${badge(r.verdict, true)}</p>`);

  // Run metadata.
  const meta: [string, string | number | boolean | undefined][] = [
    ['workload', r.run.workload],
    ['nemesis', r.run.nemesis],
    ['seed', r.run.seed],
    ['nodes', r.run.nodes],
    ['clients', r.run.clients],
    ['read mode', r.run.readMode],
    ['network faults', r.run.net],
    ['requested time', r.run.timeSeconds === undefined ? undefined : `${r.run.timeSeconds} s`],
    ['started', r.run.startedAt],
    ['history', `${history.length.toLocaleString('en-US')} events over ${formatDuration(r.span.end - r.span.start)}`],
    ...Object.entries(r.run.extra ?? {}),
  ];
  parts.push(`<table>${meta.filter(([, v]) => v !== undefined).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('')}</table>`);
  if (input.files !== undefined && input.files.length > 0) {
    parts.push(`<p>Files: <a href="history.jsonl">history.jsonl</a> · <a href="results.json">results.json</a> · ${input.files.map((f) => `<a href="${esc(f)}">${esc(f)}</a>`).join(' · ')}</p>`);
  }

  // Verdicts.
  const c = r.checkers;
  const rows: [string, Verdict, string][] = [];
  rows.push(['history', c.history.verdict, c.history.verdict === 'valid' ? 'well formed' : `${c.history.problemCount} problems: the recording is broken, other checkers skipped`]);
  if (c.linearizable) {
    const k = c.linearizable.counts;
    rows.push(['linearizable', c.linearizable.verdict, `${plural(k.valid + k.invalid + k.unknown, 'key')}: ${k.valid} valid, ${k.invalid} invalid, ${k.unknown} unknown`]);
  }
  for (const s of c.set?.sets ?? []) {
    const summary = s.reason ?? `${plural(s.adds.attempted, 'add')} (${s.adds.ok} ok); final read ${plural(s.finalRead?.size ?? 0, 'element')}; lost ${s.lost.length}, phantom ${s.phantom.length}, unexpected ${s.unexpected.length}, duplicated ${s.duplicated.length}, recovered ${s.recovered.length}`;
    rows.push([`set ${JSON.stringify(s.prefix)}`, s.verdict, summary]);
  }
  if (c.bank) {
    const b = c.bank;
    rows.push(['bank', b.verdict, b.reason ?? `${plural(b.reads.ok, 'read')} ok, ${plural(b.transfers.ok, 'transfer')} ok; ${plural(b.transfers.applied, 'transfer')} applied; ${plural(Object.values(b.counts).reduce((x, y) => x + y, 0), 'violation')}`]);
  }
  if (c.lock) {
    const l = c.lock;
    rows.push(['lock', l.verdict, l.reason ?? `${plural(l.acquires.ok, 'acquire')} ok, ${plural(l.writes.ok, 'fenced write')} accepted; ${plural(l.overlappingHolds, 'overlapping hold')}`]);
  }
  if (c.watch) {
    const w = c.watch;
    rows.push(['watch', w.verdict, w.reason ?? `${plural(w.changes.ok, 'change')} ok; ${plural(w.watchers.length, 'watcher')}, ${plural(w.watchers.reduce((x, y) => x + y.delivered, 0), 'event')} delivered; ${plural(Object.values(w.counts).reduce((x, y) => x + y, 0), 'violation')}`]);
  }
  if (c.convergence) rows.push(['convergence', c.convergence.verdict, c.convergence.summary]);
  if (c.availability) rows.push(['availability', c.availability.verdict, `${plural(c.availability.violations.length, 'minority acknowledgement')}; ${plural(c.availability.notes.length, 'liveness note')}`]);
  parts.push(`<h2>Verdicts</h2><table><tr><th>checker</th><th>verdict</th><th>summary</th></tr>${rows.map(([name, v, s]) => `<tr><td>${esc(name)}</td><td>${badge(v)}</td><td>${esc(s)}</td></tr>`).join('')}</table>`);

  if (c.history.verdict === 'invalid') {
    parts.push(`<h2>History problems</h2><pre class="explain">${esc(c.history.problems.map(describeProblem).join('\n'))}</pre>`);
  }

  // Plots.
  const ops = pairOperations(c.history.verdict === 'valid' ? history : []);
  const span = r.span.end - r.span.start;
  if (ops.length > 0) {
    parts.push('<h2>Latency over time</h2><p class="caption">Each point is one operation, at its invoke time; shaded bands are nemesis intervals.</p>');
    for (const f of [...new Set(ops.map((o) => o.f))]) parts.push(`<h3>${esc(f)}</h3>${latencyPlot(ops.filter((o) => o.f === f), f, origin, span, r.timeline)}`);
    parts.push(`<h2>Throughput over time</h2>${throughputPlot(ops, origin, span, r.timeline)}`);
  }

  // Linearizability details.
  if (c.linearizable) {
    parts.push('<h2>Linearizability</h2>');
    const bad = c.linearizable.keys.filter((k) => k.verdict === 'invalid');
    for (const k of bad) {
      parts.push(`<h3>Key ${esc(JSON.stringify(k.key))} ${badge('invalid')}</h3>`);
      if (k.explanation) parts.push(`<pre class="explain">${esc(k.explanation.lines.join('\n'))}</pre>${slicePlot(k.explanation.ops)}`);
    }
    const unknown = c.linearizable.keys.filter((k) => k.verdict === 'unknown');
    if (unknown.length > 0) {
      parts.push(`<h3>Undecided keys</h3><table><tr><th>key</th><th>ops</th><th>why</th></tr>${unknown.map((k) => `<tr><td>${esc(k.key)}</td>${n(k.ops)}<td>${esc(k.reason ?? '')}</td></tr>`).join('')}</table>`);
    }
    parts.push(
      `<details><summary>All ${c.linearizable.keys.length} keys</summary><table><tr><th>key</th><th>verdict</th><th>ops</th><th>searched</th><th>steps</th></tr>` +
        c.linearizable.keys.map((k) => `<tr><td>${esc(k.key)}</td><td>${badge(k.verdict)}</td>${n(k.ops)}${n(k.searched)}${n(k.steps)}</tr>`).join('') +
        '</table></details>',
    );
  }

  // Set details.
  for (const s of c.set?.sets ?? []) {
    parts.push(`<h2>Set ${esc(JSON.stringify(s.prefix))} ${badge(s.verdict)}</h2>`);
    if (s.reason) parts.push(`<p>${esc(s.reason)}</p>`);
    if (s.finalRead) parts.push(`<p>Final read: line ${s.finalRead.line}, invoked ${esc(at(s.finalRead.invokedAt))}, ${s.finalRead.size.toLocaleString('en-US')} elements.</p>`);
    const rowsSet: [string, readonly Scalar[] | number, string][] = [
      ['acknowledged and present', s.okPresent, 'fine'],
      ['lost', s.lost, 'acknowledged before the final read began, missing from it'],
      ['phantom', s.phantom, 'present, never attempted'],
      ['unexpected', s.unexpected, 'present, although the add definitely failed'],
      ['duplicated', s.duplicated, 'present more than once'],
      ['recovered', s.recovered, 'indeterminate adds that did take effect (fine)'],
      ['concurrent, missing', s.concurrentMissing, 'acknowledged after the final read began (fine)'],
    ];
    parts.push(
      `<table><tr><th>adds</th><td>${plural(s.adds.attempted, 'add')} attempted: ${s.adds.ok.toLocaleString('en-US')} ok, ${s.adds.fail.toLocaleString('en-US')} fail, ${s.adds.info.toLocaleString('en-US')} info</td></tr>` +
        rowsSet.map(([name, v, what]) => `<tr><th>${esc(name)}</th><td>${typeof v === 'number' ? v.toLocaleString('en-US') : `${v.length.toLocaleString('en-US')}: ${listOf(v)}`}<br><span class="muted">${esc(what)}</span></td></tr>`).join('') +
        '</table>',
    );
  }

  // Bank details.
  if (c.bank) {
    const b = c.bank;
    const t = b.transfers;
    parts.push(`<h2>Bank ${badge(b.verdict)}</h2>`);
    if (b.reason) parts.push(`<p>${esc(b.reason)}</p>`);
    parts.push(
      `<table><tr><th>accounts</th><td>${b.accounts}, total ${b.total.toLocaleString('en-US')}</td></tr>` +
        `<tr><th>reads</th><td>${b.reads.ok.toLocaleString('en-US')} ok, ${b.reads.fail.toLocaleString('en-US')} fail, ${b.reads.info.toLocaleString('en-US')} info</td></tr>` +
        `<tr><th>transfers</th><td>${t.ok.toLocaleString('en-US')} ok, ${t.fail.toLocaleString('en-US')} fail, ${t.info.toLocaleString('en-US')} info; ${t.applied.toLocaleString('en-US')} applied, ${t.recovered.toLocaleString('en-US')} of them indeterminate; ${t.concurrent.toLocaleString('en-US')} acknowledged after the final read began</td></tr>` +
        (b.finalRead ? `<tr><th>final read</th><td>line ${b.finalRead.line}: ${esc(b.finalRead.balances.join(', '))}</td></tr>` : '') +
        '</table>',
    );
    if (b.violations.length > 0) {
      const kinds = Object.entries(b.counts).map(([k, v]) => `${v} ${k}`).join(', ');
      parts.push(`<p>Violations: ${esc(kinds)}.</p><pre class="explain">${esc(b.violations.slice(0, 50).map((v) => `${v.kind}: ${v.text}`).join('\n'))}</pre>`);
    }
  }

  // Lock details.
  if (c.lock) {
    const l = c.lock;
    parts.push(`<h2>Lock ${badge(l.verdict)}</h2>`);
    if (l.reason) parts.push(`<p>${esc(l.reason)}</p>`);
    parts.push(
      `<table><tr><th>acquires</th><td>${l.acquires.ok} ok, ${l.acquires.fail} fail, ${l.acquires.info} info</td></tr>` +
        `<tr><th>fenced writes</th><td>${l.writes.ok} accepted, ${l.writes.fail} refused or failed, ${l.writes.info} info</td></tr>` +
        `<tr><th>overlapping holds</th><td>${l.overlappingHolds} <span class="muted">(holds of one lock that overlapped in real time; the fence makes them harmless)</span></td></tr></table>`,
    );
    const bad = [...l.locks, ...l.resources].flatMap((r) => r.violations);
    if (bad.length > 0) parts.push(`<pre class="explain">${esc(bad.slice(0, 50).map((v) => `${v.kind}: ${v.text}`).join('\n'))}</pre>`);
  }

  // Watch details.
  if (c.watch) {
    const w = c.watch;
    parts.push(`<h2>Watch ${badge(w.verdict)}</h2>`);
    if (w.reason) parts.push(`<p>${esc(w.reason)}</p>`);
    parts.push(
      `<table><tr><th>changes</th><td>${w.changes.ok.toLocaleString('en-US')} ok, ${w.changes.fail.toLocaleString('en-US')} fail, ${w.changes.info.toLocaleString('en-US')} info; ${w.recovered} indeterminate put(s) delivered by a watcher</td></tr></table>`,
    );
    if (w.watchers.length > 0) {
      parts.push(
        `<table><tr><th>process</th><th>prefix</th><th>from</th><th>ended</th><th>events</th><th>last revision</th><th>verdict</th></tr>` +
          w.watchers.map((x) => `<tr><td>${x.process}</td><td><code>${esc(x.prefix)}</code></td>${n(x.from)}<td>${x.outcome}</td>${n(x.delivered)}<td>${x.last ?? '-'}</td><td>${badge(x.verdict)}</td></tr>`).join('') +
          '</table>',
      );
    }
    if (w.violations.length > 0) {
      const kinds = Object.entries(w.counts).map(([k, v]) => `${v} ${k}`).join(', ');
      parts.push(`<p>Violations: ${esc(kinds)}.</p><pre class="explain">${esc(w.violations.slice(0, 50).map((v) => `${v.kind}: ${v.text}`).join('\n'))}</pre>`);
    }
  }

  // Convergence.
  if (c.convergence) {
    const cv = c.convergence;
    parts.push(`<h2>Convergence ${badge(cv.verdict)}</h2><p>${esc(cv.summary)}</p>`);
    parts.push(
      `<table><tr><th>nodes</th><th>applied index</th><th>digest</th></tr>${cv.groups.map((g) => `<tr><td>${g.nodes.join(', ')}</td>${n(g.applied)}<td><code>${esc(g.digest)}</code></td></tr>`).join('')}` +
        `${cv.unreachable.map((u) => `<tr><td>${u.node}</td><td colspan="2">no answer: ${esc(u.error)}</td></tr>`).join('')}</table>`,
    );
  }

  // Availability.
  if (c.availability) {
    const av = c.availability;
    parts.push(`<h2>Availability ${badge(av.verdict)}</h2>`);
    if (av.violations.length > 0) parts.push(`<pre class="explain">${esc(av.violations.slice(0, 50).map((v) => v.text).join('\n'))}${av.violations.length > 50 ? `\n… ${av.violations.length} in all` : ''}</pre>`);
    else parts.push('<p>No node on a minority side acknowledged a write or a linearizable read.</p>');
    for (const note of av.notes) parts.push(`<p class="muted">Note: ${esc(note)}</p>`);
    const cell = (k: { ok: number; fail: number; info: number }): string => `<td class="n">${k.ok} / ${k.fail} / ${k.info}</td>`;
    parts.push(
      '<p class="caption">Completions in each phase by the side of the node they were sent to. An operation counts in the phase in which it completed, so a minority-side ok here may be an operation invoked before the cut; the verdict judges only operations that ran entirely inside it.</p>',
    );
    parts.push(
      '<table><tr><th>phase</th><th>faults</th><th>minority</th><th>majority ok/fail/info</th><th>minority ok/fail/info</th><th>unpinned ok/fail/info</th><th>majority ok/s</th></tr>' +
        av.phases
          .map(
            (p) =>
              `<tr><td class="nw">${secs(p.start, p.end)}</td><td>${esc(p.faults.join(' + ') || 'none')}</td><td>${p.minority.join(', ')}</td>` +
              `${cell(p.sides.majority)}${cell(p.sides.minority)}${cell(p.sides.unpinned)}<td class="n">${p.majorityOkPerSecond.toFixed(1)}</td></tr>`,
          )
          .join('') +
        '</table>',
    );
  }

  // Timeline and counts.
  if (r.timeline.length > 0) {
    parts.push(
      '<h2>Nemesis timeline</h2><table><tr><th>fault</th><th>kind</th><th>from</th><th>to</th><th>nodes</th><th>minority</th></tr>' +
        r.timeline
          .map(
            (iv) =>
              `<tr><td><span class="swatch" style="background:${nemesisColor(iv.kind)}"></span>${esc(iv.label)}</td><td>${esc(iv.kind)}</td><td>${sec(iv.start)}</td>` +
              `<td>${iv.end === undefined ? 'end' : sec(iv.end)}</td><td>${(iv.nodes ?? []).join(', ')}</td><td>${(iv.minority ?? []).join(', ')}</td></tr>`,
          )
          .join('') +
        '</table>',
    );
  }
  const fs = Object.keys(r.counts);
  if (fs.length > 0) {
    parts.push(
      `<h2>Operations</h2><table><tr><th>f</th><th>ok</th><th>fail</th><th>info</th></tr>${fs.map((f) => `<tr><td>${esc(f)}</td>${n(r.counts[f]!.ok)}${n(r.counts[f]!.fail)}${n(r.counts[f]!.info)}</tr>`).join('')}</table>`,
    );
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
