/** next(now, job, history): the scheduler's decisions, with the clock and the time zone pinned. */
import { describe, expect, it } from 'vitest';
import { next, type ScheduleHistory } from '../../shared/schedule/next-run.js';

const job = (over: Partial<{ enabled: boolean; schedule: string | null; catchUp: boolean; overlap: 'skip' | 'queue' | 'parallel' }> = {}) => ({
  enabled: true,
  schedule: '*-*-* 02:00:00',
  catchUp: true,
  overlap: 'queue' as const,
  ...over,
});
const hist = (over: Partial<ScheduleHistory> = {}): ScheduleHistory => ({
  createdAt: new Date('2026-03-01T10:00:00Z'),
  lastScheduledFor: null,
  running: [],
  queued: 0,
  ...over,
});
const at = (iso: string) => new Date(iso);
const BERLIN = 'Europe/Berlin';

describe('next()', () => {
  it('waits for the first slot after the job was created, in the job time zone', () => {
    const d = next(at('2026-03-02T00:30:00Z'), job(), hist(), BERLIN);
    expect(d.kind).toBe('wait');
    expect(d.nextRun?.toISOString()).toBe('2026-03-02T01:00:00.000Z'); // 02:00 CET
    expect(d.reason).toContain('next run 2026-03-02T01:00:00Z');
  });

  it('runs a slot that is due now', () => {
    const d = next(at('2026-03-02T01:00:05Z'), job(), hist(), BERLIN);
    expect(d).toMatchObject({ kind: 'run', trigger: 'schedule', missed: 0 });
    if (d.kind === 'run') expect(d.scheduledFor.toISOString()).toBe('2026-03-02T01:00:00.000Z');
    expect(d.nextRun?.toISOString()).toBe('2026-03-03T01:00:00.000Z');
  });

  it('does not run a handled slot again, even when the clock jumps back', () => {
    const handled = hist({ lastScheduledFor: at('2026-03-02T01:00:00Z') });
    expect(next(at('2026-03-02T01:00:30Z'), job(), handled, BERLIN).kind).toBe('wait');
    expect(next(at('2026-03-01T23:00:00Z'), job(), handled, BERLIN)).toMatchObject({ kind: 'wait' });
    expect(next(at('2026-03-01T23:00:00Z'), job(), handled, BERLIN).nextRun?.toISOString()).toBe('2026-03-03T01:00:00.000Z');
  });

  it('catches up once, for the latest slot, after the machine slept through several', () => {
    const d = next(at('2026-03-05T09:00:00Z'), job(), hist({ lastScheduledFor: at('2026-03-02T01:00:00Z') }), BERLIN);
    expect(d).toMatchObject({ kind: 'run', trigger: 'catch-up', missed: 3 });
    if (d.kind !== 'run') throw new Error('expected a run');
    expect(d.scheduledFor.toISOString()).toBe('2026-03-05T01:00:00.000Z');
    expect(d.reason).toContain('catching up once for 3 scheduled runs');
    // Having recorded that slot, nothing else is due: never a burst.
    expect(next(at('2026-03-05T09:00:01Z'), job(), hist({ lastScheduledFor: d.scheduledFor }), BERLIN).kind).toBe('wait');
  });

  it('records missed slots as skipped when catch-up is off', () => {
    const d = next(at('2026-03-05T09:00:00Z'), job({ catchUp: false }), hist({ lastScheduledFor: at('2026-03-02T01:00:00Z') }), BERLIN);
    expect(d).toMatchObject({ kind: 'skip', missed: 3 });
    expect(d.reason).toMatch(/missed 3 scheduled runs .* catch-up is off/);
  });

  it('folds slots that elapsed within the grace period into one run without calling them missed', () => {
    const d = next(at('2026-03-02T10:00:30Z'), job({ schedule: '*:0/15' }), hist({ lastScheduledFor: at('2026-03-02T09:30:00Z') }), 'UTC');
    expect(d).toMatchObject({ kind: 'run', trigger: 'schedule', missed: 1 });
    if (d.kind === 'run') expect(d.scheduledFor.toISOString()).toBe('2026-03-02T10:00:00.000Z');
  });

  it('follows daylight saving time changes', () => {
    // New York springs forward on 2026-03-08: midnight is 05:00Z before and 04:00Z after.
    const ny = 'America/New_York';
    const created = hist({ createdAt: at('2026-03-07T12:00:00Z') });
    const d1 = next(at('2026-03-07T12:00:00Z'), job({ schedule: 'daily' }), created, ny);
    expect(d1.nextRun?.toISOString()).toBe('2026-03-08T05:00:00.000Z');
    const d2 = next(at('2026-03-08T06:00:00Z'), job({ schedule: 'daily' }), hist({ lastScheduledFor: at('2026-03-08T05:00:00Z') }), ny);
    expect(d2.nextRun?.toISOString()).toBe('2026-03-09T04:00:00.000Z');
  });

  it('honours a time zone named in the expression over the default', () => {
    const d = next(at('2026-03-02T00:00:00Z'), job({ schedule: '*-*-* 02:00:00 UTC' }), hist(), BERLIN);
    expect(d.nextRun?.toISOString()).toBe('2026-03-02T02:00:00.000Z');
  });

  it('applies the overlap policy when the previous run is still going', () => {
    const now = at('2026-03-02T01:00:05Z');
    const reading = hist({ running: [{ runId: 7, readingDone: false }] });
    const uploading = hist({ running: [{ runId: 7, readingDone: true }] });
    expect(next(now, job({ overlap: 'skip' }), reading, BERLIN)).toMatchObject({ kind: 'skip', reason: 'run #7 is still going (overlap policy: skip)' });
    expect(next(now, job({ overlap: 'queue' }), reading, BERLIN)).toMatchObject({ kind: 'queue' });
    expect(next(now, job({ overlap: 'queue' }), { ...reading, queued: 1 }, BERLIN)).toMatchObject({ kind: 'skip' });
    expect(next(now, job({ overlap: 'queue' }), { ...reading, queued: 1 }, BERLIN).reason).toContain('keeps at most one');
    // parallel: starts once the previous run only uploads; queued (never skipped) while it still reads.
    expect(next(now, job({ overlap: 'parallel' }), uploading, BERLIN)).toMatchObject({ kind: 'run' });
    expect(next(now, job({ overlap: 'parallel' }), reading, BERLIN)).toMatchObject({ kind: 'queue' });
    expect(next(now, job({ overlap: 'parallel' }), reading, BERLIN).reason).toContain('finishes reading its sources');
  });

  it('waits forever for disabled jobs and jobs without a schedule', () => {
    expect(next(at('2026-03-02T01:00:05Z'), job({ enabled: false }), hist(), BERLIN)).toEqual({ kind: 'wait', nextRun: null, reason: 'job is disabled' });
    expect(next(at('2026-03-02T01:00:05Z'), job({ schedule: null }), hist(), BERLIN).nextRun).toBeNull();
  });

  it('is pure: the same inputs give the same decision', () => {
    const args = [at('2026-03-05T09:00:00Z'), job(), hist({ lastScheduledFor: at('2026-03-02T01:00:00Z') }), BERLIN] as const;
    expect(next(...args)).toEqual(next(...args));
  });
});
