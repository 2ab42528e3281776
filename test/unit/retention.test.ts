/**
 * Retention (shared/retention.ts): restic 0.14's `forget` policy, with pinned
 * snapshot times and zone. Expected results follow restic's
 * internal/restic/snapshot_policy.go; test/integration/forget-restic.test.ts
 * checks the same logic against the restic binary.
 */
import { describe, expect, it } from 'vitest';
import {
  applyRetention,
  describePolicy,
  durationText,
  hasTags,
  isPolicyEmpty,
  parseDuration,
  parseGroupBy,
  parseTagList,
  validatePolicy,
  type RetentionInput,
  type RetentionOptions,
  type RetentionPolicy,
} from '../../shared/retention.js';

const BERLIN: RetentionOptions = { timeZone: 'Europe/Berlin', now: new Date('2030-01-01T00:00:00Z') };

interface Snap extends RetentionInput {
  time: string | Date;
}

let counter = 0;
/** A snapshot of host h, paths [/data], unless overridden. */
function snap(time: string | Date, extra: Partial<Snap> = {}): Snap {
  return { id: extra.id ?? `s${++counter}`, time, hostname: 'h', paths: ['/data'], ...extra };
}

/** Runs the policy over one group; returns `id: reasons` for kept, `id: remove` for removed, newest first. */
function decide(snaps: Snap[], policy: RetentionPolicy, opts: RetentionOptions = BERLIN): [string, string[] | 'remove'][] {
  const { groups } = applyRetention(snaps, policy, opts);
  expect(groups).toHaveLength(1);
  return groups[0]!.decisions.map((d) => [d.id, d.keep ? d.reasons : 'remove']);
}

/** Snapshots named by their times, so expectations read as times. */
function named(times: string[], extra: Partial<Snap> = {}): Snap[] {
  return times.map((t) => snap(t, { id: t, ...extra }));
}

describe('parseDuration', () => {
  it.each([
    ['1y2m3d4h', { years: 1, months: 2, days: 3, hours: 4 }],
    ['36h', { years: 0, months: 0, days: 0, hours: 36 }],
    ['4h3d2m1y', { years: 1, months: 2, days: 3, hours: 4 }],
    ['  7d ', { years: 0, months: 0, days: 7, hours: 0 }],
    ['', { years: 0, months: 0, days: 0, hours: 0 }],
    ['0d', { years: 0, months: 0, days: 0, hours: 0 }],
    ['1d2d', { years: 0, months: 0, days: 2, hours: 0 }], // restic: a repeated unit replaces the earlier one
    ['007m', { years: 0, months: 7, days: 0, hours: 0 }],
  ])('%j', (text, expected) => {
    expect(parseDuration(text, 'f')).toEqual(expected);
  });

  it.each([
    ['1x', /^keep-within: "1x": invalid unit "x" after number 1/],
    ['1w', /^keep-within: "1w": invalid unit "w"/],
    ['1d2', /^keep-within: "1d2": no unit after number 2/],
    ['5', /^keep-within: "5": no unit after number 5/],
    ['d', /^keep-within: "d": expected a number/],
    ['1d 2h', /^keep-within: "1d 2h": expected a number/],
    ['-1d', /^keep-within: "-1d": negative durations are not allowed/],
    ['1d-2h', /^keep-within: "1d-2h": negative durations are not allowed/],
    ['99999999999y', /^keep-within: .*too large/],
  ])('%j is refused, naming the field', (text, message) => {
    expect(() => parseDuration(text, 'keep-within')).toThrow(message);
  });

  it('durationText prints like restic (zero parts left out, y m d h order)', () => {
    expect(durationText(parseDuration('4h0m1y', 'f'))).toBe('1y4h');
    expect(durationText(parseDuration('0d', 'f'))).toBe('');
  });
});

