/**
 * The closed loop: `concurrency` workers on one `KeelClient`, each with exactly one request in
 * flight, issuing its next request as soon as the previous one is answered (as the etcd
 * generators do). Keys are picked uniformly, operations by the mix's weights. Every operation of
 * the measured phase is counted once: its latency goes into its kind's histogram (successes and
 * failures alike, as etcd's generators do), a failure also into `errorKinds`.
 */
import { isKeelError, type KeelClient } from '@keel/client';
import type { Histogram } from 'hdr-histogram-js';
import { merged, newHistogram, recordMs, summarize, type LatencySummary } from './latency.js';
import { interruption } from './interrupt.js';
import { OPS, type LoadOptions, type Op } from './options.js';
import type { GcReport, OpTimeline } from './gc-report.js';
import { Progress } from './progress.js';
import { CpuMeter, RSS_SAMPLE_MS, loadAverages, rssOf, type CpuReport, type RssReport } from './proc-stats.js';

/** One run's result: the etcd generators' JSON shape, plus memory, the nodes and the machine's load. */
export interface RunResult {
  readonly system: 'keel' | 'etcd';
  readonly label: string;
  readonly endpoints: number;
  readonly concurrency: number;
  readonly ops: number;
  readonly valueSize: number;
  readonly keys: number;
  readonly mix: string;
  readonly warmup: number;
  readonly prepopulated: boolean;
  readonly wallSec: number;
  readonly opsPerSec: number;
  readonly latency: LatencySummary | null;
  readonly byOp: Partial<Record<Op, LatencySummary | null>>;
  readonly errors: number;
  readonly errorKinds: Record<string, number>;
  readonly warmupErrors: number;
  readonly cpu: CpuReport;
  /** Each server process's resident memory (Linux), in the order of `cpu.serverPerNodePct`. */
  readonly memory: readonly RssReport[];
  /** The server processes, in the same order (node id and role when the bench started them). */
  readonly servers: readonly ServerInfo[];
  /** 1-minute load average before and after the measured phase: how busy the shared machine was. */
  readonly loadAvg: { readonly before: number; readonly after: number };
  readonly client: string;
  /** `--gc`: the nodes' GC pauses beside the slowest operations. */
  readonly gc?: GcReport;
}

export interface ServerInfo {
  readonly pid: number;
  readonly id?: number;
  readonly role?: string;
}

/** How one operation is sent; rejects (or resolves false: a read that found no key) on failure. */
type Send = (op: Op, key: number) => Promise<boolean>;

/** The operations on a client: puts of `valueSize` bytes, linearizable and serializable gets. */
export function clientOps(client: KeelClient, keys: number, valueSize: number): Send {
  const keyBytes = Array.from({ length: keys }, (_, i) => Buffer.from(`bench/${String(i).padStart(7, '0')}`));
  const value = Buffer.alloc(valueSize, 0x76);
  const serializable = { consistency: 'serializable' } as const;
  // Plain promise chains with module-level callbacks, not an async function per operation: each
  // async level costs the generator about 540 bytes per call (measured by the client's profile).
  return (op, k) => {
    const key = keyBytes[k]!;
    if (op === 'put') return client.put(key, value).then(answered);
    return client.get(key, op === 'sget' ? serializable : undefined).then(found);
  };
}

const answered = (): boolean => true;
const found = (entry: unknown): boolean => entry !== null;

interface Phase {
  /** Stop after this many operations… */
  readonly total?: number;
  /** …or once this much time has passed (ms). */
  readonly durationMs?: number;
  readonly concurrency: number;
  readonly pick: () => Op;
  readonly key: (i: number) => number;
  /** Every completion. */
  readonly done: (op: Op, ms: number, error: string | undefined) => void;
}

/**
 * Runs a closed loop of `concurrency` workers until `total` ops completed or `durationMs` passed
 * (or the bench is interrupted).
 */
async function runPhase(send: Send, checkReads: boolean, p: Phase): Promise<void> {
  let issued = 0;
  const endAt = p.durationMs === undefined ? Infinity : performance.now() + p.durationMs;
  const more = (): boolean => !interruption.aborted && (p.total !== undefined ? issued < p.total : performance.now() < endAt);
  const worker = async (): Promise<void> => {
    while (more()) {
      const i = issued++;
      const op = p.pick();
      const t0 = performance.now();
      let error: string | undefined;
      try {
        if (!(await send(op, p.key(i))) && checkReads) error = 'get returned no key';
      } catch (e) {
        error = isKeelError(e) ? e.code : String(e).slice(0, 80); // codes are stable; messages carry timings
      }
      p.done(op, performance.now() - t0, error);
    }
  };
  const workers = p.total === undefined ? p.concurrency : Math.min(p.concurrency, p.total);
  await Promise.all(Array.from({ length: workers }, worker));
}

