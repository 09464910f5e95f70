/**
 * One Jepsen-style run, start to verdict:
 *
 * 1. plan the fault schedule from the seed; make the run directory (`store/<run-id>/`);
 * 2. start the cluster (its node logs go straight into the run directory);
 * 3. run the workload's setup (the bank's initial deposit), then its logical clients and the
 *    nemesis side by side for `timeSeconds`,
 *    recording every operation into `history.jsonl` as it happens;
 * 4. stop: the fault in force heals, the clients finish their last operation; then leave the
 *    cluster whole (links healed, every member running), wait for a leader and a quiet moment;
 * 5. run the workload's final operations (the set's and the bank's final read), end its background
 *    operations (the watch workload's last changes, then its watches) and ask every member for its
 *    applied index and digest;
 * 6. stop every process (by PID), check the history, write results.json and report.html.
 *
 * A run "breaks" when something other than the checked properties goes wrong: the cluster does
 * not start, a node exits on its own, a fault cannot be made or healed, no leader after healing,
 * Ctrl-C. It still writes its run directory; its verdict can then be invalid (what the history
 * shows stands) or unknown, never valid.
 */
import { join } from 'node:path';
import { Cluster, describeExit } from '@keel/test-support';
import type { NodeReport } from '../checker/convergence.js';
import { HistoryWriter } from '../history/jsonl.js';
import { NS_PER_S } from '../history/time.js';
import { Nemesis } from '../nemesis/nemesis.js';
import { planSchedule } from '../nemesis/schedule.js';
import { Stopper } from '../stopper.js';
import { checkRun, type RunMeta, type RunResults } from '../report/results.js';
import { RUN_FILES, createRunDir, newRunId, writeRun } from '../report/run-dir.js';
import { Recorder } from '../workload/recorder.js';
import { BankWorkload } from '../workload/bank.js';
import { LockWorkload } from '../workload/lock.js';
import { RegisterWorkload } from '../workload/register.js';
import { SetWorkload } from '../workload/set.js';
import { WatchWorkload } from '../workload/watch.js';
import { Workers } from '../workload/workers.js';
import type { Workload } from '../workload/workload.js';
import { finalStates } from './final-states.js';
import { createNetwork } from './network.js';
import type { RunOptions } from './options.js';
import { startProgress } from './progress.js';
import { summarize } from './summary.js';

/** After healing: how long to wait for a leader, and how long the cluster stays quiet before the final reads. */
const LEADER_AFTER_HEAL_MS = 30_000;
const QUIET_MS = 1_000;
/** Node log lines kept in memory per process (the files in the run directory have them all). */
const LOG_LINES_MAX = 2_000;

export interface RunOutcome {
  readonly id: string;
  readonly dir: string;
  readonly reportPath: string;
  readonly results: RunResults;
  /** Why the run itself broke, if it did. */
  readonly error?: string;
  /** 0 valid, 1 invalid, 2 unknown or broken. */
  readonly exitCode: 0 | 1 | 2;
  /** What the CLI prints at the end. */
  readonly summary: readonly string[];
}

export interface RunIo {
  /** Progress and summary lines. */
  readonly out: (line: string) => void;
  /** Aborting stops the run at once (Ctrl-C): every process is killed, what was recorded is written. */
  readonly signal?: AbortSignal;
}

