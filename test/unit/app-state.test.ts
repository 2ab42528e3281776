/**
 * The shell's pure app state: tray colour and reasons, the tray menu model,
 * pause ends (pinned clock, several zones, a midnight that clocks skip), run
 * notifications by mode, and settings validation.
 */
import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../shared/api.js';
import { countRestoreTestsDue, pauseEnd, runNotification, trayMenu, trayState, type TrayInput, type TrayMenuItem } from '../../shared/app-state.js';
import { JOB_DEFAULTS, type Job, type RunRecord } from '../../shared/jobs.js';
import { validateSettingsPatch } from '../../shared/settings.js';

const job = (id: number, over: Partial<Job> = {}): Job => ({
  ...JOB_DEFAULTS,
  id,
  name: `job${id}`,
  repositoryId: 1,
  sources: { paths: ['/srv'], include: [], exclude: [] },
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

const run = (id: number, jobId: number, over: Partial<RunRecord> = {}): RunRecord => ({
  id, jobId, kind: 'backup', trigger: 'schedule', scheduledFor: null, queuedAt: '2026-03-02T00:00:00.000Z', startedAt: null, endedAt: null,
  status: 'success', phase: null, reason: null, snapshotId: null, filesNew: 0, filesChanged: 0, filesUnmodified: 0, bytesProcessed: 0,
  bytesAdded: 0, errorCount: 0, error: null, acknowledged: false, ...over,
});

const status = (j: Job, over: Partial<JobStatus> = {}): JobStatus => ({
  job: j, lastRun: null, lastSuccess: null, nextRun: '2026-03-02T18:00:00.000Z', nextRunReason: 'schedule', active: [],
  rpo: { thresholdHours: null, breached: false, lastSuccessAt: null },
  restoreTest: { state: 'not-due', dueAt: null, dueSoonFrom: null, overdueFrom: null, lastPassedAt: null, lastTestedAt: null, lastPassed: true, daysLeft: 30, message: 'not due' },
  ...over,
});

const input = (over: Partial<TrayInput> = {}): TrayInput => ({ jobs: [status(job(1))], unacknowledgedFailures: [], pausedUntil: null, ...over });

describe('trayState', () => {
  const cases: [string, TrayInput, 'green' | 'amber' | 'red', RegExp | null][] = [
    ['all good', input(), 'green', null],
    ['no jobs', input({ jobs: [] }), 'green', null],
    ['an unacknowledged failure', input({ unacknowledgedFailures: [run(7, 1, { status: 'failed', error: 'disk full' })] }), 'red', /job1: run #7 failed: disk full/],
    ['failure beats warnings', input({ unacknowledgedFailures: [run(7, 1, { status: 'failed' })], pausedUntil: '2026-03-02T19:00:00.000Z' }), 'red', /run #7 failed/],
    ['RPO breached', input({ jobs: [status(job(1), { rpo: { thresholdHours: 24, breached: true, lastSuccessAt: null } })] }), 'amber', /no successful backup within 24 h/],
    ['partial last run', input({ jobs: [status(job(1), { lastRun: run(3, 1, { status: 'partial', errorCount: 2 }) })] }), 'amber', /partial \(2 files unreadable\)/],
    ['skipped last run', input({ jobs: [status(job(1), { lastRun: run(3, 1, { status: 'skipped', reason: 'previous run still going' }) })] }), 'amber', /skipped \(previous run still going\)/],
    ['restore tests due', input({ restoreTests: { due: 1, overdue: 0 } }), 'amber', /1 restore test is due/],
    ['restore tests overdue', input({ restoreTests: { due: 0, overdue: 2 } }), 'amber', /2 restore tests are overdue/],
    ['restore tests field absent', input({ restoreTests: { due: 0, overdue: 0 } }), 'green', null],
    ['paused', input({ pausedUntil: '2026-03-02T19:00:00.000Z' }), 'amber', /paused until/],
  ];
  for (const [what, i, level, reason] of cases) {
    it(`${what}: ${level}`, () => {
      const s = trayState(i);
      expect(s.level).toBe(level);
      if (reason) expect(s.reasons.join('\n')).toMatch(reason);
      else expect(s.reasons).toEqual([]);
    });
  }

  it('counts active runs in the summary', () => {
    const s = trayState(input({ jobs: [status(job(1), { active: [run(9, 1, { status: 'running' })] })] }));
    expect(s.activeRuns).toBe(1);
    expect(s.summary).toBe('all backups are fine; 1 running');
  });
});

describe('trayMenu', () => {
  const fmt = (iso: string) => `<${iso.slice(11, 16)}>`;
  const flat = (items: TrayMenuItem[]): TrayMenuItem[] => items.flatMap((i) => [i, ...flat(i.submenu ?? [])]);

  it('lists each job with its status, next run and Run now; Open, Pause (1 h, tomorrow), Quit', () => {
    const i = input({ jobs: [status(job(1), { lastRun: run(5, 1) }), status(job(2, { enabled: false }))] });
    const items = trayMenu(trayState(i), i, fmt);
    const labels = items.map((x) => x.label);
    expect(labels).toContain('job1: last run success');
    expect(labels).toContain('job2: never run');
    const job1 = items.find((x) => x.label.startsWith('job1'))!;
    expect(job1.submenu!.map((x) => x.label)).toEqual(['next run <18:00>', 'Run now', 'Open last run (#5)']);
    expect(job1.submenu![1]!.action).toEqual({ type: 'run-now', jobId: 1 });
    expect(items.find((x) => x.label.startsWith('job2'))!.submenu![0]!.label).toBe('disabled');
    const actions = flat(items).map((x) => x.action).filter(Boolean);
    expect(actions).toContainEqual({ type: 'open' });
    expect(actions).toContainEqual({ type: 'pause', duration: 'hour' });
    expect(actions).toContainEqual({ type: 'pause', duration: 'tomorrow' });
    expect(items[items.length - 1]!.action).toEqual({ type: 'quit' });
  });

  it('offers Resume while paused, and a running job cannot be started again', () => {
    const i = input({ pausedUntil: '2026-03-02T19:00:00.000Z', jobs: [status(job(1), { active: [run(9, 1, { status: 'running', phase: 'reading' })] })] });
    const items = flat(trayMenu(trayState(i), i, fmt));
    expect(items.find((x) => x.action?.type === 'resume')!.label).toBe('Resume schedules (paused until <19:00>)');
    expect(items.some((x) => x.action?.type === 'pause')).toBe(false);
    expect(items.find((x) => x.label === 'job1: running: reading')).toBeDefined();
    expect(items.find((x) => x.label === 'Run now')!.enabled).toBe(false);
  });

  it('the status line opens the newest failed run when red', () => {
    const i = input({ unacknowledgedFailures: [run(12, 1, { status: 'failed' }), run(4, 1, { status: 'failed' })] });
    const first = trayMenu(trayState(i), i, fmt)[0]!;
    expect(first).toMatchObject({ label: 'Lifeboat: 2 failed runs to look at', enabled: true, action: { type: 'open', runId: 12 } });
  });
});

describe('pauseEnd', () => {
  const cases: [string, string, 'hour' | 'tomorrow', string][] = [
    ['2026-03-02T10:15:00Z', 'UTC', 'hour', '2026-03-02T11:15:00.000Z'],
    ['2026-03-02T10:15:00Z', 'UTC', 'tomorrow', '2026-03-03T00:00:00.000Z'],
    ['2026-03-02T23:30:00Z', 'Europe/Berlin', 'tomorrow', '2026-03-03T23:00:00.000Z'], // 00:30 local on the 3rd
    ['2026-03-28T12:00:00Z', 'Europe/Berlin', 'tomorrow', '2026-03-28T23:00:00.000Z'], // the night clocks go forward (02:00)
    ['2026-10-24T12:00:00Z', 'America/New_York', 'tomorrow', '2026-10-25T04:00:00.000Z'],
    // Brazil moved clocks forward at midnight: 2018-11-04 00:00 did not exist; the day began at 01:00.
    ['2018-11-03T15:00:00Z', 'America/Sao_Paulo', 'tomorrow', '2018-11-04T03:00:00.000Z'],
    ['2026-12-31T20:00:00Z', 'Asia/Tokyo', 'tomorrow', '2027-01-01T15:00:00.000Z'], // already 1 Jan 05:00 in Tokyo
  ];
  for (const [now, zone, d, want] of cases) {
    it(`${d} from ${now} in ${zone}`, () => expect(pauseEnd(d, new Date(now), zone).toISOString()).toBe(want));
  }
});

describe('runNotification', () => {
  const failed = run(3, 1, { status: 'failed', error: 'target unreachable' });
  const partial = run(4, 1, { status: 'partial', errorCount: 3 });
  const success = run(5, 1, { status: 'success', snapshotId: 'abcdef0123456789' });
  const cancelled = run(6, 1, { status: 'cancelled' });
  it('errors: failed and partial runs only', () => {
    const j = job(1, { notify: 'errors' });
    expect(runNotification(failed, j)).toEqual({ runId: 3, jobId: 1, title: 'Backup of "job1" failed', body: 'target unreachable', urgency: 'critical' });
    expect(runNotification(partial, j)?.title).toBe('Backup of "job1" was partial');
    expect(runNotification(success, j)).toBeNull();
    expect(runNotification(cancelled, j)).toBeNull();
  });
  it('always: successes too, never cancelled or skipped runs', () => {
    const j = job(1, { notify: 'always' });
    expect(runNotification(success, j)).toMatchObject({ body: 'snapshot abcdef01 saved', urgency: 'normal' });
    expect(runNotification(failed, j)?.urgency).toBe('critical');
    expect(runNotification(run(7, 1, { status: 'skipped' }), j)).toBeNull();
  });
  it('never: nothing', () => {
    expect(runNotification(failed, job(1, { notify: 'never' }))).toBeNull();
  });
});

describe('validateSettingsPatch', () => {
  it('accepts each setting and returns only those given', () => {
    expect(validateSettingsPatch({ maxConcurrentRuns: 3 })).toEqual({ maxConcurrentRuns: 3 });
    expect(validateSettingsPatch({ bandwidth: { limitKiBps: 512, windows: [{ from: '22:00', to: '06:00', limitKiBps: null }] }, notifications: { desktop: false }, startAtLogin: true })).toEqual({
      bandwidth: { limitKiBps: 512, windows: [{ from: '22:00', to: '06:00', limitKiBps: null }] },
      notifications: { desktop: false },
      startAtLogin: true,
    });
  });
  const bad: [unknown, string][] = [
    [null, 'settings:'],
    [{ maxConcurrentRuns: 0 }, 'maxConcurrentRuns:'],
    [{ maxConcurrentRuns: 2.5 }, 'maxConcurrentRuns:'],
    [{ bandwidth: { limitKiBps: -1 } }, 'bandwidth.limitKiBps:'],
    [{ bandwidth: { windows: [{ from: '22:00', to: '24:30', limitKiBps: null }] } }, 'bandwidth.windows[0].to:'],
    [{ notifications: { desktop: 'yes' } }, 'notifications.desktop:'],
    [{ notifications: { email: true } }, 'notifications.email:'],
    [{ startAtLogin: 1 }, 'startAtLogin:'],
    [{ dataDir: '/tmp' }, 'dataDir:'],
  ];
  for (const [v, field] of bad) it(`refuses ${JSON.stringify(v)} naming ${field}`, () => expect(() => validateSettingsPatch(v)).toThrow(field));
});

describe('countRestoreTestsDue', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const jobAt = (createdAt: string, state: JobStatus['restoreTest']['state']) => {
    const j = job(1, { createdAt });
    return { job: j, restoreTest: { ...status(j).restoreTest, state } };
  };
  it.each([
    ['a new job never tested is not yet due', [jobAt('2026-05-20T00:00:00.000Z', 'never-tested')], { due: 0, overdue: 0 }],
    ['never tested for one cadence (90 days) is due', [jobAt('2026-03-03T00:00:00.000Z', 'never-tested')], { due: 1, overdue: 0 }],
    ['never tested, a day short of a cadence', [jobAt('2026-03-04T00:00:00.000Z', 'never-tested')], { due: 0, overdue: 0 }],
    ['due soon is no warning', [jobAt('2026-01-01T00:00:00.000Z', 'due-soon')], { due: 0, overdue: 0 }],
    ['due and overdue are counted apart', [jobAt('2026-01-01T00:00:00.000Z', 'due'), jobAt('2026-01-01T00:00:00.000Z', 'overdue'), jobAt('2026-01-01T00:00:00.000Z', 'not-due')], { due: 1, overdue: 1 }],
  ] as const)('%s', (_name, jobs, expected) => {
    expect(countRestoreTestsDue(now, jobs)).toEqual(expected);
  });
});
