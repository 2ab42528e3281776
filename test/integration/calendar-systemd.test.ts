/**
 * The oracle for calendar events: systemd's own `systemd-analyze calendar`
 * (Debian's systemd 252), run with `TZ=<zone>` and its clock frozen by
 * libfaketime at pinned instants around daylight-saving changes and month and
 * year ends. Our normalized form and next elapses must equal its output;
 * expressions it refuses we must refuse. Missing tools fail the suite with the
 * package to install (never a skip).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalendarComputationError, CalendarParseError, nextElapseUsec, normalizeCalendar, parseCalendar } from '../../shared/schedule/calendar.js';
import { requireTool } from '../helpers/tools.js';
import { seededRandom } from '../../shared/seeded-random.js';

const ITERATIONS = 8;

/** Expressions systemd accepts: the brief's list, then the corners of the syntax and of time zones. */
const VALID = [
  '02:00',
  '*-*-* 02:00',
  'Mon..Fri 18:00',
  'Sun 03:00',
  '*-*-01 03:00',
  'hourly',
  'daily',
  'weekly',
  'monthly',
  'yearly',
  'annually',
  'quarterly',
  'semiannually',
  'minutely',
  '*:0/15',
  'Mon,Wed,Fri 02:30',
  'Sat,Sun 10:00',
  'Mon..Wed,Fri..Sun 08:00',
  'Tue-Thu 7:45',
  'monday 00:00',
  '*-*-* 02:30',
  '*-*-* 02:00/5',
  '*-*-* 01..03:00/20',
  '*-*-* 02:59:59',
  '*-*-* 00:00',
  '*-*-* 23:30',
  '*-*-* 01:30:15',
  '*:*:30',
  '*:*:0/20',
  '*:*:10.5',
  '*:*:0/7.25',
  '*-*-* 12:00:00.250000',
  '*-*-* 02:15:00.5/0.25',
  '*-*~01 03:00',
  '*-*~01..03 04:00',
  '*-02~01',
  '*-*~07/2 05:00',
  '*-*-31 12:00',
  '*-02-29 00:00',
  '*-*-29,30,31 06:00',
  '2026-*-* 02:00',
  '2026..2027-01..06-* 00:00',
  '2026-11-* 0/6:00',
  '*-*-1/3 00:00',
  'Mon *-*-1..7 10:00',
  'Fri *-*-13 13:13',
  '*-01,07-01 00:00',
  '12-25 06:00',
  '*-*-* 0,12:00',
  '*-*-* 8..18:00,30',
  'Mon..Fri *-*-* 9..17:0/30',
  '*:*',
  '*:5',
  'Mon 2:00 Europe/Berlin',
  'daily America/New_York',
  'hourly Asia/Kolkata',
  '*-*-* 02:30 Europe/Berlin',
  '*-*-* 02:30 America/New_York',
  '*-*-* 01:30 America/New_York',
  'Sun *-*-* 02:00 Australia/Lord_Howe',
  '*-*-* 01:45 Australia/Lord_Howe',
  '*-*-* 02:15 Australia/Lord_Howe',
  '*-*-* 00:00 America/Santiago',
  '*-*-* 23:30 America/Santiago',
  '*-*-* 01:30 Europe/Dublin',
  'daily UTC',
  '*:0/30 UTC',
  'Sat 23:59:59 utc',
  '@1700000000',
  '2199-12-31 23:59:59',
  '2025-01-01',
];

/** Expressions systemd refuses. */
const INVALID = [
  'Mox 02:00',
  'Mond',
  'mon.tue',
  'Fri..Mon',
  'Mon,Tue..',
  'Mon..Wed..Fri',
  '3',
  '*-*-* 24:00',
  '*-*-* 23:60',
  '*:*:60',
  '*-*-0',
  '*-13-1',
  '*-*~29',
  '*-*-29/3',
  '*:0/60',
  '*:30/30',
  '10:00/0',
  '*:*:1..1.5',
  '*:*:0,*',
  '*~01-01',
  '2025~01~01',
  '1969-1-1',
  '2200-1-1',
  '*:*:*:*',
  '1:2:3.4.5',
  ' daily',
  'daily ',
  'Mon\t12:00',
  'Mon 2:00 europe/berlin',
  'daily Europe/Berln',
  '',
  'Europe/Berlin',
];