export interface LoadTarget {
  readonly send: Send;
  /** Server processes to account CPU and memory for. */
  readonly servers: readonly ServerInfo[];
  readonly endpoints: number;
  /** Keeps every measured operation's start and latency (`--gc`). */
  readonly timeline?: OpTimeline;
}

/** Prepopulates (if asked), warms up and measures one run. */
export async function runLoad(target: LoadTarget, o: LoadOptions, progress: Progress | undefined): Promise<RunResult> {
  const weights = OPS.map((op) => o.mix[op]);
  const sum = weights.reduce((a, b) => a + b, 0);
  const pick = (): Op => {
    let r = Math.random() * sum;
    for (let j = 0; j < OPS.length; j++) if ((r -= weights[j]!) < 0) return OPS[j]!;
    return OPS[OPS.length - 1]!;
  };
  const randomKey = (): number => Math.floor(Math.random() * o.keys);
  const errors = new Map<string, number>();
  const countError = (e: string | undefined): void => {
    if (e !== undefined) errors.set(e, (errors.get(e) ?? 0) + 1);
  };

  const prepopulated = o.prepopulate === 'yes' || (o.prepopulate === 'auto' && o.mix.lget + o.mix.sget > 0);
  if (prepopulated) {
    progress?.phase('prepopulate', o.keys);
    await runPhase(target.send, false, {
      total: o.keys,
      concurrency: Math.max(o.concurrency, 64),
      pick: () => 'put',
      key: (i) => i,
      done: (_op, _ms, e) => {
        countError(e);
        progress?.count(e !== undefined);
      },
    });
  }
  if (o.warmup > 0) {
    progress?.phase('warmup', o.warmup);
    await runPhase(target.send, prepopulated, {
      total: o.warmup,
      concurrency: o.concurrency,
      pick,
      key: randomKey,
      done: (_op, _ms, e) => {
        countError(e);
        progress?.count(e !== undefined);
      },
    });
  }
  const warmupErrors = [...errors.values()].reduce((a, b) => a + b, 0);
  errors.clear();

  const hist: Record<Op, Histogram> = { put: newHistogram(), lget: newHistogram(), sget: newHistogram() };
  const pids = target.servers.map((s) => s.pid);
  const loadBefore = loadAverages()[0];
  const rssSamples: number[][] = pids.map(() => []);
  const sampleRss = (): void => pids.forEach((pid, i) => rssSamples[i]!.push(rssOf(pid).finalRssMiB));
  const rssTimer = setInterval(sampleRss, RSS_SAMPLE_MS);
  rssTimer.unref();
  sampleRss();
  progress?.phase('measure', o.ops, o.durationSec, () => (pids.length > 0 ? `, RSS MiB ${rssSamples.map((s) => s[s.length - 1]).join(' / ')}` : ''));
  const meter = new CpuMeter(pids);
  const t0 = performance.now();
  const timeline = target.timeline;
  if (timeline !== undefined) timeline.fromMs = t0;
  await runPhase(target.send, prepopulated, {
    ...(o.ops !== undefined ? { total: o.ops } : { durationMs: o.durationSec! * 1000 }),
    concurrency: o.concurrency,
    pick,
    key: randomKey,
    done: (op, ms, e) => {
      recordMs(hist[op], ms);
      timeline?.add(performance.now() - ms, ms);
      countError(e);
      progress?.count(e !== undefined);
    },
  });
  const endMs = performance.now();
  if (timeline !== undefined) timeline.toMs = endMs;
  const wallSec = (endMs - t0) / 1000;
  if (interruption.aborted) throw new Error('interrupted');
  const cpu = meter.finish(wallSec);
  clearInterval(rssTimer);
  const memory = pids.map((pid, i) => {
    const r = rssOf(pid);
    return { ...r, samplesMiB: [...rssSamples[i]!, r.finalRssMiB] };
  });
  progress?.end();
  const all = merged(OPS.map((op) => hist[op]));
  const byOp: Partial<Record<Op, LatencySummary | null>> = {};
  for (const op of OPS) if (o.mix[op] > 0) byOp[op] = summarize(hist[op]);
  return {
    system: 'keel',
    label: o.label,
    endpoints: target.endpoints,
    concurrency: o.concurrency,
    ops: all.totalCount,
    valueSize: o.valueSize,
    keys: o.keys,
    mix: o.mixText,
    warmup: o.warmup,
    prepopulated,
    wallSec: Math.round(wallSec * 1000) / 1000,
    opsPerSec: Math.round(all.totalCount / wallSec),
    latency: summarize(all),
    byOp,
    errors: [...errors.values()].reduce((a, b) => a + b, 0),
    errorKinds: Object.fromEntries(errors),
    warmupErrors,
    cpu,
    memory,
    servers: target.servers,
    loadAvg: { before: loadBefore, after: loadAverages()[0] },
    client: `@keel/client, reads: ${o.reads}`,
  };
}
