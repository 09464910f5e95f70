import type { Op, OpError, OpF, OpValue, Scalar } from '../history/op.js';
import type { NemesisInterval } from '../history/timeline.js';
import { Rng } from '../rng.js';

/**
 * Simulated histories for tests, benchmarks and sample reports: logical clients issue
 * operations against an ideal store, so the history is linearizable (and the set complete)
 * unless a bug is injected on purpose. Faults in the timeline are acted out the way a real
 * cluster shows them: clients pinned to a minority node or a killed node see their operations
 * fail or time out, and the majority side stalls for an election when a partition begins.
 */

export interface SimulationOptions {
  readonly seed: number;
  /** Operations in all (the final set read not counted). */
  readonly ops: number;
  /** Concurrent logical clients. */
  readonly clients: number;
  /** Cluster size; client i is pinned to node i % nodes + 1 and events carry `node`. Default 3. */
  readonly nodes?: number;
  /** Median latency of an operation (ms). Default 2. */
  readonly latencyMs?: number;
  /** Mean pause between a client's operations (ms). Default 1. */
  readonly thinkMs?: number;
  /** Fraction of operations that end indeterminate (client timeout). Default 0.01. */
  readonly infoRate?: number;
  /** Fraction of operations that fail definitely (refused before they were sent). Default 0.01. */
  readonly failRate?: number;
  /** How long a client waits before giving up with `info` (ms). Default 500. */
  readonly timeoutMs?: number;
  /** Election stall on the majority side when a partition begins (ms). Default 300. */
  readonly electionMs?: number;
  /** Faults to act out, times in ns on the simulated clock (which starts at 0). */
  readonly timeline?: readonly NemesisInterval[];
}

export interface RegisterSimulationOptions extends SimulationOptions {
  /** Number of keys (`k0` … `k{n-1}`). */
  readonly keys: number;
  /** Injected bug: this fraction of reads return the value the key held before its latest write. */
  readonly staleReadRate?: number;
}

export interface SetSimulationOptions extends SimulationOptions {
  /** Key prefix of the set. Default `set/`. */
  readonly prefix?: string;
  /** Injected bug: this fraction of acknowledged adds are missing from the final read. */
  readonly lostRate?: number;
  /** Injected bug: this many elements nobody added appear in the final read. */
  readonly phantoms?: number;
}

const MS = 1e6;

interface Planned {
  process: number;
  f: OpF;
  key: string;
  input: OpValue;
  node: number | undefined;
  invokedAt: number;
  completedAt: number;
  outcome: 'ok' | 'fail' | 'info';
  error?: OpError;
  /** When it takes effect (ok, and info that does take effect); undefined: never. */
  effectAt: number | undefined;
  output: OpValue;
}

type Choose = (rng: Rng, client: number) => { f: OpF; key: string; input: OpValue };

/** Plans every client's operations: times, node, outcome and when (if ever) each takes effect. */
function plan(options: SimulationOptions, rng: Rng, choose: Choose): Planned[] {
  const nodes = options.nodes ?? 3;
  const latencyMs = options.latencyMs ?? 2;
  const thinkMs = options.thinkMs ?? 1;
  const infoRate = options.infoRate ?? 0.01;
  const failRate = options.failRate ?? 0.01;
  const timeout = (options.timeoutMs ?? 500) * MS;
  const election = (options.electionMs ?? 300) * MS;
  const timeline = options.timeline ?? [];
  const cursor = new Array<number>(options.clients).fill(0);
  const process = Array.from({ length: options.clients }, (_, i) => i);
  let nextProcess = options.clients;
  const planned: Planned[] = [];
  while (planned.length < options.ops) {
    let c = 0;
    for (let i = 1; i < cursor.length; i++) if (cursor[i]! < cursor[c]!) c = i;
    const node = nodes > 0 ? (c % nodes) + 1 : undefined;
    const invokedAt = Math.round(cursor[c]! + 1000 + rng.next() * 2 * thinkMs * MS);
    let latency = Math.max(50_000, Math.round(rng.logNormal(latencyMs * MS, 0.6)));
    let outcome: Planned['outcome'] = 'ok';
    let error: OpError | undefined;
    const active = timeline.filter((iv) => iv.start <= invokedAt && invokedAt < (iv.end ?? Number.POSITIVE_INFINITY));
    const cut = active.some((iv) => node !== undefined && (iv.minority ?? []).includes(node));
    const down = active.some((iv) => iv.kind === 'kill' && node !== undefined && (iv.nodes ?? []).includes(node));
    const op = choose(rng, c);
    if (down) {
      outcome = 'fail';
      error = { code: 'UNAVAILABLE', message: `connect ECONNREFUSED node ${node}` };
      latency = 200_000;
    } else if (cut) {
      outcome = op.f === 'read' ? 'fail' : 'info';
      error = op.f === 'read' ? { code: 'UNAVAILABLE', message: 'no quorum for a linearizable read' } : { code: 'TIMEOUT', message: 'no response before the deadline' };
      latency = op.f === 'read' ? timeout / 2 : timeout;
    } else {
      const stall = active.find((iv) => iv.kind === 'partition' && invokedAt < iv.start + election);
      if (stall !== undefined) latency += stall.start + election - invokedAt;
      if (rng.chance(infoRate)) {
        outcome = 'info';
        error = { code: 'TIMEOUT', message: 'no response before the deadline' };
        latency = timeout;
      } else if (rng.chance(failRate)) {
        outcome = 'fail';
        error = { code: 'UNAVAILABLE', message: 'refused before sending' };
      }
    }
    const completedAt = invokedAt + latency;
    // Acknowledged ops take effect inside their interval; an indeterminate mutation on the
    // majority side takes effect half the time, possibly after the client gave up.
    let effectAt: number | undefined;
    if (outcome === 'ok') effectAt = invokedAt + 1 + Math.floor(rng.next() * (latency - 1));
    else if (outcome === 'info' && !cut && rng.chance(0.5)) effectAt = invokedAt + 1 + Math.floor(rng.next() * 2 * latency);
    planned.push({ process: process[c]!, ...op, node, invokedAt, completedAt, outcome, ...(error ? { error } : {}), effectAt, output: null });
    cursor[c] = completedAt;
    if (outcome === 'info') process[c] = nextProcess++;
  }
  return planned;
}

