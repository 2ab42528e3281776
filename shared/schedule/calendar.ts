/**
 * systemd calendar events (systemd.time(7), "CALENDAR EVENTS"), with the
 * semantics of `systemd-analyze calendar` in systemd 252 (Debian 12's
 * 252.39): the same accepted syntax, the same "Normalized form" text, and the
 * same next elapse times, daylight-saving changes included. The next elapse is
 * systemd's field-by-field search over broken-down local time, run on a clock
 * that resolves local times the way glibc's mktime does (see zone.ts), since
 * that is what decides systemd's answers around DST changes.
 *
 * Grammar, as systemd reads it:
 *
 *     [WEEKDAYS] [[YEAR-]MONTH(-|~)DAY] [HOUR:MINUTE[:SECOND]] [ZONE]
 *
 * or one of the words minutely, hourly, daily, weekly, monthly, quarterly,
 * semiannually (bi-annually, biannually, semi-annually), yearly/annually,
 * optionally followed by a zone; or `@EPOCHSECONDS`. Each numeric field is
 * `*` or a comma list of `VALUE`, `FROM..TO`, `VALUE/STEP` or `FROM..TO/STEP`;
 * seconds may carry up to six decimals. `~` before the day counts days back
 * from the end of the month (`~01` is the last day). A two-digit year means
 * 20YY below 70 and 19YY from 70. Weekdays are English names or their
 * three-letter forms, in lists and `..` (or `-`) ranges. A missing date is
 * `*-*-*`, a missing time is 00:00:00, missing seconds are :00. The zone is
 * ` UTC` (any case) or an IANA name such as `Europe/Berlin`; without one, the
 * caller's default zone applies.
 *
 * Pure code: no Node APIs, no npm packages; zones come from `Intl`.
 */
import { translateCron } from './cron.js';
import { clockFor, isTimeZoneName, type CivilClock, type Tm } from './zone.js';

export { CronParseError, type CronField } from './cron.js';

/** One entry of a field's comma list. */
export interface CalendarComponent {
  /** First value (for seconds: microseconds; for `~` days: days back from the month's end, 1 = last day). */
  readonly start: number;
  /** Last value of a `..` range, or null (a single value, or a `/` repetition running to the field's end). */
  readonly stop: number | null;
  /** Repetition step (same unit as `start`); 0 for none. A plain range has step 1 (1 000 000 for seconds). */
  readonly repeat: number;
}

/** A field: null means `*` (every value); otherwise a sorted, de-duplicated list. */
export type CalendarField = readonly CalendarComponent[] | null;

/**
 * A parsed, normalized calendar event (immutable). Normalization is systemd's:
 * two-digit years expanded, ranges trimmed to a whole number of steps, steps
 * that can never repeat dropped, entries sorted and de-duplicated, all seven
 * weekdays meaning "no weekday restriction", and ` UTC` recognised as UTC.
 */
export interface CalendarSpec {
  /** The expression as written. */
  readonly expression: string;
  /** Bit set of weekdays, bit 0 = Monday … bit 6 = Sunday; null = any day. */
  readonly weekdays: number | null;
  readonly year: CalendarField;
  readonly month: CalendarField;
  /** Days of month; counted back from the month's end when `endOfMonth` is set. */
  readonly day: CalendarField;
  /** The day field was separated by `~` (last days of the month). */
  readonly endOfMonth: boolean;
  readonly hour: CalendarField;
  readonly minute: CalendarField;
  /** Seconds in microseconds (`*` is stored as 0/1 s, like systemd does). */
  readonly second: CalendarField;
  /** The expression ends in ` UTC` (or is an `@` timestamp). */
  readonly utc: boolean;
  /** IANA zone named at the end of the expression, or null (UTC is `utc`, not a zone). */
  readonly timeZone: string | null;
}

/**
 * A calendar expression systemd would refuse. `token` is the offending text,
 * `position` its 1-based column in the expression; the message names both,
 * e.g. `invalid weekday "Mox" at column 1`.
 */
export class CalendarParseError extends Error {
  /** The offending text (may be empty at the end of the expression). */
  readonly token: string;
  /** 1-based column of `token` in the expression. */
  readonly position: number;
  /** The whole expression. */
  readonly expression: string;

  constructor(problem: string, token: string, position: number, expression: string, detail?: string) {
    super(`${problem} ${JSON.stringify(token)} at column ${position}${detail ? `: ${detail}` : ''}`);
    this.name = 'CalendarParseError';
    this.token = token;
    this.position = position;
    this.expression = expression;
  }
}

const USEC = 1_000_000;
const INT_MAX = 2_147_483_647;
/** strtoul's limit (64-bit unsigned long). */
const ULONG_MAX = 2n ** 64n - 1n;
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;
const ALL_WEEKDAYS = 0x7f;
/** systemd's cap on the length of one field's comma list. */
const MAX_COMPONENTS = 241;
/** systemd's safety valve for its search loop. */
const MAX_ITERATIONS = 1000;

const WEEKDAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
/** systemd's lookup order: for each day the full name first, then the short one. */
const WEEKDAY_TABLE: ReadonlyArray<readonly [string, number]> = [
  ['monday', 0], ['mon', 0], ['tuesday', 1], ['tue', 1], ['wednesday', 2], ['wed', 2], ['thursday', 3],
  ['thu', 3], ['friday', 4], ['fri', 4], ['saturday', 5], ['sat', 5], ['sunday', 6], ['sun', 6],
];

