/** The pure parts of the bench: the command line, medians and ratios, and reading a CPU profile. */
import { describe, expect, it } from 'vitest';
import { cellStats, median, ratio, serverUsPerOp } from '../src/cell-stats.js';
import type { RunResult } from '../src/load.js';
import { OpTimeline, gcReport, parseGcLine, type GcPause } from '../src/gc-report.js';
import { cellLoad } from '../src/matrix.js';
import { STANDARD_CELLS, UsageError, cellOps, parseCommandLine, parseMix } from '../src/options.js';
import { areaOf, summarizeProfile } from '../src/profile.js';

describe('command line', () => {
  it('has the etcd generators\' defaults', () => {
    const o = parseCommandLine([])!;
    expect(o.mode).toBe('run');
    expect(o.load).toMatchObject({ concurrency: 16, ops: 20000, durationSec: undefined, valueSize: 256, keys: 10000, warmup: 2000, prepopulate: 'auto' });
    expect(o.load.mix).toEqual({ put: 1, lget: 0, sget: 0 });
    expect(o.nodes).toBe(3);
    expect(o.tls).toBe(false);
    expect(parseCommandLine(['--tls', '--matrix'])!.tls).toBe(true);
  });

  it('takes a duration instead of ops, and passes what follows -- to every node', () => {
    const o = parseCommandLine(['--duration', '2.5', '--mix', 'put=1,sget=3', '--', '--snapshot-entries', '500'])!;
    expect(o.load.ops).toBeUndefined();
    expect(o.load.durationSec).toBe(2.5);
    expect(o.load.mix).toEqual({ put: 1, lget: 0, sget: 3 });
    expect(o.serverArgs).toEqual(['--snapshot-entries', '500']);
  });

  it("sends gets to Keel's leader by default, and pairs etcd's connections with where Keel's reads go", () => {
    const leader = parseCommandLine(['--vs-etcd'])!;
    expect([leader.load.reads, leader.etcdTarget]).toEqual(['leader', 'leader']);
    const spread = parseCommandLine(['--vs-etcd', '--reads', 'spread'])!;
    expect([spread.load.reads, spread.etcdTarget]).toEqual(['spread', 'all']);
    expect(parseCommandLine(['--reads', 'spread', '--etcd-target', 'all', '--vs-etcd'])!.etcdTarget).toBe('all');
    // A single Keel run may name any etcd target: nothing is compared.
    expect(parseCommandLine(['--reads', 'spread', '--etcd-target', 'leader'])!.load.reads).toBe('spread');
  });

  it('defaults to 3 runs per cell with --vs-etcd and 1 with --matrix', () => {
    expect(parseCommandLine(['--vs-etcd'])!.reps).toBe(3);
    expect(parseCommandLine(['--matrix'])!.reps).toBe(1);
    expect(parseCommandLine(['--matrix', '--cells', 'put:1,mix:64'])!.cells).toEqual([
      { kind: 'put', concurrency: 1 },
      { kind: 'mix', concurrency: 64 },
    ]);
  });

  it.each([
    [['--ops', '10', '--duration', '1'], /--ops or --duration/],
    [['--mix', 'write=1'], /--mix/],
    [['--mix', 'put=0'], /every weight is 0/],
    [['--concurrency', '0'], /--concurrency must be an integer >= 1/],
    [['--matrix', '--vs-etcd'], /two modes/],
    [['--matrix', '--endpoints', '127.0.0.1:7001'], /starts its own clusters/],
    [['--profile', '--stub'], /exclude each other/],
    [['--tls', '--vs-etcd'], /--tls applies to the clusters the bench starts for Keel alone/],
    [['--tls', '--endpoints', '127.0.0.1:7001'], /not with --endpoints/],
    [['--cells', 'put'], /--cells/],
    [['--etcd-target', 'followers'], /--etcd-target must be one of leader, all/],
    [['--reads', 'followers'], /--reads must be one of leader, spread/],
    [['--vs-etcd', '--reads', 'spread', '--etcd-target', 'leader'], /compares like with like: --reads spread goes with --etcd-target all/],
    [['--vs-etcd', '--etcd-target', 'all'], /--reads leader goes with --etcd-target leader/],
    [['--bogus'], /Unknown option/],
    [['--gc', '--matrix'], /--gc traces the nodes of a cluster the bench starts for one run/],
    [['--gc', '--stub'], /--gc traces/],
    [['--node-flags', 'max-semi-space-size=8'], /is not a Node flag/],
    [['--node-flags=--trace-gc', '--endpoints', '127.0.0.1:7001'], /--node-flags applies to nodes the bench starts/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(UsageError);
    expect(() => parseCommandLine(argv)).toThrow(message);
  });

  it('gives each standard cell its mix and op count', () => {
    expect(STANDARD_CELLS).toHaveLength(9);
    const base = parseCommandLine(['--value-size', '100'])!.load;
    const mix = cellLoad(base, { kind: 'mix', concurrency: 64 }, 1);
    expect(mix).toMatchObject({ concurrency: 64, ops: 50000, mixText: 'put=1,lget=1', warmup: 2000, valueSize: 100, label: 'mix:64' });
    expect(mix.mix).toEqual(parseMix('put=1,lget=1'));
    expect(cellOps({ kind: 'put', concurrency: 1 }, 0.5)).toBe(2000);
    // every cell warms up alike, the short ones too
    expect(cellLoad(base, { kind: 'put', concurrency: 1 }, 1).warmup).toBe(2000);
    expect(cellOps({ kind: 'sget', concurrency: 64 }, 1)).toBe(60000);
  });
});

function run(opsPerSec: number, p50ms: number, serverPct: number): RunResult {
  return {
    opsPerSec,
    latency: { n: 1, p50ms, p90ms: p50ms, p99ms: 2 * p50ms, p999ms: 2 * p50ms, maxms: 2 * p50ms, meanms: p50ms },
    cpu: { serverPct, clientPct: 10, foreignPct: 1, unattributedPct: -2, irqPct: 3 },
    memory: [{ pid: 1, finalRssMiB: 50, peakRssMiB: 60 }, { pid: 2, finalRssMiB: 70, peakRssMiB: 80 }],
    loadAvg: { before: 1, after: 3 },
    errors: 0,
  } as unknown as RunResult;
}

describe('medians and ratios', () => {
  it('takes the median of each metric over the runs', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
    const s = cellStats([run(1000, 1, 100), run(3000, 3, 120), run(2000, 2, 150)], 1);
    expect(s).toMatchObject({ opsPerSec: 2000, p50ms: 2, p99ms: 4, serverPct: 120, peakRssMiB: 80, loadAvg: 2, unrelatedPct: 2, failed: 1 });
    // server CPU per op: 120% of a core at 3000 ops/s is 400 µs per op; the median of 1000, 400 and 750
    expect(serverUsPerOp(run(3000, 3, 120))).toBe(400);
    expect(s.serverUsPerOp).toBe(750);
  });

  it('divides Keel by etcd, and has no ratio without an etcd number', () => {
    expect(ratio(150, 100)).toBe(1.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(NaN, 2)).toBeNaN();
  });
});