/** Invoke and completion events of the planned operations, in time order. */
function events(planned: readonly Planned[]): Op[] {
  const evs: { op: Op; seq: number }[] = [];
  planned.forEach((p, i) => {
    const base = { process: p.process, f: p.f, key: p.key, ...(p.node === undefined ? {} : { node: p.node }) };
    evs.push({ op: { ...base, type: 'invoke', value: p.input, time: p.invokedAt }, seq: 2 * i });
    const value = p.f === 'read' ? (p.outcome === 'ok' ? p.output : null) : p.input;
    evs.push({ op: { ...base, type: p.outcome, value, time: p.completedAt, ...(p.error ? { error: p.error } : {}) }, seq: 2 * i + 1 });
  });
  evs.sort((a, b) => a.op.time - b.op.time || a.seq - b.seq);
  return evs.map((e) => e.op);
}

/** A register workload: reads, writes of unique values, cas and deletes over a few keys. */
export function simulateRegisterHistory(options: RegisterSimulationOptions): Op[] {
  const rng = new Rng(options.seed);
  const lastWritten = new Map<string, Scalar>();
  let nextValue = 1;
  const planned = plan(options, rng, (r) => {
    const key = `k${r.int(options.keys)}`;
    const roll = r.next();
    if (roll < 0.5) return { f: 'read', key, input: null };
    if (roll < 0.75 || !lastWritten.has(key)) {
      const v = nextValue++;
      lastWritten.set(key, v);
      return { f: 'write', key, input: v };
    }
    if (roll < 0.95) {
      const v = nextValue++;
      const from = lastWritten.get(key)!;
      lastWritten.set(key, v);
      return { f: 'cas', key, input: [from, v] };
    }
    return { f: 'delete', key, input: null };
  });
  // Apply the effects in time order to an ideal store; reads and cas learn their results.
  const state = new Map<string, Scalar | null>();
  const previous = new Map<string, Scalar | null>();
  const stale = options.staleReadRate ?? 0;
  const effects = planned.filter((p) => p.effectAt !== undefined).sort((a, b) => a.effectAt! - b.effectAt!);
  for (const p of effects) {
    const now = state.get(p.key) ?? null;
    const set = (v: Scalar | null): void => {
      previous.set(p.key, now);
      state.set(p.key, v);
    };
    switch (p.f) {
      case 'read':
        p.output = stale > 0 && previous.has(p.key) && rng.chance(stale) ? previous.get(p.key)! : now;
        break;
      case 'write':
        set(p.input as Scalar);
        break;
      case 'delete':
        set(null);
        break;
      case 'cas': {
        const [from, to] = p.input as readonly [Scalar | null, Scalar];
        if (now === from) set(to);
        else if (p.outcome === 'ok') p.outcome = 'fail'; // did not swap
        break;
      }
      default:
        break;
    }
  }
  return events(planned);
}

/** A set workload: unique adds under a prefix, then one final read of the whole set. */
export function simulateSetHistory(options: SetSimulationOptions): Op[] {
  const rng = new Rng(options.seed);
  const prefix = options.prefix ?? 'set/';
  let next = 1;
  const planned = plan(options, rng, () => {
    const e = next++;
    return { f: 'add', key: `${prefix}${e}`, input: e };
  });
  const present = planned
    .filter((p) => p.effectAt !== undefined)
    .filter((p) => !(p.outcome === 'ok' && rng.chance(options.lostRate ?? 0)))
    .map((p) => p.input as number);
  for (let i = 0; i < (options.phantoms ?? 0); i++) present.push(1_000_000 + i);
  present.sort((a, b) => a - b);
  const end = [...planned.map((p) => p.completedAt), ...(options.timeline ?? []).map((iv) => iv.end ?? 0)].reduce((a, b) => Math.max(a, b), 0);
  const history = events(planned);
  const process = planned.reduce((a, p) => Math.max(a, p.process), 0) + 1;
  const read = { process, f: 'read' as const, key: prefix };
  history.push({ ...read, type: 'invoke', value: null, time: end + 100 * MS });
  history.push({ ...read, type: 'ok', value: present, time: end + 130 * MS });
  return history;
}
