/**
 * The last line of cleanup. `Cluster.destroy()` is the normal path; this registry covers a test
 * runner or script that exits, or dies of a signal nobody handles, without calling it: every
 * server still registered is killed by PID (SIGCONT first, in case it is paused), every cleanup
 * still registered runs (a netns network deletes its namespaces and bridge), and every temp dir
 * still registered is removed, synchronously, from the process's 'exit' hook or from a
 * SIGINT/SIGTERM/SIGHUP handler that then re-raises the signal so the process still dies of it.
 *
 * When another listener owns the signal (the `pnpm cluster` CLI stops its nodes gracefully on
 * SIGINT), the handler here leaves it alone and only the 'exit' hook remains as a net.
 */
import { rmSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const pids = new Set<number>();
const dirs = new Set<string>();
const cleanups = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/** Kill `pid` at exit unless `untrackPid` comes first. */
export function trackPid(pid: number): void {
  install();
  pids.add(pid);
}

export function untrackPid(pid: number): void {
  pids.delete(pid);
}

/** Remove `dir` at exit unless `untrackDir` comes first. */
export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

export function untrackDir(dir: string): void {
  dirs.delete(dir);
}

/** Run `cleanup` (synchronous, best effort) at exit unless `untrackCleanup` comes first. */
export function trackCleanup(cleanup: () => void): void {
  install();
  cleanups.add(cleanup);
}

export function untrackCleanup(cleanup: () => void): void {
  cleanups.delete(cleanup);
}

/** Sends `signal` to `pid`; false when the process is already gone. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function reap(): void {
  for (const pid of pids) {
    signalPid(pid, 'SIGCONT');
    signalPid(pid, 'SIGKILL');
  }
  pids.clear();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort: the process is going away
    }
  }
  cleanups.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch {
      // best effort: the process is going away
    }
  }
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // another handler decides what this signal means
  reap();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', reap);
  // Signals reach only the main thread; a worker's 'exit' hook still runs.
  if (isMainThread) for (const s of SIGNALS) process.on(s, onSignal);
}
