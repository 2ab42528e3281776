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
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (month < 1 || month > 12) throw new Error(`invalid timestamp ${JSON.stringify(text)}: month out of range`);
  if (day < 1 || day > daysInMonth) throw new Error(`invalid timestamp ${JSON.stringify(text)}: day out of range`);
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw new Error(`invalid timestamp ${JSON.stringify(text)}: time of day out of range`);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const ms = date.getTime();
  let ns = BigInt(ms) * NS_PER_MS + BigInt((frac ?? '').padEnd(9, '0') || '0');
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1n : 1n;
    const offMin = BigInt(Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
    ns -= sign * offMin * 60n * 1_000_000_000n;
  }
  return ns;
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