type FieldName = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';

/** A component while parsing: systemd's encoding (stop -1 = none) plus where it was written. */
interface Raw {
  start: number;
  stop: number;
  repeat: number;
  at: number;
  text: string;
}

interface Draft {
  weekdays: number;
  year: Raw[] | null;
  month: Raw[] | null;
  day: Raw[] | null;
  hour: Raw[] | null;
  minute: Raw[] | null;
  second: Raw[] | null;
  endOfMonth: boolean;
  utc: boolean;
  timeZone: string | null;
}

const konst = (value: number): Raw[] => [{ start: value, stop: -1, repeat: 0, at: 0, text: String(value) }];

/** The words systemd accepts for a whole expression, as their fields. */
const SHORTHANDS: Record<string, (d: Draft) => void> = {
  minutely: (d) => { d.second = konst(0); },
  hourly: (d) => { d.minute = konst(0); d.second = konst(0); },
  daily: (d) => { d.hour = konst(0); d.minute = konst(0); d.second = konst(0); },
  monthly: (d) => { d.day = konst(1); d.hour = konst(0); d.minute = konst(0); d.second = konst(0); },
  weekly: (d) => { d.weekdays = 1; d.hour = konst(0); d.minute = konst(0); d.second = konst(0); },
  yearly: (d) => { d.month = konst(1); d.day = konst(1); d.hour = konst(0); d.minute = konst(0); d.second = konst(0); },
  quarterly: (d) => {
    d.month = [1, 4, 7, 10].flatMap(konst);
    d.day = konst(1); d.hour = konst(0); d.minute = konst(0); d.second = konst(0);
  },
  semiannually: (d) => {
    d.month = [1, 7].flatMap(konst);
    d.day = konst(1); d.hour = konst(0); d.minute = konst(0); d.second = konst(0);
  },
};
SHORTHANDS.annually = SHORTHANDS.yearly!;
SHORTHANDS.anually = SHORTHANDS.yearly!; // systemd keeps this misspelling for compatibility
SHORTHANDS.biannually = SHORTHANDS.semiannually!;
SHORTHANDS['bi-annually'] = SHORTHANDS.semiannually!;
SHORTHANDS['semi-annually'] = SHORTHANDS.semiannually!;

const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '9';
/** Lower-cases ASCII letters only (systemd compares names in the C locale; keeps string positions). */
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (ch) => ch.toLowerCase());

/** Reads one expression body (zone already removed). Throws CalendarParseError. */
class Parser {
  readonly draft: Draft;

  constructor(
    private readonly expr: string,
    private readonly body: string,
    utc: boolean,
    timeZone: string | null,
  ) {
    this.draft = { weekdays: 0, year: null, month: null, day: null, hour: null, minute: null, second: null, endOfMonth: false, utc, timeZone };
  }

  private fail(problem: string, at: number, token: string, detail?: string): never {
    throw new CalendarParseError(problem, token, at + 1, this.expr, detail);
  }

  /** The text from `at` up to the next space (what a reader would call "the token there"). */
  private wordAt(at: number): string {
    const end = this.body.indexOf(' ', at);
    return this.body.slice(at, end < 0 ? this.body.length : end);
  }

  private unexpected(at: number): never {
    if (at >= this.body.length) {
      const from = this.body.lastIndexOf(' ', at - 1) + 1;
      this.fail('incomplete expression after', from, this.body.slice(from, at), 'it ends too early');
    }
    this.fail('unexpected', at, this.body[at]!);
  }

  parse(): Draft {
    const body = this.body;
    const word = asciiLower(body);
    const shorthand = Object.prototype.hasOwnProperty.call(SHORTHANDS, word) ? SHORTHANDS[word] : undefined;
    if (shorthand) {
      shorthand(this.draft);
      return this.draft;
    }
    const blank = /\s/.exec(body);
    if (blank && blank.index === 0) this.fail('unexpected', 0, blank[0], 'the expression starts with a blank');
    if (blank && Object.prototype.hasOwnProperty.call(SHORTHANDS, asciiLower(body.slice(0, blank.index)))) {
      const rest = /\S+/.exec(body.slice(blank.index));
      const at = rest ? blank.index + rest.index : blank.index;
      this.fail('unexpected', at, rest ? rest[0] : blank[0], `nothing but a time zone may follow "${body.slice(0, blank.index)}"`);
    }
    let i = this.weekdays(0);
    const date = this.date(i);
    i = date.next;
    if (!date.complete) i = this.time(i);
    if (i !== body.length) this.unexpected(i);
    return this.draft;
  }

