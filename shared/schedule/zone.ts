/**
 * Wall-clock time in IANA time zones, computed with `Intl.DateTimeFormat` only
 * (no tz library, no Node API), plus a broken-down-time "clock" that behaves
 * like the C library's `localtime_r`/`mktime` (glibc 2.36) — which is what
 * systemd's calendar code is written against. Its quirks (how a nonexistent or
 * an ambiguous local time is resolved, how out-of-range fields are carried)
 * decide systemd's next elapse around daylight-saving changes, so they are
 * reproduced here on purpose.
 *
 * All instants are whole seconds since the Unix epoch (UTC) unless a name says
 * otherwise.
 */

const SECONDS_PER_DAY = 86_400;
/**
 * Offsets are cached per span of this many seconds (4 days), assuming at most
 * one change inside a span. The shortest stretch between two changes in tzdata
 * since 1970 is about 7 days (America/Recife's DST of October 2000).
 */
const SPAN = 4 * SECONDS_PER_DAY;

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12; day may be out of range). */
export function daysFromCivil(year: number, month: number, day: number): number {
  // Shift the year so it starts in March: the leap day is then the last day of a "year".
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const m = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * m + 2) / 5);
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468 + (day - 1);
}

/** The proleptic Gregorian date of a day number (days since 1970-01-01). Month is 1..12. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Weekday of a day number: 0 = Sunday … 6 = Saturday (like `struct tm`'s tm_wday). */
export function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

/**
 * Zones whose tzdata ("main" format, as Debian compiles it) marks winter time
 * as daylight saving time ("negative DST"), so `tm_isdst` is set for the
 * *lower* offset. Only the years after 1970 matter here.
 */
const NEGATIVE_DST: Record<string, { from: number; to: number }> = {
  'Europe/Dublin': { from: 1971, to: Infinity },
  'Africa/Casablanca': { from: 2018, to: Infinity },
  'Africa/El_Aaiun': { from: 2018, to: Infinity },
  'Africa/Windhoek': { from: 1994, to: 2017 },
};

const NAME_SYNTAX = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;

interface Span {
  /** Offset (seconds east of UTC) from the start of the span … */
  readonly before: number;
  /** … up to this instant (exclusive), after which `after` applies (Infinity: no change in the span). */
  readonly change: number;
  readonly after: number;
}

/**
 * The rules of one IANA time zone as seen through `Intl`: the UTC offset and
 * the daylight-saving flag at any instant. Offsets are cached four days at a
 * time (a change inside such a span is located to the second by bisection), so
 * long searches cost a handful of `Intl` calls, not one per step.
 */
export class ZoneRules {
  private static readonly cache = new Map<string, ZoneRules>();

  /** The name as given (what a calendar expression shows). */
  readonly name: string;
  /** ICU's canonical name for the zone (links resolved). */
  readonly canonical: string;
  private readonly format: Intl.DateTimeFormat;
  private readonly boundaries = new Map<number, number>();
  private readonly spans = new Map<number, Span>();
  private readonly standard = new Map<number, { low: number; high: number }>();

  private constructor(name: string, format: Intl.DateTimeFormat) {
    this.name = name;
    this.format = format;
    this.canonical = format.resolvedOptions().timeZone;
  }