/** TZ settings under which every valid expression is evaluated. */
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Europe/Dublin', 'America/Santiago', 'Asia/Kolkata'];

/** Pinned "now" instants (UTC): DST changes in the zones above, month, leap-day and year ends. */
const NOW = [
  '2026-03-28T12:00:00Z', // EU: clocks forward on 03-29
  '2026-03-29T01:00:00Z', // EU: the very second of the change
  '2026-10-24T12:00:00Z', // EU: clocks back on 10-25
  '2026-10-25T01:30:00Z', // Berlin: inside the repeated hour (02:30 CET, second pass)
  '2026-11-01T06:10:00Z', // New York: inside the repeated hour (01:10 EST, second pass)
  '2026-03-07T12:00:00Z', // US: clocks forward on 03-08
  '2026-10-31T12:00:00Z', // US: clocks back on 11-01
  '2026-04-04T12:00:00Z', // Lord Howe and Santiago: DST ends 04-05
  '2026-10-03T12:00:00Z', // Lord Howe: DST starts 10-04
  '2026-09-05T12:00:00Z', // Santiago: DST starts 09-06 at midnight
  '2028-02-28T23:30:00Z', // leap-day month end
  '2026-12-31T23:59:59Z', // year end
];

interface Block {
  original: string;
  normalized: string;
  /** Elapses as "YYYY-MM-DD HH:MM:SS" in UTC. */
  elapses: string[];
}

/**
 * Splits `systemd-analyze calendar` output into blocks (one per expression, in
 * order, separated by blank lines; "Original form" appears only when it differs
 * from the normalized form), taking elapse times from the "(in UTC)" lines, or
 * from the main lines under TZ=UTC where systemd prints no "(in UTC)".
 */
