import type { SliceOp } from '../checker/explain.js';
import type { Operation, Outcome } from '../history/operations.js';
import { formatDuration, NS_PER_MS, NS_PER_S } from '../history/time.js';
import type { NemesisInterval } from '../history/timeline.js';
import { axes, esc, inner, linearScale, logScale, niceStep, r1, type Frame, type Scale } from './svg.js';

/** The report's plots, as inline SVG strings. Times on the x axis are seconds since the run's start. */

export const OUTCOME_COLORS: Record<Outcome, string> = { ok: '#3b7dd8', fail: '#d62728', info: '#f09a00' };
const OUTCOMES: readonly Outcome[] = ['ok', 'fail', 'info'];

const KIND_COLORS: Record<string, string> = {
  partition: '#f6d8a8',
  kill: '#f4b9b9',
  pause: '#dccdf2',
  membership: '#c6def5',
  transfer: '#cdeccd',
};
export const nemesisColor = (kind: string): string => KIND_COLORS[kind] ?? '#e2e2e2';

/** At most this many ok points per latency plot; failures and indeterminate ones are always drawn. */
const MAX_OK_POINTS = 6000;

// The top margin holds two rows of interval labels below the legend.
const FRAME: Frame = { width: 960, height: 244, left: 64, right: 16, top: 44, bottom: 36 };

/** Average width of a character of an interval label (10 px sans-serif), for fitting labels. */
const LABEL_CHAR_PX = 5.6;
/** A label cut shorter than this many characters is left out (the shaded band's tooltip has it). */
const LABEL_CHARS_MIN = 4;

/**
 * `label` cut to fit `px` (with an ellipsis), or '' when too little of it would fit: labels
 * alternate between two rows, and one must end before the next label of its row begins.
 */
export function fitLabel(label: string, px: number): string {
  const chars = Math.floor(px / LABEL_CHAR_PX);
  if (label.length <= chars) return label;
  return chars - 1 >= LABEL_CHARS_MIN ? `${label.slice(0, chars - 1)}…` : '';
}

/** Shaded, labelled nemesis intervals behind a plot. */
function shading(frame: Frame, x: Scale, timeline: readonly NemesisInterval[], origin: number): string {
  const { x0, x1, y0, y1 } = inner(frame);
  const [d0, d1] = x.domain;
  const bands = timeline.flatMap((iv) => {
    const s = Math.max(d0, (iv.start - origin) / NS_PER_S);
    const e = Math.min(d1, ((iv.end ?? origin + d1 * NS_PER_S) - origin) / NS_PER_S);
    if (e < d0 || s > d1) return [];
    const a = Math.max(x0, x(s));
    return [{ iv, a, w: Math.max(1, Math.min(x1, x(e)) - a) }];
  });
  return bands
    .map(({ iv, a, w }, i) => {
      const title = `${iv.label}: ${((iv.start - origin) / NS_PER_S).toFixed(2)}–${iv.end === undefined ? 'end' : ((iv.end - origin) / NS_PER_S).toFixed(2)} s`;
      const room = (bands[i + 2]?.a ?? frame.width) - a - 6;
      const label = fitLabel(iv.label, room);
      return (
        `<g><title>${esc(title)}</title><rect x="${r1(a)}" y="${y1}" width="${r1(w)}" height="${y0 - y1}" fill="${nemesisColor(iv.kind)}" opacity="0.75"/>` +
        (label === '' ? '' : `<text class="nemesis" x="${r1(a + 2)}" y="${y1 - 4 - (i % 2) * 11}">${esc(label)}</text>`) +
        '</g>'
      );
    })
    .join('');
}

function legend(frame: Frame, counts: Record<Outcome, number>): string {
  const { x1 } = inner(frame);
  return OUTCOMES.map((o, i) => {
    const x = x1 - 260 + i * 88;
    return `<circle cx="${x}" cy="10" r="4" fill="${OUTCOME_COLORS[o]}"/><text class="legend" x="${x + 8}" y="10" dy="0.32em">${o} ${counts[o]}</text>`;
  }).join('');
}

function svg(frame: Frame, body: string, label: string): string {
  return `<svg viewBox="0 0 ${frame.width} ${frame.height}" width="${frame.width}" height="${frame.height}" role="img" aria-label="${esc(label)}">${body}</svg>`;
}

/** Latency of each operation of one kind against its invoke time, coloured by outcome, log scale. */
export function latencyPlot(ops: readonly Operation[], f: string, origin: number, spanNs: number, timeline: readonly NemesisInterval[]): string {
  const done = ops.filter((o) => o.completedAt !== undefined);
  const lat = (o: Operation): number => Math.max(1e-3, (o.completedAt! - o.invokedAt) / NS_PER_MS);
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const o of done) {
    lo = Math.min(lo, lat(o));
    hi = Math.max(hi, lat(o));
  }
  const { x0, x1, y0, y1 } = inner(FRAME);
  const x = linearScale(0, spanNs / NS_PER_S, x0, x1);
  const y = logScale(Number.isFinite(lo) ? lo : 1, Math.max(hi, 1), y0, y1);
  const okOps = done.filter((o) => o.outcome === 'ok');
  const every = Math.max(1, Math.ceil(okOps.length / MAX_OK_POINTS));
  const drawn = [...okOps.filter((_, i) => i % every === 0), ...done.filter((o) => o.outcome !== 'ok')];
  const points = drawn
    .map((o) => `<circle cx="${r1(x((o.invokedAt - origin) / NS_PER_S))}" cy="${r1(y(lat(o)))}" r="1.8" fill="${OUTCOME_COLORS[o.outcome]}"/>`)
    .join('');
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const o of ops) counts[o.outcome]++;
  const body =
    shading(FRAME, x, timeline, origin) +
    axes(FRAME, x, y, 'time since start (s)', `${f} latency (ms)`) +
    `<g opacity="0.75">${points}</g>` +
    legend(FRAME, counts);
  const notes = [
    every > 1 ? `1 in ${every} ok ${f} operations shown (${okOps.length.toLocaleString('en-US')} in all); every fail and info shown` : '',
    ops.length > done.length ? `${ops.length - done.length} never completed (not drawn)` : '',
  ].filter((s) => s !== '');
  return svg(FRAME, body, `${f} latency over time`) + (notes.length > 0 ? `<p class="caption">${esc(notes.join('; '))}.</p>` : '');
}