describe('profile summary', () => {
  it('sorts frames into areas of the code', () => {
    const at = (url: string, functionName = 'f'): string => areaOf({ url, functionName, lineNumber: 0 });
    expect(at('file:///r/packages/raft/dist/raft.js')).toBe('raft');
    expect(at('file:///r/packages/kv-server/dist/storage/node-store.js')).toBe('kv-server/storage');
    expect(at('file:///r/node_modules/.pnpm/msgpackr@1.11.5/node_modules/msgpackr/unpack.js')).toBe('dependency msgpackr');
    expect(at('node:internal/streams/writable')).toBe('node:streams');
    expect(at('', '(garbage collector)')).toBe('garbage collector');
    expect(at('', 'writeBuffer')).toBe('native builtins');
  });

  it('reports self time per area and per function, and CPU per operation, leaving idle out', () => {
    const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 9 } });
    const profile = {
      nodes: [frame(1, '(root)', ''), frame(2, '(idle)', ''), frame(3, 'step', 'file:///r/packages/raft/dist/raft.js'), frame(4, 'apply', 'file:///r/packages/kv-server/dist/state-machine/sm.js')],
      startTime: 0,
      endTime: 10_000,
      samples: [2, 3, 3, 4, 2],
      timeDeltas: [5000, 1000, 1000, 2000, 1000],
    };
    const text = summarizeProfile(profile, 'node 1', 2);
    expect(text).toContain('node 1: 0.0 s profiled, 0.0 s on the CPU (main thread), 2000 µs per operation served by the cluster (2 ops)');
    expect(text).toMatch(/ 50\.0% {2}raft\n/);
    expect(text).toMatch(/ 50\.0% {2}kv-server\/state-machine\n/);
    expect(text).toContain('50.0%  step raft/dist/raft.js:10');
    expect(text).not.toContain('idle');
  });
});

