/**
 * `lifeboat calendar EXPR...`: how a schedule's calendar event is read and
 * when it elapses next, printed like `systemd-analyze calendar`.
 */
import { Command } from 'commander';
import {
  CalendarComputationError,
  CalendarParseError,
  cronToCalendar,
  nextElapseUsec,
  normalizeCalendar,
  parseCalendar,
  type CalendarSpec,
} from '../../../shared/schedule/calendar.js';
import { looksLikeCron } from '../../../shared/schedule/cron.js';
import { formatTimestamp, hostTimeZone, instantsOfLocalTime } from '../../../shared/schedule/zone.js';
import { parseIntOption, UsageError } from '../options.js';

interface CalendarOptions {
  iterations: string;
  from?: string;
  json?: boolean;
}

/** One expression's result, as `--json` prints it. */
export interface CalendarReport {
  expression: string;
  /** systemd's "Normalized form". */
  normalized?: string;
  /** The zone the times are shown in: the expression's own, else the host's (TZ). */
  timeZone?: string;
  /** Next elapses, earliest first; fewer than asked when the event stops elapsing. */
  elapses?: { iso: string; local: string; utc: string }[];
  /** A parse error (with token and 1-based column), or a failed elapse computation (without). */
  error?: { message: string; token?: string; column?: number };
}

const USEC = 1_000_000;

/**
 * Parses --from: "YYYY-MM-DD HH:MM:SS[.ffffff]" as local time in `zone` (a
 * trailing " UTC" makes it UTC), or "@SECONDS[.fraction]" since the epoch.
 * Returns microseconds since the epoch.
 */
export function parseFrom(text: string, zone: string): number {
  const at = /^@(\d+)(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (at) return Number(at[1]) * USEC + Number((at[2] ?? '').padEnd(6, '0') || 0);
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?( UTC)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`from: ${JSON.stringify(text)} is not "YYYY-MM-DD HH:MM:SS" (local time, or add " UTC") or "@SECONDS"`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const frac = Number((m[7] ?? '').padEnd(6, '0') || 0);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) throw new UsageError(`from: ${JSON.stringify(text)} is not a valid time`);
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) throw new UsageError(`from: ${JSON.stringify(text)} is not a valid date`);
  const instants = instantsOfLocalTime(m[8] ? 'UTC' : zone, y, mo, d, h, mi, s);
  if (instants.length === 0) throw new UsageError(`from: ${JSON.stringify(text)} does not exist in ${zone} (the clocks skip it)`);
  // A time the clocks pass twice means its first occurrence.
  return instants[0]! * USEC + frac;
}

/** The zone an expression's times are shown in. */
function displayZone(spec: CalendarSpec, host: string): string {
  if (spec.utc) return 'UTC';
  return spec.timeZone ?? host;
}

function isUtc(zone: string): boolean {
  if (zone === 'UTC') return true;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone === 'UTC';
  } catch {
    return false;
  }
}

/** Computes one expression's report (never throws for a bad expression: the error is in the report). */
export function calendarReport(expression: string, fromUsec: number, iterations: number, hostZone: string): CalendarReport {
  let spec: CalendarSpec;
  try {
    spec = parseCalendar(expression);
  } catch (e) {
    if (!(e instanceof CalendarParseError)) throw e;
    // Job schedules accept classic cron (stored converted): show how such a line is read, too.
    let cronError = '';
    if (looksLikeCron(expression)) {
      let cron: CalendarSpec | undefined;
      try {
        cron = parseCalendar(cronToCalendar(expression));
      } catch (c) {
        cronError = `; read as cron: ${(c as Error).message}`;
      }
      if (cron) return elapsesReport(expression, cron, fromUsec, iterations, hostZone);
    }
    return { expression, error: { message: e.message + cronError, token: e.token, column: e.position } };
  }
  return elapsesReport(expression, spec, fromUsec, iterations, hostZone);
}

