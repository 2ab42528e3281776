import { retryDelay, type NotificationEvent } from '../../shared/notifications.js';
import type { DeliveryResult } from '../../shared/settings.js';
import { DeliveryError, type NotificationChannel } from './channel.js';

/** Retries of a transient failure: how many, and the backoff between them (`retryDelay`). */
export interface RetryPolicy {
  retries: number;
  baseMs: number;
  maxMs: number;
}

/** Three retries after 5 s, 20 s and 80 s: a receiver restarting is covered, and it all ends within two minutes. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 3, baseMs: 5_000, maxMs: 80_000 };

export interface NotifierOptions {
  /** The channels enabled now (built from the current settings at each notification). */
  channels: () => NotificationChannel[];
  /** Told the outcome of every notification on every channel (to record it, log it, show it). */
  onResult: (result: DeliveryResult, event: NotificationEvent) => void;
  now: () => Date;
  retry?: RetryPolicy;
}

/**
 * Fans each notification out to the enabled channels, in the background:
 * `notify` returns at once and never throws, so a run is never held up or
 * failed by a channel. Transient failures are retried with bounded backoff;
 * each channel's final outcome goes to `onResult`. `stop` cuts the waits short.
 */
export class Notifier {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();

  constructor(private readonly opts: NotifierOptions) {}

  /** Sends `event` on every enabled channel, in the background. */
  notify(event: NotificationEvent): void {
    let channels: NotificationChannel[];
    try {
      channels = this.opts.channels();
    } catch (e) {
      // Unreadable settings must not break the caller (a run finishing).
      this.opts.onResult({ channel: 'webhook', at: this.opts.now().toISOString(), delivered: false, attempts: 0, kind: event.kind, error: `notification channels could not be set up: ${(e as Error).message}` }, event);
      return;
    }
    for (const channel of channels) this.track(this.deliver(channel, event, this.opts.retry ?? DEFAULT_RETRY).then((r) => this.opts.onResult(r, event)));
  }

  /**
   * Delivers `event` on `channel`, retrying transient failures under `policy`;
   * resolves with the outcome (never rejects).
   */
  async deliver(channel: NotificationChannel, event: NotificationEvent, policy: RetryPolicy): Promise<DeliveryResult> {
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await channel.send(event);
        return { channel: channel.name, at: this.opts.now().toISOString(), delivered: true, attempts, kind: event.kind, error: null };
      } catch (e) {
        const err = e instanceof DeliveryError ? e : new DeliveryError(`${channel.name}: ${(e as Error).message}`, false);
        const failed = (why: string): DeliveryResult => ({ channel: channel.name, at: this.opts.now().toISOString(), delivered: false, attempts, kind: event.kind, error: `${err.message}${why}` });
        if (!err.transient) return failed('');
        if (attempts > policy.retries) return failed(attempts > 1 ? ` (gave up after ${attempts} attempts)` : '');
        if (this.stopping.signal.aborted) return failed(' (Lifeboat stopped before a retry)');
        await this.sleep(retryDelay(attempts, policy, err.retryAfterMs));
        if (this.stopping.signal.aborted) return failed(' (Lifeboat stopped before a retry)');
      }
    }
  }

  /** Resolves when every notification sent so far has been delivered or given up (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Ends waits between retries (the attempt in flight finishes within its timeout) and waits for the rest. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => {}).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}
