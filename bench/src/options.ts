/** The `pnpm bench` command line. Load flags as the etcd generators' (`bench/etcd/bench-node.js`). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ReadRouting } from '@keel/client';
import type { LogLevel } from '@keel/test-support';

/** put: a write; lget: a linearizable get (the default read); sget: a serializable get (local, may be stale). */
export const OPS = ['put', 'lget', 'sget'] as const;
export type Op = (typeof OPS)[number];

/** Relative weights of the operations. */
export type Mix = Readonly<Record<Op, number>>;

/** How to load the cluster: one run of the closed loop. */
export interface LoadOptions {
  /** Requests in flight at all times. */
  readonly concurrency: number;
  /** Measured operations; undefined with `durationSec`. */
  readonly ops: number | undefined;
  /** Measured seconds; undefined with `ops`. */
  readonly durationSec: number | undefined;
  readonly valueSize: number;
  /** Key space: keys bench/0000000 .. bench/<keys-1>, picked uniformly. */
  readonly keys: number;
  /** The mix as written on the command line (`put=1,lget=1`), and its weights. */
  readonly mixText: string;
  readonly mix: Mix;
  /** Unmeasured operations before the measured phase. */
  readonly warmup: number;
  /** Write every key once before measuring: auto = when the mix has reads (which then must find their key). */
  readonly prepopulate: 'auto' | 'yes' | 'no';
  /** Deadline of one operation, retries included (the client's timeoutMs). */
  readonly timeoutMs: number;
  /** Which Keel nodes serve the gets (the client's `reads` option): the leader, or every member in turn. */
  readonly reads: ReadRouting;
  readonly label: string;
}

export type Mode = 'run' | 'matrix' | 'vs-etcd';

/** Which etcd load generator `--vs-etcd` uses, and where its connections go. */
export type EtcdGenerator = 'go' | 'node';
export type EtcdTarget = 'leader' | 'all';

export interface CliOptions {
  readonly mode: Mode;
  readonly load: LoadOptions;
  /** Load these endpoints instead of starting a cluster (single runs only). */
  readonly endpoints: readonly string[] | undefined;
  /** Server PIDs to account CPU and memory for with `endpoints`. */
  readonly cpuPids: readonly number[];
  readonly json: boolean;
  /** Members of the cluster the bench starts. */
  readonly nodes: number;
  readonly logLevel: LogLevel;
  /** Run every node under `node --cpu-prof` and summarize where its CPU went. */
  readonly profile: boolean;
  /** Load the stand-in node that answers at once: the generator's and client library's own ceiling. */
  readonly stub: boolean;
  /** Run every node under `node --trace-gc` and report its pauses beside the slowest operations. */
  readonly gc: boolean;
  /** More Node/V8 flags for every node the bench starts (`--node-flags`, space-separated). */
  readonly nodeFlags: readonly string[];
  /** Run the started clusters over TLS (every link; the client presents a certificate). */
  readonly tls: boolean;
  /** --matrix / --vs-etcd: runs per cell, op-count multiplier, the cells. */
  readonly reps: number;
  readonly scale: number;
  readonly cells: readonly CellSpec[] | undefined;
  readonly etcdGenerator: EtcdGenerator;
  readonly etcdTarget: EtcdTarget;
  /** Where results go; default bench/results/<timestamp>/. */
  readonly outDir: string | undefined;
  /** Everything after "--": more keel-server flags for every node. */
  readonly serverArgs: readonly string[];
}

/** One cell of the matrix: an operation (or the 50/50 put/lget mix) at a concurrency. */
export interface CellSpec {
  readonly kind: Op | 'mix';
  readonly concurrency: number;
}

