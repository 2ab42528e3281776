/**
 * The global cap on concurrent runs. Runs over the cap wait in arrival
 * order (fair across jobs) and can say where they stand.
 */
export class RunQueue {
  private running = 0;
  private waiting: { runId: number; start: () => void }[] = [];

  constructor(private limit: number) {
    this.setLimit(limit);
  }

  setLimit(limit: number): void {
    if (!Number.isInteger(limit) || limit < 1 || limit > 64) throw new Error(`maxConcurrentRuns: must be a whole number from 1 to 64, got ${limit}`);
    this.limit = limit;
    this.pump();
  }

  get active(): number {
    return this.running;
  }

  /** 1-based position of a waiting run, or 0 when it is not waiting. */
  position(runId: number): number {
    return this.waiting.findIndex((w) => w.runId === runId) + 1;
  }

  /** Resolves with a release function when the run may start. */
  acquire(runId: number): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({
        runId,
        start: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.running--;
            this.pump();
          });
        },
      });
      this.pump();
    });
  }

  /** Removes a waiting run (cancelled before it started). */
  withdraw(runId: number): boolean {
    const i = this.waiting.findIndex((w) => w.runId === runId);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  private pump(): void {
    while (this.running < this.limit && this.waiting.length > 0) {
      this.running++;
      this.waiting.shift()!.start();
    }
  }
}