  /** WEEKDAYS part; returns where the date starts (unchanged when there are no weekdays). */
  private weekdays(at: number): number {
    const body = this.body;
    const lower = asciiLower(body);
    let i = at;
    let open = -1; // first day of a range whose end is still to come
    let rangeAt = -1;
    let first = true;
    for (;;) {
      const hit = WEEKDAY_TABLE.find(([name]) => lower.startsWith(name, i));
      if (!hit) {
        if (first) return at; // no weekdays: the date starts here
        const letters = /^[A-Za-z]*/.exec(body.slice(i))![0];
        this.fail('invalid weekday', i, letters || this.wordAt(i), 'a weekday list holds only weekday names');
      }
      const [name, day] = hit;
      const after = i + name.length;
      const next = body[after];
      if (next !== undefined && next !== '-' && next !== '.' && next !== ',' && next !== ' ') {
        if (/[A-Za-z0-9]/.test(next)) this.fail('invalid weekday', i, /^[A-Za-z0-9]*/.exec(body.slice(i))![0]);
        this.fail('unexpected', after, next, 'weekdays are separated by ",", ranges written with "..", and a space comes before the date');
      }
      this.draft.weekdays |= 1 << day;
      if (open >= 0) {
        if (open > day) this.fail('invalid weekday range', rangeAt, body.slice(rangeAt, after), 'a range runs from Monday towards Sunday');
        for (let d = open + 1; d < day; d++) this.draft.weekdays |= 1 << d;
      }
      i = after;
      if (i === body.length) return i;
      if (body[i] === ' ') {
        while (body[i] === ' ') i++;
        return i;
      }
      if (body[i] === '.') {
        if (open >= 0) this.fail('unexpected', i, body[i + 1] === '.' ? '..' : '.', 'a weekday range has one start and one end');
        if (body[i + 1] !== '.') this.fail('unexpected', i, '.', 'weekday ranges are written "Mon..Fri"');
        open = day;
        rangeAt = i - name.length;
        i += 2;
      } else if (body[i] === '-') {
        if (open >= 0) this.fail('unexpected', i, '-', 'a weekday range has one start and one end');
        open = day;
        rangeAt = i - name.length;
        i += 1;
      } else {
        // ','
        open = -1;
        i += 1;
      }
      if (i === body.length || body[i] === ' ') {
        if (open >= 0) this.fail('incomplete weekday range', rangeAt, body.slice(rangeAt, i), 'the range has no end');
        while (body[i] === ' ') i++;
        return i;
      }
      first = false;
    }
  }

  /**
   * Date part. `complete` is true for an `@` timestamp (no time follows). When
   * the text turns out to be a time, `next` is `at` (nothing consumed).
   */
  private date(at: number): { next: number; complete: boolean } {
    const body = this.body;
    if (at === body.length) return { next: at, complete: false };
    if (body[at] === '@') return { next: this.timestamp(at), complete: true };
    let t = at;
    const first = this.chain(t, 'value', false);
    t = first.next;
    if (t === body.length || body[t] === ':') return { next: at, complete: false };
    if (body[t] === '~') this.draft.endOfMonth = true;
    else if (body[t] !== '-') this.unexpected(t);
    const second = this.chain(t + 1, 'month', false);
    t = second.next;
    if (t === body.length || body[t] === ' ') {
      this.draft.month = first.chain;
      this.draft.day = second.chain;
      while (body[t] === ' ') t++;
      return { next: t, complete: false };
    }
    if (this.draft.endOfMonth) this.fail('unexpected', t, body[t]!, '"~" may only stand between month and day');
    if (body[t] === '~') this.draft.endOfMonth = true;
    else if (body[t] !== '-') this.unexpected(t);
    const third = this.chain(t + 1, 'day', false);
    t = third.next;
    if (t !== body.length && body[t] !== ' ') this.unexpected(t);
    this.draft.year = first.chain;
    this.draft.month = second.chain;
    this.draft.day = third.chain;
    while (body[t] === ' ') t++;
    return { next: t, complete: false };
  }

  /** `@SECONDS`: a single instant, in UTC. strtoul rules: leading blanks and a sign are allowed. */
  private timestamp(at: number): number {
    const m = /^@([ \t\n\v\f\r]*)([+-]?)(\d*)/.exec(this.body.slice(at))!;
    const digits = m[3]!;
    const token = this.wordAt(at);
    if (!digits) this.fail('invalid timestamp', at, token, 'expected "@" followed by seconds since 1970-01-01 UTC');
    if (BigInt(digits) > ULONG_MAX) this.fail('invalid timestamp', at, token, 'number too large');
    let value = Number(digits);
    if (m[2] === '-') value = -value;
    const whole = Math.floor(value) + 0; // no -0 for "@-0"
    const days = Math.floor(whole / 86_400);
    const rest = whole - days * 86_400;
    const c = utcDate(days);
    if (!Number.isSafeInteger(whole) || c.year < MIN_YEAR || c.year > MAX_YEAR) {
      this.fail('invalid timestamp', at, token, `must lie in the years ${MIN_YEAR}..${MAX_YEAR}`);
    }
    const mk = (v: number, f: FieldName): Raw[] => [{ start: v, stop: -1, repeat: 0, at, text: `${token} (${f})` }];
    this.draft.year = mk(c.year, 'year');
    this.draft.month = mk(c.month, 'month');
    this.draft.day = mk(c.day, 'day');
    this.draft.hour = mk(Math.floor(rest / 3600), 'hour');
    this.draft.minute = mk(Math.floor((rest % 3600) / 60), 'minute');
    this.draft.second = mk((rest % 60) * USEC, 'second');
    this.draft.utc = true;
    return at + m[0].length;
  }