describe('gc report', () => {
  it('reads the pause of each kind of --trace-gc line, and nothing else', () => {
    expect(parseGcLine('[123:0x5e1c000]     5726 ms: Scavenge 27.9 (49.5) -> 15.5 (49.5) MB, 2.99 / 0.02 ms  (average mu = 0.992, current mu = 0.992) task; ')).toEqual({
      kind: 'Scavenge',
      pauseMs: 2.99,
    });
    expect(
      parseGcLine('[123:0x5e1c000]     8651 ms: Mark-Compact 33.5 (64.3) -> 16.0 (60.7) MB, 14.54 / 0.02 ms  (+ 24.2 ms in 59 steps since start of marking, biggest step 20.2 ms)'),
    ).toEqual({ kind: 'Mark-Compact', pauseMs: 14.54 });
    expect(parseGcLine('[1:0x1]  10 ms: Mark-Compact 3.5 (4.3) -> 1.0 (4.7) MB, pooled: 0 MB, 7.25 / 0.00 ms  (average mu = 1.000)')).toEqual({ kind: 'Mark-Compact', pauseMs: 7.25 });
    expect(parseGcLine('{"level":"info","event":"node.stats"}')).toBeUndefined();
  });

  it('counts the slowest 1% of operations that overlapped each node\'s pauses, against median operations', () => {
    const ops = new OpTimeline();
    ops.fromMs = 0;
    // 200,000 operations of 1-1.1 ms, one every 0.05 ms (10 s), then 1,000 slow ones (20 ms) started at 5,000 ms
    for (let i = 0; i < 200_000; i++) ops.add(i * 0.05, 1 + (i % 100) / 1000);
    for (let i = 0; i < 1000; i++) ops.add(5000 + i * 0.001, 20);
    ops.toMs = 10_000;
    expect(ops.size).toBe(201_000);
    const pauses: GcPause[] = [
      // node 1 paused 15 ms ending at 5,016 ms: overlaps every slow op and the 1 ms ops around it
      { nodeId: 1, kind: 'Scavenge', pauseMs: 15, endMs: 5016 },
      // node 2: a pause too short to count, and one before the measured phase
      { nodeId: 2, kind: 'Scavenge', pauseMs: 1, endMs: 5010 },
      { nodeId: 2, kind: 'Mark-Compact', pauseMs: 30, endMs: -100 },
    ];
    const r = gcReport(ops, pauses, [
      { pid: 1, id: 1, role: 'leader' },
      { pid: 2, id: 2, role: 'follower' },
    ]);
    expect(r.slowOps).toBe(2010);
    expect(r.slowThresholdMs).toBe(1.1); // 1.099, the slowest of the fast ops
    const [n1, n2] = r.nodes;
    expect(n1).toMatchObject({ nodeId: 1, role: 'leader', scavenges: 1, majorGcs: 0, pauseMsTotal: 15, pausePct: 0.2, longestMs: 15 });
    // all 1,000 slow ops overlap, plus a few of the 1,010 fast ones in the top 1%
    expect(n1!.slowOpsOverlapPct).toBeGreaterThanOrEqual(49.8);
    expect(n1!.medianOpsOverlapPct).toBeLessThan(1);
    expect(n2).toMatchObject({ nodeId: 2, scavenges: 1, majorGcs: 0, slowOpsOverlapPct: 0, medianOpsOverlapPct: 0 });
    expect(r.slowOpsOverlapAnyPct).toBe(n1!.slowOpsOverlapPct);
  });
});
