/**
 * One `keel-server` OS process (the built `dist/`): its parsed JSON log lines, its stderr, its
 * exit, and signals sent by PID. Every process spawned here is registered with the reaper until
 * it exits, so nothing outlives the process that started it.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { SERVER_BIN, SERVER_NODE_FLAGS } from './paths.js';
import { signalPid, trackPid, untrackPid } from './reaper.js';
import { waitForProgress } from './wait.js';

/** One parsed JSON log line of a node (see the server's logger). */
export interface LogLine {
  readonly ts: string;
  readonly level: string;
  readonly event: string;
  readonly nodeId: number;
  readonly term?: number;
  readonly role?: string;
  readonly [field: string]: unknown;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export type OutputStream = 'stdout' | 'stderr';

export interface SpawnServerOptions {
  /** keel-server arguments. */
  readonly args: readonly string[];
  /** Extra environment; KEEL_* variables of this process are never passed on. */
  readonly env?: Readonly<Record<string, string>>;
  /** The keel-server program to run (say, one installed from packed tarballs); default: the repository's `SERVER_BIN`. */
  readonly serverBin?: string;
  /** The command that runs node (a network namespace wraps it); default: this Node binary. */
  readonly command?: (argv: readonly string[]) => { file: string; args: readonly string[] };
  /** Every line the process prints, as it comes. */
  readonly onLine?: (line: string, stream: OutputStream) => void;
  /** Most log lines kept in `logs` (oldest dropped first). Default: all. */
  readonly logLinesMax?: number;
  /** A label for failure messages, e.g. "node 2". */
  readonly label?: string;
}

/** process.env without KEEL_* variables, so the developer's shell cannot leak into a node. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEL_')) env[k] = v;
  return env;
}

interface Waiter {
  readonly pred: (l: LogLine) => boolean;
  /** The matching line, or undefined when the process exited first. */
  readonly settle: (l: LogLine | undefined) => void;
}

export class NodeProcess {
  readonly pid: number;
  readonly label: string;
  /** When it was spawned (Date.now()). */
  readonly startedAt = Date.now();
  /** Parsed stdout lines, oldest first (bounded by `logLinesMax`). */
  readonly logs: LogLine[] = [];
  /** stderr lines, and stdout lines that were not JSON. */
  readonly stderrLines: string[] = [];
  /** Resolves when the process has exited and its output is drained. */
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  /** Set by `pause()`, cleared by `resume()`. */
  paused = false;
  private readonly waiters = new Set<Waiter>();
  private linesPrinted = 0;
  private readonly logLinesMax: number;
  /** This side of the process's stdout pipe (undefined when the spawn failed). */
  private readonly stdout: Readable | undefined;