describe('validatePolicy', () => {
  it('returns only the rules that are set', () => {
    expect(validatePolicy({ daily: 7, weekly: 0, within: '2d', tags: [['a', 'b']] })).toEqual({ daily: 7, weekly: 0, within: '2d', tags: [['a', 'b']] });
    expect(validatePolicy({})).toEqual({});
  });

  it.each([
    [null, /^retention: must be an object/],
    [[1], /^retention: must be an object/],
    ['daily', /^retention: must be an object/],
    [{ daily: -1 }, /^retention\.daily: must be a whole number >= 0$/],
    [{ daily: 1.5 }, /^retention\.daily: must be a whole number >= 0$/],
    [{ last: '3' }, /^retention\.last: must be a whole number >= 0$/],
    [{ hourly: NaN }, /^retention\.hourly: must be a whole number >= 0$/],
    [{ yearly: Infinity }, /^retention\.yearly: must be a whole number >= 0$/],
    [{ within: 5 }, /^retention\.within: must be a duration/],
    [{ within: '1x' }, /^retention\.within: "1x": invalid unit/],
    [{ withinWeekly: '2w' }, /^retention\.withinWeekly: "2w": invalid unit/],
    [{ withinDaily: '-3d' }, /^retention\.withinDaily: "-3d": negative/],
    [{ tags: 'x' }, /^retention\.tags: must be a list of tag lists/],
    [{ tags: [[]] }, /^retention\.tags\[0\]: must be a non-empty list/],
    [{ tags: [['a'], 'b'] }, /^retention\.tags\[1\]: must be a non-empty list/],
    [{ tags: [['a', 3]] }, /^retention\.tags\[0\]\[1\]: must be a string/],
    [{ keepDaily: 3 }, /^retention\.keepDaily: unknown rule/],
  ])('%j is refused, naming the field', (policy, message) => {
    expect(() => validatePolicy(policy)).toThrow(message);
    expect(() => applyRetention([snap('2024-01-01T00:00:00+01:00')], policy as RetentionPolicy, BERLIN)).toThrow(message);
  });

  it('knows which policies are empty (zero counts and zero durations set no rule)', () => {
    expect(isPolicyEmpty({})).toBe(true);
    expect(isPolicyEmpty({ daily: 0, within: '0d', withinHourly: '' })).toBe(true);
    expect(isPolicyEmpty({ daily: 1 })).toBe(false);
    expect(isPolicyEmpty({ withinYearly: '1h' })).toBe(false);
    expect(isPolicyEmpty({ tags: [['x']] })).toBe(false);
  });

  it('describes a policy like restic', () => {
    expect(describePolicy({ last: 2, daily: 7, withinWeekly: '1m', tags: [['a', 'b'], ['c']], within: '2d' })).toBe(
      'keep 2 latest, 7 daily snapshots, weekly snapshots within 1m and all snapshots with tags [[a, b] [c]] and all snapshots within 2d of the newest',
    );
  });
});