function workloadFor(name: RunOptions['workload']): Workload {
  switch (name) {
    case 'register':
      return new RegisterWorkload();
    case 'set':
      return new SetWorkload();
    case 'bank':
      return new BankWorkload();
    case 'lock':
      return new LockWorkload();
    case 'watch':
      return new WatchWorkload();
  }
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Rejects with `NetworkUnavailableError`, before anything starts, when `options.net` cannot run here. */
export async function runJepsen(options: RunOptions, io: RunIo): Promise<RunOutcome> {
  const { out, signal } = io;
  const network = await createNetwork(options.net);
  const timeMs = options.timeSeconds * 1000;
  const schedule = planSchedule({ seed: options.seed, nemesis: options.nemesis, timeMs, nodes: options.nodes, ...(options.partitionMode === undefined ? {} : { partitionMode: options.partitionMode }) });
  const base = {
    workload: options.workload,
    nemesis: options.nemesis,
    seed: options.seed,
    nodes: options.nodes,
    clients: options.clients,
    readMode: options.readMode,
    timeSeconds: options.timeSeconds,
    net: options.net,
    startedAt: new Date().toISOString(),
  } as const;
  const { id, dir } = await createRunDir(newRunId(base), ...(options.storeDir === undefined ? [] : [options.storeDir]));
  out(`run ${id}: ${options.workload} workload, nemesis ${options.nemesis}, ${options.nodes} nodes, ${options.clients} clients + ${options.nodes} probes, ${options.readMode} reads, ${options.timeSeconds} s, seed ${options.seed}`);
  out(`schedule: ${schedule.length === 0 ? 'no fault' : schedule.map((p) => `${p.fault} (${(p.holdMs / 1000).toFixed(1)} s)`).join(', ')}`);

  const writer = HistoryWriter.open(join(dir, RUN_FILES.history));
  let recorder: Recorder | undefined;
  const stopper = new Stopper();
  let broken: string | undefined;
  const breakRun = (why: string): void => {
    if (broken === undefined) {
      broken = why;
      out(`the run broke: ${why}`);
    }
    stopper.stop();
  };
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal?.aborted === true) resolve('aborted');
    signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  void aborted.then(() => breakRun('interrupted'));

  let cluster: Cluster | undefined;
  let nemesis: Nemesis | undefined;
  let workers: Workers | undefined;
  let clientsDone: Promise<void> | undefined;
  let finals: NodeReport[] | undefined;
  try {
    const starting = Cluster.start({
      nodes: options.nodes,
      network,
      logDir: dir,
      logLinesMax: LOG_LINES_MAX,
      onExit: (node, exit, expected) => {
        if (!expected) breakRun(`node ${node.id} exited on its own (${describeExit(exit)}); see node-${node.id}.log`);
      },
    });
    const c = await Promise.race([starting, aborted]);
    if (c === 'aborted') {
      void starting.then((late) => late.destroy(), () => undefined);
      return await finish();
    }
    cluster = c;
    // The history's clock starts with the workload.
    const r = (recorder = new Recorder(writer));
    const w = (workers = new Workers({
      cluster,
      workload: workloadFor(options.workload),
      recorder: r,
      seed: options.seed,
      clients: options.clients,
      probes: options.nodes,
      consistency: options.readMode,
      stopper,
      timeMs,
    }));
    const n = new Nemesis(cluster, schedule, stopper, {
      now: () => r.now(),
      log: (line) => out(`${(r.now() / NS_PER_S).toFixed(1).padStart(6)} s  ${line}`),
      membershipChanged: () => w.membershipChanged(),
    });
    nemesis = n;
    if (!(await w.setup())) throw new Error('the workload\'s setup did not succeed');
    const progress = startProgress({ now: () => r.now(), counts: r.counts, fault: () => n.current }, out);
    const timer = setTimeout(() => stopper.stop(), timeMs);
    try {
      const clients = (clientsDone = w.run());
      const faults = n.run().catch((error: unknown) => breakRun(`nemesis: ${message(error)}`));
      const ran = await Promise.race([Promise.allSettled([clients, faults]), aborted]);
      if (ran === 'aborted') return await finish();
      if (ran[0].status === 'rejected') throw ran[0].reason;
    } finally {
      clearTimeout(timer);
      progress.stop();
    }
    out('workload stopped; healing');
    await n.restore();
    if (broken === undefined) {
      await cluster.waitForLeader({ timeoutMs: LEADER_AFTER_HEAL_MS }).catch((error: unknown) => breakRun(`after healing: ${message(error)}`));
    }
    if (broken === undefined) {
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      if (!(await w.final())) out('the final read did not succeed');
      finals = await finalStates(cluster);
    }
  } catch (error) {
    breakRun(message(error));
  }
  return finish();

  async function finish(): Promise<RunOutcome> {
    stopper.stop();
    // Closing the clients ends the operations in flight at once; then no client records anything more.
    await workers?.close();
    await clientsDone?.catch(() => undefined);
    // A fault still under way (Ctrl-C) fails against the destroyed cluster; its interval ends now.
    nemesis?.settle();
    await cluster?.destroy();
    writer.close();
    out('checking');
    const extra = {
      probes: options.nodes,
      ...(options.partitionMode === undefined ? {} : { partitionMode: options.partitionMode }),
      ...(broken === undefined ? {} : { error: broken }),
    };
    const meta: RunMeta = { ...base, id, extra };
    const history = recorder?.history ?? [];
    const checked = checkRun({ meta, history, timeline: [...(nemesis?.timeline ?? [])], ...(finals === undefined ? {} : { finalStates: finals }) });
    // A broken run proves nothing good: what the history shows to be invalid stands, valid does not.
    const results: RunResults = broken !== undefined && checked.verdict === 'valid' ? { ...checked, verdict: 'unknown' } : checked;
    const paths = await writeRun(dir, { history, results });
    const exitCode = results.verdict === 'valid' ? 0 : results.verdict === 'invalid' ? 1 : 2;
    const summary = summarize(results, paths.report, broken);
    return { id, dir, reportPath: paths.report, results, exitCode, summary, ...(broken === undefined ? {} : { error: broken }) };
  }
}
