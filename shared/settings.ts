/**
 * The app-wide settings an admin edits (Settings screen), kept in the store's
 * key-value `settings` table, one key each, and their validation (errors name
 * the field).
 */
import type { BandwidthSetting } from './bandwidth.js';
import { validateBandwidth } from './jobs.js';
import { rejectUnknownKeys, requireBoolean, requireInt, requireObject } from './validation.js';

/** Everything on the Settings screen that can be changed. */
export interface AppSettings {
  /** Global cap on runs going at once (1..16). */
  maxConcurrentRuns: number;
  /** Global upload/download limit across all jobs, with time-of-day windows. */
  bandwidth: BandwidthSetting;
  /** Notification channels: desktop notifications (the jobs' modes decide which runs raise one). */
  notifications: { desktop: boolean };
  /** Start Lifeboat (hidden, in the tray) when the user logs in; applied by the desktop shell. */
  startAtLogin: boolean;
}

/** The settings plus what is shown but not editable. */
export interface SettingsView extends AppSettings {
  /** The data folder (database, logs, secrets file); chosen at start with --data-dir or LIFEBOAT_DATA_DIR. */
  dataDir: string | null;
}

export const SETTINGS_DEFAULTS: AppSettings = {
  maxConcurrentRuns: 2,
  bandwidth: { limitKiBps: null, windows: [] },
  notifications: { desktop: true },
  startAtLogin: false,
};

export const SETTING_KEYS = Object.keys(SETTINGS_DEFAULTS) as (keyof AppSettings)[];

/** Validates a partial update; returns only the keys it sets, each complete. */
export function validateSettingsPatch(input: unknown): Partial<AppSettings> {
  const p = requireObject(input, 'settings');
  rejectUnknownKeys(p, '', SETTING_KEYS);
  const out: Partial<AppSettings> = {};
  if (p.maxConcurrentRuns !== undefined) out.maxConcurrentRuns = requireInt(p.maxConcurrentRuns, 'maxConcurrentRuns', 1, 16);
  if (p.bandwidth !== undefined) out.bandwidth = validateBandwidth(p.bandwidth, 'bandwidth');
  if (p.notifications !== undefined) {
    const n = requireObject(p.notifications, 'notifications');
    rejectUnknownKeys(n, 'notifications', ['desktop']);
    out.notifications = { desktop: requireBoolean(n.desktop, 'notifications.desktop') };
  }
  if (p.startAtLogin !== undefined) out.startAtLogin = requireBoolean(p.startAtLogin, 'startAtLogin');
  return out;
}