/** Completions per second over time, one line per outcome. */
export function throughputPlot(ops: readonly Operation[], origin: number, spanNs: number, timeline: readonly NemesisInterval[]): string {
  const spanS = Math.max(spanNs / NS_PER_S, 1e-3);
  const bucketS = niceStep(spanS, 120);
  const buckets = Math.max(1, Math.ceil(spanS / bucketS));
  const rates: Record<Outcome, number[]> = { ok: new Array(buckets).fill(0), fail: new Array(buckets).fill(0), info: new Array(buckets).fill(0) };
  for (const o of ops) {
    const t = o.completedAt ?? o.invokedAt;
    const b = Math.min(buckets - 1, Math.floor((t - origin) / NS_PER_S / bucketS));
    rates[o.outcome][b]! += 1 / bucketS;
  }
  const peak = Math.max(1, ...OUTCOMES.map((o) => Math.max(...rates[o])));
  const { x0, x1, y0, y1 } = inner(FRAME);
  const x = linearScale(0, spanS, x0, x1);
  const y = linearScale(0, peak * 1.05, y0, y1, 5);
  const lines = OUTCOMES.map((o) => {
    const pts = rates[o].flatMap((v, i) => [`${r1(x(i * bucketS))},${r1(y(v))}`, `${r1(x(Math.min(spanS, (i + 1) * bucketS)))},${r1(y(v))}`]);
    return `<polyline fill="none" stroke="${OUTCOME_COLORS[o]}" stroke-width="1.5" points="${pts.join(' ')}"/>`;
  }).join('');
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const o of ops) counts[o.outcome]++;
  const body = shading(FRAME, x, timeline, origin) + axes(FRAME, x, y, `time since start (s), ${bucketS} s buckets`, 'completions / s') + lines + legend(FRAME, counts);
  return svg(FRAME, body, 'throughput over time');
}

/** The operations of a non-linearizable slice as bars on a shared time axis, one row each. */
export function slicePlot(ops: readonly SliceOp[]): string {
  const row = 26;
  const frame: Frame = { width: 960, height: 40 + row * ops.length + 30, left: 230, right: 24, top: 14, bottom: 40 };
  // Acknowledged and still-running operations end at their completion; indeterminate ones run off the right edge.
  const end = (o: SliceOp): number | undefined => (o.outcome === 'info' ? undefined : o.completedAt);
  const t0 = Math.min(...ops.map((o) => o.invokedAt));
  const t1 = Math.max(t0 + 1, ...ops.map((o) => end(o) ?? o.invokedAt));
  const pad = (t1 - t0) * 0.08;
  const { x0, x1, y1 } = inner(frame);
  const unit = t1 - t0 >= NS_PER_S ? NS_PER_S : NS_PER_MS;
  const x = linearScale(-pad / unit, (t1 - t0 + pad) / unit, x0, x1, 6);
  const bars = ops
    .map((o, i) => {
      const cy = y1 + (i + 0.5) * row + 6;
      const a = x((o.invokedAt - t0) / unit);
      const e = end(o);
      const b = e === undefined ? x1 : x((e - t0) / unit);
      const color = o.outcome === 'info' ? OUTCOME_COLORS.info : OUTCOME_COLORS.ok;
      const name = `#${o.n} p${o.process} ${o.label}`;
      const span = o.outcome === 'ok' ? formatDuration(o.completedAt! - o.invokedAt) : o.outcome === 'running' ? 'still running when the others completed' : 'indeterminate';
      const tick = (px: number): string => `<line x1="${r1(px)}" x2="${r1(px)}" y1="${r1(cy - 7)}" y2="${r1(cy + 7)}" stroke="#333"/>`;
      return (
        `<g><title>${esc(`${name}: ${span}`)}</title>` +
        `<text class="slice" x="${x0 - 8}" y="${r1(cy)}" dy="0.32em" text-anchor="end">${esc(name)}</text>` +
        `<line x1="${r1(a)}" x2="${r1(b)}" y1="${r1(cy)}" y2="${r1(cy)}" stroke="${color}" stroke-width="8"${o.outcome === 'ok' ? '' : ' stroke-dasharray="6 4"'}/>` +
        tick(a) +
        (e === undefined ? '' : tick(b)) +
        `</g>`
      );
    })
    .join('');
  const body = axes(frame, x, undefined, `time since #1 was invoked (${unit === NS_PER_S ? 's' : 'ms'}); dashed: indeterminate or still running`) + bars;
  return svg(frame, body, 'operations of the non-linearizable slice');
}