function parseSystemd(stdout: string): Block[] {
  return stdout
    .split(/\n\n+/)
    .filter((b) => b.trim())
    .map((text) => {
      const block: Block = { original: '', normalized: '', elapses: [] };
      const main: string[] = [];
      const utc: string[] = [];
      for (const line of text.split('\n')) {
        const m = /^\s*(Original form|Normalized form|Next elapse|Iter\. #\d+|\(in UTC\)|From now): (.*)$/.exec(line);
        if (!m) continue;
        const [, label, value] = m as unknown as [string, string, string];
        const time = /^\w{3} (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (\S+)$/.exec(value);
        if (label === 'Original form') block.original = value;
        else if (label === 'Normalized form') block.normalized = value;
        else if (label === '(in UTC)' && time) utc.push(time[1]!);
        else if ((label === 'Next elapse' || label.startsWith('Iter.')) && time) main.push(time[1]!);
      }
      block.original ||= block.normalized;
      block.elapses = utc.length ? utc : main;
      return block;
    });
}

function utcText(usec: number): string {
  return new Date(Math.floor(usec / 1_000_000) * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/** Our answer in the same shape. */
function ours(expr: string, nowUsec: number, zone: string, iterations = ITERATIONS): Block {
  const spec = parseCalendar(expr);
  const elapses: string[] = [];
  let at = nowUsec;
  for (let k = 0; k < iterations; k++) {
    const next = nextElapseUsec(spec, at, zone);
    if (next === null) break;
    elapses.push(utcText(next));
    at = next;
  }
  return { original: expr, normalized: normalizeCalendar(spec), elapses };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment that freezes libfaketime's clock at instant `iso` (given as
 * epoch seconds, so no local time is ambiguous) under TZ=zone; checked with
 * `date` under the same settings.
 */
function fakeClock(zone: string, iso: string): { env: NodeJS.ProcessEnv; epoch: string } {
  const epoch = String(Date.parse(iso) / 1000);
  const env = { ...process.env, TZ: zone, LC_ALL: 'C', SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', FAKETIME_FMT: '%s' };
  const probe = spawnSync('faketime', ['-f', epoch, 'date', '+%s'], { encoding: 'utf8', env });
  if (probe.stdout.trim() !== epoch) throw new Error(`faketime did not pin ${iso} under TZ=${zone}: date said ${probe.stdout.trim()} ${probe.stderr}`);
  return { env, epoch };
}

/** Runs `systemd-analyze calendar` under TZ=zone with the clock frozen at `iso`. */
function systemdAnalyze(args: string[], zone: string, iso: string, iterations = ITERATIONS): Promise<Run> {
  const { env, epoch } = fakeClock(zone, iso);
  return new Promise((resolve, reject) => {
    execFile(
      'faketime',
      ['-f', epoch, 'systemd-analyze', 'calendar', '--iterations', String(iterations), ...args],
      { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ status: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs `work` over `items`, `width` at a time. */
async function pool<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await work(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return out;
}

/** Random calendar expressions, valid and not, from the grammar's pieces (some deliberately broken). */
function randomExpressions(count: number, seed: number): string[] {
  const r = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun', 'monday', 'FRIDAY', 'Sunday'];
  const weekdays = () => {
    const n = int(1, 3);
    const parts: string[] = [];
    for (let k = 0; k < n; k++) parts.push(r() < 0.4 ? `${pick(days)}${pick(['..', '-', '..'])}${pick(days)}` : pick(days));
    return parts.join(',') + (r() < 0.05 ? ',' : '');
  };
  const value = (lo: number, hi: number, width: number, usec = false) => {
    const v = int(lo, hi);
    const text = String(v).padStart(r() < 0.5 ? width : 1, '0');
    return usec && r() < 0.3 ? `${text}.${String(int(0, 999999)).padStart(int(1, 7), '0')}` : text;
  };
  const component = (lo: number, hi: number, width: number, usec = false): string => {
    const x = r();
    if (x < 0.15) return '*';
    const one = () => {
      const y = r();
      const a = value(lo, hi, width, usec);
      if (y < 0.5) return a;
      if (y < 0.7) return `${a}..${value(lo, hi, width, usec)}`;
      if (y < 0.85) return `${a}/${int(1, Math.max(1, Math.floor((hi - lo) / 2)))}`;
      return `${a}..${value(lo, hi, width, usec)}/${int(1, Math.max(1, hi - lo))}`;
    };
    const n = r() < 0.75 ? 1 : int(2, 3);
    return Array.from({ length: n }, one).join(',');
  };
  const out: string[] = [];
  while (out.length < count) {
    let e = '';
    if (r() < 0.35) e += weekdays() + ' ';
    const d = r();
    if (d < 0.3) e += `${component(2024, 2031, 4)}-${component(1, 12, 2)}${r() < 0.15 ? '~' : '-'}${component(1, 31, 2)} `;
    else if (d < 0.55) e += `${component(1, 12, 2)}${r() < 0.2 ? '~' : '-'}${component(1, 31, 2)} `;
    const t = r();
    if (t < 0.5) e += `${component(0, 23, 2)}:${component(0, 59, 2)}`;
    else if (t < 0.85) e += `${component(0, 23, 2)}:${component(0, 59, 2)}:${component(0, 59, 2, true)}`;
    else if (t < 0.92) e += pick(['hourly', 'daily', 'weekly', 'Monthly', 'quarterly', 'semi-annually', 'minutely', 'yearly']);
    e = e.trimEnd();
    if (!e) continue;
    const z = r();
    if (z < 0.1) e += ' UTC';
    else if (z < 0.2) e += ` ${pick(['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'])}`;
    else if (z < 0.22) e += ' Europe/Berln';
    // An occasional typo.
    if (r() < 0.04) {
      const at = int(0, e.length - 1);
      e = e.slice(0, at) + pick(['x', '.', '/', ' ', ':', '-', '~', ',', '0']) + e.slice(at + 1);
    }
    if (/^\s|\s$|\s\s/.test(e)) continue;
    out.push(e);
  }
  return out;
}

beforeAll(() => {
  requireTool('systemd-analyze', 'systemd');
  requireTool('faketime', 'faketime');
});

describe('calendar events equal systemd-analyze calendar (systemd 252, libfaketime)', () => {
  const cases: [string, string][] = [];
  for (const zone of ZONES) for (const now of NOW) cases.push([zone, now]);
  const runs = new Map<string, Run>();

  beforeAll(async () => {
    const results = await pool(cases, 3, ([zone, now]) => systemdAnalyze(['--', ...VALID], zone, now));
    cases.forEach(([zone, now], k) => runs.set(`${zone} ${now}`, results[k]!));
  }, 600_000);

  it.each(cases)('TZ=%s, now %s: normalized forms and next 8 elapses of every expression', (zone, now) => {
    const r = runs.get(`${zone} ${now}`)!;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const theirs = parseSystemd(r.stdout);
    expect(theirs.map((b) => b.original)).toEqual(VALID);
    const nowUsec = Date.parse(now) * 1000;
    const mismatches: string[] = [];
    VALID.forEach((expr, k) => {
      const mine = ours(expr, nowUsec, zone);
      const sys = theirs[k]!;
      if (mine.normalized !== sys.normalized || mine.elapses.join('|') !== sys.elapses.join('|')) {
        mismatches.push(`${JSON.stringify(expr)}\n  systemd: ${sys.normalized} :: ${sys.elapses.join(', ') || 'never'}\n  ours:    ${mine.normalized} :: ${mine.elapses.join(', ') || 'never'}`);
      }
    });
    expect(mismatches, mismatches.join('\n')).toEqual([]);
  });

  it('refuses exactly what systemd refuses, naming token and column', async () => {
    const refusedBySystemd: string[] = [];
    const results = await pool(INVALID, 3, (expr) => systemdAnalyze(['--', expr], 'Europe/Berlin', NOW[0]!));
    INVALID.forEach((expr, k) => {
      const r = results[k]!;
      if (r.status !== 0 && /Failed to parse calendar specification/.test(r.stderr)) refusedBySystemd.push(expr);
    });
    expect(refusedBySystemd).toEqual(INVALID);
    for (const expr of INVALID) {
      let err: unknown;
      try {
        parseCalendar(expr);
      } catch (e) {
        err = e;
      }
      expect(err, expr).toBeInstanceOf(CalendarParseError);
      const e = err as CalendarParseError;
      expect(e.position, expr).toBeGreaterThanOrEqual(1);
      expect(e.message, expr).toContain(`at column ${e.position}`);
      expect(e.message, expr).toContain(JSON.stringify(e.token));
      if (e.token) expect(expr.slice(e.position - 1), expr).toContain(e.token);
    }
  });

  it.each([
    [1, 'Europe/Berlin', '2026-10-24T23:40:00Z'],
    [2, 'America/New_York', '2026-03-07T12:00:00Z'],
    [3, 'Australia/Lord_Howe', '2026-04-04T14:10:00Z'],
  ] as [number, string, string][])('random expressions (seed %i), TZ=%s, now %s: same verdict, normalized form and next 5 elapses', async (seed, zone, now) => {
    const exprs = randomExpressions(300, seed);
    const r = await systemdAnalyze(['--', ...exprs], zone, now, 5);
    // Refusals are reported on stderr, one line each, in order.
    const refused = [...r.stderr.matchAll(/^Failed to parse calendar specification '(.*)': /gm)].map((m) => m[1]!);
    const verdicts = exprs.map((e) => {
      try {
        parseCalendar(e);
        return true;
      } catch (err) {
        if (!(err instanceof CalendarParseError)) throw err;
        return false;
      }
    });
    expect(exprs.filter((_, k) => !verdicts[k]), 'expressions we refuse').toEqual(refused);
    // An accepted expression whose elapse systemd cannot compute (its search gives up) has no block in stdout.
    const unsettled = [...r.stderr.matchAll(/^Failed to determine next elapse for '(.*)': /gm)].map((m) => m[1]!);
    for (const e of unsettled) expect(() => ours(e, Date.parse(now) * 1000, zone, 5), e).toThrow(CalendarComputationError);
    const accepted = exprs.filter((e, k) => verdicts[k] && !unsettled.includes(e));
    expect(accepted.length).toBeGreaterThan(80);
    expect(refused.length).toBeGreaterThan(20);
    const theirs = parseSystemd(r.stdout);
    expect(theirs.length, r.stderr.split('\n').filter((l) => l && !l.startsWith('Failed to parse') && !l.startsWith('Hint')).join('\n')).toBe(accepted.length);
    const nowUsec = Date.parse(now) * 1000;
    const mismatches: string[] = [];
    accepted.forEach((expr, k) => {
      const mine = ours(expr, nowUsec, zone, 5);
      const sys = theirs[k]!;
      if (mine.normalized !== sys.normalized || mine.elapses.join('|') !== sys.elapses.join('|')) {
        mismatches.push(`${JSON.stringify(expr)}\n  systemd: ${sys.normalized} :: ${sys.elapses.join(', ') || 'never'}\n  ours:    ${mine.normalized} :: ${mine.elapses.join(', ') || 'never'}`);
      }
    });
    expect(mismatches, mismatches.join('\n')).toEqual([]);
  }, 300_000);
});

describe('lifeboat calendar (CLI) prints what systemd-analyze prints', () => {
  let dir: string;
  let script: string;
  const tsx = createRequire(import.meta.url).resolve('tsx');

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-calendar-'));
    script = path.join(dir, 'cli.mts');
    const module = path.resolve(import.meta.dirname, '../../main/cli/commands/calendar.ts');
    // A program built the way main/cli/lifeboat.ts builds one: errors thrown by an action end as "lifeboat: message", exit 1.
    writeFileSync(
      script,
      [
        `import commander from ${JSON.stringify(createRequire(import.meta.url).resolve('commander'))};`,
        `const { Command } = commander;`,
        `import { registerCalendarCommand } from ${JSON.stringify(module)};`,
        `const program = new Command('lifeboat');`,
        `registerCalendarCommand(program);`,
        `program.exitOverride();`,
        `try { await program.parseAsync(process.argv); } catch (e) {`,
        `  const err = e as Error & { code?: string; exitCode?: number };`,
        `  if (err.code?.startsWith('commander.')) process.exitCode = err.exitCode ?? 1;`,
        `  else { process.stderr.write('lifeboat: ' + err.message + '\\n'); process.exitCode = 1; }`,
        `}`,
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lifeboat = (args: string[], tz: string) =>
    spawnSync(process.execPath, ['--import', tsx, script, 'calendar', ...args], { encoding: 'utf8', env: { ...process.env, TZ: tz } });

  /** systemd's lines minus "From now" (which we do not print). */
  const withoutFromNow = (out: string) => out.split('\n').filter((l) => !/^\s*From now:/.test(l)).join('\n');

  it.each([
    ['UTC', ['Mon..Fri 18:00', '*-*-01 03:00', '*:0/15', 'quarterly']],
    ['Europe/Berlin', ['Mon..Fri 18:00', '*-*-* 02:30', 'Sun 03:00', '*-*-* 00:00:00', '2025-01-01']],
    ['America/New_York', ['weekly', '*-*-* 01:30', 'hourly']],
  ] as [string, string[]][])('TZ=%s: same lines as systemd-analyze calendar --iterations 5', async (tz, exprs) => {
    const now = '2026-03-28T12:00:00Z';
    const sys = await systemdAnalyze(['--', ...exprs], tz, now, 5);
    expect(sys.status).toBe(0);
    const mine = lifeboat(['--iterations', '5', '--from', `@${Date.parse(now) / 1000}`, ...exprs], tz);
    expect(mine.stderr).toBe('');
    expect(mine.status).toBe(0);
    expect(mine.stdout).toBe(withoutFromNow(sys.stdout));
  });

  it('reads classic cron lines as job schedules do, elapsing as systemd does for the converted event', async () => {
    const now = '2026-03-28T12:00:00Z';
    const from = `@${Date.parse(now) / 1000}`;
    for (const [cron, event] of [
      ['30 2 * * 1-5', 'Mon..Fri *-*-* 02:30:00'],
      ['*/15 * * * *', '*-*-* *:00/15:00'],
      ['@monthly', '*-*-01 00:00:00'],
    ]) {
      const sys = await systemdAnalyze(['--', event!], 'Europe/Berlin', now, 3);
      expect(sys.status).toBe(0);
      const mine = lifeboat(['--iterations', '3', '--from', from, cron!], 'Europe/Berlin');
      expect(mine.stderr).toBe('');
      expect(mine.status).toBe(0);
      const [first, ...rest] = mine.stdout.split('\n');
      expect(first).toBe(`  Original form: ${cron}`);
      expect(rest.join('\n')).toBe(withoutFromNow(sys.stdout).split('\n').filter((l) => !l.includes('Original form')).join('\n'));
    }
    const bad = lifeboat(['0 3 * * Moonday'], 'UTC');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/read as cron: .*day-of-week/);
  });

  it('shows times in the zone an expression names, with --from in local time', () => {
    const r = lifeboat(['--iterations', '2', '--from', '2026-03-28 13:00:00', 'Mon..Fri 18:00 America/New_York'], 'Europe/Berlin');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      [
        '  Original form: Mon..Fri 18:00 America/New_York',
        'Normalized form: Mon..Fri *-*-* 18:00:00 America/New_York',
        '    Next elapse: Mon 2026-03-30 18:00:00 EDT',
        '       (in UTC): Mon 2026-03-30 22:00:00 UTC',
        '       Iter. #2: Tue 2026-03-31 18:00:00 EDT',
        '       (in UTC): Tue 2026-03-31 22:00:00 UTC',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON', () => {
    const r = lifeboat(['--json', '--iterations', '2', '--from', '2026-03-28 12:00:00 UTC', 'daily', 'Mox 02:00'], 'UTC');
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as unknown[];
    expect(out).toEqual([
      {
        expression: 'daily',
        normalized: '*-*-* 00:00:00',
        timeZone: 'UTC',
        elapses: [
          { iso: '2026-03-29T00:00:00.000Z', local: 'Sun 2026-03-29 00:00:00 UTC', utc: 'Sun 2026-03-29 00:00:00 UTC' },
          { iso: '2026-03-30T00:00:00.000Z', local: 'Mon 2026-03-30 00:00:00 UTC', utc: 'Mon 2026-03-30 00:00:00 UTC' },
        ],
      },
      { expression: 'Mox 02:00', error: { message: 'invalid weekday "Mox" at column 1', token: 'Mox', column: 1 } },
    ]);
  });

  it('exits 1 on a bad expression, naming token and column, and still shows the good ones', () => {
    const r = lifeboat(['--from', '@1774699200', 'daily', '*-*-* 25:00'], 'UTC');
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('Normalized form: *-*-* 00:00:00');
    expect(r.stderr).toContain(`Failed to parse calendar specification '*-*-* 25:00': invalid hour "25" at column 7`);
    expect(r.stderr).toContain('\n          ^^\n');
  });

  it('refuses bad options naming them', () => {
    const bad = lifeboat(['--iterations', '0', 'daily'], 'UTC');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('iterations');
    const gap = lifeboat(['--from', '2026-03-29 02:30:00', 'daily'], 'Europe/Berlin');
    expect(gap.status).toBe(1);
    expect(gap.stderr).toContain('from:');
  });
});
