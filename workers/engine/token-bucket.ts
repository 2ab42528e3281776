/**
 * A token bucket that several threads share through one SharedArrayBuffer
 * (the per-job and the global bandwidth limits), updated under a tiny
 * Atomics spin lock rather than by message round trips. A transfer takes a
 * ticket (its place in the line of bytes) and waits until the bucket has paid
 * up to it. Payment accrues at whatever the rate is at the moment, so a rate
 * changed while transfers wait applies to them at once, not after the wait
 * they were quoted; the long-run rate equals the limit.
 */
const LOCK = 0; // Int32 index
// Float64 indexes (index 0 holds the lock's 8 bytes)
const RATE = 1;
/** Bytes paid for since creation (accrues at RATE, at most BURST seconds ahead of ISSUED). */
const PAID = 2;
const LAST_MS = 3;
const BURST = 4;
/** Bytes taken (tickets handed out) since creation. */
const ISSUED = 5;

export class SharedTokenBucket {
  private readonly lock: Int32Array;
  private readonly f: Float64Array;

  /** `bytesPerSecond` 0 means unlimited. `burstSeconds` is how much unused rate may be saved up. */
  static create(bytesPerSecond: number, burstSeconds = 0.25): SharedTokenBucket {
    const b = new SharedTokenBucket(new SharedArrayBuffer(8 * 6));
    b.f[BURST] = burstSeconds;
    b.f[LAST_MS] = performance.timeOrigin + performance.now();
    b.setRate(bytesPerSecond);
    return b;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.lock = new Int32Array(buffer, 0, 1);
    this.f = new Float64Array(buffer);
  }

  private withLock<T>(fn: () => T): T {
    while (Atomics.compareExchange(this.lock, LOCK, 0, 1) !== 0) Atomics.wait(this.lock, LOCK, 1, 1);
    try {
      return fn();
    } finally {
      Atomics.store(this.lock, LOCK, 0);
      Atomics.notify(this.lock, LOCK, 1);
    }
  }

  /** Bytes per second; 0 = unlimited. */
  get rate(): number {
    return this.f[RATE]!;
  }

  /** Changes the rate for every thread sharing the bucket, including transfers already waiting; savings are capped to the new burst. */
  setRate(bytesPerSecond: number): void {
    if (!(bytesPerSecond >= 0) || !Number.isFinite(bytesPerSecond)) throw new Error(`bandwidth: ${bytesPerSecond} is not a rate`);
    this.withLock(() => {
      this.refill();
      this.f[RATE] = bytesPerSecond;
      this.f[PAID] = Math.min(this.f[PAID]!, this.f[ISSUED]! + bytesPerSecond * this.f[BURST]!);
    });
  }

  private refill(): void {
    const now = performance.timeOrigin + performance.now();
    const rate = this.f[RATE]!;
    // Unlimited: everything taken is paid (no debt is left for a limit set later).
    const paid = rate === 0 ? this.f[ISSUED]! : this.f[PAID]! + ((now - this.f[LAST_MS]!) * rate) / 1000;
    this.f[PAID] = Math.min(this.f[ISSUED]! + rate * this.f[BURST]!, paid);
    this.f[LAST_MS] = now;
  }

  /** Takes `bytes` and returns the ticket to pass to `waitMs`. */
  take(bytes: number): number {
    return this.withLock(() => {
      this.refill();
      return (this.f[ISSUED] = this.f[ISSUED]! + bytes);
    });
  }

  /** How long (ms) the holder of `ticket` must still wait at the current rate; 0 when it may go. Ask again after waiting. */
  waitMs(ticket: number): number {
    return this.withLock(() => {
      this.refill();
      const owed = ticket - this.f[PAID]!;
      const rate = this.f[RATE]!;
      return owed <= 0 || rate === 0 ? 0 : (owed / rate) * 1000;
    });
  }
}