  /** HOUR:MINUTE[:SECOND], or nothing (00:00:00). */
  private time(at: number): number {
    const body = this.body;
    if (at === body.length) {
      this.draft.hour = konst(0);
      this.draft.minute = konst(0);
      this.draft.second = konst(0);
      return at;
    }
    const h = this.chain(at, 'hour', false);
    let t = h.next;
    if (body[t] !== ':') {
      if (t === body.length) this.fail('incomplete time', at, body.slice(at, t), 'expected HH:MM');
      this.unexpected(t);
    }
    const m = this.chain(t + 1, 'minute', false);
    t = m.next;
    this.draft.hour = h.chain;
    this.draft.minute = m.chain;
    if (t === body.length) {
      this.draft.second = konst(0);
      return t;
    }
    if (body[t] !== ':') this.unexpected(t);
    const s = this.chain(t + 1, 'second', true);
    this.draft.second = s.chain;
    t = s.next;
    if (t !== body.length) this.unexpected(t);
    return t;
  }

  /** `*` or a comma list; seconds (`usec`) allow decimals and are kept in microseconds. */
  private chain(at: number, field: FieldName | 'value', usec: boolean): { chain: Raw[] | null; next: number } {
    const body = this.body;
    if (body[at] === '*') {
      return { chain: usec ? [{ start: 0, stop: -1, repeat: USEC, at, text: '*' }] : null, next: at + 1 };
    }
    const out: Raw[] = [];
    let i = at;
    for (;;) {
      if (out.length >= MAX_COMPONENTS) this.fail(`too many ${field} values at`, i, this.wordAt(i), `at most ${MAX_COMPONENTS} per field`);
      const begin = i;
      const start = this.decimal(i, field, usec);
      i = start.next;
      let stop = -1;
      let repeat = 0;
      if (body[i] === '.' && body[i + 1] === '.') {
        const s = this.decimal(i + 2, field, usec);
        stop = s.value;
        i = s.next;
        repeat = usec ? USEC : 1;
      }
      if (body[i] === '/') {
        const r = this.decimal(i + 1, field, usec);
        if (r.value === 0) this.fail('invalid repetition', i, body.slice(i, r.next), 'the step must be greater than 0');
        repeat = r.value;
        i = r.next;
      } else {
        if (start.value > INT_MAX - repeat) this.fail(`invalid ${field}`, begin, body.slice(begin, i), 'number too large');
        if (usec && stop >= 0 && start.value + repeat > stop) {
          this.fail('invalid second range', begin, body.slice(begin, i), 'without a "/" step a range of seconds must span at least one second');
        }
      }
      const ch = body[i];
      if (ch !== undefined && ch !== ' ' && ch !== ',' && ch !== '-' && ch !== '~' && ch !== ':') {
        const m = /^[^ ,:~-]*/.exec(body.slice(begin))![0];
        this.fail(`invalid ${field}`, begin, m, `unexpected "${ch}" at column ${i + 1}`);
      }
      out.push({ start: start.value, stop, repeat, at: begin, text: body.slice(begin, i) });
      if (ch !== ',') return { chain: out, next: i };
      i += 1;
    }
  }

  /** An unsigned decimal (systemd's parse_component_decimal), seconds with up to 6 decimals, rounded. */
  private decimal(at: number, field: FieldName | 'value', usec: boolean): { value: number; next: number } {
    const body = this.body;
    if (!isDigit(body[at])) {
      if (at >= body.length) this.unexpected(at);
      if (at === 0 && /[A-Za-z]/.test(body[0]!)) {
        const letters = /^[A-Za-z]+/.exec(body)![0];
        if (letters.length === body.length) this.fail('unknown calendar keyword or weekday', 0, letters, 'expected e.g. daily, weekly, Mon..Fri 18:00 or *-*-* 02:00');
        this.fail('invalid weekday', 0, letters);
      }
      const token = /^[^ ,:~-]*/.exec(body.slice(at))![0] || body[at]!;
      this.fail(`expected a number or "*" but found`, at, token);
    }
    let i = at;
    while (isDigit(body[i])) i++;
    const digits = body.slice(at, i);
    if (BigInt(digits) > ULONG_MAX) this.fail(`invalid ${field}`, at, digits, 'number too large');
    let value = Number(digits);
    if (usec) {
      value *= USEC;
      if (body[i] === '.' && body[i + 1] !== '.') {
        i += 1;
        if (!isDigit(body[i])) this.fail('invalid second', at, body.slice(at, i), 'expected digits after the decimal point');
        let frac = 0;
        let n = 0;
        while (n < 6 && isDigit(body[i])) {
          frac = frac * 10 + Number(body[i]);
          n++;
          i++;
        }
        if (n < 6) frac *= 10 ** (6 - n);
        else if (body[i] !== undefined && body[i]! >= '5' && body[i]! <= '9') frac += 1;
        while (isDigit(body[i])) i++;
        value += frac;
      }
    }
    if (value > INT_MAX) this.fail(`invalid ${field}`, at, body.slice(at, i), 'number too large');
    return { value, next: i };
  }
}

function utcDate(days: number): { year: number; month: number; day: number } {
  const tm = clockFor('UTC').localtime(days * 86_400);
  return { year: tm.year, month: tm.mon + 1, day: tm.mday };
}

const FIELD_LIMITS: Record<FieldName, readonly [number, number]> = {
  year: [MIN_YEAR, MAX_YEAR],
  month: [1, 12],
  day: [1, 31],
  hour: [0, 23],
  minute: [0, 59],
  second: [0, 60 * USEC - 1],
};

