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

/** Longest pause between two measures of progress. */
const STALL_SAMPLE_MS_MAX = 250;

/** What `done()` answers while the wait goes on. */
type NotYet = false | undefined | null;

/**
 * Polls `done()` until it answers something other than false, undefined or null, and resolves
 * with that answer (so a probe can hand back what it found). `progress()` measures the work done
 * so far (answers received, the applied index, a node's state, …; any value, compared by its
 * JSON); the wait fails with `what` when it stays the same for `stallMs`. Both may be async.
 *
 * Waiting for something NOT to happen is no use of this: wait instead for a later event that
 * proves the system went past the point where it would have happened.
 */
export async function waitForProgress<T>(
  done: () => T | Promise<T>,
  progress: () => unknown,
  what: string | (() => string),
  options: ProgressWaitOptions = {},
): Promise<Exclude<T, NotYet>> {
  const stallMs = options.stallMs ?? 15_000;
  const pollMs = options.pollMs ?? 5;
  // Progress may cost more than a look at `done()` (a status round, a walk of /proc): it is
  // measured a few times a second at most, plenty to tell a stall of seconds.
  const sampleMs = Math.min(STALL_SAMPLE_MS_MAX, stallMs / 10);
  let seen = comparable(await progress());
  let seenAtMs = performance.now();
  let sampledAtMs = seenAtMs;
  for (;;) {
    const answer = await done();
    if (answer !== false && answer !== undefined && answer !== null) return answer as Exclude<T, NotYet>;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    if (performance.now() - sampledAtMs < sampleMs) continue;
    const now = comparable(await progress());
    sampledAtMs = performance.now();
    if (now !== seen) {
      seen = now;
      seenAtMs = sampledAtMs;
    } else if (sampledAtMs - seenAtMs > stallMs) {
      throw new Error(`no progress towards ${typeof what === 'string' ? what : what()} for ${stallMs} ms (stuck at ${seen.toString().slice(0, 2_000)})`);
    }
  }
}

function comparable(value: unknown): string | number {
  return typeof value === 'number' || typeof value === 'string' ? value : String(JSON.stringify(value));
}
