import { limitAt, type BandwidthSetting } from '../../shared/bandwidth.js';
import { SharedTokenBucket } from '../../workers/engine/token-bucket.js';

const UNLIMITED: BandwidthSetting = { limitKiBps: null, windows: [] };

/**
 * Owns the bandwidth buckets: one global (the "bandwidth" setting) and one
 * per running job, and re-evaluates their time-of-day windows every second,
 * so a limit edited while a job runs, or a window opening, applies within a
 * second. Buckets are SharedArrayBuffer-backed and may be handed to worker
 * threads.
 */
export class BandwidthController {
  readonly global = SharedTokenBucket.create(0);
  private readonly jobs = new Map<number, { bucket: SharedTokenBucket; setting: () => BandwidthSetting; users: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly globalSetting: () => BandwidthSetting,
    private readonly timeZone: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Applies every current limit now and every second after. */
  start(): void {
    this.apply();
    this.timer ??= setInterval(() => this.apply(), 1000);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The buckets a job's transfers pass through (its own and the global one); release with `release`. */
  acquire(jobId: number, setting: () => BandwidthSetting): SharedTokenBucket[] {
    let e = this.jobs.get(jobId);
    if (!e) this.jobs.set(jobId, (e = { bucket: SharedTokenBucket.create(0), setting, users: 0 }));
    e.setting = setting;
    e.users++;
    this.apply();
    return [e.bucket, this.global];
  }

  release(jobId: number): void {
    const e = this.jobs.get(jobId);
    if (e && --e.users === 0) this.jobs.delete(jobId);
  }

  /** The limit in force now for a job (KiB/s, null unlimited), for display. */
  currentLimit(setting: BandwidthSetting): number | null {
    return limitAt(setting, this.now(), this.timeZone);
  }

  private apply(): void {
    const at = this.now();
    const rate = (s: BandwidthSetting) => (limitAt(s, at, this.timeZone) ?? 0) * 1024;
    this.global.setRate(rate(safe(this.globalSetting)));
    for (const e of this.jobs.values()) e.bucket.setRate(rate(safe(e.setting)));
  }
}

function safe(get: () => BandwidthSetting): BandwidthSetting {
  try {
    return get() ?? UNLIMITED;
  } catch {
    return UNLIMITED;
  }
}