  /**
   * The rules of zone `name` (an IANA name such as "Europe/Berlin" or "UTC").
   * Throws RangeError when `Intl` does not know the zone.
   */
  static of(name: string): ZoneRules {
    let z = ZoneRules.cache.get(name);
    if (!z) {
      const format = new Intl.DateTimeFormat('en-US', {
        timeZone: name,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      z = new ZoneRules(name, format);
      ZoneRules.cache.set(name, z);
    }
    return z;
  }

  /** The UTC offset (seconds east of UTC) in force at instant `t` (epoch seconds). */
  offsetAt(t: number): number {
    const k = Math.floor(t / SPAN);
    let span = this.spans.get(k);
    if (!span) {
      span = this.spanOf(k);
      if (this.spans.size > 50_000) this.spans.clear();
      this.spans.set(k, span);
    }
    return t < span.change ? span.before : span.after;
  }

  /** Whether daylight saving time is in force at instant `t`, as tzdata's `tm_isdst` says. */
  isDstAt(t: number): boolean {
    const offset = this.offsetAt(t);
    const year = civilFromDays(Math.floor(t / SECONDS_PER_DAY)).year;
    let s = this.standard.get(year);
    if (!s) {
      const jan = this.offsetAt(daysFromCivil(year, 1, 1) * SECONDS_PER_DAY);
      const jul = this.offsetAt(daysFromCivil(year, 7, 1) * SECONDS_PER_DAY);
      s = { low: Math.min(jan, jul), high: Math.max(jan, jul) };
      this.standard.set(year, s);
    }
    const negative = NEGATIVE_DST[this.canonical] ?? NEGATIVE_DST[this.name];
    if (negative && year >= negative.from && year <= negative.to) return offset < s.high;
    return offset > s.low;
  }

  private rawOffset(t: number): number {
    let v = 0;
    let y = 0;
    let mo = 0;
    let d = 0;
    let h = 0;
    let mi = 0;
    let s = 0;
    for (const p of this.format.formatToParts(new Date(t * 1000))) {
      if (p.type === 'literal') continue;
      v = Number(p.value);
      if (p.type === 'year') y = v;
      else if (p.type === 'month') mo = v;
      else if (p.type === 'day') d = v;
      else if (p.type === 'hour') h = v;
      else if (p.type === 'minute') mi = v;
      else if (p.type === 'second') s = v;
    }
    return daysFromCivil(y, mo, d) * SECONDS_PER_DAY + h * 3600 + mi * 60 + s - t;
  }

  private boundaryOffset(k: number): number {
    let o = this.boundaries.get(k);
    if (o === undefined) {
      o = this.rawOffset(k * SPAN);
      if (this.boundaries.size > 50_000) this.boundaries.clear();
      this.boundaries.set(k, o);
    }
    return o;
  }

  private spanOf(k: number): Span {
    const before = this.boundaryOffset(k);
    const end = this.boundaryOffset(k + 1);
    if (before === end) return { before, change: Infinity, after: before };
    // One change inside the span: find its first second.
    let lo = k * SPAN;
    let hi = (k + 1) * SPAN;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.rawOffset(mid) === before) lo = mid;
      else hi = mid;
    }
    return { before, change: hi, after: this.rawOffset(hi) };
  }
}

/**
 * Whether `name` is an IANA time zone name that systemd would accept after a
 * calendar expression: the characters systemd allows (letters, digits, `_`,
 * `+`, `-`, single `/` separators), spelled with the case tzdata uses (file
 * names are case-sensitive on Linux), and known to `Intl`.
 */
export function isTimeZoneName(name: string): boolean {
  if (!NAME_SYNTAX.test(name)) return false;
  if (!name.split('/').every((seg) => /^[A-Z]/.test(seg))) return false;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  // ICU accepts any case ("europe/berlin"); tzdata's files do not.
  if (resolved.toLowerCase() === name.toLowerCase() && resolved !== name) return false;
  return true;
}

/** The zone the host runs in (the `TZ` environment variable under Node), as `Intl` reports it. */
export function hostTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Broken-down time as C's `struct tm` holds it, except that `year` is the full
 * year and `mon` is 0..11. Fields handed to `mktime` may be out of range.
 * `isdst`: 1 daylight saving, 0 standard, -1 unknown (let `mktime` decide).
 */
export interface Tm {
  year: number;
  mon: number;
  mday: number;
  hour: number;
  min: number;
  sec: number;
  isdst: number;
  /** 0 = Sunday … 6 = Saturday; filled in by `localtime` and `mktime`. */
  wday: number;
}

/** `localtime_r` + `mktime` (or `gmtime_r` + `timegm`) over one zone. */
export interface CivilClock {
  /** Broken-down local time of instant `t` (epoch seconds), with `isdst` and `wday` set. */
  localtime(t: number): Tm;
  /**
   * Like C's `mktime`: interprets `tm` (fields may be out of range) as local
   * time, normalizes it in place and returns the instant, or null when it cannot
   * (then `tm` is left alone). Stateful, like glibc's: it remembers the last
   * UTC offset it used and starts its next search from it.
   */
  mktime(tm: Tm): number | null;
}

