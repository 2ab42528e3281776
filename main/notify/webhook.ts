import { createHmac, randomUUID } from 'node:crypto';
import { classifyHttpStatus, webhookPayload, type NotificationEvent } from '../../shared/notifications.js';
import type { WebhookSettings } from '../../shared/settings.js';
import { DeliveryError, type NotificationChannel } from './channel.js';

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body under the signing secret>`. */
export const SIGNATURE_HEADER = 'X-Lifeboat-Signature';

/** HMAC-SHA256 of `body` under `secret`, as the signature header carries it. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The webhook channel: POSTs the versioned JSON payload (`WebhookPayload`)
 * to the configured URL with the custom headers, `X-Lifeboat-Event` (the
 * kind), `X-Lifeboat-Delivery` (a fresh ID per attempt) and, when a signing
 * secret is stored, `X-Lifeboat-Signature`. 2xx is delivered; see
 * `classifyHttpStatus` for the rest. Redirects are not followed (a
 * signed body must not be replayed elsewhere).
 */
export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook' as const;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly host: string,
    /** Resolves the signing secret from the secret store; null when none is stored. */
    private readonly signingSecret: () => Promise<string | null>,
    private readonly timeoutMs = 10_000,
  ) {}

  async send(event: NotificationEvent): Promise<void> {
    const body = JSON.stringify(webhookPayload(event, this.host));
    const secret = await this.signingSecret();
    const where = `webhook (${redactUrl(this.settings.url)})`;
    let res: Response;
    try {
      res = await fetch(this.settings.url, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          ...this.settings.headers,
          'Content-Type': 'application/json',
          'X-Lifeboat-Event': event.kind,
          'X-Lifeboat-Delivery': randomUUID(),
          ...(secret ? { [SIGNATURE_HEADER]: signBody(body, secret) } : {}),
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const reason = err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new DeliveryError(`${where}: could not be reached: ${reason}`, true);
    }
    // The answer's body is not needed; reading it frees the connection.
    const answer = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ').trim();
    const verdict = classifyHttpStatus(res.status);
    if (verdict === 'delivered') return;
    const retryAfter = res.headers.get('retry-after');
    const retryAfterMs = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : null;
    throw new DeliveryError(`${where}: the server answered HTTP ${res.status}${answer ? `: ${answer}` : ''}`, verdict === 'transient', retryAfterMs);
  }
}

/**
 * The URL as messages show it: scheme and host only (user info, path and
 * query may hold a token, as in chat services' webhook URLs).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/…' : '/'}`;
  } catch {
    return 'invalid URL';
  }
}