/** systemd's normalize_chain: trim ranges to whole steps, drop steps that never fire, sort, de-duplicate. */
function normalizeChain(chain: Raw[] | null): Raw[] | null {
  if (!chain) return null;
  for (const c of chain) {
    if (c.stop > c.start && c.repeat > 0) c.stop -= (c.stop - c.start) % c.repeat;
    if ((c.stop > c.start && c.repeat > 0 && c.start + c.repeat > c.stop) || c.start === c.stop) {
      c.repeat = 0;
      c.stop = -1;
    }
  }
  const sorted = [...chain].sort((a, b) => a.start - b.start || a.stop - b.stop || a.repeat - b.repeat);
  return sorted.filter((c, k) => k === 0 || c.start !== sorted[k - 1]!.start || c.stop !== sorted[k - 1]!.stop || c.repeat !== sorted[k - 1]!.repeat);
}

function describeValue(field: FieldName, v: number): string {
  return field === 'second' ? formatSeconds(v) : String(v);
}

function formatSeconds(v: number): string {
  const whole = Math.floor(v / USEC);
  const frac = v % USEC;
  return frac ? `${whole}.${String(frac).padStart(6, '0')}` : String(whole);
}

/**
 * systemd's chain_valid, reporting the first component that breaks it. For
 * `~` days systemd lowers the upper bound by 3 for every entry of the list
 * (28 for the first, 25 for the second, …); that quirk is kept.
 */
function validateChain(chain: Raw[] | null, field: FieldName, endOfMonth: boolean, expr: string): void {
  if (!chain) return;
  const [from, max] = FIELD_LIMITS[field];
  let to = max;
  for (const c of chain) {
    if (endOfMonth) to -= 3;
    const range = `${describeValue(field, from)}..${describeValue(field, to)}`;
    const fail = (detail: string): never => {
      throw new CalendarParseError(`invalid ${field}`, c.text, c.at + 1, expr, detail);
    };
    if (c.start < from || c.start > to) {
      fail(endOfMonth ? `days counted from the end of the month must be 1..${to} here (~01 is the last day; systemd allows 28 for a list's first entry, 3 fewer for each further one)` : `${describeValue(field, c.start)} is outside ${range}`);
    }
    if (c.repeat > to - from) fail(`the step ${describeValue(field, c.repeat)} is larger than the field (${range})`);
    if (c.stop >= 0) {
      if (c.stop < from || c.stop > to) fail(`${describeValue(field, c.stop)} is outside ${range}`);
      if (c.start + c.repeat > c.stop) fail('the range ends before it starts');
    } else if (endOfMonth ? c.start - c.repeat < from : c.start + c.repeat > to) {
      fail(`the step never repeats within ${range}`);
    }
  }
}

function freezeField(chain: Raw[] | null): CalendarField {
  if (!chain) return null;
  return Object.freeze(chain.map((c) => Object.freeze({ start: c.start, stop: c.stop < 0 ? null : c.stop, repeat: c.repeat })));
}

/**
 * Parses and normalizes a calendar expression exactly as systemd 252 does
 * (same accepted syntax and same normalization). Throws CalendarParseError,
 * naming the offending token and its column, for anything systemd refuses.
 *
 * Not supported (systemd accepts these, we refuse or read them differently):
 * a trailing local zone abbreviation such as "CET" meaning "the host zone with
 * DST forced off/on" (we read a valid IANA name like "CET" as that zone), and
 * zone names ICU does not know (posix/…, right/…, Factory).
 */
