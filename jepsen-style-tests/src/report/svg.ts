/** Small helpers for hand-written inline SVG: escaping, scales, ticks and axes. */

export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Rounds coordinates so the SVG stays small. */
export const r1 = (x: number): string => (Math.round(x * 10) / 10).toString();

export interface Scale {
  (x: number): number;
  readonly domain: readonly [number, number];
  readonly ticks: readonly number[];
  readonly format: (x: number) => string;
}

/** "Nice" tick step for a span: 1, 2 or 5 times a power of ten. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

function trimNumber(x: number): string {
  return Number(x.toPrecision(6)).toString();
}

export function linearScale(d0: number, d1: number, r0: number, r1: number, tickCount = 8): Scale {
  const hi = d1 > d0 ? d1 : d0 + 1;
  const step = niceStep(hi - d0, tickCount);
  const ticks: number[] = [];
  for (let t = Math.ceil(d0 / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(t);
  const f = ((x: number) => r0 + ((x - d0) / (hi - d0)) * (r1 - r0)) as Scale;
  return Object.assign(f, { domain: [d0, hi] as const, ticks, format: trimNumber });
}

/** A log10 scale over whole decades that cover [lo, hi] (both > 0). */
export function logScale(lo: number, hi: number, r0: number, r1: number): Scale {
  const a = Math.floor(Math.log10(lo));
  const b = Math.max(a + 1, Math.ceil(Math.log10(hi)));
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) ticks.push(10 ** e);
  const f = ((x: number) => r0 + ((Math.log10(Math.max(x, 10 ** a)) - a) / (b - a)) * (r1 - r0)) as Scale;
  return Object.assign(f, { domain: [10 ** a, 10 ** b] as const, ticks, format: trimNumber });
}

export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/** The plot area's edges in SVG coordinates. */
export function inner(f: Frame): { x0: number; x1: number; y0: number; y1: number } {
  return { x0: f.left, x1: f.width - f.right, y0: f.height - f.bottom, y1: f.top };
}

/** Grid lines, tick labels and axis titles for an x scale and, if given, a y scale. */
export function axes(frame: Frame, x: Scale, y: Scale | undefined, xTitle: string, yTitle = ''): string {
  const { x0, x1, y0, y1 } = inner(frame);
  const parts: string[] = [];
  for (const t of x.ticks) {
    const px = r1(x(t));
    parts.push(`<line class="grid" x1="${px}" x2="${px}" y1="${y1}" y2="${y0}"/>`);
    parts.push(`<text class="tick" x="${px}" y="${y0 + 14}" text-anchor="middle">${esc(x.format(t))}</text>`);
  }
  for (const t of y?.ticks ?? []) {
    const py = r1(y!(t));
    parts.push(`<line class="grid" x1="${x0}" x2="${x1}" y1="${py}" y2="${py}"/>`);
    parts.push(`<text class="tick" x="${x0 - 6}" y="${py}" dy="0.32em" text-anchor="end">${esc(y!.format(t))}</text>`);
  }
  parts.push(`<rect class="frame" x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}"/>`);
  parts.push(`<text class="title" x="${(x0 + x1) / 2}" y="${frame.height - 4}" text-anchor="middle">${esc(xTitle)}</text>`);
  if (yTitle !== '') parts.push(`<text class="title" transform="translate(12 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>`);
  return parts.join('');
}
