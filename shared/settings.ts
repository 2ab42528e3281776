/**
 * The app-wide settings an admin edits (Settings screen), kept in the store's
 * key-value `settings` table, one key each, and their validation (errors name
 * the field).
 */
import type { BandwidthSetting } from './bandwidth.js';
import { validateBandwidth } from './jobs.js';
import { rejectUnknownKeys, requireBoolean, requireInt, requireObject, requireOneOf, requireString, ValidationError } from './validation.js';

/** Everything on the Settings screen that can be changed. */
export interface AppSettings {
  /** Global cap on runs going at once (1..16). */
  maxConcurrentRuns: number;
  /** Global upload/download limit across all jobs, with time-of-day windows. */
  bandwidth: BandwidthSetting;
  /** Notification channels: desktop, webhook, email (the jobs' modes decide which runs notify). */
  notifications: NotificationSettings;
  /** Start Lifeboat (hidden, in the tray) when the user logs in; applied by the desktop shell. */
  startAtLogin: boolean;
}

/** How an SMTP connection is protected; chosen explicitly, never guessed from the port. */
export type SmtpSecurity = 'starttls' | 'tls' | 'plain';
export const SMTP_SECURITY: readonly SmtpSecurity[] = ['starttls', 'tls', 'plain'];

/** The webhook channel: a JSON POST (payload `WebhookPayload`, shared/notifications.ts) to `url`. */
export interface WebhookSettings {
  enabled: boolean;
  /** http(s) URL; may be empty only while the channel is disabled. */
  url: string;
  /** Extra request headers (e.g. an authorization token), name -> value. */
  headers: Record<string, string>;
}

/** The email channel: one message per notification through an SMTP server. */
export interface EmailSettings {
  enabled: boolean;
  host: string;
  port: number;
  security: SmtpSecurity;
  /** AUTH user name; empty: no AUTH (the password, if any, is then unused). */
  username: string;
  from: string;
  to: string[];
}

export interface NotificationSettings {
  desktop: boolean;
  webhook: WebhookSettings;
  email: EmailSettings;
}

/** The notification channels a test message can be sent to (`testNotification`). */
export type NotificationChannelName = 'webhook' | 'email';
export const NOTIFICATION_CHANNELS: readonly NotificationChannelName[] = ['webhook', 'email'];

/** The outcome of the last delivery attempt(s) of one notification on one channel. */
export interface DeliveryResult {
  channel: NotificationChannelName;
  /** When the last attempt ended (ISO). */
  at: string;
  delivered: boolean;
  /** Attempts made (transient failures are retried). */
  attempts: number;
  /** What was sent: the event kind (`test` for a test message). */
  kind: string;
  /** Why it was not delivered (never contains a secret); null when delivered. */
  error: string | null;
}

/**
 * A secret given through the API, write-only: `{ set }` stores it in the
 * secret store (replacing an older one), `{ clear: true }` removes it.
 */
export type SecretUpdate = { set: string } | { clear: true };

/** A change to the notification settings: each channel complete when given; its secret only when it changes. */
export interface NotificationsPatch {
  desktop?: boolean;
  webhook?: WebhookSettings & { signingSecret?: SecretUpdate };
  email?: EmailSettings & { password?: SecretUpdate };
}

/** A validated settings change: every key complete, except notifications (per channel, secrets apart). */
export type SettingsPatch = Partial<Omit<AppSettings, 'notifications'>> & { notifications?: NotificationsPatch };

/** The notification settings as shown: secrets only as "stored or not", and each channel's last delivery. */
export interface NotificationsView {
  desktop: boolean;
  webhook: WebhookSettings & { signingSecretStored: boolean; lastDelivery: DeliveryResult | null };
  email: EmailSettings & { passwordStored: boolean; lastDelivery: DeliveryResult | null };
}

/** The settings plus what is shown but not editable. */
export interface SettingsView extends Omit<AppSettings, 'notifications'> {
  notifications: NotificationsView;
  /** The data folder (database, logs, secrets file); chosen at start with --data-dir or LIFEBOAT_DATA_DIR. */
  dataDir: string | null;
}

export const SETTINGS_DEFAULTS: AppSettings = {
  maxConcurrentRuns: 2,
  bandwidth: { limitKiBps: null, windows: [] },
  notifications: {
    desktop: true,
    webhook: { enabled: false, url: '', headers: {} },
    email: { enabled: false, host: '', port: 587, security: 'starttls', username: '', from: '', to: [] },
  },
  startAtLogin: false,
};

export const SETTING_KEYS = Object.keys(SETTINGS_DEFAULTS) as (keyof AppSettings)[];

/** Validates a partial update; returns only the keys it sets, each complete (notifications: each channel given complete). */
export function validateSettingsPatch(input: unknown): SettingsPatch {
  const p = requireObject(input, 'settings');
  rejectUnknownKeys(p, '', SETTING_KEYS);
  const out: SettingsPatch = {};
  if (p.maxConcurrentRuns !== undefined) out.maxConcurrentRuns = requireInt(p.maxConcurrentRuns, 'maxConcurrentRuns', 1, 16);
  if (p.bandwidth !== undefined) out.bandwidth = validateBandwidth(p.bandwidth, 'bandwidth');
  if (p.notifications !== undefined) out.notifications = validateNotificationsPatch(p.notifications);
  if (p.startAtLogin !== undefined) out.startAtLogin = requireBoolean(p.startAtLogin, 'startAtLogin');
  return out;
}

