/** A one-way "the run is ending" flag that interrupts waits: every loop of the runner checks it. */
export class Stopper {
  private stoppedFlag = false;
  private wake!: () => void;
  private readonly woken = new Promise<void>((resolve) => (this.wake = resolve));

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  stop(): void {
    this.stoppedFlag = true;
    this.wake();
  }

  /** Resolves after `ms`, or at once when stopped. */
  sleep(ms: number): Promise<void> {
    if (this.stoppedFlag || ms <= 0) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), this.woken]).finally(() => clearTimeout(timer));
  }
}
