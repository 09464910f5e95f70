/**
 * One run against Keel: a fresh cluster through the harness (`@keel/test-support`: direct
 * network, the server's default tuning, fsync on, temp data dirs, plaintext or all TLS, everything stopped by PID at
 * the end, on failure and on Ctrl-C too), or the endpoints given. With `profileDir` every node
 * runs under `node --cpu-prof` and is stopped gracefully after the run so that its profile is
 * written.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KeelClient } from '@keel/client';
import { Cluster, DirectNetwork, type LogLevel } from '@keel/test-support';
import { OpTimeline, gcReport, parseGcLine, type GcPause } from './gc-report.js';
import { onInterrupt } from './interrupt.js';
import { clientOps, runLoad, type RunResult } from './load.js';
import type { LoadOptions } from './options.js';
import type { Progress } from './progress.js';

/** One `node.stats` line of a node (see the server's ready-stats.ts): how writes batch per Ready. */
export interface NodeStatsLine {
  readonly nodeId: number;
  readonly role?: string;
  readonly readies: number;
  readonly syncs: number;
  readonly entriesPerReady: number;
  readonly committedPerReady: number;
  readonly messagesPerReady: number;
  readonly persistMsAvg: number;
  readonly applyMsAvg: number;
  readonly appliedPerSec: number;
  /** Histograms, power-of-two buckets ("4-7": how many batches of 4 to 7 entries). */
  readonly entriesPerPersist?: Readonly<Record<string, number>>;
  readonly entriesPerAppend?: Readonly<Record<string, number>>;
}

export interface KeelRun {
  readonly result: RunResult;
  /** Every node.stats line the nodes printed during the run (one per node per 10 s of traffic). */
  readonly nodeStats: readonly NodeStatsLine[];
}

export interface ClusterRunOptions {
  readonly nodes: number;
  readonly logLevel: LogLevel;
  readonly serverArgs: readonly string[];
  /** Every link over TLS (the harness's throwaway certificates; the client presents one). */
  readonly tls: boolean;
  /** Run the nodes under --cpu-prof, writing node-<id>.cpuprofile here. */
  readonly profileDir?: string;
  /** Run the nodes under --trace-gc and report their pauses beside the slowest operations. */
  readonly gc: boolean;
  /** More Node/V8 flags for every node (`--node-flags`). */
  readonly nodeFlags: readonly string[];
}

/** The direct network, with the Node flags of `nodeFlags` (none, usually) before each node's script. */
class NodeFlagsNetwork extends DirectNetwork {
  constructor(private readonly flags: (id: number) => readonly string[]) {
    super();
  }

  override command(id: number, argv: readonly string[]): { file: string; args: readonly string[] } {
    const { file, args } = super.command(id, argv);
    return { file, args: [...this.flags(id), ...args] };
  }
}

/** The Node flags of node `id` for these options; empty when the bench adds none. */
function nodeFlags(c: ClusterRunOptions, id: number): string[] {
  return [
    ...(c.profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', c.profileDir, '--cpu-prof-name', `node-${id}.cpuprofile`] : []),
    ...(c.gc ? ['--trace-gc'] : []),
    ...c.nodeFlags,
  ];
}

/** Starts a fresh cluster, loads it, stops it. */
export async function runOnCluster(load: LoadOptions, c: ClusterRunOptions, progress?: Progress): Promise<KeelRun> {
  const nodeStats: NodeStatsLine[] = [];
  const pauses: GcPause[] = [];
  const cluster = await Cluster.start({
    nodes: c.nodes,
    network: new NodeFlagsNetwork((id) => nodeFlags(c, id)),
    tuning: [],
    serverArgs: c.serverArgs,
    tls: c.tls,
    logLevel: c.logLevel,
    logLinesMax: 1000,
    onLine: (id, line) => {
      if (line.includes('"node.stats"')) nodeStats.push(JSON.parse(line) as NodeStatsLine);
      else if (c.gc) {
        const pause = parseGcLine(line);
        if (pause !== undefined) pauses.push({ nodeId: id, ...pause, endMs: performance.now() });
      }
    },
  });
  const unregister = onInterrupt(() => cluster.destroy());
  try {
    const leader = await cluster.waitForLeader();
    const client = cluster.client({ timeoutMs: load.timeoutMs, reads: load.reads });
    const servers = cluster.nodes.map((n) => ({ pid: n.pid!, id: n.id, role: n.id === leader.id ? 'leader' : 'follower' }));
    progress?.note(`cluster up: ${servers.map((s) => `n${s.id} pid ${s.pid}`).join(', ')}; leader n${leader.id}; data in ${cluster.dataRoot}`);
    const timeline = c.gc ? new OpTimeline() : undefined;
    const measured = await runLoad(
      { send: clientOps(client, load.keys, load.valueSize), servers, endpoints: cluster.endpoints.length, ...(timeline ? { timeline } : {}) },
      load,
      progress,
    );
    const result = timeline === undefined ? measured : { ...measured, gc: gcReport(timeline, pauses, servers) };
    await client.close();
    const down = cluster.nodes.filter((n) => n.state !== 'running');
    if (down.length > 0) throw new Error(`node(s) ${down.map((n) => n.id).join(', ')} exited during the run\n${cluster.tail()}`);
    // A graceful stop, so that --cpu-prof writes each node's profile.
    if (c.profileDir !== undefined) await cluster.stopAll();
    return { result, nodeStats };
  } finally {
    unregister();
    await cluster.destroy();
  }
}

/** Loads a running cluster at `endpoints`; CPU and memory of `cpuPids` when given. */
export async function runOnEndpoints(load: LoadOptions, endpoints: readonly string[], cpuPids: readonly number[], progress?: Progress): Promise<RunResult> {
  const client = new KeelClient({ endpoints, timeoutMs: load.timeoutMs, reads: load.reads });
  try {
    return await runLoad({ send: clientOps(client, load.keys, load.valueSize), servers: cpuPids.map((pid) => ({ pid })), endpoints: endpoints.length }, load, progress);
  } finally {
    await client.close();
  }
}

/** The stand-in node (stub-node.ts), built beside this file. */
const STUB = join(fileURLToPath(new URL('.', import.meta.url)), 'stub-node.js');

/**
 * Loads the stand-in node that answers at once (a child process, stopped by PID at the end): what
 * the load generator and `@keel/client` can drive, and their CPU per request, alone.
 */
export async function runOnStub(load: LoadOptions, progress?: Progress): Promise<RunResult> {
  const child = spawn(process.execPath, [STUB], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  };
  const unregister = onInterrupt(stop);
  try {
    const lines = createInterface({ input: child.stdout! });
    const [first] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined];
    if (first === undefined) throw new Error('the stub node exited before it listened');
    const { port } = JSON.parse(first) as { port: number };
    return await runOnEndpoints(load, [`127.0.0.1:${port}`], [child.pid!], progress);
  } finally {
    unregister();
    await stop();
  }
}
