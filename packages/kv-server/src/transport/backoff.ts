/**
 * Reconnect delays: exponential from `minMs` to `maxMs`, each delay drawn uniformly from its upper
 * half ("equal jitter") so that nodes restarting together do not redial in lockstep.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0 && maxMs >= minMs)) throw new TypeError(`backoff needs 0 < minMs <= maxMs, got ${minMs}..${maxMs}`);
  }

  /** The delay before the next attempt, in ms; grows with each call until `reset()`. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(this.minMs, Math.round(ceiling / 2 + this.random() * (ceiling / 2)));
  }

  /** Call after a success: the next delay starts from `minMs` again. */
  reset(): void {
    this.attempt = 0;
  }
}
