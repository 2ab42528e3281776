/**
 * Calendar events (systemd.time(7)) as systemd 252 reads them: next elapses
 * for pinned instants and zones (both DST changes in Berlin and New York, Lord
 * Howe's 30-minute DST), normalized forms, errors that name token and column,
 * and cron conversion. Expected values were checked against
 * `systemd-analyze calendar`; test/integration/calendar-systemd.test.ts keeps
 * checking against it.
 */
import { describe, expect, it } from 'vitest';
import {
  CalendarParseError,
  CronParseError,
  cronToCalendar,
  nextElapse,
  nextElapses,
  nextElapseUsec,
  normalizeCalendar,
  parseCalendar,
} from '../../shared/schedule/calendar.js';
import { civilFromDays, daysFromCivil, formatTimestamp, instantsOfLocalTime, isTimeZoneName, zoneClock, ZoneRules } from '../../shared/schedule/zone.js';

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
const elapses = (expr: string, after: string, zone: string, n = 3) => nextElapses(parseCalendar(expr), new Date(after), zone, n).map(iso);

describe('next elapses in UTC (after Fri 2026-11-20 12:00:00 UTC)', () => {
  const after = '2026-11-20T12:00:00Z';
  it.each([
    ['02:00', ['2026-11-21T02:00:00Z', '2026-11-22T02:00:00Z', '2026-11-23T02:00:00Z']],
    ['*-*-* 02:00', ['2026-11-21T02:00:00Z', '2026-11-22T02:00:00Z', '2026-11-23T02:00:00Z']],
    ['Mon..Fri 18:00', ['2026-11-20T18:00:00Z', '2026-11-23T18:00:00Z', '2026-11-24T18:00:00Z']],
    ['Sun 03:00', ['2026-11-22T03:00:00Z', '2026-11-29T03:00:00Z', '2026-12-06T03:00:00Z']],
    ['*-*-01 03:00', ['2026-12-01T03:00:00Z', '2027-01-01T03:00:00Z', '2027-02-01T03:00:00Z']],
    ['hourly', ['2026-11-20T13:00:00Z', '2026-11-20T14:00:00Z', '2026-11-20T15:00:00Z']],
    ['daily', ['2026-11-21T00:00:00Z', '2026-11-22T00:00:00Z', '2026-11-23T00:00:00Z']],
    ['weekly', ['2026-11-23T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-07T00:00:00Z']],
    ['monthly', ['2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z']],
    ['yearly', ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z', '2029-01-01T00:00:00Z']],
    ['annually', ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z', '2029-01-01T00:00:00Z']],
    ['quarterly', ['2027-01-01T00:00:00Z', '2027-04-01T00:00:00Z', '2027-07-01T00:00:00Z']],
    ['semiannually', ['2027-01-01T00:00:00Z', '2027-07-01T00:00:00Z', '2028-01-01T00:00:00Z']],
    ['minutely', ['2026-11-20T12:01:00Z', '2026-11-20T12:02:00Z', '2026-11-20T12:03:00Z']],
    ['*:0/15', ['2026-11-20T12:15:00Z', '2026-11-20T12:30:00Z', '2026-11-20T12:45:00Z']],
    ['Mon,Wed,Fri 09:00', ['2026-11-23T09:00:00Z', '2026-11-25T09:00:00Z', '2026-11-27T09:00:00Z']],
    ['Sat..Sun 10:00', ['2026-11-21T10:00:00Z', '2026-11-22T10:00:00Z', '2026-11-28T10:00:00Z']],
    ['*-*-* 08..18/4:00', ['2026-11-20T16:00:00Z', '2026-11-21T08:00:00Z', '2026-11-21T12:00:00Z']],
    ['*:*:30', ['2026-11-20T12:00:30Z', '2026-11-20T12:01:30Z', '2026-11-20T12:02:30Z']],
    ['*:*:10.5', ['2026-11-20T12:00:10.500Z', '2026-11-20T12:01:10.500Z', '2026-11-20T12:02:10.500Z']],
    ['*:*:0/20', ['2026-11-20T12:00:20Z', '2026-11-20T12:00:40Z', '2026-11-20T12:01:00Z']],
    ['*-*~01 23:00', ['2026-11-30T23:00:00Z', '2026-12-31T23:00:00Z', '2027-01-31T23:00:00Z']],
    ['*-*~01..03 06:00', ['2026-11-28T06:00:00Z', '2026-11-29T06:00:00Z', '2026-11-30T06:00:00Z']],
    ['*-02-29 00:00', ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z', '2036-02-29T00:00:00Z']],
    ['2027-*-* 00:00', ['2027-01-01T00:00:00Z', '2027-01-02T00:00:00Z', '2027-01-03T00:00:00Z']],
    ['2026-12-24..26 18:00', ['2026-12-24T18:00:00Z', '2026-12-25T18:00:00Z', '2026-12-26T18:00:00Z']],
    ['Fri *-*-13 13:00', ['2027-08-13T13:00:00Z', '2028-10-13T13:00:00Z', '2029-04-13T13:00:00Z']],
    ['2025-*-* 02:00', []],
    // An expression's own zone wins over the default zone.
    ['daily Europe/Berlin', ['2026-11-20T23:00:00Z', '2026-11-21T23:00:00Z', '2026-11-22T23:00:00Z']],
    ['Mon..Fri 18:00 America/New_York', ['2026-11-20T23:00:00Z', '2026-11-23T23:00:00Z', '2026-11-24T23:00:00Z']],
    ['*-*-* 02:00:00 Asia/Kolkata', ['2026-11-20T20:30:00Z', '2026-11-21T20:30:00Z', '2026-11-22T20:30:00Z']],
  ] as [string, string[]][])('%s', (expr, want) => {
    expect(elapses(expr, after, 'UTC')).toEqual(want);
  });

  it('"UTC" in the expression wins over the default zone', () => {
    expect(elapses('daily UTC', after, 'Europe/Berlin', 1)).toEqual(['2026-11-21T00:00:00Z']);
    expect(elapses('daily', after, 'Europe/Berlin', 1)).toEqual(['2026-11-20T23:00:00Z']);
  });
});

describe('next elapses across daylight-saving changes', () => {
  it.each([
    // Berlin, clocks forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that day.
    ['Europe/Berlin', '2026-03-28T12:00:00Z', '*-*-* 02:30', ['2026-03-30T00:30:00Z', '2026-03-31T00:30:00Z', '2026-04-01T00:30:00Z']],
    ['Europe/Berlin', '2026-03-28T12:00:00Z', 'daily', ['2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', '2026-03-30T22:00:00Z']],
    ['Europe/Berlin', '2026-03-28T12:00:00Z', '*-*-* 03:00', ['2026-03-29T01:00:00Z', '2026-03-30T01:00:00Z', '2026-03-31T01:00:00Z']],
    ['Europe/Berlin', '2026-03-29T00:00:00Z', '*:0/30', ['2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z']],
    // Berlin, clocks back 2026-10-25 03:00 CEST -> 02:00 CET: the repeated hour fires once, in its first pass.
    ['Europe/Berlin', '2026-10-24T23:20:00Z', '*-*-* 02:30', ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z', '2026-10-27T01:30:00Z']],
    ['Europe/Berlin', '2026-10-24T23:20:00Z', '*:0/30', ['2026-10-24T23:30:00Z', '2026-10-25T00:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T02:00:00Z', '2026-10-25T02:30:00Z']],
    ['Europe/Berlin', '2026-10-24T23:20:00Z', 'hourly', ['2026-10-25T00:00:00Z', '2026-10-25T02:00:00Z', '2026-10-25T03:00:00Z']],
    // Starting inside the second pass (02:20 CET), the second 02:30 comes next, then the next day's.
    ['Europe/Berlin', '2026-10-25T01:20:00Z', '*-*-* 02:30', ['2026-10-25T01:30:00Z', '2026-10-26T01:30:00Z']],
    // New York: forward 2026-03-08 02:00 -> 03:00, back 2026-11-01 02:00 -> 01:00.
    ['America/New_York', '2026-03-07T12:00:00Z', '*-*-* 02:30', ['2026-03-09T06:30:00Z', '2026-03-10T06:30:00Z', '2026-03-11T06:30:00Z']],
    ['America/New_York', '2026-03-07T12:00:00Z', 'Sun 03:00', ['2026-03-08T07:00:00Z', '2026-03-15T07:00:00Z', '2026-03-22T07:00:00Z']],
    ['America/New_York', '2026-10-31T12:00:00Z', '*-*-* 01:30', ['2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z', '2026-11-03T06:30:00Z']],
    ['America/New_York', '2026-10-31T12:00:00Z', 'Sun *-*-* 00/1:30', ['2026-11-01T04:30:00Z', '2026-11-01T05:30:00Z', '2026-11-01T07:30:00Z']],
    // Lord Howe: 30-minute DST. Forward 2026-10-04 02:00 -> 02:30, back 2026-04-05 02:00 -> 01:30.
    ['Australia/Lord_Howe', '2026-10-03T14:00:00Z', '*-*-* 02:15', ['2026-10-04T15:15:00Z', '2026-10-05T15:15:00Z']],
    ['Australia/Lord_Howe', '2026-04-04T14:00:00Z', '*-*-* 01:45', ['2026-04-04T14:45:00Z', '2026-04-05T15:15:00Z']],
    ['Australia/Lord_Howe', '2026-04-04T14:00:00Z', '*:0/15', ['2026-04-04T14:15:00Z', '2026-04-04T14:30:00Z', '2026-04-04T14:45:00Z', '2026-04-04T15:30:00Z']],
    // Santiago: clocks forward at midnight (2026-09-06 00:00 -> 01:00): that day has no 00:00.
    ['America/Santiago', '2026-09-05T12:00:00Z', 'daily', ['2026-09-07T03:00:00Z', '2026-09-08T03:00:00Z']],
  ] as [string, string, string, string[]][])('%s after %s: %s', (zone, after, expr, want) => {
    expect(elapses(expr, after, zone, want.length)).toEqual(want);
  });
});

describe('nextElapse', () => {
  it('is strictly after `after`, and null when the event never comes again', () => {
    const spec = parseCalendar('Mon..Fri 18:00');
    const at = new Date('2026-11-20T18:00:00Z');
    expect(iso(nextElapse(spec, at, 'UTC')!)).toBe('2026-11-23T18:00:00Z');
    expect(nextElapse(parseCalendar('2025-01-01'), at, 'UTC')).toBeNull();
    expect(nextElapse(parseCalendar('*-02-30'), at, 'UTC')).toBeNull();
  });

  it('keeps microseconds in nextElapseUsec and rounds Dates up to the millisecond', () => {
    const spec = parseCalendar('*:*:1.000001');
    const after = Date.parse('2026-11-20T12:00:00Z');
    const us = nextElapseUsec(spec, after * 1000, 'UTC')!;
    expect(us).toBe((after + 1000) * 1000 + 1);
    expect(nextElapses(spec, new Date(after), 'UTC', 2).map(iso)).toEqual(['2026-11-20T12:00:01.001Z', '2026-11-20T12:01:01.001Z']);
  });

  it('throws RangeError for an unknown default zone', () => {
    expect(() => nextElapse(parseCalendar('daily'), new Date(0), 'Mars/Olympus')).toThrow(RangeError);
  });

  it('computes 1000 iterations quickly (field-by-field search)', () => {
    const started = performance.now();
    for (const [expr, zone] of [
      ['*:0/15', 'Europe/Berlin'],
      ['Mon..Fri 18:00', 'America/New_York'],
      ['*-*~01 03:00', 'Australia/Lord_Howe'],
      ['*:*:*', 'UTC'],
    ] as const) {
      expect(nextElapses(parseCalendar(expr), new Date('2026-03-01T00:00:00Z'), zone, 1000)).toHaveLength(1000);
    }
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

describe('normalized form (as systemd-analyze prints it)', () => {
  it.each([
    ['02:00', '*-*-* 02:00:00'],
    ['Mon..Fri 18:00', 'Mon..Fri *-*-* 18:00:00'],
    ['mon,tue,wed,fri 9:5', 'Mon..Wed,Fri *-*-* 09:05:00'],
    ['Sat,Sun', 'Sat,Sun *-*-* 00:00:00'],
    ['Mon..Sun 1:0', '*-*-* 01:00:00'],
    ['Wed..Fri,Mon', 'Mon,Wed..Fri *-*-* 00:00:00'],
    ['Monday..Wednesday', 'Mon..Wed *-*-* 00:00:00'],
    ['Mon-Wed,Fri-Sun', 'Mon..Wed,Fri..Sun *-*-* 00:00:00'],
    ['Mon, 10:00', 'Mon *-*-* 10:00:00'],
    ['*:0/15', '*-*-* *:00/15:00'],
    ['*:*:*', '*-*-* *:*:*'],
    ['*:*', '*-*-* *:*:00'],
    ['minutely', '*-*-* *:*:00'],
    ['hourly', '*-*-* *:00:00'],
    ['daily', '*-*-* 00:00:00'],
    ['weekly', 'Mon *-*-* 00:00:00'],
    ['monthly', '*-*-01 00:00:00'],
    ['yearly', '*-01-01 00:00:00'],
    ['annually', '*-01-01 00:00:00'],
    ['quarterly', '*-01,04,07,10-01 00:00:00'],
    ['semiannually', '*-01,07-01 00:00:00'],
    ['bi-annually', '*-01,07-01 00:00:00'],
    ['*-*-01 03:00', '*-*-01 03:00:00'],
    ['*-*~01', '*-*~01 00:00:00'],
    ['5~1', '*-05~01 00:00:00'],
    ['12-25', '*-12-25 00:00:00'],
    ['99-1-1', '1999-01-01 00:00:00'],
    ['69-1-1', '2069-01-01 00:00:00'],
    ['2025-*-* 02:00', '2025-*-* 02:00:00'],
    ['2025..2030/2-*-*', '2025..2029/2-*-* 00:00:00'],
    ['*-1..12/2-1 0:0', '*-01..11/2-01 00:00:00'],
    ['*-*-* 1..5/10:00', '*-*-* 01:00:00'],
    ['*-*-* 5..5:00', '*-*-* 05:00:00'],
    ['*-*-* 1..10/3:00', '*-*-* 01..10/3:00:00'],
    ['*:*:1.5..3', '*-*-* *:*:01.500000..02.500000'],
    ['*:*:1.5..3/0.5', '*-*-* *:*:01.500000..03/0.500000'],
    ['*:*:1.9999995', '*-*-* *:*:02'],
    ['*:*:01.123', '*-*-* *:*:01.123000'],
    ['*:*:0/1,5', '*-*-* *:*:*'],
    ['0,0,1,1:0', '*-*-* 00,01:00:00'],
    ['*-*-* 1/2,0/2:0', '*-*-* 00/2,01/2:00:00'],
    ['*-*-* 00:00:00.5/0.25', '*-*-* 00:00:00.500000/0.250000'],
    ['daily UTC', '*-*-* 00:00:00 UTC'],
    ['Mon 2:00 utc', 'Mon *-*-* 02:00:00 UTC'],
    ['Mon 2:00 Europe/Berlin', 'Mon *-*-* 02:00:00 Europe/Berlin'],
    ['*-*-* 00:00 Etc/UTC', '*-*-* 00:00:00 Etc/UTC'],
    ['@1700000000', '2023-11-14 22:13:20 UTC'],
    ['Mon   12:00', 'Mon *-*-* 12:00:00'],
  ])('%s -> %s', (expr, want) => {
    expect(normalizeCalendar(parseCalendar(expr))).toBe(want);
  });

  it('is stable: a normalized form normalizes to itself', () => {
    for (const expr of ['Mon,Wed..Fri *-*-* 00:00:00', '*-*-* *:*:01.500000..02.500000', '2025..2029/2-*-* 00:00:00', '*-05~01 00:00:00 UTC']) {
      expect(normalizeCalendar(parseCalendar(expr))).toBe(expr);
    }
  });

  it('exposes the parsed fields', () => {
    const spec = parseCalendar('Mon..Fri *-*~01..03 18:00:30.5 Europe/Berlin');
    expect(spec).toMatchObject({
      weekdays: 0b0011111,
      year: null,
      month: null,
      endOfMonth: true,
      day: [{ start: 1, stop: 3, repeat: 1 }],
      hour: [{ start: 18, stop: null, repeat: 0 }],
      minute: [{ start: 0, stop: null, repeat: 0 }],
      second: [{ start: 30_500_000, stop: null, repeat: 0 }],
      utc: false,
      timeZone: 'Europe/Berlin',
    });
    expect(Object.isFrozen(spec)).toBe(true);
  });
});

describe('parse errors name the token and its column', () => {
  it.each([
    ['Mox 02:00', 'invalid weekday', 'Mox', 1],
    ['dayly', 'unknown calendar keyword or weekday', 'dayly', 1],
    ['Tues 10:00', 'invalid weekday', 'Tues', 1],
    ['Mon,Foo 10:00', 'invalid weekday', 'Foo', 5],
    ['Fri..Mon', 'invalid weekday range', 'Fri..Mon', 1],
    ['Mon,Tue..', 'incomplete weekday range', 'Tue..', 5],
    ['Mon..Wed..Fri', 'unexpected', '..', 9],
    ['Mon\t12:00', 'unexpected', '\t', 4],
    ['*-*-* 25:00', 'invalid hour', '25', 7],
    ['*-*-* 23:60', 'invalid minute', '60', 10],
    ['*:*:60', 'invalid second', '60', 5],
    ['*-13-1', 'invalid month', '13', 3],
    ['*-*-0', 'invalid day', '0', 5],
    ['*-*~29', 'invalid day', '29', 5],
    ['1969-1-1', 'invalid year', '1969', 1],
    ['*:0/60', 'invalid minute', '0/60', 3],
    ['*:30/30', 'invalid minute', '30/30', 3],
    ['10:00/0', 'invalid repetition', '/0', 6],
    ['*:*:1..1.5', 'invalid second range', '1..1.5', 5],
    ['10..5:00', 'invalid hour', '10..5', 1],
    ['*-*-* 1x:00', 'invalid hour', '1x', 7],
    ['2025~01~01', 'unexpected', '~', 8],
    ['*:*:*:*', 'unexpected', ':', 6],
    ['3', 'incomplete time', '3', 1],
    ['daily ', 'unexpected', ' ', 6],
    ['weekly 10:00', 'unexpected', '10:00', 8],
    ['daily Europe/Berln', 'unknown time zone', 'Europe/Berln', 7],
    ['Mon 2:00 europe/berlin', 'unknown time zone', 'europe/berlin', 10],
    ['Europe/Berlin', 'missing date or time before time zone', 'Europe/Berlin', 1],
    ['', 'empty calendar expression', '', 1],
    ['@abc', 'invalid timestamp', '@abc', 1],
  ] as [string, string, string, number][])('%j', (expr, problem, token, column) => {
    let err: unknown;
    try {
      parseCalendar(expr);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CalendarParseError);
    const e = err as CalendarParseError;
    expect(e.token).toBe(token);
    expect(e.position).toBe(column);
    expect(e.message.startsWith(`${problem} ${JSON.stringify(token)} at column ${column}`)).toBe(true);
  });

  it('reads exactly like the brief example', () => {
    expect(() => parseCalendar('Mox 02:00')).toThrow('invalid weekday "Mox" at column 1');
  });
});

describe('cron lines to calendar events', () => {
  it.each([
    ['*/15 2 * * 1-5', 'Mon..Fri *-*-* 02:00/15:00'],
    ['0 2 * * *', '*-*-* 02:00:00'],
    ['30 18 * * MON-FRI', 'Mon..Fri *-*-* 18:30:00'],
    ['0 3 1 * *', '*-*-01 03:00:00'],
    ['0 0 * * 0', 'Sun *-*-* 00:00:00'],
    ['0 0 * * 7', 'Sun *-*-* 00:00:00'],
    ['0 0 * * sun,sat', 'Sat,Sun *-*-* 00:00:00'],
    ['0 0 1 jan *', '*-01-01 00:00:00'],
    ['*/5 * * * *', '*-*-* *:00/5:00'],
    ['0 */6 * * *', '*-*-* 00/6:00:00'],
    ['0 0 */7 * *', '*-*-01/7 00:00:00'],
    ['15 10 * JAN-MAR,OCT MON', 'Mon *-01..03,10-* 10:15:00'],
    ['0 9-17/2 * * 1-5', 'Mon..Fri *-*-* 09..17/2:00:00'],
    ['5 4 * * 0-3', 'Mon..Wed,Sun *-*-* 04:05:00'],
    ['0 0 * * */2', 'Tue,Thu,Sat,Sun *-*-* 00:00:00'],
    ['*/60 * * * *', '*-*-* *:00:00'],
    ['0 0 * */12 *', '*-01-* 00:00:00'],
    ['5/20 * * * *', '*-*-* *:05/20:00'],
    ['0 0 1-31 * 1', '*-*-* 00:00:00'],
    ['@hourly', '*-*-* *:00:00'],
    ['@daily', '*-*-* 00:00:00'],
    ['@midnight', '*-*-* 00:00:00'],
    ['@weekly', 'Sun *-*-* 00:00:00'],
    ['@monthly', '*-*-01 00:00:00'],
    ['@yearly', '*-01-01 00:00:00'],
    ['@annually', '*-01-01 00:00:00'],
  ])('%s -> %s', (cron, want) => {
    expect(cronToCalendar(cron)).toBe(want);
  });

  it('fires when cron fires', () => {
    const spec = parseCalendar(cronToCalendar('*/15 2 * * 1-5'));
    expect(nextElapses(spec, new Date('2026-11-20T12:00:00Z'), 'UTC', 5).map(iso)).toEqual([
      '2026-11-23T02:00:00Z',
      '2026-11-23T02:15:00Z',
      '2026-11-23T02:30:00Z',
      '2026-11-23T02:45:00Z',
      '2026-11-24T02:00:00Z',
    ]);
  });

  it.each([
    ['60 * * * *', 'minute', /cron minute field "60": 60 is outside 0..59/],
    ['* 24 * * *', 'hour', /cron hour field "24"/],
    ['* * 0 * *', 'day-of-month', /cron day-of-month field "0"/],
    ['* * * 13 *', 'month', /cron month field "13"/],
    ['* * * foo *', 'month', /"foo" is neither a number nor a month name/],
    ['* * * * 8', 'day-of-week', /cron day-of-week field "8": 8 is outside 0..7/],
    ['5-1 * * * *', 'minute', /range 5-1 runs backwards/],
    ['*/0 * * * *', 'minute', /step "0"/],
    ['0 0 L * *', 'day-of-month', /"L" is not a number/],
    ['0 0 13 * 5', 'day-of-week', /cron fires on either/],
    ['0 0 * *', 'expression', /expected 5 fields/],
    ['0 0 * * * *', 'expression', /expected 5 fields/],
    ['@reboot', 'expression', /@reboot runs at boot/],
  ] as [string, string, RegExp][])('%j is refused, naming the %s', (cron, field, message) => {
    let err: unknown;
    try {
      cronToCalendar(cron);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CronParseError);
    expect((err as CronParseError).field).toBe(field);
    expect((err as CronParseError).message).toMatch(message);
  });
});

describe('time zone helpers', () => {
  it('converts civil dates both ways', () => {
    for (const [y, m, d] of [[1970, 1, 1], [2000, 2, 29], [2026, 12, 31], [2199, 12, 31], [1969, 12, 31]] as const) {
      expect(civilFromDays(daysFromCivil(y, m, d))).toEqual({ year: y, month: m, day: d });
    }
    expect(daysFromCivil(1970, 1, 1)).toBe(0);
    expect(daysFromCivil(2026, 3, 0)).toBe(daysFromCivil(2026, 2, 28));
  });

  it('knows offsets and DST from Intl', () => {
    const berlin = ZoneRules.of('Europe/Berlin');
    expect(berlin.offsetAt(Date.parse('2026-03-29T00:59:59Z') / 1000)).toBe(3600);
    expect(berlin.offsetAt(Date.parse('2026-03-29T01:00:00Z') / 1000)).toBe(7200);
    expect(berlin.isDstAt(Date.parse('2026-07-01T00:00:00Z') / 1000)).toBe(true);
    expect(berlin.isDstAt(Date.parse('2026-01-01T00:00:00Z') / 1000)).toBe(false);
    // tzdata marks Irish winter time as (negative) DST.
    expect(ZoneRules.of('Europe/Dublin').isDstAt(Date.parse('2026-01-01T00:00:00Z') / 1000)).toBe(true);
    expect(ZoneRules.of('Australia/Lord_Howe').offsetAt(Date.parse('2026-07-01T00:00:00Z') / 1000)).toBe(37_800);
  });

  it('resolves local times like glibc mktime: gaps move forward, repeats follow the last offset used', () => {
    const clock = zoneClock(ZoneRules.of('Europe/Berlin'));
    const gap = { year: 2026, mon: 2, mday: 29, hour: 2, min: 30, sec: 0, isdst: -1, wday: 0 };
    expect(clock.mktime(gap)).toBe(Date.parse('2026-03-29T01:30:00Z') / 1000);
    expect(gap).toMatchObject({ hour: 3, min: 30, isdst: 1 });
    const winter = { year: 2026, mon: 9, mday: 25, hour: 2, min: 30, sec: 0, isdst: 0, wday: 0 };
    expect(clock.mktime(winter)).toBe(Date.parse('2026-10-25T01:30:00Z') / 1000);
    const summer = { year: 2026, mon: 9, mday: 25, hour: 2, min: 30, sec: 0, isdst: 1, wday: 0 };
    expect(clock.mktime(summer)).toBe(Date.parse('2026-10-25T00:30:00Z') / 1000);
  });

  it('finds the instants of a local time', () => {
    expect(instantsOfLocalTime('Europe/Berlin', 2026, 3, 29, 2, 30, 0)).toEqual([]);
    expect(instantsOfLocalTime('Europe/Berlin', 2026, 10, 25, 2, 30, 0)).toEqual([Date.parse('2026-10-25T00:30:00Z') / 1000, Date.parse('2026-10-25T01:30:00Z') / 1000]);
    expect(instantsOfLocalTime('UTC', 2026, 1, 1, 0, 0, 0)).toEqual([Date.parse('2026-01-01T00:00:00Z') / 1000]);
  });

  it('accepts zone names as systemd does (case-sensitive tzdata names)', () => {
    for (const z of ['Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'UTC', 'EST5EDT', 'America/Port-au-Prince']) expect(isTimeZoneName(z), z).toBe(true);
    for (const z of ['europe/berlin', 'Europe/Berln', 'Europe//Berlin', '/Europe/Berlin', 'Mars/Olympus', '+01:00', '']) expect(isTimeZoneName(z), z).toBe(false);
  });

  it('formats timestamps as systemd prints them', () => {
    const t = Date.parse('2026-11-23T18:00:00Z') / 1000;
    expect(formatTimestamp(t, 'UTC')).toBe('Mon 2026-11-23 18:00:00 UTC');
    expect(formatTimestamp(t, 'Europe/Berlin')).toBe('Mon 2026-11-23 19:00:00 CET');
    expect(formatTimestamp(t, 'America/New_York')).toBe('Mon 2026-11-23 13:00:00 EST');
    expect(formatTimestamp(t, 'America/Sao_Paulo')).toBe('Mon 2026-11-23 15:00:00 -03');
  });
});
