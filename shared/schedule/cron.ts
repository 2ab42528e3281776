/**
 * Classic five-field cron lines (minute hour day-of-month month day-of-week,
 * as Vixie cron / cronie read them) translated to a systemd calendar
 * expression. `calendar.ts` normalizes the result (`cronToCalendar`).
 */

/** The cron fields, in order, as error messages name them. */
export const CRON_FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
/** A cron field's name, or 'expression' for the line as a whole. */
export type CronField = (typeof CRON_FIELDS)[number] | 'expression';

/**
 * A cron line that cannot be read or has no calendar-event equivalent. `field`
 * names the offending field (or 'expression' for the line as a whole), and so
 * does the message, e.g. `cron hour field "25": 25 is outside 0..23`.
 */
export class CronParseError extends Error {
  readonly field: CronField;
  /** The offending field's text. */
  readonly token: string;

  constructor(field: CronField, token: string, problem: string) {
    super(field === 'expression' ? `cron expression ${JSON.stringify(token)}: ${problem}` : `cron ${field} field ${JSON.stringify(token)}: ${problem}`);
    this.name = 'CronParseError';
    this.field = field;
    this.token = token;
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const CALENDAR_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

interface Limits {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  readonly nameBase?: number;
}

const LIMITS: Record<(typeof CRON_FIELDS)[number], Limits> = {
  minute: { min: 0, max: 59 },
  hour: { min: 0, max: 23 },
  'day-of-month': { min: 1, max: 31 },
  month: { min: 1, max: 12, names: MONTHS, nameBase: 1 },
  'day-of-week': { min: 0, max: 7, names: DAYS, nameBase: 0 },
};

const MACROS: Record<string, string> = {
  '@yearly': '*-01-01 00:00:00',
  '@annually': '*-01-01 00:00:00',
  '@monthly': '*-*-01 00:00:00',
  '@weekly': 'Sun *-*-* 00:00:00', // cron's week starts on Sunday (systemd's "weekly" is Monday)
  '@daily': '*-*-* 00:00:00',
  '@midnight': '*-*-* 00:00:00',
  '@hourly': '*-*-* *:00:00',
};

interface Item {
  from: number;
  to: number;
  step: number;
  /** `*` or `*\/n`: spans the whole field. */
  star: boolean;
  /** A single value or `a/n` (no explicit end). */
  open: boolean;
}

function readValue(field: (typeof CRON_FIELDS)[number], text: string, whole: string): number {
  const lim = LIMITS[field];
  let v: number;
  if (/^\d+$/.test(text)) v = Number(text);
  else {
    const k = lim.names?.indexOf(text.toLowerCase()) ?? -1;
    if (k < 0) {
      throw new CronParseError(field, whole, lim.names ? `"${text}" is neither a number nor a ${field === 'month' ? 'month name (JAN..DEC)' : 'day name (SUN..SAT)'}` : `"${text}" is not a number`);
    }
    v = k + (lim.nameBase ?? 0);
  }
  if (v < lim.min || v > lim.max) throw new CronParseError(field, whole, `${v} is outside ${lim.min}..${lim.max}`);
  return v;
}

function readField(field: (typeof CRON_FIELDS)[number], text: string): Item[] {
  const lim = LIMITS[field];
  const items: Item[] = [];
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(.*))?$/.exec(part);
    if (!m) throw new CronParseError(field, text, `"${part}" is not a value, range or step`);
    const [, base, stepText] = m;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new CronParseError(field, text, `step "${stepText}" must be a whole number of at least 1`);
      step = Number(stepText);
    }
    if (base === '*') {
      items.push({ from: lim.min, to: lim.max, step, star: true, open: false });
      continue;
    }
    const range = /^([^-]+)-([^-]+)$/.exec(base!);
    if (range) {
      const from = readValue(field, range[1]!, text);
      const to = readValue(field, range[2]!, text);
      if (from > to) throw new CronParseError(field, text, `range ${range[1]}-${range[2]} runs backwards`);
      items.push({ from, to, step, star: false, open: false });
    } else {
      const v = readValue(field, base!, text);
      // "a/n" (an extension many crons accept): from a to the field's end in steps of n
      items.push({ from: v, to: stepText === undefined ? v : lim.max, step, star: false, open: true });
    }
  }
  return items;
}

function valuesOf(items: Item[]): Set<number> {
  const s = new Set<number>();
  for (const it of items) for (let v = it.from; v <= it.to; v += it.step) s.add(v);
  return s;
}

/** One numeric field in calendar syntax. */
function calendarField(field: (typeof CRON_FIELDS)[number], items: Item[]): string {
  const lim = LIMITS[field];
  if (items.some((it) => it.star && it.step === 1)) return '*';
  const parts = items.map((it) => {
    if (it.from === it.to || it.from + it.step > it.to) return String(it.from);
    if (it.star || (it.open && it.to === lim.max)) return `${it.from}/${it.step}`;
    return it.step === 1 ? `${it.from}..${it.to}` : `${it.from}..${it.to}/${it.step}`;
  });
  return parts.join(',');
}

/** Whether a schedule that is not a calendar event is worth reading as cron: a macro or five fields. */
export function looksLikeCron(expr: string): boolean {
  const line = expr.trim();
  return /^@\w+$/.test(line) || line.split(/\s+/).length === 5;
}

/**
 * Translates a classic cron line to a calendar expression (not yet
 * normalized). Throws CronParseError naming the field.
 */
export function translateCron(cron: string): string {
  const line = cron.trim();
  if (line.startsWith('@')) {
    const macro = MACROS[line.toLowerCase()];
    if (!macro) throw new CronParseError('expression', line, line.toLowerCase() === '@reboot' ? '@reboot runs at boot, not on a calendar' : 'unknown macro (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)');
    return macro;
  }
  const fields = line.split(/\s+/).filter(Boolean);
  if (fields.length !== 5) {
    throw new CronParseError('expression', line, `expected 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}`);
  }
  const items = fields.map((f, k) => readField(CRON_FIELDS[k]!, f));
  const [minute, hour, dom, month, dow] = items as [Item[], Item[], Item[], Item[], Item[]];

  // Day-of-month and day-of-week: cron ANDs them when either starts with "*", and ORs them otherwise.
  const domStar = fields[2]!.startsWith('*');
  const dowStar = fields[4]!.startsWith('*');
  const domValues = valuesOf(dom);
  const dowDays = new Set([...valuesOf(dow)].map((d) => d % 7));
  let days = calendarField('day-of-month', dom);
  let weekdays = dowDays.size === 7 ? '' : CALENDAR_DAYS.filter((_, d) => dowDays.has(d)).join(',');
  if (!domStar && !dowStar) {
    if (domValues.size === 31 || dowDays.size === 7) {
      days = '*';
      weekdays = '';
    } else {
      throw new CronParseError(
        'day-of-week',
        fields[4]!,
        `together with day-of-month "${fields[2]}" cron fires on either (day ${fields[2]} OR weekday ${fields[4]}); a calendar event can only require both — split it into two schedules`,
      );
    }
  }
  const date = `*-${calendarField('month', month)}-${days}`;
  const time = `${calendarField('hour', hour)}:${calendarField('minute', minute)}:00`;
  return `${weekdays ? weekdays + ' ' : ''}${date} ${time}`;
}