export function parseCalendar(expr: string): CalendarSpec {
  if (typeof expr !== 'string') throw new TypeError('calendar expression must be a string');
  let body = expr;
  let utc = false;
  let timeZone: string | null = null;
  let zoneAt = -1;
  if (expr.length >= 4 && expr.slice(-4).toLowerCase() === ' utc') {
    utc = true;
    body = expr.slice(0, -4);
    zoneAt = expr.length - 3;
  } else {
    const space = expr.lastIndexOf(' ');
    if (space >= 0 && isTimeZoneName(expr.slice(space + 1))) {
      timeZone = expr.slice(space + 1);
      body = expr.slice(0, space);
      zoneAt = space + 1;
    }
  }
  if (body === '') {
    if (zoneAt >= 0) throw new CalendarParseError('missing date or time before time zone', expr.slice(zoneAt), zoneAt + 1, expr);
    if (isTimeZoneName(expr) || expr === 'UTC') throw new CalendarParseError('missing date or time before time zone', expr, 1, expr);
    throw new CalendarParseError('empty calendar expression', '', 1, expr);
  }
  if (!utc && !timeZone && isTimeZoneName(expr)) {
    throw new CalendarParseError('missing date or time before time zone', expr, 1, expr);
  }
  let draft: Draft;
  try {
    draft = new Parser(expr, body, utc, timeZone).parse();
  } catch (e) {
    // "daily Europe/Berln": the rest parses, so the last word is a zone we do not know.
    const space = expr.lastIndexOf(' ');
    if (e instanceof CalendarParseError && zoneAt < 0 && space > 0) {
      const candidate = expr.slice(space + 1);
      const weekdayOrWord = WEEKDAY_TABLE.some(([name]) => name === asciiLower(candidate)) || Object.prototype.hasOwnProperty.call(SHORTHANDS, asciiLower(candidate));
      if (/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(candidate) && !weekdayOrWord) {
        let restParses = false;
        try {
          new Parser(expr, expr.slice(0, space), false, null).parse();
          restParses = true;
        } catch {
          restParses = false;
        }
        if (restParses) throw new CalendarParseError('unknown time zone', candidate, space + 2, expr, 'expected UTC or an IANA name such as Europe/Berlin');
      }
    }
    throw e;
  }

  // systemd's calendar_spec_normalize, then calendar_spec_valid.
  let weekdays: number | null = draft.weekdays;
  if (weekdays <= 0 || weekdays >= ALL_WEEKDAYS) weekdays = null;
  const endOfMonth = draft.endOfMonth && draft.day !== null;
  if (draft.year) {
    for (const c of draft.year) {
      if (c.start >= 0 && c.start < 70) c.start += 2000;
      else if (c.start >= 70 && c.start < 100) c.start += 1900;
      if (c.stop >= 0 && c.stop < 70) c.stop += 2000;
      else if (c.stop >= 70 && c.stop < 100) c.stop += 1900;
    }
  }
  const year = normalizeChain(draft.year);
  const month = normalizeChain(draft.month);
  const day = normalizeChain(draft.day);
  const hour = normalizeChain(draft.hour);
  const minute = normalizeChain(draft.minute);
  const second = normalizeChain(draft.second);
  validateChain(year, 'year', false, expr);
  validateChain(month, 'month', false, expr);
  validateChain(day, 'day', endOfMonth, expr);
  validateChain(hour, 'hour', false, expr);
  validateChain(minute, 'minute', false, expr);
  validateChain(second, 'second', false, expr);

  return Object.freeze({
    expression: expr,
    weekdays,
    year: freezeField(year),
    month: freezeField(month),
    day: freezeField(day),
    endOfMonth,
    hour: freezeField(hour),
    minute: freezeField(minute),
    second: freezeField(second),
    utc: draft.utc || timeZone === 'UTC',
    timeZone: timeZone === 'UTC' ? null : timeZone,
  });
}

function formatWeekdays(bits: number): string {
  let out = '';
  let runStart = -1;
  const close = (end: number) => {
    // `end` is one past the run's last day
    if (end > runStart + 1) out += (end > runStart + 2 ? '..' : ',') + WEEKDAY_NAMES[end - 1];
  };
  for (let d = 0; d < 7; d++) {
    if (bits & (1 << d)) {
      if (runStart < 0) {
        if (out) out += ',';
        out += WEEKDAY_NAMES[d];
        runStart = d;
      }
    } else if (runStart >= 0) {
      close(d);
      runStart = -1;
    }
  }
  if (runStart >= 0) close(7);
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function formatField(field: CalendarField, width: number, usec: boolean): string {
  if (!field) return '*';
  if (usec && field.some((c) => c.start === 0 && c.stop === null && c.repeat === USEC)) return '*';
  const unit = usec ? USEC : 1;
  return field
    .map((c) => {
      let s = pad(Math.floor(c.start / unit), width);
      if (c.start % unit > 0) s += `.${pad(c.start % unit, 6)}`;
      const stop = c.stop ?? -1;
      if (stop > 0) {
        s += `..${pad(Math.floor(stop / unit), width)}`;
        if (stop % unit > 0) s += `.${pad(stop % unit, 6)}`;
      }
      if (c.repeat > 0 && !(stop > 0 && c.repeat === unit)) s += `/${Math.floor(c.repeat / unit)}`;
      if (c.repeat % unit > 0) s += `.${pad(c.repeat % unit, 6)}`;
      return s;
    })
    .join(',');
}

/**
 * The expression in systemd's "Normalized form", character for character:
 * `[WEEKDAYS ]YYYY-MM-DD HH:MM:SS[ ZONE]` with `*`, lists, `..` ranges and `/`
 * steps, `~` for end-of-month days, fractional seconds as `.ffffff`.
 */
export function normalizeCalendar(spec: CalendarSpec): string {
  let s = '';
  if (spec.weekdays !== null && spec.weekdays > 0 && spec.weekdays < ALL_WEEKDAYS) s += formatWeekdays(spec.weekdays) + ' ';
  s += formatField(spec.year, 4, false);
  s += '-';
  s += formatField(spec.month, 2, false);
  s += spec.endOfMonth ? '~' : '-';
  s += formatField(spec.day, 2, false);
  s += ' ';
  s += formatField(spec.hour, 2, false);
  s += ':';
  s += formatField(spec.minute, 2, false);
  s += ':';
  s += formatField(spec.second, 2, true);
  if (spec.utc) s += ' UTC';
  else if (spec.timeZone) s += ` ${spec.timeZone}`;
  return s;
}

/* ------------------------------------------------------------------ */
/* Next elapse: systemd's field-by-field search over broken-down time. */

const ENOENT = -1;

/** The zone a spec is evaluated in: UTC, its own zone, or the caller's default. */
function clockOf(spec: CalendarSpec, defaultTimeZone: string): CivilClock {
  if (spec.utc) return clockFor('UTC');
  // ZoneRules.of (behind clockFor) throws RangeError for a zone Intl does not know.
  return clockFor(spec.timeZone ?? defaultTimeZone);
}

/**
 * The last-days-of-month day number for `daysBack` (1 = last day) in `c`'s
 * month, or -1 when it is not in that month. Uses the clock (mktime), as
 * systemd does.
 */
function endOfMonthDay(clock: CivilClock, c: Tm, daysBack: number): number {
  const t: Tm = { ...c, mon: c.mon + 1, mday: 1 - daysBack };
  if (clock.mktime(t) === null || t.mon !== c.mon) return -1;
  return t.mday;
}

/**
 * The earliest value >= `value` that one of the field's entries allows:
 * returns [r, v] with r = 1 (moved), 0 (value already matches) or ENOENT.
 */
function matchField(field: CalendarField, value: number, endOfMonth: boolean, clock: CivilClock, c: Tm): [number, number] {
  if (!field) return [0, value];
  let best = -1;
  let found = false;
  for (const entry of field) {
    let start = entry.start;
    let stop = entry.stop ?? -1;
    if (endOfMonth) {
      start = endOfMonthDay(clock, c, entry.start);
      stop = endOfMonthDay(clock, c, stop);
      if (stop > 0) [start, stop] = [stop, start];
    }
    if (start >= value) {
      if (!found || start < best) {
        best = start;
        found = true;
      }
    } else if (entry.repeat > 0) {
      const k = start + entry.repeat * Math.ceil((value - start) / entry.repeat);
      if ((!found || k < best) && (stop < 0 || k <= stop)) {
        best = k;
        found = true;
      }
    }
  }
  if (!found) return [ENOENT, value];
  return [best !== value ? 1 : 0, best];
}

const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0);

