/**
 * Bandwidth limits by time of day (e.g. unlimited 22:00 to 06:00, 2048 KiB/s
 * otherwise). Pure: the caller passes the clock and the zone.
 */
import type { BandwidthWindow } from './jobs.js';

export interface BandwidthSetting {
  /** KiB/s outside every window; null: unlimited. */
  limitKiBps: number | null;
  windows: BandwidthWindow[];
}

function minutesOfDay(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Wall-clock minutes since midnight of `at` in `timeZone`. */
export function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/**
 * The limit in force at `at` (KiB/s, null = unlimited): the first window that
 * contains the local time (from inclusive, to exclusive; a window whose end
 * is before its start runs past midnight), else the default.
 */
export function limitAt(setting: BandwidthSetting, at: Date, timeZone: string): number | null {
  const m = localMinutes(at, timeZone);
  for (const w of setting.windows) {
    const from = minutesOfDay(w.from);
    const to = minutesOfDay(w.to);
    const inside = from < to ? m >= from && m < to : m >= from || m < to;
    if (inside) return w.limitKiBps;
  }
  return setting.limitKiBps;
}

/** The stricter of two limits (null = unlimited). */
export function stricterLimit(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
