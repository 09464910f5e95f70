/**
 * fast-check arbitraries for tiny single-key register histories: a few clients, each a short
 * sequence of operations with small integer times (so ties happen), values from a tiny pool (so
 * values repeat). `randomHistory` draws results at random (mostly non-linearizable);
 * `plausibleHistory` computes them from a random linearization and sometimes corrupts one.
 */
import fc from 'fast-check';
import type { Op } from '../../src/history/op.js';
import { cas, del, history, read, write, type OpSpec } from './build.js';

type Outcome = 'ok' | 'fail' | 'info' | 'open';

interface Draw {
  f: 'read' | 'write' | 'cas' | 'delete';
  v: number;
  from: number | null;
  out: number | null;
  outcome: Outcome;
  gap: number;
  dur: number;
  /** Where in its interval the operation takes effect (0..1); for info ops, how far past it. */
  point: number;
  /** Whether an indeterminate mutation takes effect at all. */
  takes: boolean;
}

const draw: fc.Arbitrary<Draw> = fc.record({
  f: fc.constantFrom('read', 'write', 'cas', 'delete'),
  v: fc.constantFrom(1, 2, 3),
  from: fc.constantFrom(null, 1, 2, 3),
  out: fc.constantFrom(null, 1, 2, 3),
  outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'ok', 'fail', 'info', 'info', 'open'),
  gap: fc.nat(4),
  dur: fc.nat(6),
  point: fc.double({ min: 0, max: 1, noNaN: true }),
  takes: fc.boolean(),
});

const clients = fc.array(fc.array(draw, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 });

interface Placed {
  d: Draw;
  p: number;
  t0: number;
  t1: number | undefined;
  outcome: 'ok' | 'fail' | 'info';
  effect: number | undefined;
  result: number | null;
}

/** Lays the draws out in time: a client's next op begins after its previous completes; an info op retires its process. */
function layout(cs: readonly (readonly Draw[])[]): Placed[] {
  const placed: Placed[] = [];
  let nextProcess = cs.length;
  cs.forEach((ds, c) => {
    let p = c;
    let t = 0;
    for (const d of ds) {
      const t0 = t + d.gap;
      const open = d.outcome === 'open';
      const t1 = open ? undefined : t0 + d.dur;
      const outcome = d.outcome === 'open' ? 'info' : d.outcome;
      const effect =
        outcome === 'ok' ? t0 + d.point * d.dur : outcome === 'info' && d.f !== 'read' && d.takes ? t0 + d.point * (d.dur + 8) : undefined;
      placed.push({ d, p, t0, t1, outcome, effect, result: d.out });
      if (open) break;
      t = t1! + 1;
      if (outcome === 'info') p = nextProcess++;
    }
  });
  return placed;
}

function specs(placed: readonly Placed[], key: string, processBase: number): OpSpec[] {
  return placed.map((x) => {
    const o = { key, type: x.outcome };
    const p = x.p + processBase;
    switch (x.d.f) {
      case 'read':
        return read(p, x.result, x.t0, x.t1, o);
      case 'write':
        return write(p, x.d.v, x.t0, x.t1, o);
      case 'cas':
        return cas(p, x.d.from, x.d.v, x.t0, x.t1, o);
      case 'delete':
        return del(p, x.t0, x.t1, o);
    }
  });
}

/** Results drawn at random. */
export const randomHistory = (key = 'k', processBase = 0): fc.Arbitrary<Op[]> => clients.map((cs) => history(...specs(layout(cs), key, processBase)));

/** Results computed from a random linearization; `corrupt` sometimes changes one read's result. */
export const plausibleHistory = (key = 'k', processBase = 0): fc.Arbitrary<Op[]> =>
  fc.tuple(clients, fc.option(fc.tuple(fc.nat(20), fc.constantFrom(null, 1, 2, 3)), { freq: 3 })).map(([cs, corrupt]) => {
    const placed = layout(cs);
    let state: number | null = null;
    for (const x of [...placed].filter((x) => x.effect !== undefined).sort((a, b) => a.effect! - b.effect!)) {
      if (x.d.f === 'read') x.result = state;
      else if (x.d.f === 'write') state = x.d.v;
      else if (x.d.f === 'delete') state = null;
      else if (state === x.d.from) state = x.d.v;
      else if (x.outcome === 'ok') x.outcome = 'fail'; // did not swap
    }
    const reads = placed.filter((x) => x.d.f === 'read' && x.outcome === 'ok');
    if (corrupt !== null && reads.length > 0) reads[corrupt[0] % reads.length]!.result = corrupt[1];
    return history(...specs(placed, key, processBase));
  });