describe('each rule alone', () => {
  it('keep-last keeps the N newest, whatever their input order', () => {
    const s = named(['2024-01-03T10:00:00+01:00', '2024-01-05T10:00:00+01:00', '2024-01-01T10:00:00+01:00', '2024-01-04T10:00:00+01:00', '2024-01-02T10:00:00+01:00']);
    expect(decide(s, { last: 3 })).toEqual([
      ['2024-01-05T10:00:00+01:00', ['last snapshot']],
      ['2024-01-04T10:00:00+01:00', ['last snapshot']],
      ['2024-01-03T10:00:00+01:00', ['last snapshot']],
      ['2024-01-02T10:00:00+01:00', 'remove'],
      ['2024-01-01T10:00:00+01:00', 'remove'],
    ]);
  });

  it('keep-last larger than the group keeps all', () => {
    const s = named(['2024-01-01T10:00:00+01:00', '2024-01-02T10:00:00+01:00']);
    expect(decide(s, { last: 10 }).map(([, r]) => r)).toEqual([['last snapshot'], ['last snapshot']]);
  });

  it('keep-hourly keeps the newest snapshot of each of the N newest hours that have one', () => {
    const s = named([
      '2024-05-01T12:00:00+02:00',
      '2024-05-01T11:50:00+02:00',
      '2024-05-01T11:10:00+02:00',
      '2024-05-01T10:40:00+02:00',
      '2024-05-01T10:05:00+02:00',
      '2024-05-01T07:59:59.999999999+02:00',
      '2024-05-01T07:00:00+02:00',
    ]);
    expect(decide(s, { hourly: 3 })).toEqual([
      ['2024-05-01T12:00:00+02:00', ['hourly snapshot']],
      ['2024-05-01T11:50:00+02:00', ['hourly snapshot']],
      ['2024-05-01T11:10:00+02:00', 'remove'],
      ['2024-05-01T10:40:00+02:00', ['hourly snapshot']],
      ['2024-05-01T10:05:00+02:00', 'remove'],
      ['2024-05-01T07:59:59.999999999+02:00', 'remove'],
      ['2024-05-01T07:00:00+02:00', 'remove'],
    ]);
  });

  it('keep-daily counts days that have snapshots, not calendar days, in the zone', () => {
    const s = named([
      '2024-05-10T23:59:00+02:00',
      '2024-05-10T00:00:00+02:00',
      '2024-05-09T23:59:59+02:00',
      '2024-05-02T08:00:00+02:00',
      '2024-04-20T08:00:00+02:00',
    ]);
    expect(decide(s, { daily: 3 })).toEqual([
      ['2024-05-10T23:59:00+02:00', ['daily snapshot']],
      ['2024-05-10T00:00:00+02:00', 'remove'],
      ['2024-05-09T23:59:59+02:00', ['daily snapshot']],
      ['2024-05-02T08:00:00+02:00', ['daily snapshot']],
      ['2024-04-20T08:00:00+02:00', 'remove'],
    ]);
  });

  it('keep-daily: a Date is bucketed by the wall clock of the time zone', () => {
    // 2024-05-09T22:30Z is 00:30 on 10 May in Berlin, 18:30 on 9 May in New York.
    const times = [new Date('2024-05-10T08:00:00Z'), new Date('2024-05-09T22:30:00Z'), new Date('2024-05-09T12:00:00Z')];
    const s = times.map((t, i) => snap(t, { id: `d${i}` }));
    expect(decide(s, { daily: 5 }, { ...BERLIN, timeZone: 'Europe/Berlin' }).map(([, r]) => r)).toEqual([['daily snapshot'], 'remove', ['daily snapshot']]);
    expect(decide(s, { daily: 5 }, { ...BERLIN, timeZone: 'America/New_York' }).map(([, r]) => r)).toEqual([['daily snapshot'], ['daily snapshot'], 'remove']);
  });

  it('keep-weekly uses ISO weeks (Monday to Sunday) and ISO years across year ends', () => {
    const s = named([
      '2021-01-04T09:00:00+01:00', // Mon, 2021-W01
      '2021-01-03T09:00:00+01:00', // Sun, 2020-W53
      '2020-12-31T09:00:00+01:00', // Thu, 2020-W53
      '2020-12-28T09:00:00+01:00', // Mon, 2020-W53
      '2020-12-27T09:00:00+01:00', // Sun, 2020-W52
      '2019-01-06T09:00:00+01:00', // Sun, 2019-W01
      '2018-12-31T09:00:00+01:00', // Mon, 2019-W01
      '2018-12-30T09:00:00+01:00', // Sun, 2018-W52
    ]);
    expect(decide(s, { weekly: 10 })).toEqual([
      ['2021-01-04T09:00:00+01:00', ['weekly snapshot']],
      ['2021-01-03T09:00:00+01:00', ['weekly snapshot']],
      ['2020-12-31T09:00:00+01:00', 'remove'],
      ['2020-12-28T09:00:00+01:00', 'remove'],
      ['2020-12-27T09:00:00+01:00', ['weekly snapshot']],
      ['2019-01-06T09:00:00+01:00', ['weekly snapshot']],
      ['2018-12-31T09:00:00+01:00', 'remove'],
      ['2018-12-30T09:00:00+01:00', ['weekly snapshot']],
    ]);
  });

  it('keep-monthly and keep-yearly', () => {
    const s = named([
      '2024-03-01T00:30:00+01:00',
      '2024-02-29T23:30:00+01:00',
      '2024-02-01T10:00:00+01:00',
      '2023-12-31T23:59:59+01:00',
      '2023-01-01T00:00:00+01:00',
      '2022-06-15T12:00:00+02:00',
    ]);
    expect(decide(s, { monthly: 3 }).map(([, r]) => r)).toEqual([['monthly snapshot'], ['monthly snapshot'], 'remove', ['monthly snapshot'], 'remove', 'remove']);
    expect(decide(s, { yearly: 2 }).map(([, r]) => r)).toEqual([['yearly snapshot'], 'remove', 'remove', ['yearly snapshot'], 'remove', 'remove']);
    expect(decide(s, { yearly: 5 }).map(([, r]) => r)).toEqual([['yearly snapshot'], 'remove', 'remove', ['yearly snapshot'], 'remove', ['yearly snapshot']]);
  });

  it('keep-hourly across DST: the repeated hour is one bucket, the skipped hour none', () => {
    const s = named([
      '2022-10-30T03:10:00+01:00',
      '2022-10-30T02:40:00+01:00', // second 02:xx (CET)
      '2022-10-30T02:20:00+02:00', // first 02:xx (CEST): same wall hour, removed
      '2022-03-27T03:30:00+02:00', // 03:30 CEST, right after the skipped hour
      '2022-03-27T01:30:00+01:00',
    ]);
    expect(decide(s, { hourly: 10 }).map(([, r]) => r)).toEqual([['hourly snapshot'], ['hourly snapshot'], 'remove', ['hourly snapshot'], ['hourly snapshot']]);
  });

  it('keep-tag keeps snapshots with all tags of any list; [""] means untagged', () => {
    const s = [
      snap('2024-01-05T10:00:00+01:00', { id: 'ab', tags: ['b', 'a'] }),
      snap('2024-01-04T10:00:00+01:00', { id: 'a', tags: ['a'] }),
      snap('2024-01-03T10:00:00+01:00', { id: 'c', tags: ['c', 'x'] }),
      snap('2024-01-02T10:00:00+01:00', { id: 'none' }),
    ];
    expect(decide(s, { tags: [['a', 'b'], ['c']] })).toEqual([
      ['ab', ['has tags [a, b]']],
      ['a', 'remove'],
      ['c', ['has tags [c]']],
      ['none', 'remove'],
    ]);
    expect(decide(s, { tags: [['a'], ['']] })).toEqual([
      ['ab', ['has tags [a]']],
      ['a', ['has tags [a]']],
      ['c', 'remove'],
      ['none', ['has tags []']],
    ]);
    expect(parseTagList(' a , b,')).toEqual(['a', 'b', '']);
    expect(hasTags(undefined, ['', 'x'])).toBe(true); // restic: "" first matches an untagged snapshot
    expect(hasTags(undefined, ['x', ''])).toBe(false);
    expect(hasTags(['x'], [''])).toBe(false);
  });
});