/**
 * systemd's tm_within_bounds: 1 when `c` is a real local time as is, 0 when
 * mktime moved it forward (then `c` is replaced by the moved time with the
 * smaller fields reset), negative when it is past 2199 or would move backward.
 */
function withinBounds(clock: CivilClock, c: Tm): number {
  if (c.year > MAX_YEAR) return -1;
  const t: Tm = { ...c };
  if (clock.mktime(t) === null) return -1;
  let cmp: number;
  if ((cmp = sign(t.year - c.year)) !== 0) t.mon = 0;
  else if ((cmp = sign(t.mon - c.mon)) !== 0) t.mday = 1;
  else if ((cmp = sign(t.mday - c.mday)) !== 0) t.hour = 0;
  else if ((cmp = sign(t.hour - c.hour)) !== 0) t.min = 0;
  else if ((cmp = sign(t.min - c.min)) !== 0) t.sec = 0;
  else cmp = sign(t.sec - c.sec);
  if (cmp < 0) return -2;
  if (cmp > 0) Object.assign(c, t);
  return cmp === 0 ? 1 : 0;
}

function weekdayMatches(bits: number | null, clock: CivilClock, c: Tm): boolean {
  if (bits === null || bits <= 0 || bits >= ALL_WEEKDAYS) return true;
  const t: Tm = { ...c };
  if (clock.mktime(t) === null) return false;
  const k = t.wday === 0 ? 6 : t.wday - 1;
  return (bits & (1 << k)) !== 0;
}

/** Thrown when the search does not settle (systemd gives up after 1000 rounds too, with an error). */
export class CalendarComputationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalendarComputationError';
  }
}

/** systemd's find_next over broken-down time `tm` + `usec`; null when the event never elapses again. */
function findNext(spec: CalendarSpec, clock: CivilClock, tm: Tm, usec: number): { tm: Tm; usec: number } | null {
  const c: Tm = { ...tm };
  let us = usec;
  // Set once the search found a time not after the start (a DST change led it back): from then on
  // the tm_isdst that mktime reported is kept, so mktime settles the change (systemd 252.39).
  let keepDst = false;
  const resetBelowYear = () => { c.mon = 0; c.mday = 1; c.hour = 0; c.min = 0; c.sec = 0; us = 0; };
  const resetBelowMonth = () => { c.mday = 1; c.hour = 0; c.min = 0; c.sec = 0; us = 0; };
  const resetBelowDay = () => { c.hour = 0; c.min = 0; c.sec = 0; us = 0; };
  const resetBelowHour = () => { c.min = 0; c.sec = 0; us = 0; };
  const resetBelowMinute = () => { c.sec = 0; us = 0; };

  for (let round = 0; round < MAX_ITERATIONS; round++) {
    clock.mktime(c);
    if (!keepDst) c.isdst = -1;

    let [r, v] = matchField(spec.year, c.year, false, clock, c);
    c.year = v;
    if (r > 0) resetBelowYear();
    if (r < 0) return null;
    if (withinBounds(clock, c) <= 0) return null;

    [r, v] = matchField(spec.month, c.mon + 1, false, clock, c);
    c.mon = v - 1;
    if (r > 0) resetBelowMonth();
    if (r < 0 || (r = withinBounds(clock, c)) < 0) {
      c.year++;
      resetBelowYear();
      continue;
    }
    if (r === 0) continue;

    [r, v] = matchField(spec.day, c.mday, spec.endOfMonth, clock, c);
    c.mday = v;
    if (r > 0) resetBelowDay();
    if (r < 0 || (r = withinBounds(clock, c)) < 0) {
      c.mon++;
      resetBelowMonth();
      continue;
    }
    if (r === 0) continue;

    if (!weekdayMatches(spec.weekdays, clock, c)) {
      c.mday++;
      resetBelowDay();
      continue;
    }

    [r, v] = matchField(spec.hour, c.hour, false, clock, c);
    c.hour = v;
    if (r > 0) resetBelowHour();
    if (r < 0 || (r = withinBounds(clock, c)) < 0) {
      c.mday++;
      resetBelowDay();
      continue;
    }
    if (r === 0) continue;

    [r, v] = matchField(spec.minute, c.min, false, clock, c);
    c.min = v;
    if (r > 0) resetBelowMinute();
    if (r < 0 || (r = withinBounds(clock, c)) < 0) {
      c.hour++;
      resetBelowHour();
      continue;
    }
    if (r === 0) continue;

    [r, v] = matchField(spec.second, c.sec * USEC + us, false, clock, c);
    us = v % USEC;
    c.sec = Math.floor(v / USEC);
    if (r < 0 || (r = withinBounds(clock, c)) < 0) {
      c.min++;
      resetBelowMinute();
      continue;
    }
    if (r === 0) continue;

    // Not after the start (wall-clock fields, then microseconds)? Stuck: move on an hour.
    let cmp = sign(tm.year - c.year) || sign(tm.mon - c.mon) || sign(tm.mday - c.mday) || sign(tm.hour - c.hour) || sign(tm.min - c.min) || sign(tm.sec - c.sec);
    if (cmp === 0) cmp = sign(usec - (us + 1));
    if (cmp >= 0) {
      keepDst = true;
      c.hour++;
      continue;
    }

    return { tm: c, usec: us };
  }
  throw new CalendarComputationError(`the next elapse of "${normalizeCalendar(spec)}" could not be determined (the search did not settle)`);
}