export const USAGE = `Usage: pnpm bench [options] [-- keel-server options]

Closed-loop load generator on @keel/client. Starts a fresh 3-node cluster (fsync on, temp data
dirs, stopped by PID at the end) unless --endpoints is given.

Load (as the etcd generators in bench/etcd/):
  --concurrency <n>     requests in flight at all times (default 16)
  --ops <n>             measured operations (default 20000)
  --duration <s>        measure for this many seconds instead of --ops
  --value-size <bytes>  put value size (default 256)
  --keys <n>            key space, keys bench/0000000.. picked uniformly (default 10000)
  --mix <weights>       put=…,lget=…,sget=… (linearizable / serializable gets; default put=1)
  --warmup <n>          unmeasured ops first (default ops/10, at most 2000)
  --prepopulate <when>  auto|yes|no: write every key once first (auto: when the mix reads)
  --timeout <ms>        deadline of one operation, retries included (default 10000)
  --reads <r>           leader (default: Keel's client sends gets to the leader) or spread
                        (every member in turn, followers included: the client's reads option)
  --label <text>        copied to the output
  --json                print one JSON object instead of the summary

Cluster:
  --endpoints <h:p,…>   load a running cluster instead of starting one
  --cpu-pids <pid,…>    with --endpoints: server PIDs for CPU and memory accounting
  --nodes <n>           members of the started cluster (default 3)
  --log-level <lvl>     node log level (default info)
  --profile             run each node under node --cpu-prof; writes .cpuprofile files and
                        the top self-time functions per node into the results dir
  --stub                load a stand-in node that answers at once from memory (no Raft, no
                        disk): what the generator and @keel/client alone can drive
  --tls                 run the started cluster over TLS, as pnpm cluster --tls does (mutual
                        TLS between nodes, client certificates): measures TLS's cost
  --gc                  run each node under node --trace-gc: prints each node's GC pauses and
                        how many of the slowest 1% of operations overlapped one (vs median ops)
  --node-flags=<flags>  more Node/V8 flags for every node the bench starts, space-separated
                        (e.g. --node-flags=--max-semi-space-size=8): tuning experiments

Standard cells (puts at 1/16/64/256 in flight, linearizable and serializable gets at 1/64,
a 50/50 put/lget mix at 64), a fresh cluster per run:
  --matrix              Keel alone; Markdown table and SVG chart into the results dir
  --vs-etcd             Keel and a 3-member etcd (Debian etcd-server), alternating cell by
                        cell; medians and Keel/etcd ratios
  --reps <n>            runs per cell (default 3 with --vs-etcd, 1 with --matrix)
  --scale <x>           multiply each cell's op count (default 1)
  --cells <list>        e.g. put:1,put:256,lget:64,mix:64 (default: the standard cells)
  --etcd-gen <go|node>  etcd load generator: bench.go (etcd's Go client, default) or bench-node.js
  --etcd-target <t>     leader (every connection to etcd's leader, as Keel's client sends to
                        Keel's leader) or all (spread over the members); default: the
                        counterpart of --reads (leader with leader, all with spread)
  --out <dir>           results dir (default bench/results/<timestamp>/)
  -h, --help            show this help

Examples:
  pnpm bench --concurrency 256 --ops 100000
  pnpm bench --mix put=1,lget=1 --concurrency 64 --duration 30
  pnpm bench --matrix
  pnpm bench --vs-etcd --reps 3
  pnpm bench --profile --concurrency 256 --duration 20
  pnpm bench --tls --concurrency 64 --ops 50000
  pnpm bench --gc --concurrency 64 --duration 20
`;

/** A command line that cannot run: the message, and exit status 2. */
export class UsageError extends Error {}

export const STANDARD_CELLS: readonly CellSpec[] = [
  { kind: 'put', concurrency: 1 },
  { kind: 'put', concurrency: 16 },
  { kind: 'put', concurrency: 64 },
  { kind: 'put', concurrency: 256 },
  { kind: 'lget', concurrency: 1 },
  { kind: 'lget', concurrency: 64 },
  { kind: 'sget', concurrency: 1 },
  { kind: 'sget', concurrency: 64 },
  { kind: 'mix', concurrency: 64 },
];

/** The mix a cell runs. */
export function cellMix(cell: CellSpec): string {
  return cell.kind === 'mix' ? 'put=1,lget=1' : `${cell.kind}=1`;
}

