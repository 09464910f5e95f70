/** The verdict as the CLI prints it: one line per checker, then where the report is. */
import type { RunResults } from '../report/results.js';

const pad = (s: string, n: number): string => s.padEnd(n);

export function summarize(results: RunResults, reportPath: string, error?: string): string[] {
  const c = results.checkers;
  const lines = [`verdict: ${results.verdict.toUpperCase()}${error === undefined ? '' : ` (the run broke: ${error})`}`];
  const row = (name: string, verdict: string, text: string): void => {
    lines.push(`  ${pad(name, 13)} ${pad(verdict, 8)} ${text}`);
  };
  row('history', c.history.verdict, c.history.problemCount === 0 ? 'well formed' : `${c.history.problemCount} problem(s), first: line ${c.history.problems[0]!.line}: ${c.history.problems[0]!.message}`);
  if (c.linearizable !== undefined) {
    const { valid, invalid, unknown } = c.linearizable.counts;
    const bad = c.linearizable.keys.filter((k) => k.verdict !== 'valid').slice(0, 5).map((k) => `${k.key} ${k.verdict}`);
    row('linearizable', c.linearizable.verdict, `${valid + invalid + unknown} keys: ${valid} valid, ${invalid} invalid, ${unknown} unknown${bad.length > 0 ? ` (${bad.join(', ')})` : ''}`);
    const first = c.linearizable.keys.find((k) => k.explanation !== undefined)?.explanation;
    if (first !== undefined) for (const l of first.lines) lines.push(`      ${l}`);
  }
  if (c.set !== undefined) {
    for (const s of c.set.sets) {
      const text =
        s.reason ??
        `${s.adds.attempted} adds (${s.adds.ok} ok, ${s.adds.fail} fail, ${s.adds.info} info), final read ${s.finalRead?.size ?? 0}: ` +
          `lost ${s.lost.length}, phantom ${s.phantom.length}, unexpected ${s.unexpected.length}, duplicated ${s.duplicated.length}, recovered ${s.recovered.length}`;
      row('set', s.verdict, `${s.prefix} ${text}`);
    }
  }
  if (c.bank !== undefined) {
    const b = c.bank;
    const t = b.transfers;
    const kinds = Object.entries(b.counts).map(([k, n]) => `${n} ${k}`);
    const text =
      b.reason ??
      `${b.accounts} accounts, total ${b.total}; ${b.reads.ok} reads ok; transfers ${t.ok} ok, ${t.fail} fail, ${t.info} info, ${t.applied} applied (${t.recovered} indeterminate)` +
        (kinds.length > 0 ? `; violations: ${kinds.join(', ')}` : '');
    row('bank', b.verdict, text);
    for (const v of b.violations.slice(0, 3)) lines.push(`      ${v.kind}: ${v.text}`);
  }
  if (c.lock !== undefined) {
    const l = c.lock;
    const bad = [...l.locks, ...l.resources].flatMap((r) => r.violations);
    const text =
      l.reason ??
      `acquires ${l.acquires.ok} ok, ${l.acquires.fail} fail, ${l.acquires.info} info; fenced writes ${l.writes.ok} accepted, ${l.writes.fail} refused or failed, ${l.writes.info} info; ` +
        `${l.overlappingHolds} overlapping holds; ${bad.length} violations`;
    row('lock', l.verdict, text);
    for (const v of bad.slice(0, 3)) lines.push(`      ${v.kind}: ${v.text}`);
  }
  if (c.watch !== undefined) {
    const w = c.watch;
    const ended = { ok: 0, fail: 0, info: 0 };
    for (const r of w.watchers) ended[r.outcome]++;
    const kinds = Object.entries(w.counts).map(([k, n]) => `${n} ${k}`);
    const text =
      w.reason ??
      `changes ${w.changes.ok} ok, ${w.changes.fail} fail, ${w.changes.info} info (${w.recovered} indeterminate delivered); ` +
        `${w.watchers.length} watchers (${ended.ok} ok, ${ended.fail} fail, ${ended.info} info), ${w.watchers.reduce((n, r) => n + r.delivered, 0)} events delivered` +
        (kinds.length > 0 ? `; violations: ${kinds.join(', ')}` : '');
    row('watch', w.verdict, text);
    for (const v of w.violations.slice(0, 3)) lines.push(`      ${v.kind}: ${v.text}`);
  }
  if (c.convergence !== undefined) row('convergence', c.convergence.verdict, c.convergence.summary);
  else row('convergence', '-', 'not checked: the run did not get the nodes’ final states');
  if (c.availability !== undefined) {
    const a = c.availability;
    row('availability', a.verdict, a.violations.length === 0 ? `no minority acknowledgement in ${a.phases.length} phases` : `${a.violations.length} acknowledgement(s) from a minority`);
    for (const v of a.violations.slice(0, 3)) lines.push(`      ${v.text}`);
    for (const n of a.notes.slice(0, 3)) lines.push(`      note: ${n}`);
  }
  lines.push(`report: ${reportPath}`);
  return lines;
}