  private constructor(options: SpawnServerOptions) {
    this.label = options.label ?? 'keel-server';
    this.logLinesMax = options.logLinesMax ?? Infinity;
    const argv = [...SERVER_NODE_FLAGS, options.serverBin ?? SERVER_BIN, ...options.args];
    const { file, args } = options.command?.(argv) ?? { file: process.execPath, args: argv };
    const child = spawn(file, args, { env: { ...cleanEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) {
      // spawn failed synchronously (ENOENT and the like): report it as an exit.
      this.pid = 0;
      this.exit = { code: 127, signal: null };
      this.exited = Promise.resolve(this.exit);
      child.on('error', () => undefined);
      return;
    }
    this.pid = child.pid;
    this.stdout = child.stdout!;
    trackPid(this.pid);
    const streams = [
      ['stdout', child.stdout!],
      ['stderr', child.stderr!],
    ] as const;
    const drained = streams.map(
      ([name, stream]) =>
        new Promise<void>((resolve) => {
          const lines = createInterface({ input: stream, crlfDelay: Infinity });
          lines.on('line', (line) => {
            this.linesPrinted++;
            options.onLine?.(line, name);
            if (name === 'stdout') this.onStdout(line);
            else this.keep(this.stderrLines, line);
          });
          lines.on('close', resolve);
          stream.once('close', resolve); // also when this side closed it (closeStdout): readline then never ends
        }),
    );
    this.exited = new Promise((resolve) => {
      child.on('error', () => undefined); // 'exit' follows, or the streams close
      child.on('exit', (code, signal) => {
        untrackPid(this.pid);
        void Promise.all(drained).then(() => {
          this.exit = { code, signal };
          this.paused = false;
          for (const w of this.waiters) w.settle(undefined);
          resolve(this.exit);
        });
      });
    });
  }

  /** Starts `keel-server` with `options.args`. The caller waits for readiness as it sees fit. */
  static spawn(options: SpawnServerOptions): NodeProcess {
    return new NodeProcess(options);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Sends `signal` by PID; false when the process had already exited. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.exit !== undefined) return false;
    return signalPid(this.pid, signal);
  }

  /** SIGSTOP: the process keeps its sockets open and answers nothing. */
  pause(): void {
    if (this.signal('SIGSTOP')) this.paused = true;
  }

  /** SIGCONT after `pause()`. */
  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  /**
   * Closes this side of the process's stdout pipe, as a log reader that goes away does (a `| head`,
   * a crashed log shipper): the node's next log line meets EPIPE. No further log lines arrive.
   */
  closeStdout(): void {
    this.stdout?.destroy();
  }

  /** Sends `signal` (SIGKILL by default; SIGCONT first if paused) and waits for the exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    if (this.paused && signal !== 'SIGKILL') this.resume();
    this.signal(signal);
    if (signal === 'SIGKILL') this.paused = false;
    return this.exited;
  }

  /**
   * The first log line, past or future, matching `pred`. Rejects when the process exits first, or
   * when it printed nothing for `stallMs` (`waitForProgress`'s default when not given): a process
   * still logging is still working towards it, however slowly.
   */
  async waitForLog(pred: (l: LogLine) => boolean, stallMs?: number): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen !== undefined) return seen;
    if (this.exit !== undefined) throw this.exitedError('before the awaited log line');
    let settled: { readonly line: LogLine | undefined } | undefined;
    const waiter: Waiter = { pred, settle: (line) => (settled ??= { line }) };
    this.waiters.add(waiter);
    try {
      const { line } = await waitForProgress(
        () => settled,
        () => this.outputLines,
        () => `${this.label}: a matching log line\n${this.tail()}`,
        stallMs === undefined ? {} : { stallMs },
      );
      if (line === undefined) throw this.exitedError('before the awaited log line');
      return line;
    } finally {
      this.waiters.delete(waiter);
    }
  }

  /** "node 2 exited (status 1) <what>", with the last lines of its output. */
  exitedError(what: string): Error {
    const how = this.exit === undefined ? 'is running' : `exited (${describeExit(this.exit)})`;
    return new Error(`${this.label} ${how} ${what}\n${this.tail()}`);
  }

  /** Lines printed so far, on either stream (`logs` and `stderrLines` keep only the last ones). */
  get outputLines(): number {
    return this.linesPrinted;
  }

  /** The last log and stderr lines, for failure messages. */
  tail(n = 15): string {
    return [...this.logs.slice(-n).map((l) => JSON.stringify(l)), ...this.stderrLines.slice(-5)].join('\n');
  }

  private onStdout(line: string): void {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      this.keep(this.stderrLines, `(stdout, not JSON) ${line}`);
      return;
    }
    this.keep(this.logs, parsed);
    for (const w of this.waiters) if (w.pred(parsed)) w.settle(parsed);
  }

  private keep<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > 2 * this.logLinesMax) list.splice(0, list.length - this.logLinesMax);
  }
}

/** "status 0", "SIGKILL". */
export function describeExit(exit: ExitInfo): string {
  return exit.signal ?? `status ${exit.code}`;
}

/** Runs keel-server to completion (configuration tests): its exit and everything it printed. */
export async function runServer(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 20_000,
): Promise<ExitInfo & { stdout: string; stderr: string }> {
  const out: Record<OutputStream, string> = { stdout: '', stderr: '' };
  const proc = NodeProcess.spawn({ args, env, onLine: (line, stream) => (out[stream] += `${line}\n`) });
  const timer = setTimeout(() => proc.signal('SIGKILL'), timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  if (exit.signal === 'SIGKILL') throw new Error(`keel-server ${args.join(' ')} did not exit within ${timeoutMs} ms`);
  return { ...exit, ...out };
}