describe('keep-within', () => {
  const around = (newest: string, others: string[]) => named([newest, ...others]);

  it('is relative to the newest snapshot, not to now, and the boundary is exclusive', () => {
    const s = around('2020-05-10T12:00:00+02:00', ['2020-05-09T12:00:00.000000001+02:00', '2020-05-09T12:00:00+02:00', '2020-05-01T12:00:00+02:00']);
    expect(decide(s, { within: '1d' }, { ...BERLIN, now: new Date('2024-01-01T00:00:00Z') })).toEqual([
      ['2020-05-10T12:00:00+02:00', ['within 1d']],
      ['2020-05-09T12:00:00.000000001+02:00', ['within 1d']],
      ['2020-05-09T12:00:00+02:00', 'remove'],
      ['2020-05-01T12:00:00+02:00', 'remove'],
    ]);
  });

  it('subtracts months on the wall clock and normalises like Go (31 March - 1 month = 3 March)', () => {
    const s = around('2023-03-31T12:00:00+02:00', ['2023-03-03T12:00:00.5+01:00', '2023-03-03T12:00:00+01:00', '2023-02-28T12:00:00+01:00']);
    expect(decide(s, { within: '1m' }).map(([, r]) => r)).toEqual([['within 1m'], ['within 1m'], 'remove', 'remove']);
  });

  it('days follow the wall clock across DST, hours are absolute', () => {
    // The day before 2022-03-27 12:00 CEST is 2022-03-26 12:00 CET: 23 real hours earlier.
    const s = around('2022-03-27T12:00:00+02:00', ['2022-03-26T12:30:00+01:00', '2022-03-26T11:30:00+01:00', '2022-03-26T10:30:00+01:00']);
    expect(decide(s, { within: '1d' }).map(([, r]) => r)).toEqual([['within 1d'], ['within 1d'], 'remove', 'remove']);
    expect(decide(s, { within: '24h' }).map(([, r]) => r)).toEqual([['within 24h'], ['within 24h'], ['within 24h'], 'remove']);
    expect(decide(s, { within: '0y0m1d1h' }).map(([, r]) => r)).toEqual([['within 1d1h'], ['within 1d1h'], ['within 1d1h'], 'remove']);
  });

  it('years: 29 February minus one year is 1 March', () => {
    const s = around('2024-02-29T10:00:00+01:00', ['2023-03-01T10:00:01+01:00', '2023-03-01T10:00:00+01:00', '2023-02-28T10:00:00+01:00']);
    expect(decide(s, { within: '1y' }).map(([, r]) => r)).toEqual([['within 1y'], ['within 1y'], 'remove', 'remove']);
  });

  it('ignores future snapshots when finding the newest (they are still kept by it)', () => {
    const s = around('2031-06-01T10:00:00+02:00', ['2023-12-31T10:00:00+01:00', '2023-12-30T09:59:59+01:00', '2023-12-29T10:00:00+01:00']);
    const now = { ...BERLIN, now: new Date('2024-01-01T00:00:00Z') };
    expect(decide(s, { within: '1d' }, now).map(([, r]) => r)).toEqual([['within 1d'], ['within 1d'], 'remove', 'remove']);
    expect(decide(s, { within: '2d', last: 1 }, now).map(([, r]) => r)).toEqual([['within 2d', 'last snapshot'], ['within 2d'], ['within 2d'], 'remove']);
  });

  it('when every snapshot is in the future, every snapshot is within', () => {
    const s = around('2031-06-01T10:00:00+02:00', ['2031-01-01T10:00:00+01:00']);
    expect(decide(s, { within: '1h' }, { ...BERLIN, now: new Date('2024-01-01T00:00:00Z') }).map(([, r]) => r)).toEqual([['within 1h'], ['within 1h']]);
  });

  it('keep-within-daily keeps the newest snapshot of each day within the duration', () => {
    const s = named([
      '2024-05-10T20:00:00+02:00',
      '2024-05-10T08:00:00+02:00',
      '2024-05-09T20:00:00+02:00',
      '2024-05-09T08:00:00+02:00',
      '2024-05-08T20:00:01+02:00',
      '2024-05-08T20:00:00+02:00',
      '2024-05-07T20:00:00+02:00',
    ]);
    expect(decide(s, { withinDaily: '2d' })).toEqual([
      ['2024-05-10T20:00:00+02:00', ['daily within 2d']],
      ['2024-05-10T08:00:00+02:00', 'remove'],
      ['2024-05-09T20:00:00+02:00', ['daily within 2d']],
      ['2024-05-09T08:00:00+02:00', 'remove'],
      ['2024-05-08T20:00:01+02:00', ['daily within 2d']],
      ['2024-05-08T20:00:00+02:00', 'remove'],
      ['2024-05-07T20:00:00+02:00', 'remove'],
    ]);
  });

  it.each([
    ['withinHourly', 'hourly within 3h', [true, false, true, true, false, false]],
    ['withinWeekly', 'weekly within 3h', [true, false, false, false, false, false]],
    ['withinMonthly', 'monthly within 3h', [true, false, false, false, false, false]],
    ['withinYearly', 'yearly within 3h', [true, false, false, false, false, false]],
  ] as const)('%s', (rule, reason, kept) => {
    const s = named([
      '2024-05-10T20:30:00+02:00',
      '2024-05-10T20:10:00+02:00',
      '2024-05-10T19:50:00+02:00',
      '2024-05-10T17:45:00+02:00',
      '2024-05-10T17:30:00+02:00', // exactly 3 h before the newest: outside
      '2024-05-10T10:00:00+02:00',
    ]);
    expect(decide(s, { [rule]: '3h' }).map(([, r]) => r)).toEqual(kept.map((k) => (k ? [reason] : 'remove')));
  });

  it('keep-within-yearly across years', () => {
    const s = named(['2024-02-01T10:00:00+01:00', '2023-12-01T10:00:00+01:00', '2023-03-01T10:00:00+01:00', '2022-12-01T10:00:00+01:00', '2021-12-01T10:00:00+01:00']);
    expect(decide(s, { withinYearly: '2y' }).map(([, r]) => r)).toEqual([['yearly within 2y'], ['yearly within 2y'], 'remove', ['yearly within 2y'], 'remove']);
  });
});

