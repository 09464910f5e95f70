/**
 * The progress line on stderr while a run lasts: phase, elapsed time, ops done, the rate over the
 * last second and errors (and, while a Keel run measures, each server's RSS). On a terminal one line rewritten in place; otherwise a plain line every
 * 10 s (logs of long matrix runs stay readable).
 */
const TTY_EVERY_MS = 1000;
const PLAIN_EVERY_MS = 10_000;

export class Progress {
  private name = '';
  private target: string = '';
  private startMs = 0;
  private done = 0;
  private failed = 0;
  private lastMs = 0;
  private lastDone = 0;
  private timer: NodeJS.Timeout | undefined;
  private detail: (() => string) | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = out.isTTY === true;
  }

  /** A new phase: `total` ops, or `durationSec`; `detail` adds to each progress line (the servers' RSS). */
  phase(name: string, total: number | undefined, durationSec?: number, detail?: () => string): void {
    this.stopTimer();
    this.name = name;
    this.detail = detail;
    this.target = total !== undefined ? `/${total}` : durationSec !== undefined ? ` (${durationSec} s)` : '';
    this.startMs = this.lastMs = performance.now();
    this.done = this.failed = this.lastDone = 0;
    this.timer = setInterval(() => this.print(), this.tty ? TTY_EVERY_MS : PLAIN_EVERY_MS);
    this.timer.unref();
  }

  count(failed: boolean): void {
    this.done++;
    if (failed) this.failed++;
  }

  /** A line of its own (the cluster is up, …). */
  note(text: string): void {
    this.out.write(`${this.tty ? '\r\x1b[K' : ''}${this.label ? `${this.label} ` : ''}${text}\n`);
  }

  /** The phase is over: clears the line on a terminal. */
  end(): void {
    this.stopTimer();
    if (this.tty) this.out.write('\r\x1b[K');
  }

  private print(): void {
    const t = performance.now();
    const rate = Math.round(((this.done - this.lastDone) * 1000) / Math.max(1, t - this.lastMs));
    this.lastMs = t;
    this.lastDone = this.done;
    const line =
      `${this.label ? `${this.label} ` : ''}${this.name} ${((t - this.startMs) / 1000).toFixed(0)} s: ` +
      `${this.done}${this.target} ops, ${rate} ops/s, ${this.failed} errors${this.detail?.() ?? ''}`;
    this.out.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
