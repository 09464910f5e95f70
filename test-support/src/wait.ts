/**
 * Waiting in tests without timing assertions. A fixed deadline on work that is still moving
 * fails a test on a loaded machine (a 2-core box at load 20 runs everything ten times slower);
 * `waitForProgress` instead fails only when the work stands still: when `progress()` has not
 * changed for `stallMs`. A test stuck for good still ends, naming what it waited for and where
 * the work stopped.
 */

export interface ProgressWaitOptions {
  /** How long `progress()` may stand still before the wait fails. Default 15 000 ms. */
  readonly stallMs?: number;
  /** Pause between two looks at `done()`. Default 5 ms. */
  readonly pollMs?: number;
}

/**
 * Polls `done()` until it holds. `progress()` measures the work done so far (a count of answers
 * received, of requests read, …); the wait fails with `what` when it stays the same for `stallMs`.
 */
export async function waitForProgress(done: () => boolean, progress: () => number, what: string, options: ProgressWaitOptions = {}): Promise<void> {
  const stallMs = options.stallMs ?? 15_000;
  const pollMs = options.pollMs ?? 5;
  let seen = progress();
  let seenAtMs = performance.now();
  while (!done()) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = progress();
    if (now !== seen) {
      seen = now;
      seenAtMs = performance.now();
    } else if (performance.now() - seenAtMs > stallMs) {
      throw new Error(`no progress towards ${what} for ${stallMs} ms (stuck at ${seen})`);
    }
  }
}