function validateNotificationsPatch(input: unknown): NotificationsPatch {
  const n = requireObject(input, 'notifications');
  rejectUnknownKeys(n, 'notifications', ['desktop', 'webhook', 'email']);
  const out: NotificationsPatch = {};
  if (n.desktop !== undefined) out.desktop = requireBoolean(n.desktop, 'notifications.desktop');
  if (n.webhook !== undefined) out.webhook = validateWebhook(n.webhook, 'notifications.webhook');
  if (n.email !== undefined) out.email = validateEmail(n.email, 'notifications.email');
  return out;
}

/** RFC 7230 token characters: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the webhook sets itself, so a custom one cannot replace them. */
const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'x-lifeboat-signature', 'x-lifeboat-event', 'x-lifeboat-delivery'];
/** A plain address (local@domain), as an admin types it; display names are not needed here. */
const EMAIL_ADDRESS = /^[^\s@<>(),;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/** A host name or IP address (IPv6 without brackets). */
const HOST_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|[0-9A-Fa-f:.]+)$/;

function validateSecretUpdate(v: unknown, field: string): SecretUpdate {
  const o = requireObject(v, field);
  rejectUnknownKeys(o, field, ['set', 'clear']);
  if (o.set !== undefined && o.clear !== undefined) throw new ValidationError(field, 'give either set or clear, not both');
  if (o.clear !== undefined) {
    if (o.clear !== true) throw new ValidationError(`${field}.clear`, 'must be true');
    return { clear: true };
  }
  // The value is never repeated in an error: it is a secret.
  if (typeof o.set !== 'string' || o.set === '') throw new ValidationError(`${field}.set`, 'must be a non-empty text');
  if (o.set.length > 4096) throw new ValidationError(`${field}.set`, 'must be at most 4096 characters');
  return { set: o.set };
}

function validateWebhook(input: unknown, field: string): WebhookSettings & { signingSecret?: SecretUpdate } {
  const w = requireObject(input, field);
  rejectUnknownKeys(w, field, ['enabled', 'url', 'headers', 'signingSecret']);
  const enabled = requireBoolean(w.enabled, `${field}.enabled`);
  const url = requireString(w.url ?? '', `${field}.url`, { allowEmpty: true, max: 2048 }).trim();
  if (url !== '' || enabled) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError(`${field}.url`, url === '' ? 'must be given to enable the webhook' : 'is not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ValidationError(`${field}.url`, 'must start with http:// or https://');
  }
  const h = requireObject(w.headers ?? {}, `${field}.headers`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (!HEADER_NAME.test(name)) throw new ValidationError(`${field}.headers`, `${JSON.stringify(name)} is not a valid header name`);
    if (RESERVED_HEADERS.includes(name.toLowerCase())) throw new ValidationError(`${field}.headers`, `${name} is set by Lifeboat itself`);
    const v = requireString(value, `${field}.headers.${name}`, { allowEmpty: true, max: 8192 });
    if (/[\r\n\0]/.test(v)) throw new ValidationError(`${field}.headers.${name}`, 'must be one line');
    headers[name] = v;
  }
  return { enabled, url, headers, ...(w.signingSecret !== undefined ? { signingSecret: validateSecretUpdate(w.signingSecret, `${field}.signingSecret`) } : {}) };
}

function validateAddress(v: unknown, field: string): string {
  const a = requireString(v, field, { max: 254 }).trim();
  if (!EMAIL_ADDRESS.test(a)) throw new ValidationError(field, `${JSON.stringify(a)} is not an email address (name@example.org)`);
  return a;
}

function validateEmail(input: unknown, field: string): EmailSettings & { password?: SecretUpdate } {
  const e = requireObject(input, field);
  rejectUnknownKeys(e, field, ['enabled', 'host', 'port', 'security', 'username', 'from', 'to', 'password']);
  const enabled = requireBoolean(e.enabled, `${field}.enabled`);
  const host = requireString(e.host ?? '', `${field}.host`, { allowEmpty: true, max: 253 }).trim();
  if (enabled && host === '') throw new ValidationError(`${field}.host`, 'must be given to enable email');
  if (host !== '' && !HOST_NAME.test(host)) throw new ValidationError(`${field}.host`, 'is not a host name or IP address');
  const port = requireInt(e.port, `${field}.port`, 1, 65535);
  const security = requireOneOf(e.security, `${field}.security`, SMTP_SECURITY);
  const username = requireString(e.username ?? '', `${field}.username`, { allowEmpty: true, max: 256 });
  if (/[\r\n\0]/.test(username)) throw new ValidationError(`${field}.username`, 'must be one line');
  const fromRaw = requireString(e.from ?? '', `${field}.from`, { allowEmpty: true }).trim();
  const from = fromRaw === '' && !enabled ? '' : validateAddress(fromRaw, `${field}.from`);
  if (!Array.isArray(e.to)) throw new ValidationError(`${field}.to`, 'must be a list of email addresses');
  if (enabled && e.to.length === 0) throw new ValidationError(`${field}.to`, 'must have at least one address to enable email');
  if (e.to.length > 50) throw new ValidationError(`${field}.to`, 'must have at most 50 addresses');
  const to = e.to.map((a, i) => validateAddress(a, `${field}.to[${i}]`));
  return { enabled, host, port, security, username, from, to, ...(e.password !== undefined ? { password: validateSecretUpdate(e.password, `${field}.password`) } : {}) };
}
