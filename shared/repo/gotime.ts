/**
 * Timestamps as restic stores them: Go's `time.Time` JSON form (RFC 3339 with
 * nanoseconds, trailing zeros trimmed, numeric offset or `Z`). We keep
 * nanoseconds as a bigint because file mtimes carry more precision than a JS
 * Date, and unchanged-file detection compares them exactly.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the Unix epoch. */
export type UnixNanos = bigint;

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/**
 * Formats `ns` as RFC 3339 with nanoseconds like Go's time.Time MarshalJSON,
 * in the zone whose offset east of UTC is `offsetMinutes` (the local zone by default).
 */
export function formatGoTime(ns: UnixNanos, offsetMinutes?: number): string {
  // Called three times per file node: split into seconds and nanoseconds once, then work with numbers.
  let secBig = ns / NS_PER_S;
  let fracBig = ns % NS_PER_S;
  if (fracBig < 0n) {
    fracBig += NS_PER_S;
    secBig -= 1n;
  }
  const sec = Number(secBig);
  const frac = Number(fracBig);
  const offset = offsetMinutes ?? -new Date(sec * 1000 + Math.floor(frac / 1e6)).getTimezoneOffset();
  const d = new Date((sec + offset * 60) * 1000);
  let s = `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  if (frac !== 0) {
    let digits = String(frac).padStart(9, '0');
    let end = 9;
    while (digits.charCodeAt(end - 1) === 48 /* '0' */) end--;
    if (end < 9) digits = digits.slice(0, end);
    s += '.' + digits;
  }
  if (offset === 0) return s + 'Z';
  const abs = Math.abs(offset);
  return `${s}${offset < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}

/** Parses a Go/RFC 3339 timestamp to nanoseconds; throws naming the text when malformed. */
export function parseGoTime(text: string): UnixNanos {
  const m = RFC3339.exec(text);
  if (!m) throw new Error(`invalid timestamp ${JSON.stringify(text)}: expected RFC 3339 like 2024-01-31T13:45:00.123456789+01:00`);
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12) throw new Error(`invalid timestamp ${JSON.stringify(text)}: month out of range`);
  if (day < 1 || day > daysInMonth(year, month)) throw new Error(`invalid timestamp ${JSON.stringify(text)}: day out of range`);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (hour > 23 || minute > 59 || second > 59) throw new Error(`invalid timestamp ${JSON.stringify(text)}: time of day out of range`);
  // Three per tree node: plain arithmetic (seconds stay far below 2^53), one bigint step at the end.
  let seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
  if (zone !== 'Z') {
    const offset = Number(zone!.slice(1, 3)) * 3600 + Number(zone!.slice(4, 6)) * 60;
    seconds -= zone!.charCodeAt(0) === 45 /* '-' */ ? -offset : offset;
  }
  const ns = frac ? Number(frac.padEnd(9, '0')) : 0;
  return BigInt(seconds) * NS_PER_S + BigInt(ns);
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** The local zone's offset east of UTC, in minutes, at the instant `ns`. */
export function localOffsetMinutes(ns: UnixNanos): number {
  return -new Date(Number(ns / NS_PER_MS)).getTimezoneOffset();
}

/** Milliseconds (JS Date) from nanoseconds, rounded down. */
export function nanosToMillis(ns: UnixNanos): number {
  return Number(ns / NS_PER_MS);
}
