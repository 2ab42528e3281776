import type { NotificationEvent } from '../../shared/notifications.js';
import type { NotificationChannelName } from '../../shared/settings.js';

/**
 * One way of telling the admin (webhook, email). Contract of `send`:
 * - makes ONE delivery attempt, bounded by the channel's own timeout (it never hangs);
 * - resolves when the receiver accepted the message;
 * - otherwise rejects with a `DeliveryError` saying whether trying again later may help
 *   (`transient`: network error, timeout, HTTP 5xx/408/429, SMTP 4xx) or not
 *   (`permanent`: other HTTP 4xx, SMTP 5xx, authentication refused, bad TLS);
 * - its error texts name the channel and never contain a secret (signing secret,
 *   SMTP password, custom header values).
 * Retrying is the `Notifier`'s job, not the channel's.
 */
export interface NotificationChannel {
  readonly name: NotificationChannelName;
  send(event: NotificationEvent): Promise<void>;
}

/** A failed delivery attempt; `transient` when a later attempt may succeed. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    /** How long the receiver asked us to wait (HTTP Retry-After), when it did. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