function elapsesReport(expression: string, spec: CalendarSpec, fromUsec: number, iterations: number, hostZone: string): CalendarReport {
  const zone = displayZone(spec, hostZone);
  const normalized = normalizeCalendar(spec);
  const elapses: NonNullable<CalendarReport['elapses']> = [];
  let at = fromUsec;
  for (let k = 0; k < iterations; k++) {
    let next: number | null;
    try {
      next = nextElapseUsec(spec, at, hostZone);
    } catch (e) {
      if (e instanceof CalendarComputationError) return { expression, normalized, timeZone: zone, elapses, error: { message: e.message } };
      throw e;
    }
    if (next === null) break;
    const seconds = Math.floor(next / USEC);
    elapses.push({
      iso: new Date(Math.floor(next / 1000)).toISOString(),
      local: formatTimestamp(seconds, zone),
      utc: formatTimestamp(seconds, 'UTC'),
    });
    at = next;
  }
  return { expression, normalized, timeZone: zone, elapses };
}

/** The report as `systemd-analyze calendar` lays it out (without its "From now" lines). */
export function formatCalendarReport(r: CalendarReport): string[] {
  // Like systemd, the original form is shown only when it differs from the normalized one.
  const lines = r.expression === r.normalized ? [] : [`  Original form: ${r.expression}`];
  lines.push(`Normalized form: ${r.normalized}`);
  const elapses = r.elapses ?? [];
  if (elapses.length === 0) lines.push('    Next elapse: never');
  const inUtc = !isUtc(r.timeZone ?? 'UTC');
  elapses.forEach((e, k) => {
    lines.push(k === 0 ? `    Next elapse: ${e.local}` : `${`Iter. #${k + 1}`.padStart(15)}: ${e.local}`);
    if (inUtc) lines.push(`       (in UTC): ${e.utc}`);
  });
  return lines;
}

/**
 * Adds `calendar EXPR... [--iterations N] [--from TIME] [--json]` to
 * `program`. Times are shown in the expression's zone if it names one (where
 * systemd-analyze would use TZ), else in the process's zone (TZ), with
 * "(in UTC)" lines as systemd adds them; "From now" lines are left out. A bad
 * expression is reported on stderr with its token and column (and a caret
 * under it), and the exit code becomes 1; the others are still shown. Uses the
 * program's --json if it has one, else adds its own.
 */
export function registerCalendarCommand(program: Command): Command {
  const cmd = program
    .command('calendar')
    .description('normalize calendar events (systemd.time(7)) and show when they elapse next, like `systemd-analyze calendar`')
    .argument('<expressions...>', 'calendar expressions, e.g. "Mon..Fri 18:00", "*-*-01 03:00", "daily", "*:0/15 UTC"; or classic cron lines ("30 2 * * 1-5"), read as job schedules read them')
    .option('--iterations <n>', 'how many elapses to show', '1')
    .option('--from <time>', 'start from this time instead of now: "YYYY-MM-DD HH:MM:SS" (local; add " UTC" for UTC) or @SECONDS');
  if (!program.options.some((o) => o.long === '--json')) cmd.option('--json', 'machine-readable output');
  cmd.action((expressions: string[], _o: CalendarOptions, self: Command) => {
    const o = self.optsWithGlobals() as CalendarOptions;
    const iterations = parseIntOption(o.iterations, 'iterations', 1, 100_000);
    const host = hostTimeZone();
    const from = o.from === undefined ? Date.now() * 1000 : parseFrom(o.from, host);
    const reports = expressions.map((e) => calendarReport(e, from, iterations, host));
    if (reports.some((r) => r.error)) process.exitCode = 1;
    if (o.json) {
      process.stdout.write(JSON.stringify(reports) + '\n');
      return;
    }
    let first = true;
    for (const r of reports) {
      if (r.error && r.error.column !== undefined) {
        const caret = ' '.repeat(4 + r.error.column - 1) + '^'.repeat(Math.max(1, r.error.token?.length ?? 1));
        process.stderr.write(`Failed to parse calendar specification '${r.expression}': ${r.error.message}\n    ${r.expression}\n${caret}\n`);
        continue;
      }
      if (r.error) {
        process.stderr.write(`Failed to determine next elapse for '${r.expression}': ${r.error.message}\n`);
        continue;
      }
      if (!first) process.stdout.write('\n');
      first = false;
      process.stdout.write(formatCalendarReport(r).join('\n') + '\n');
    }
  });
  return cmd;
}