describe('combined rules', () => {
  it('reasons come in restic order and counters show what is left', () => {
    const s = [
      snap('2024-05-10T20:00:00+02:00', { id: 'n', tags: ['x'] }),
      snap('2024-05-10T08:00:00+02:00', { id: 'm' }),
      snap('2024-05-09T20:00:00+02:00', { id: 'l' }),
      snap('2024-05-02T20:00:00+02:00', { id: 'k' }),
      snap('2024-04-02T20:00:00+02:00', { id: 'j', tags: ['x'] }),
    ];
    const { groups } = applyRetention(s, { last: 1, daily: 2, weekly: 2, monthly: 3, within: '1d', withinDaily: '10d', tags: [['x']] }, BERLIN);
    expect(groups[0]!.decisions).toEqual([
      {
        id: 'n',
        keep: true,
        reasons: ['has tags [x]', 'within 1d', 'last snapshot', 'daily snapshot', 'weekly snapshot', 'monthly snapshot', 'daily within 10d'],
        counters: { daily: 1, weekly: 1, monthly: 2 },
      },
      { id: 'm', keep: true, reasons: ['within 1d'], counters: { daily: 1, weekly: 1, monthly: 2 } },
      // exactly one day before the newest: not within 1d
      { id: 'l', keep: true, reasons: ['daily snapshot', 'daily within 10d'], counters: { weekly: 1, monthly: 2 } },
      { id: 'k', keep: true, reasons: ['weekly snapshot', 'daily within 10d'], counters: { monthly: 2 } },
      { id: 'j', keep: true, reasons: ['has tags [x]', 'monthly snapshot'], counters: { monthly: 1 } },
    ]);
    expect(groups[0]!.reasons.get('k')).toEqual(['weekly snapshot', 'daily within 10d']);
    expect(groups[0]!.remove).toEqual([]);
  });

  it('a bucket counts the last snapshot the rule kept, so rules stay independent', () => {
    const s = named(['2024-05-10T20:00:00+02:00', '2024-05-10T08:00:00+02:00', '2024-05-09T20:00:00+02:00', '2024-05-08T20:00:00+02:00', '2024-05-01T20:00:00+02:00']);
    expect(decide(s, { last: 2, daily: 2, weekly: 2 })).toEqual([
      ['2024-05-10T20:00:00+02:00', ['last snapshot', 'daily snapshot', 'weekly snapshot']],
      ['2024-05-10T08:00:00+02:00', ['last snapshot']],
      ['2024-05-09T20:00:00+02:00', ['daily snapshot']],
      ['2024-05-08T20:00:00+02:00', 'remove'],
      ['2024-05-01T20:00:00+02:00', ['weekly snapshot']],
    ]);
  });

  it('an empty policy keeps everything with reason "policy is empty"', () => {
    const s = named(['2024-05-10T20:00:00+02:00', '2024-05-09T20:00:00+02:00']);
    expect(decide(s, {})).toEqual([
      ['2024-05-10T20:00:00+02:00', ['policy is empty']],
      ['2024-05-09T20:00:00+02:00', ['policy is empty']],
    ]);
    expect(decide(s, { daily: 0, within: '0h' }).map(([, r]) => r)).toEqual([['policy is empty'], ['policy is empty']]);
  });

  it('ties: equal times keep their input order (the first counts as newer)', () => {
    const t = '2024-05-10T20:00:00+02:00';
    const s = [snap('2024-05-09T20:00:00+02:00', { id: 'old' }), snap(t, { id: 'first' }), snap(t, { id: 'second' })];
    expect(decide(s, { daily: 5 })).toEqual([
      ['first', ['daily snapshot']],
      ['second', 'remove'],
      ['old', ['daily snapshot']],
    ]);
    expect(decide([s[0]!, s[2]!, s[1]!], { last: 1 })).toEqual([
      ['second', ['last snapshot']],
      ['first', 'remove'],
      ['old', 'remove'],
    ]);
  });
});