export function cellName(cell: CellSpec): string {
  return `${cell.kind}:${cell.concurrency}`;
}

/** Measured ops per cell: ~5-15 s at the rates seen on a 2-core machine (as the etcd anchor's matrix.js). */
export function cellOps(cell: CellSpec, scale: number): number {
  const c = cell.concurrency;
  const base = cell.kind === 'put' || cell.kind === 'mix' ? (c <= 1 ? 4000 : c <= 16 ? 20000 : 50000) : c <= 1 ? 8000 : 60000;
  return Math.max(1, Math.round(base * scale));
}

export function parseMix(text: string): Mix {
  const mix: Record<Op, number> = { put: 0, lget: 0, sget: 0 };
  for (const part of text.split(',')) {
    const [name, weight, extra] = part.split('=');
    if (!OPS.includes(name as Op) || extra !== undefined) throw new UsageError(`--mix: "${part}" is not op=weight with op put, lget or sget`);
    const w = weight === undefined ? 1 : Number(weight);
    if (!Number.isFinite(w) || w < 0) throw new UsageError(`--mix: weight of ${name} must be a number >= 0`);
    mix[name as Op] = w;
  }
  if (OPS.every((op) => mix[op] === 0)) throw new UsageError('--mix: every weight is 0');
  return mix;
}

function parseCells(text: string): CellSpec[] {
  return text.split(',').map((part) => {
    const [kind, c] = part.split(':');
    if (!['put', 'lget', 'sget', 'mix'].includes(kind!) || c === undefined || !/^\d+$/.test(c) || Number(c) < 1) {
      throw new UsageError(`--cells: "${part}" is not <put|lget|sget|mix>:<concurrency>`);
    }
    return { kind: kind as CellSpec['kind'], concurrency: Number(c) };
  });
}

function positiveInt(name: string, text: string, min = 1): number {
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${text}"`);
  return Number(text);
}

function positive(name: string, text: string): number {
  const x = Number(text);
  if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--${name} must be a number > 0, got "${text}"`);
  return x;
}

function oneOf<T extends string>(name: string, text: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${text}"`);
  return text as T;
}

/** Where etcd's connections go to match where Keel's client sends its reads. */
const ETCD_TARGET_OF: Readonly<Record<ReadRouting, EtcdTarget>> = { leader: 'leader', spread: 'all' };