function linearSeconds(year: number, mon: number, mday: number, hour: number, min: number, sec: number): number {
  const carry = Math.floor(mon / 12);
  const m = mon - carry * 12;
  return (daysFromCivil(year + carry, m + 1, 1) + mday - 1) * SECONDS_PER_DAY + hour * 3600 + min * 60 + sec;
}

function fill(tm: Tm, local: number, isdst: number): void {
  const days = Math.floor(local / SECONDS_PER_DAY);
  const rest = local - days * SECONDS_PER_DAY;
  const c = civilFromDays(days);
  tm.year = c.year;
  tm.mon = c.month - 1;
  tm.mday = c.day;
  tm.hour = Math.floor(rest / 3600);
  tm.min = Math.floor((rest % 3600) / 60);
  tm.sec = rest % 60;
  tm.isdst = isdst;
  tm.wday = weekdayOfDays(days);
}

/** UTC: `gmtime_r` and `timegm` (no offsets, nothing ambiguous). */
export function utcClock(): CivilClock {
  return {
    localtime(t) {
      const tm: Tm = { year: 0, mon: 0, mday: 0, hour: 0, min: 0, sec: 0, isdst: 0, wday: 0 };
      fill(tm, t, 0);
      return tm;
    },
    mktime(tm) {
      const t = linearSeconds(tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
      fill(tm, t, 0);
      return t;
    },
  };
}

/* glibc's search constants (mktime.c): probes per call, and the stride and reach of the
   search for a neighbouring time with the requested tm_isdst. */
const MAX_PROBES = 6;
const ISDST_STRIDE = 601_200;
const ISDST_REACH = 536_454_000 / 2 + ISDST_STRIDE;

/**
 * A clock for zone `rules` that resolves local times the way glibc's `mktime`
 * does: starting from the previously used offset it iterates towards a
 * matching instant. An ambiguous local time (clocks turned back) therefore
 * resolves to the occurrence whose offset was used last; a nonexistent one
 * (clocks turned forward) oscillates and is resolved as glibc resolves it,
 * preferring the daylight-saving side, so e.g. 02:30 in a 02:00→03:00 gap
 * becomes 03:30. A requested `isdst` of 0 or 1 is honoured by borrowing the
 * offset of a nearby instant with that flag. Seconds outside 0..59 are clamped
 * during the search and added back afterwards, as glibc does for leap seconds.
 */
export function zoneClock(rules: ZoneRules): CivilClock {
  let guess = 0; // offset (seconds east of UTC) the next search starts from

  const localtime = (t: number): Tm => {
    const tm: Tm = { year: 0, mon: 0, mday: 0, hour: 0, min: 0, sec: 0, isdst: 0, wday: 0 };
    fill(tm, t + rules.offsetAt(t), rules.isDstAt(t) ? 1 : 0);
    return tm;
  };

  const mktime = (tm: Tm): number | null => {
    const requestedSec = tm.sec;
    const sec = Math.min(59, Math.max(0, tm.sec));
    const isdst = tm.isdst;
    const wanted = linearSeconds(tm.year, tm.mon, tm.mday, tm.hour, tm.min, sec);
    const t0 = wanted - guess;
    let t = t0;
    let t1 = t0;
    let t2 = t0;
    let previousDst = 0;
    let probes = MAX_PROBES;
    let found = false;
    let dst = 0;
    for (;;) {
      const offset = rules.offsetAt(t);
      dst = rules.isDstAt(t) ? 1 : 0;
      const dt = wanted - (t + offset);
      if (dt === 0) {
        found = true;
        break;
      }
      // Oscillating between two instants: the time falls in a gap.
      if (t === t1 && t !== t2 && (isdst < 0 ? previousDst <= dst : (isdst !== 0 ? 1 : 0) !== dst)) break;
      if (--probes === 0) return null;
      t1 = t2;
      t2 = t;
      t += dt;
      previousDst = dst;
    }
    if (found && isdst >= 0 && (isdst !== 0 ? 1 : 0) !== dst) {
      // Matched, but with the other tm_isdst: borrow the offset of a neighbour that has it.
      let resolved: number | null = null;
      search: for (let delta = ISDST_STRIDE; delta < ISDST_REACH; delta += ISDST_STRIDE) {
        for (const direction of [-1, 1]) {
          const ot = t + delta * direction;
          if ((rules.isDstAt(ot) ? 1 : 0) === (isdst !== 0 ? 1 : 0)) {
            resolved = wanted - rules.offsetAt(ot);
            break search;
          }
        }
      }
      if (resolved === null) return null;
      t = resolved;
    }
    guess = wanted - t;
    let out = localtime(t);
    if (requestedSec !== out.sec) {
      t += requestedSec - sec;
      out = localtime(t);
    }
    Object.assign(tm, out);
    return t;
  };

  return { localtime, mktime };
}

/** A clock for `zone`: UTC arithmetic for "UTC", glibc-like local time otherwise. */
export function clockFor(zone: string): CivilClock {
  return zone === 'UTC' ? utcClock() : zoneClock(ZoneRules.of(zone));
}

const ABBREVIATION_LOCALES = ['en-US', 'en-GB', 'en-AU', 'en-IN', 'en-ZA', 'ja-JP'];
const abbreviationFormats = new Map<string, Intl.DateTimeFormat[]>();

/**
 * A short name for the offset in force in `zone` at instant `t` (epoch
 * seconds): "UTC", "CET", "EDT", … as ICU knows it, else tzdata's numeric
 * style ("+1030", "-03"). For display only: ICU's names can differ from the
 * tzdata abbreviations `date +%Z` prints (e.g. "LHDT" where tzdata says "+11").
 */
export function zoneAbbreviation(zone: string, t: number): string {
  if (zone === 'UTC') return 'UTC';
  let formats = abbreviationFormats.get(zone);
  if (!formats) {
    formats = ABBREVIATION_LOCALES.map((l) => new Intl.DateTimeFormat(l, { timeZone: zone, timeZoneName: 'short' }));
    abbreviationFormats.set(zone, formats);
  }
  const date = new Date(t * 1000);
  for (const f of formats) {
    const name = f.formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (/^[A-Z][A-Z0-9]{1,5}$/.test(name) && !/^GMT./.test(name)) return name;
  }
  const offset = ZoneRules.of(zone).offsetAt(t);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 3600)).padStart(2, '0');
  const mm = Math.floor((abs % 3600) / 60);
  return `${sign}${hh}${mm ? String(mm).padStart(2, '0') : ''}`;
}