describe('time zones and recorded offsets (Go semantics)', () => {
  it('a Z time is bucketed in UTC, an offset the zone has then in the zone, any other in that fixed offset', () => {
    const s = [
      snap('2023-01-01T23:30:00Z', { id: 'utc' }), // 00:30 on 2 January in Berlin, but 1 January in UTC
      snap('2023-01-02T00:10:00+01:00', { id: 'berlin' }),
      snap('2023-01-01T20:00:00-05:00', { id: 'fixed' }), // 02:00 on 2 January in Berlin; 1 January at -05:00
    ];
    // newest first: fixed (01:00Z), utc (23:30Z), berlin (23:10Z)
    expect(decide(s, { daily: 10 })).toEqual([
      ['fixed', ['daily snapshot']],
      ['utc', 'remove'], // same day (1 January) as the previous one kept
      ['berlin', ['daily snapshot']],
    ]);
    // With every time given as a Date, all three are 2 January in Berlin.
    const dates = s.map((x) => ({ ...x, time: new Date(x.time as string) }));
    expect(decide(dates, { daily: 10 }).map(([, r]) => r)).toEqual([['daily snapshot'], 'remove', 'remove']);
  });

  it('an offset matching the zone only at another time of year is a fixed offset', () => {
    // +02:00 in January is not Berlin's offset then: 'a' is bucketed at +02:00, on 1 January,
    // although in Berlin it is 31 December 23:30, the same day as the newer 'b'.
    const s = [snap('2023-01-01T00:30:00+02:00', { id: 'a' }), snap('2022-12-31T23:50:00+01:00', { id: 'b' })];
    expect(decide(s, { daily: 10 })).toEqual([
      ['b', ['daily snapshot']],
      ['a', ['daily snapshot']],
    ]);
    const dates = s.map((x) => ({ ...x, time: new Date(x.time as string) }));
    expect(decide(dates, { daily: 10 })).toEqual([
      ['b', ['daily snapshot']],
      ['a', 'remove'],
    ]);
  });

  it('unknown zones and bad times are refused', () => {
    expect(() => applyRetention([snap('2024-01-01T00:00:00Z')], { last: 1 }, { timeZone: 'Mars/Olympus' })).toThrow(/^timeZone: unknown time zone "Mars\/Olympus"/);
    expect(() => applyRetention([snap('yesterday', { id: 'bad' })], { last: 1 }, BERLIN)).toThrow(/^snapshot bad: invalid timestamp/);
    expect(() => applyRetention([snap(new Date(NaN), { id: 'nan' })], { last: 1 }, BERLIN)).toThrow(/^snapshot nan: invalid time/);
  });
});