/** Parses `argv`; undefined for --help. Throws UsageError on a bad command line. */
export function parseCommandLine(argv: readonly string[]): CliOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        concurrency: { type: 'string', default: '16' },
        ops: { type: 'string' },
        duration: { type: 'string' },
        'value-size': { type: 'string', default: '256' },
        keys: { type: 'string', default: '10000' },
        mix: { type: 'string', default: 'put=1' },
        warmup: { type: 'string' },
        prepopulate: { type: 'string', default: 'auto' },
        timeout: { type: 'string', default: '10000' },
        label: { type: 'string', default: '' },
        json: { type: 'boolean', default: false },
        endpoints: { type: 'string' },
        'cpu-pids': { type: 'string', default: '' },
        nodes: { type: 'string', default: '3' },
        'log-level': { type: 'string', default: 'info' },
        profile: { type: 'boolean', default: false },
        stub: { type: 'boolean', default: false },
        tls: { type: 'boolean', default: false },
        gc: { type: 'boolean', default: false },
        'node-flags': { type: 'string', default: '' },
        matrix: { type: 'boolean', default: false },
        'vs-etcd': { type: 'boolean', default: false },
        reps: { type: 'string' },
        scale: { type: 'string', default: '1' },
        cells: { type: 'string' },
        'etcd-gen': { type: 'string', default: 'go' },
        reads: { type: 'string', default: 'leader' },
        'etcd-target': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return undefined;
  if (v.matrix && v['vs-etcd']) throw new UsageError('--matrix and --vs-etcd are two modes: give one');
  const mode: Mode = v.matrix ? 'matrix' : v['vs-etcd'] ? 'vs-etcd' : 'run';
  if (mode !== 'run' && (v.endpoints !== undefined || v.profile || v.stub)) {
    throw new UsageError(`--${mode} starts its own clusters: --endpoints, --profile and --stub are for single runs`);
  }
  if ([v.endpoints !== undefined, v.profile, v.stub].filter(Boolean).length > 1) {
    throw new UsageError('--endpoints, --profile and --stub exclude each other');
  }
  if (v.tls && (v.endpoints !== undefined || v.stub || v['vs-etcd'])) {
    throw new UsageError('--tls applies to the clusters the bench starts for Keel alone: not with --endpoints, --stub or --vs-etcd');
  }
  if (v.gc && (mode !== 'run' || v.endpoints !== undefined || v.stub)) {
    throw new UsageError('--gc traces the nodes of a cluster the bench starts for one run: not with --matrix, --vs-etcd, --endpoints or --stub');
  }
  const nodeFlags = v['node-flags'].split(' ').filter((f) => f !== '');
  const badFlag = nodeFlags.find((f) => !f.startsWith('--'));
  if (badFlag !== undefined) throw new UsageError(`--node-flags: "${badFlag}" is not a Node flag (flags start with --)`);
  if (nodeFlags.length > 0 && (v.endpoints !== undefined || v.stub)) throw new UsageError('--node-flags applies to nodes the bench starts: not with --endpoints or --stub');
  if (v.ops !== undefined && v.duration !== undefined) throw new UsageError('give --ops or --duration, not both');
  const ops = v.duration === undefined ? positiveInt('ops', v.ops ?? '20000') : undefined;
  const durationSec = v.duration === undefined ? undefined : positive('duration', v.duration);
  const endpoints = v.endpoints?.split(',').filter((e) => e !== '');
  if (endpoints !== undefined && endpoints.length === 0) throw new UsageError('--endpoints is empty');
  const reads = oneOf('reads', v.reads, ['leader', 'spread'] as const);
  const etcdTarget = oneOf('etcd-target', v['etcd-target'] ?? ETCD_TARGET_OF[reads], ['leader', 'all'] as const);
  if (mode === 'vs-etcd' && etcdTarget !== ETCD_TARGET_OF[reads]) {
    throw new UsageError(`--vs-etcd compares like with like: --reads ${reads} goes with --etcd-target ${ETCD_TARGET_OF[reads]}, not ${etcdTarget}`);
  }
  const cpuPids = v['cpu-pids'] === '' ? [] : v['cpu-pids'].split(',').map((p) => positiveInt('cpu-pids', p));
  return {
    mode,
    load: {
      concurrency: positiveInt('concurrency', v.concurrency),
      ops,
      durationSec,
      valueSize: positiveInt('value-size', v['value-size'], 0),
      keys: positiveInt('keys', v.keys),
      mixText: v.mix,
      mix: parseMix(v.mix),
      warmup: v.warmup === undefined ? Math.min(2000, Math.floor((ops ?? 20000) / 10)) : positiveInt('warmup', v.warmup, 0),
      prepopulate: oneOf('prepopulate', v.prepopulate, ['auto', 'yes', 'no'] as const),
      timeoutMs: positiveInt('timeout', v.timeout),
      reads,
      label: v.label,
    },
    endpoints,
    cpuPids,
    json: v.json,
    nodes: positiveInt('nodes', v.nodes),
    logLevel: oneOf('log-level', v['log-level'], ['debug', 'info', 'warn', 'error'] as const),
    profile: v.profile,
    stub: v.stub,
    gc: v.gc,
    nodeFlags,
    tls: v.tls,
    reps: positiveInt('reps', v.reps ?? (mode === 'vs-etcd' ? '3' : '1')),
    scale: positive('scale', v.scale),
    cells: v.cells === undefined ? undefined : parseCells(v.cells),
    etcdGenerator: oneOf('etcd-gen', v['etcd-gen'], ['go', 'node'] as const),
    etcdTarget,
    outDir: v.out === undefined ? undefined : resolve(v.out),
    serverArgs: positionals,
  };
}
