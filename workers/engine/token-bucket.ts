/**
 * A token bucket that several threads share through one SharedArrayBuffer
 * (the per-job and the global bandwidth limits), updated under a tiny
 * Atomics spin lock rather than by message round trips. Bytes are taken
 * first and paid for by waiting ("debt"), so the long-run rate is exact
 * and a changed rate applies to the next take.
 */
const LOCK = 0; // Int32 index
const RATE = 1; // Float64 indexes (after an 8-byte header)
const TOKENS = 2;
const LAST_MS = 3;
const BURST = 4;

export class SharedTokenBucket {
  private readonly lock: Int32Array;
  private readonly f: Float64Array;

  /** `bytesPerSecond` 0 means unlimited. `burstSeconds` is how much unused rate may be saved up. */
  static create(bytesPerSecond: number, burstSeconds = 0.25): SharedTokenBucket {
    const b = new SharedTokenBucket(new SharedArrayBuffer(8 * 5));
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

  /** Changes the rate for every thread sharing the bucket; saved-up tokens are capped to the new burst. */
  setRate(bytesPerSecond: number): void {
    if (!(bytesPerSecond >= 0) || !Number.isFinite(bytesPerSecond)) throw new Error(`bandwidth: ${bytesPerSecond} is not a rate`);
    this.withLock(() => {
      this.refill();
      this.f[RATE] = bytesPerSecond;
      this.f[TOKENS] = Math.min(this.f[TOKENS]!, bytesPerSecond * this.f[BURST]!);
    });
  }

  private refill(): void {
    const now = performance.timeOrigin + performance.now();
    const rate = this.f[RATE]!;
    const cap = rate * this.f[BURST]!;
    this.f[TOKENS] = Math.min(cap, this.f[TOKENS]! + ((now - this.f[LAST_MS]!) * rate) / 1000);
    this.f[LAST_MS] = now;
  }

  /** Takes `bytes` now and returns how many milliseconds the caller must wait to stay within the rate. */
  take(bytes: number): number {
    return this.withLock(() => {
      const rate = this.f[RATE]!;
      if (rate === 0) return 0;
      this.refill();
      this.f[TOKENS] = this.f[TOKENS]! - bytes;
      return this.f[TOKENS]! >= 0 ? 0 : (-this.f[TOKENS]! / rate) * 1000;
    });
  }
}