describe('grouping', () => {
  const s = [
    snap('2024-05-10T20:00:00+02:00', { id: 'a1', hostname: 'alpha', paths: ['/srv', '/home'], tags: ['x'] }),
    snap('2024-05-09T20:00:00+02:00', { id: 'a2', hostname: 'alpha', paths: ['/home', '/srv'] }),
    snap('2024-05-08T20:00:00+02:00', { id: 'a3', hostname: 'alpha', paths: ['/etc'], tags: ['x'] }),
    snap('2024-05-07T20:00:00+02:00', { id: 'b1', hostname: 'beta', paths: ['/srv', '/home'], tags: ['y', 'x'] }),
    snap('2024-05-06T20:00:00+02:00', { id: 'b2', hostname: 'beta', paths: ['/srv', '/home'], tags: ['x', 'y'] }),
  ];
  const summary = (groupBy?: ('host' | 'paths' | 'tags')[]) =>
    applyRetention(s, { last: 1 }, { ...BERLIN, ...(groupBy ? { groupBy } : {}) }).groups.map((g) => ({ key: g.key, keep: g.keep.map((x) => x.id), remove: g.remove.map((x) => x.id) }));

  it('by host and paths by default (paths compared as a sorted set)', () => {
    expect(summary()).toEqual([
      { key: { hostname: 'alpha', paths: ['/etc'] }, keep: ['a3'], remove: [] },
      { key: { hostname: 'alpha', paths: ['/home', '/srv'] }, keep: ['a1'], remove: ['a2'] },
      { key: { hostname: 'beta', paths: ['/home', '/srv'] }, keep: ['b1'], remove: ['b2'] },
    ]);
  });

  it('by tags (sorted), by host alone, and all in one group', () => {
    expect(summary(['tags'])).toEqual([
      { key: { tags: [] }, keep: ['a2'], remove: [] },
      { key: { tags: ['x'] }, keep: ['a1'], remove: ['a3'] },
      { key: { tags: ['x', 'y'] }, keep: ['b1'], remove: ['b2'] },
    ]);
    expect(summary(['host'])).toEqual([
      { key: { hostname: 'alpha' }, keep: ['a1'], remove: ['a2', 'a3'] },
      { key: { hostname: 'beta' }, keep: ['b1'], remove: ['b2'] },
    ]);
    expect(summary([])).toEqual([{ key: {}, keep: ['a1'], remove: ['a2', 'a3', 'b1', 'b2'] }]);
  });

  it('a snapshot without hostname groups under ""', () => {
    const { groups } = applyRetention([{ id: 'x', time: '2024-01-01T00:00:00Z', paths: ['/a'] }], { last: 1 }, BERLIN);
    expect(groups[0]!.key).toEqual({ hostname: '', paths: ['/a'] });
  });

  it('the keep-within newest is per group', () => {
    const t = [
      snap('2024-05-10T20:00:00+02:00', { id: 'a-new', hostname: 'a' }),
      snap('2024-05-01T20:00:00+02:00', { id: 'a-old', hostname: 'a' }),
      snap('2024-04-01T20:00:00+02:00', { id: 'b-new', hostname: 'b' }),
      snap('2024-03-31T21:00:00+02:00', { id: 'b-old', hostname: 'b' }),
    ];
    const { groups } = applyRetention(t, { within: '1d' }, BERLIN);
    expect(groups.map((g) => [g.keep.map((x) => x.id), g.remove.map((x) => x.id)])).toEqual([
      [['a-new'], ['a-old']],
      [['b-new', 'b-old'], []],
    ]);
  });

  it('parseGroupBy accepts restic spellings and refuses others naming the flag', () => {
    expect(parseGroupBy('host,paths')).toEqual(['host', 'paths']);
    expect(parseGroupBy('tags,hosts,path')).toEqual(['host', 'paths', 'tags']);
    expect(parseGroupBy('tag')).toEqual(['tags']);
    expect(parseGroupBy('')).toEqual([]);
    expect(() => parseGroupBy('host,user')).toThrow(/^group-by: unknown grouping option "user"/);
  });
});
