import type { LogLevel, Logger } from '@keel/raft';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields every line carries: who logs and in which term/role (filled in by the node). */
export interface LogContext {
  readonly nodeId: number;
  readonly term?: number;
  readonly role?: string;
}

/**
 * A `Logger` that prints one JSON object per line:
 * `{"ts":"…","level":"info","event":"leader.changed","nodeId":1,"term":3,"role":"leader",…}`.
 * Byte arrays are printed as UTF-8 when printable, else hex; errors as `{name, message, code}`.
 * Lines go to `write`, by default `writeStdout` (which survives a closed stdout).
 */
export class JsonLogger implements Logger {
  private context: () => LogContext;
  private readonly minRank: number;

  constructor(
    level: LogLevel,
    context: () => LogContext,
    private readonly write: (line: string) => void = writeStdout,
  ) {
    this.minRank = LEVEL_RANK[level];
    this.context = context;
  }

  /** Replace the context source (the node installs itself once running). */
  setContext(context: () => LogContext): void {
    this.context = context;
  }

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.minRank;
  }

  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void {
    if (LEVEL_RANK[level] < this.minRank) return;
    const line: Record<string, unknown> = { ts: new Date().toISOString(), level, event, ...this.safeContext() };
    if (fields !== undefined) {
      for (const [k, v] of Object.entries(fields)) line[k] = toJsonValue(v, 0);
    }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ ts: line['ts'], level, event, unprintable: true });
    }
    this.write(text + '\n');
  }

  private safeContext(): LogContext {
    try {
      return this.context();
    } catch {
      return { nodeId: 0 };
    }
  }
}

/** Set once stdout has failed: no further lines are written to it. */
let stdoutFailed = false;
let stdioGuarded = false;

/**
 * Writes a log line to stdout, unless stdout has failed. A node must not die, nor stop serving,
 * because its log reader went away: once the reader of a stdout pipe exits, the next write fails
 * with EPIPE, and an unhandled stream error would end the process. So the first failure of
 * stdout (EPIPE, or any other) stops the log: later lines are dropped, and one line on stderr, if
 * that is still open, says so. A failing stderr is ignored too (its lines are lost).
 */
export function writeStdout(line: string): void {
  guardStdio();
  if (stdoutFailed) return;
  try {
    process.stdout.write(line);
  } catch (error) {
    stdoutLost(error);
  }
}

function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  process.stdout.on('error', stdoutLost);
  process.stderr.on('error', () => {});
}

function stdoutLost(error: unknown): void {
  if (stdoutFailed) return;
  stdoutFailed = true;
  const cause = (error as { code?: unknown } | null)?.code ?? (error instanceof Error ? error.message : String(error));
  process.stderr.write(`keel-server: the log output (stdout) failed with ${String(cause)}: no further log lines are written; the node keeps serving\n`);
}

function toJsonValue(value: unknown, depth: number): unknown {
  if (depth > 6) return '…';
  if (value instanceof Uint8Array) return describeBytes(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out['code'] = code;
    if (value.stack !== undefined && depth === 0) out['stack'] = value.stack;
    return out;
  }
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v, depth + 1)]));
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v, depth + 1)]));
  }
  return value;
}

function describeBytes(bytes: Uint8Array): string {
  const shown = bytes.subarray(0, 64);
  const text = Buffer.from(shown).toString('utf8');
  // eslint-disable-next-line no-control-regex
  const printable = !/[\u0000-\u001f\ufffd]/.test(text);
  const body = printable ? text : Buffer.from(shown).toString('hex');
  return bytes.byteLength > shown.byteLength ? `${body}…(${bytes.byteLength} bytes)` : body;
}
