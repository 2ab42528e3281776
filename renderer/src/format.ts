/** Figures, sizes and dates in the browser's locale (Intl); durations as the CLI shows them (shared/format.ts). */
import { formatDuration } from '../../shared/format.js';

const numberFormat = new Intl.NumberFormat();
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSecondsFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const slotFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const sizeFormats = [0, 1, 2].map((d) => new Intl.NumberFormat(undefined, { maximumFractionDigits: d }));

/** A size in binary units, its figure in the locale's digits and separators: "1.5 KiB" (en), "1,5 KiB" (de), "293 KiB". */
export function bytes(n: number): string {
  let v = Math.round(n);
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // Three significant digits at most: 1.23 MiB, 12.3 MiB, 123 MiB.
  const digits = u === 0 || Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${sizeFormats[digits]!.format(v)} ${BYTE_UNITS[u]}`;
}
export const duration = (ms: number): string => formatDuration(ms);
export const count = (n: number): string => numberFormat.format(n);
export const rate = (bytesPerSecond: number): string => `${bytes(bytesPerSecond)}/s`;

export function dateTime(iso: string, seconds = false): string {
  return (seconds ? dateTimeSecondsFormat : dateTimeFormat).format(new Date(iso));
}

/** A scheduled slot with its weekday: "Mon, 23 Nov 2026, 18:00". */
export function slot(iso: string): string {
  return slotFormat.format(new Date(iso));
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86400_000],
  ['month', 30 * 86400_000],
  ['week', 7 * 86400_000],
  ['day', 86400_000],
  ['hour', 3600_000],
  ['minute', 60_000],
  ['second', 1000],
];

/** "in 3 hours", "2 days ago". */
export function relative(iso: string, now: number = Date.now()): string {
  const diff = Date.parse(iso) - now;
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms || unit === 'second') return relativeFormat.format(Math.round(diff / ms), unit);
  }
  return '';
}

/** Wall time a run took, or null while it has not both started and ended. */
export function runDuration(run: { startedAt: string | null; endedAt: string | null }): number | null {
  if (!run.startedAt || !run.endedAt) return null;
  return Date.parse(run.endedAt) - Date.parse(run.startedAt);
}