/**
 * The first elapse strictly after `afterUsec` (microseconds since the epoch),
 * in microseconds, or null if the event never elapses again (systemd's
 * calendar_spec_next_usec). Evaluated in UTC if the spec says UTC, else in
 * its own zone, else in `defaultTimeZone` (an IANA name). Throws RangeError
 * for an unknown zone or an invalid start, CalendarComputationError if the
 * search does not settle (systemd then fails with "Failed to determine next
 * elapse" too; this happens only for odd expressions across DST changes).
 */
export function nextElapseUsec(spec: CalendarSpec, afterUsec: number, defaultTimeZone: string): number | null {
  if (!Number.isFinite(afterUsec)) throw new RangeError('the start time is not a valid time');
  const clock = clockOf(spec, defaultTimeZone);
  const from = Math.floor(afterUsec) + 1;
  const t = Math.floor(from / USEC);
  const tm = clock.localtime(t);
  const found = findNext(spec, clock, tm, from - t * USEC);
  if (!found) return null;
  const at = clock.mktime(found.tm);
  if (at === null) throw new CalendarComputationError(`the next elapse of "${normalizeCalendar(spec)}" is not a valid time`);
  return at * USEC + found.usec;
}

/**
 * The first elapse strictly after `after`, or null if none ever comes. The
 * event is evaluated in UTC if it ends in "UTC", in its own zone if it names
 * one, else in `defaultTimeZone` (IANA, e.g. 'Europe/Berlin'), with systemd's
 * handling of daylight-saving changes: a time that does not exist that day
 * (skipped by clocks turned forward) does not fire that day; in a repeated
 * hour (clocks turned back) a time fires once, at its first occurrence (when
 * computed from inside the second pass, the second occurrence is next). Dates
 * carry milliseconds, so a sub-millisecond elapse is rounded up to the next
 * millisecond (the result stays strictly after `after`).
 */
export function nextElapse(spec: CalendarSpec, after: Date, defaultTimeZone: string): Date | null {
  const next = nextElapseUsec(spec, after.getTime() * 1000, defaultTimeZone);
  return next === null ? null : new Date(Math.ceil(next / 1000));
}

/**
 * The next `n` elapses after `after`, each strictly after the one before (as
 * `systemd-analyze calendar --iterations n` lists them); fewer if the event
 * stops elapsing. Same zone rules as `nextElapse`; computed in microseconds,
 * returned rounded up to milliseconds.
 */
export function nextElapses(spec: CalendarSpec, after: Date, defaultTimeZone: string, n: number): Date[] {
  const out: Date[] = [];
  let at = after.getTime() * 1000;
  for (let k = 0; k < n; k++) {
    const next = nextElapseUsec(spec, at, defaultTimeZone);
    if (next === null) break;
    out.push(new Date(Math.ceil(next / 1000)));
    at = next;
  }
  return out;
}

/**
 * Converts a classic five-field cron line ("*\/15 2 * * 1-5": minute, hour,
 * day of month, month, day of week; names such as MON and JAN; macros
 * @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly) to the
 * equivalent calendar expression in normalized form, e.g.
 * "Mon..Fri *-*-* 02:00/15:00". @weekly is Sunday, as in cron. Throws
 * CronParseError naming the field for a malformed line, for @reboot, and when
 * both day of month and day of week are restricted (cron fires when either
 * matches, which one calendar event cannot say).
 */
export function cronToCalendar(cron: string): string {
  return normalizeCalendar(parseCalendar(translateCron(cron)));
}