const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * Formats instant `t` (epoch seconds; fractions are dropped) as systemd prints
 * timestamps: "Mon 2026-11-23 18:00:00 CET", in `zone` (IANA name or "UTC").
 */
export function formatTimestamp(t: number, zone: string): string {
  const whole = Math.floor(t);
  const offset = zone === 'UTC' ? 0 : ZoneRules.of(zone).offsetAt(whole);
  const tm = utcClock().localtime(whole + offset);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${WEEKDAY_NAMES[tm.wday]} ${p(tm.year, 4)}-${p(tm.mon + 1)}-${p(tm.mday)} ${p(tm.hour)}:${p(tm.min)}:${p(tm.sec)} ${zoneAbbreviation(zone, whole)}`;
}

/**
 * The instants at which the wall clock in `zone` shows the given local time
 * (month 1..12): none when clocks skip it, two when they repeat it (earlier
 * first), else one.
 */
export function instantsOfLocalTime(zone: string, year: number, month: number, day: number, hour: number, minute: number, second: number): number[] {
  const wanted = linearSeconds(year, month - 1, day, hour, minute, second);
  if (zone === 'UTC') return [wanted];
  const rules = ZoneRules.of(zone);
  const offsets = new Set([rules.offsetAt(wanted - SECONDS_PER_DAY), rules.offsetAt(wanted), rules.offsetAt(wanted + SECONDS_PER_DAY)]);
  const out = [...offsets].map((o) => wanted - o).filter((t) => t + rules.offsetAt(t) === wanted);
  return [...new Set(out)].sort((a, b) => a - b);
}
